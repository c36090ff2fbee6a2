"""Argument helpers shared by the verbs."""

from __future__ import annotations

import argparse
from typing import Any


def add_spec_args(p: argparse.ArgumentParser, many: bool = False) -> None:
    p.add_argument("specs" if many else "spec", nargs="+" if many else None, metavar="SPEC",
                   help="spec file(s)" if many else "spec file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="override a root parameter (repeatable), e.g. --set expand=2")
    add_allow_import(p)


def add_allow_import(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-import", dest="allow_import", action="append", default=[],
                   metavar="PACKAGE", help="let the spec's user layers (its 'layers:') come "
                   "from PACKAGE and its submodules: nnspec imports PACKAGE.nnspec_layers, "
                   "and PACKAGE's modules to build (repeatable). Nothing is imported otherwise")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The --set values, parsed as YAML scalars or flow lists by the spec reader, under its
    bounds: a hostile value raises SpecError (exit 1) positioned at `--set:1:COL`."""
    from nnspec.cli.errors import UsageError
    from nnspec.frontend.overrides import parse_override

    out = {}
    for text in args.overrides:
        try:
            name, value = parse_override(text)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        out[name] = value
    return out


def existing(path: str) -> str:
    """`path`, checked to be a regular file nnspec can open: a usage error (exit 2) otherwise,
    saying why (no such file, a directory, a FIFO, permission denied, a name too long).

    Checked without reading, and a FIFO is never opened, so nothing here can block.
    """
    from nnspec.cli.errors import UsageError
    from nnspec.frontend.paths import SpecPathError, check_readable

    try:
        check_readable(path)
    except SpecPathError as exc:
        if exc.missing:
            raise UsageError(f"no such spec file: {_shown(path)}") from None
        raise UsageError(f"cannot read spec file {_shown(path)}: {exc}") from None
    return path


def _shown(path: str) -> str:
    """A path for a message: odd characters escaped, a very long name cut short."""
    text = path if path.isprintable() else ascii(path)
    return text if len(text) <= 120 else text[:60] + "..." + text[-40:]


def add_check_args(p: argparse.ArgumentParser) -> None:
    """--strict, --error-format and --max-params: how diagnostics are judged and printed."""
    from nnspec.static.budget import DEFAULT_MAX_PARAMS

    p.add_argument("--strict", action="store_true", help="treat warnings as errors (exit 1)")
    p.add_argument("--error-format", choices=["text", "json"], default="text",
                   help="print diagnostics (on stderr) as text, or as a JSON array for editors "
                   "and CI")
    p.add_argument("--max-params", type=_count, default=DEFAULT_MAX_PARAMS, metavar="N",
                   help="when building the model (`nnspec build` printing its tree), refuse one "
                   f"with more parameters than N before allocating (default "
                   f"{DEFAULT_MAX_PARAMS:.0e}; accepts 1e12); static checks allocate nothing "
                   "and ignore it")


def _count(text: str) -> int:
    try:
        value = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 1e12, got '{text}'")
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got '{text}'")
    return int(value)


def load_checked(args: argparse.Namespace, path: str, params: dict[str, Any]):
    """Compile one spec; warnings become errors with --strict. Compiling allocates nothing, so
    the build budget (--max-params) is not checked here: building checks it.

    Returns (spec or None, diagnostics): the spec is None when it has errors.
    """
    from nnspec.api import load
    from nnspec.diagnostics import SpecError

    try:
        spec = load(path, allow_import=args.allow_import, **params)
    except SpecError as exc:
        return None, exc.diagnostics
    warnings = spec.document.warnings
    if args.strict and warnings:
        return None, [w.as_error("--strict treats warnings as errors") for w in warnings]
    return spec, warnings


def report(args: argparse.Namespace, diagnostics: list) -> None:
    """Print the warnings of valid specs (errors are raised to the CLI instead)."""
    import sys

    from nnspec.diagnostics import render

    json_format = args.error_format == "json"
    if diagnostics or json_format:
        print(render(diagnostics, json_format), file=sys.stderr)


INPUT_GRAMMAR = "[NAME=]D,D,..."
TYPED_GRAMMAR = "NAME=D,D,...[:DTYPE[<HIGH]]"


def parse_inputs(texts: list[str], named: bool = False) -> dict[str, tuple[int, ...]] | None:
    """`--input` values, one grammar for every verb: `[NAME=]D,D,...` (or `DxDx...`), the
    shape without the batch dimension, positive integers. By input name; an unnamed one is
    keyed "" (the only input). `named`: the verb needs the name (an importer names inputs)."""
    typed = parse_typed_inputs(texts, named, dtypes=False)
    return {name: shape for name, (shape, _, _) in typed.items()} if typed else None


def parse_typed_inputs(texts: list[str], named: bool = True, dtypes: bool = True
                       ) -> dict[str, tuple[tuple[int, ...], str, int | None]] | None:
    """The importers' `--input NAME=D,D,...[:DTYPE[<HIGH]]`: the shape, then optionally a
    dtype (default float32: `input_ids=16:int64`) and, for an integer dtype, the bound of its
    values (`input_ids=16:int64<50257`: values in [0, 50257)). By name: (shape, dtype, high
    or None)."""
    from nnspec.catalog.values import INTEGRAL
    from nnspec.cli.errors import UsageError
    from nnspec.frontend.spec import DTYPES

    grammar = TYPED_GRAMMAR if dtypes else INPUT_GRAMMAR
    out: dict[str, tuple[tuple[int, ...], str, int | None]] = {}
    for text in texts:
        name, sep, rest = text.rpartition("=")
        dims, colon, kind = rest.partition(":")
        if colon and not dtypes:
            raise UsageError(f"--input {text}: expected {grammar} such as 3,64,64 (this verb "
                             "takes no dtype)")
        try:
            shape = tuple(int(d) for d in dims.replace("x", ",").split(",") if d.strip())
        except ValueError:
            raise UsageError(f"--input {text}: expected {grammar} such as 3,64,64") from None
        if not shape or any(d <= 0 for d in shape):
            raise UsageError(f"--input {text}: dimensions must be positive integers")
        if named and not name.strip():
            raise UsageError(f"--input {text}: name the input, as NAME=D,D,... such as "
                             "x=3,224,224")
        dtype, less, bound = (kind.partition("<") if colon else ("float32", "", ""))
        dtype = dtype.strip()
        if dtype not in DTYPES:
            raise UsageError(f"--input {text}: unknown dtype '{dtype}'; one of "
                             f"{', '.join(DTYPES)}")
        high = None
        if less:
            if dtype not in INTEGRAL:
                raise UsageError(f"--input {text}: only an integer dtype takes a bound <HIGH")
            try:
                high = int(bound)
            except ValueError:
                high = 0
            if high <= 0:
                raise UsageError(f"--input {text}: expected a positive integer bound after "
                                 f"'<', such as {dtype}<50257")
        out[name.strip()] = (shape, dtype, high)
    return out or None


def stale(path: str, missing: bool, command: str):
    """The failure of a `--check` (exit 1): the file is missing or differs from what nnspec
    would write now. A diagnostic, so `--error-format json` reports it as JSON too."""
    from nnspec.diagnostics import Diagnostic, Pos, SpecError

    state = "missing" if missing else "stale: it differs from what nnspec would write now"
    return SpecError([Diagnostic("stale-output", f"{path} is {state}", Pos(path, 1, 1),
                                 f"regenerate it with `{command}`")])
