"""`nnspec check-generated FILE...`: `nnspec build --check` for generated files, each paired
with its spec through the header it carries (for pre-commit and CI).

The header of a generated module says how to regenerate it, from the file's own directory:
`#     nnspec build SPEC [--set N=V]... [--allow-import P]... -o <this file>` (see
templates/header.jinja). Each FILE is checked with exactly those arguments, the spec's path
taken relative to FILE's directory. Files that nnspec did not generate (no nnspec header) are
skipped, so a hook can pass every changed Python file; a directory stands for the `*.py` files
under it. A header's `--allow-import` is honoured
only for packages this command line allows too: a file's header never makes nnspec import
anything on its own.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
from pathlib import Path
from typing import NoReturn

from nnspec.cli import build
from nnspec.cli.common import add_allow_import
from nnspec.cli.errors import UsageError
from nnspec.diagnostics import SpecError

# the regenerate line of header.jinja: `#     nnspec build ARGS -o <this file>`
_REGENERATE = re.compile(r"^#\s+nnspec build (?P<args>.+) -o <this file>$")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-generated", help="check generated files against their specs",
                       description="For each FILE that nnspec generated, find its spec (and "
                       "--set values) in the file's header and run `nnspec build SPEC -o FILE "
                       "--check`: exit 0 when every file is what nnspec would write now, 1 "
                       "with a diff for each stale one. Files without an nnspec header are "
                       "skipped.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="generated Python file(s), or directories to search for them")
    add_allow_import(p)
    p.add_argument("--templates", metavar="DIR",
                   help="the templates the files were generated with (as in `nnspec build`)")
    p.add_argument("--error-format", choices=["text", "json"], default="text",
                   help="print diagnostics (on stderr) as text, or as a JSON array for editors "
                   "and CI")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    diagnostics = []
    for path in _python_files(args.files):
        words = regenerate_args(path)
        if words is None:
            continue
        try:
            build.write_source(_build_args(path, words, args))
        except SpecError as exc:
            diagnostics += exc.diagnostics
    if diagnostics:
        raise SpecError(diagnostics)
    return 0


def _python_files(paths: list[str]) -> list[str]:
    """`paths`, each directory replaced by the `*.py` files under it, in order."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            found += sorted(str(p) for p in Path(path).rglob("*.py") if p.is_file())
        else:
            found.append(path)
    return found


def regenerate_args(path: str) -> list[str] | None:
    """The `nnspec build` arguments in the header of the generated module at `path`, without
    `-o`; None when nnspec did not generate it (a usage error when it cannot be read, or when
    its header lacks the regenerate line)."""
    from nnspec.output import markers, write

    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    text = write.read_existing(Path(path))
    if text is None or markers.read_header(text) is None:
        return None
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        found = _REGENERATE.match(line)
        if found:
            try:
                return shlex.split(found["args"])
            except ValueError:
                break
    raise UsageError(f"{path}: its header has no `nnspec build SPEC -o <this file>` line to "
                     "find the spec by")


def _build_args(path: str, words: list[str], args: argparse.Namespace) -> argparse.Namespace:
    """The parsed `nnspec build WORDS -o PATH --check`, the spec found from PATH's directory."""
    top = type("HeaderParser", (_HeaderParser,), {"path": path})(prog="nnspec")
    build.register(top.add_subparsers())
    templates = ["--templates", args.templates] if args.templates else []
    parsed = top.parse_args(["build", *words, "-o", path, "--check", *templates])
    refused = [p for p in parsed.allow_import if p not in args.allow_import]
    if refused:
        raise UsageError(f"{path} was generated with --allow-import {refused[0]}: pass "
                         f"--allow-import {refused[0]} to check it")
    if not os.path.isabs(parsed.spec):
        parsed.spec = os.path.normpath(os.path.join(os.path.dirname(path), parsed.spec))
    parsed.error_format = args.error_format
    return parsed


class _HeaderParser(argparse.ArgumentParser):
    """`nnspec build`'s own parser, its errors usage errors about the header of `path`."""

    path = ""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.path}: the regenerate command in its header is not one "
                         f"nnspec reads: {message}")
