"""`nnspec import tree FILE` and `nnspec import module 'pkg.module:factory'`: existing models to
specs. Both check what they write: the spec is built and must print the same module tree."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnspec.cli.common import parse_typed_inputs
from nnspec.diagnostics import Diagnostic, Pos


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="write a spec for an existing model",
                       description="Write a spec for an existing model: from a printed module "
                       "tree, or by calling a factory in your own code.")
    verbs = p.add_subparsers(dest="source", metavar="SOURCE", required=True,
                             help="where the model comes from: tree or module")

    tree = verbs.add_parser("tree", help="from a printed module tree (print(model) output)",
                            description="Read a printed module tree and write a spec that "
                            "builds a model printing the same tree. A printed tree does not "
                            "show forward: classes whose forward it cannot tell get "
                            "'forward: unknown'.")
    tree.add_argument("file", help="a text file holding the tree, or a Markdown file with the "
                      "tree in a ``` fence")
    tree.add_argument("--fence", type=int, metavar="N",
                      help="in a Markdown file with several fenced trees, the Nth (from 1)")
    tree.add_argument("--state-dict", metavar="FILE",
                      help="the model's state_dict layout: lines of 'key<TAB>shape<TAB>dtype' "
                      "(shape comma-separated), or a .pt checkpoint; keys no layer has become "
                      "tensors of the class holding them, and every key is checked")
    tree.add_argument("--layer", dest="layers", action="append", default=[],
                      metavar="NAME=PKG.MOD:CLASS", help="write the printed class NAME as a "
                      "reference to that class (imported, to read its signature), its "
                      "arguments parsed from the printed repr (repeatable)")
    _common(tree)
    tree.set_defaults(run=run_tree)

    module = verbs.add_parser("module", help="from a factory in your own code",
                              description="Import the module you name, call the factory, and "
                              "write a spec of the model it returns: the module tree, and the "
                              "forward of each class recovered by torch.fx tracing.")
    module.add_argument("target", metavar="MODULE:FACTORY",
                        help="e.g. 'mypkg.models:resnet18' (the module is imported: it runs)")
    module.add_argument("--args", nargs="*", default=[], metavar="NAME=VALUE",
                        help="keyword arguments for the factory, as YAML values")
    module.add_argument("--reference", action="append", default=[], metavar="PKG",
                        help="keep PKG's classes opaque: each is written as a layer reference "
                        "('layers:' in the spec) rather than expanded (repeatable)")
    module.add_argument("--expand", action="append", default=[], metavar="PKG",
                        help="expand PKG's classes into blocks, refusing where that is "
                        "impossible, rather than reference them (repeatable)")
    _common(module)
    module.set_defaults(run=run_module)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="SPEC", help="write the spec here (default: "
                   "print it)")
    p.add_argument("--force", action="store_true",
                   help="with -o: replace SPEC even if nnspec did not write it or it was edited")
    p.add_argument("--input", dest="inputs", action="append", default=[],
                   metavar="NAME=D,D,...[:DTYPE[<HIGH]]",
                   help="a model input, its shape without the batch dimension and optionally "
                   "its dtype (default float32), e.g. x=3,224,224 or input_ids=16:int64; an "
                   "integer input's values are in [0, HIGH), by default below the size of the "
                   "Embedding that reads it ('input_ids=16:int64<50257', quoted for the shell, to "
                   "state it). "
                   "Repeatable, in the forward's order; default: guessed from the first layer")


def run_tree(args: argparse.Namespace) -> int:
    from nnspec.cli.errors import UsageError
    from nnspec.importers.printed import import_tree
    from nnspec.importers.tree import fenced_trees, read_tree_file

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such file: {args.file}")
    inputs = [args.file] + ([args.state_dict] if args.state_dict else [])
    _check(args, inputs)
    text = read_tree_file(path)
    first_line = 1
    fenced = fenced_trees(text)
    if fenced:
        if args.fence is None and len(fenced) > 1:
            raise UsageError(f"{args.file} holds {len(fenced)} fenced trees; choose one with "
                             "--fence N")
        index = (args.fence or 1) - 1
        if not 0 <= index < len(fenced):
            raise UsageError(f"--fence {args.fence}: {args.file} holds {len(fenced)} trees")
        first_line, text = fenced[index]
    elif args.fence is not None:
        raise UsageError(f"--fence: {args.file} holds no fenced tree")
    if args.state_dict is not None and not Path(args.state_dict).is_file():
        raise UsageError(f"no such file: {args.state_dict}")
    layers = _layers(args.layers)
    result = import_tree(text, args.file, first_line, _inputs(args), args.state_dict, layers)
    for warning in result.warnings:
        print(f"nnspec: warning: {warning}", file=sys.stderr)
    return _write(args, result.text, inputs)


def run_module(args: argparse.Namespace) -> int:
    from nnspec.cli.errors import UsageError
    from nnspec.importers.live import TargetError, import_module

    _check(args, [])
    try:  # what the user's code raises comes back as a SpecError (exit 1), named as theirs
        result = import_module(args.target, _factory_args(args.args), _inputs(args),
                               tuple(args.reference), tuple(args.expand))
    except TargetError as exc:  # the name itself: malformed, or nothing there
        raise UsageError(f"cannot import {args.target}: {exc}") from None
    for warning in result.warnings:  # neither torch.fx nor torch.export could write it
        print(Diagnostic("forward-untraceable", f"forward unknown in {warning}",
                         Pos(f"<{args.target}>", 1, 1), "write its forward in the spec",
                         severity="warning").render(), file=sys.stderr)
    return _write(args, result.text, _module_files(args.target))


def _check(args: argparse.Namespace, inputs: list[str]) -> None:
    """Fail fast, before importing, on an output that could never be written."""
    from nnspec.cli.errors import UsageError
    from nnspec.output import write

    if args.force and not args.output:
        raise UsageError("--force needs -o SPEC")
    if args.output:
        try:
            write.check_target(args.output, inputs)
        except write.WriteError as exc:
            raise UsageError(str(exc)) from None


def _write(args: argparse.Namespace, text: str, inputs: list[str]) -> int:
    from nnspec.cli.errors import UsageError
    from nnspec.output import write

    if not args.output:
        print(text, end="")
        return 0
    try:
        write.write_output(args.output, text, force=args.force, inputs=inputs)
    except write.WriteError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _module_files(target: str) -> list[str]:
    """The source file of the imported module (and its package's), never to be written."""
    module = sys.modules.get(target.partition(":")[0])
    files = []
    while module is not None:
        path = getattr(module, "__file__", None)
        if path:
            files.append(path)
        parent = module.__name__.rpartition(".")[0]
        module = sys.modules.get(parent) if parent else None
    return files


def _factory_args(items: list[str]) -> dict:
    from nnspec.cli.errors import UsageError
    from nnspec.frontend.overrides import parse_override

    out = {}
    for item in items:
        try:
            name, value = parse_override(item)
        except ValueError as exc:
            raise UsageError(f"--args: {exc}") from None
        out[name] = value
    return out


def _layers(items: list[str]) -> dict[str, str]:
    """--layer NAME=pkg.mod:Class, by printed class name."""
    import re

    from nnspec.cli.errors import UsageError
    from nnspec.language.names import IMPORT_PATH

    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.isidentifier() or not re.fullmatch(IMPORT_PATH, path):
            raise UsageError(f"--layer: expected NAME=package.module:Class, got '{item}'")
        out[name] = path
    return out


def _inputs(args: argparse.Namespace) -> dict | None:
    """The --input values as importers.inputs.Input, by name."""
    from nnspec.importers.inputs import Input

    inputs = parse_typed_inputs(args.inputs)
    return {name: Input(shape, dtype, high)
            for name, (shape, dtype, high) in inputs.items()} if inputs else None
