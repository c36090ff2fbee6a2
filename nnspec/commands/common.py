"""Argument helpers shared by the verbs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_spec_args(p: argparse.ArgumentParser, many: bool = False) -> None:
    p.add_argument("specs" if many else "spec", nargs="+" if many else None, metavar="SPEC",
                   help="spec file(s)" if many else "spec file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="override a root parameter (repeatable), e.g. --set expand=2")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The --set values, parsed as YAML scalars or flow lists."""
    from nnspec.cli import UsageError
    from nnspec.load import parse_override

    out = {}
    for text in args.overrides:
        try:
            name, value = parse_override(text)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        out[name] = value
    return out


def existing(path: str) -> str:
    from nnspec.cli import UsageError

    if not Path(path).is_file():
        raise UsageError(f"no such spec file: {path}")
    return path
