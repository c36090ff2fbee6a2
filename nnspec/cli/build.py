"""`nnspec build SPEC`: print the module tree, or with `-o FILE` write standalone source.

`-o FILE` writes the generated module through the one write path (`nnspec.output.write`):
atomically, never over the spec, its `extends` parents or a template, and never over a file
nnspec did not write, or one edited by hand since, unless `--force`. `--check` writes nothing: like
`black --check` it exits 0 when FILE is byte-for-byte what nnspec would write, and 1 with a
unified diff when FILE is stale or missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnspec.cli.common import (
    add_check_args,
    add_spec_args,
    existing,
    load_checked,
    overrides,
    report,
    stale,
)
from nnspec.diagnostics import SpecError
from nnspec.static import budget


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="build the model: print its tree, or write its source",
                       description="Build the spec's model and print it exactly as print(model) "
                       "does, then a summary line: parameters, and input -> output shapes from "
                       "a forward pass on the declared inputs (batch 1, eval mode). With -o, "
                       "write standalone PyTorch source instead.")
    add_spec_args(p)
    add_check_args(p)
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the generated module to FILE ('-' for stdout)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 with a diff if FILE is stale or missing")
    mode.add_argument("--force", action="store_true",
                      help="replace FILE even if nnspec did not write it or it was edited")
    p.add_argument("--templates", metavar="DIR",
                   help="templates that replace the packaged ones of the same name")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.output is None:
        if args.check or args.force or args.templates:
            from nnspec.cli.errors import UsageError

            raise UsageError("--check, --force and --templates need -o FILE")
        spec, diagnostics = load_checked(args, existing(args.spec), overrides(args))
        if spec is None:
            raise SpecError(diagnostics)
        report(args, diagnostics)
        with budget.limit(args.max_params):
            print(summary_text(spec))
        return 0
    return write_source(args)


def write_source(args: argparse.Namespace) -> int:
    from nnspec.api import load
    from nnspec.cli.errors import UsageError
    from nnspec.codegen.generate import TemplateError, generate, spec_label
    from nnspec.output import write

    spec_path = existing(args.spec)
    if args.templates and not Path(args.templates).is_dir():
        raise UsageError(f"no such template directory: {args.templates}")
    if args.output == "-" and (args.check or args.force):
        raise UsageError("--check and --force need a file, not '-'")
    to_file = args.output != "-"
    try:
        if to_file and not args.check:
            write.check_target(args.output, [spec_path, *_templates(args.templates)])
        params = overrides(args)
        spec = load(spec_path, allow_import=args.allow_import, **params)
        try:
            text = generate(spec.program, spec_label(spec_path, args.output), args.templates,
                            overrides=params)
        except TemplateError as exc:
            raise UsageError(str(exc)) from None
        if not to_file:
            sys.stdout.write(text)
            return 0
        if args.check:
            current = write.read_existing(Path(args.output))
            if current == text:
                return 0
            sys.stdout.write(write.unified_diff(args.output, current, text))
            raise stale(args.output, current is None,
                        f"nnspec build {' '.join(_command(args))}")
        inputs = [*spec.document.files, *_templates(args.templates)]
        changed = write.write_output(args.output, text, force=args.force, inputs=inputs)
    except write.WriteError as exc:
        raise UsageError(str(exc)) from None
    print(f"{'wrote' if changed else 'unchanged'} {args.output}", file=sys.stderr)
    return 0


def _templates(directory: str | None) -> list[Path]:
    """The template files of --templates DIR: inputs, never outputs."""
    if not directory:
        return []
    return [p for p in Path(directory).iterdir() if p.is_file()]


def _command(args: argparse.Namespace) -> list[str]:
    import shlex

    words = [args.spec, *(w for s in args.overrides for w in ("--set", s)),
             *(w for p in args.allow_import for w in ("--allow-import", p)), "-o", args.output]
    return [shlex.quote(w) for w in words]


def summary_text(spec) -> str:
    """The printed tree, then `Net: N parameters; x [1, 3, 32, 32] float32 -> [1, 10] float32`."""
    from nnspec.api import build
    from nnspec.runtime.failures import forward_error
    from nnspec.runtime.model import example_inputs
    from nnspec.runtime.torchlib import torch

    model = build(spec)  # the build budget checked before allocating
    params = sum(p.numel() for p in model.parameters())
    unknown = [c.name for c in spec.program.classes.values() if c.forward_unknown]
    if unknown:  # an imported printed tree: no forward pass to run
        return f"{model}\n{spec.name}: {params:,} parameters; forward unknown in " \
            f"{', '.join(unknown)}"
    inputs = example_inputs(spec.program, batch=1)
    model.eval()
    try:
        with torch.no_grad():
            output = model(*inputs)
    except Exception as exc:
        error = forward_error(spec.program, spec.tree, model, exc)
        if error is None:
            raise
        raise error from exc
    shown_in = ", ".join(f"{i.name} {_shape(t)}" for i, t in zip(spec.program.inputs, inputs))
    return f"{model}\n{spec.name}: {params:,} parameters; {shown_in} -> {_shape(output)}"


def _shape(value) -> str:
    from nnspec.runtime.torchlib import torch

    if isinstance(value, torch.Tensor):
        return f"{list(value.shape)} {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_shape(v) for v in value) + ")"
    return type(value).__name__
