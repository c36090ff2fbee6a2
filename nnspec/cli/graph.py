"""`nnspec graph SPEC`: the architecture as Mermaid text or Graphviz DOT (SVG with `dot`)."""

from __future__ import annotations

import argparse
import shutil
import subprocess

from nnspec.cli.common import add_spec_args, existing, overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("graph", help="draw the architecture as Mermaid or Graphviz DOT",
                       description="Draw the spec's dataflow: inputs, layers, ops and output, "
                       "each with its output shape, skip connections dashed, blocks as "
                       "clusters. Without torch. `-o FILE.svg` renders with Graphviz's `dot`.")
    add_spec_args(p)
    p.add_argument("--format", choices=("mermaid", "dot"), default=None,
                   help="output format (default: dot for -o *.svg or *.dot, else mermaid)")
    p.add_argument("--depth", type=int, default=None, metavar="N",
                   help="collapse modules deeper than N into their ancestor (default: expand "
                   "all; 1 shows the model's direct children only)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE instead of stdout; FILE.svg is rendered by `dot`")
    p.add_argument("--force", action="store_true",
                   help="with -o: replace FILE even if nnspec did not write it or it was edited")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nnspec.api import load
    from nnspec.cli.errors import UsageError
    from nnspec.static.graph import build, dot, mermaid

    if args.force and not args.output:
        raise UsageError("--force needs -o FILE")
    if args.depth is not None and args.depth < 0:
        raise UsageError("--depth must be 0 or more")
    svg = bool(args.output) and args.output.lower().endswith(".svg")
    fmt = args.format or ("dot" if svg or (args.output or "").lower().endswith(".dot")
                          else "mermaid")
    if svg and fmt != "dot":
        raise UsageError("SVG is rendered from DOT: use --format dot (or leave it out)")
    spec_path = existing(args.spec)
    if args.output:
        _check(args.output, [spec_path])
    spec = load(spec_path, allow_import=args.allow_import, **overrides(args))
    graph = build(spec.name, spec.analysis, args.depth)
    text = dot(graph) if fmt == "dot" else mermaid(graph)
    if not args.output:
        print(text, end="")
        return 0
    if svg:
        program = shutil.which("dot")
        if program is None:
            raise UsageError("rendering SVG needs Graphviz's `dot` program, which is not "
                             "installed; write DOT text with -o FILE.dot instead")
        done = subprocess.run([program, "-Tsvg"], input=text.encode("utf-8"),
                              capture_output=True, check=False)
        if done.returncode:
            raise UsageError(f"Graphviz's `dot` failed: "
                             f"{done.stderr.decode('utf-8', 'replace').strip()}")
        text, fmt = done.stdout.decode("utf-8", "replace"), "svg"
    from nnspec.output import write

    try:
        write.write_output(args.output, write.mark(text, fmt), force=args.force,
                                     inputs=spec.document.files)
    except write.WriteError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _check(output: str, inputs: list[str]) -> None:
    from nnspec.cli.errors import UsageError
    from nnspec.output import write

    try:
        write.check_target(output, inputs)
    except write.WriteError as exc:
        raise UsageError(str(exc)) from None
