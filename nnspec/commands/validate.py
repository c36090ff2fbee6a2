"""`nnspec validate SPEC...`: check specs without building anything (no torch import)."""

from __future__ import annotations

import argparse

from nnspec.commands.common import add_spec_args, existing, overrides
from nnspec.diagnostics import SpecError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check specs and print diagnostics",
                       description="Check each spec: YAML, schema, names, expressions, values. "
                       "Exit 0 when all are valid, 1 when any is not.")
    add_spec_args(p, many=True)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nnspec.api import load

    params = overrides(args)
    paths = [existing(path) for path in args.specs]
    failed: list[SpecError] = []
    for path in paths:
        try:
            spec = load(path, **params)
            print(f"{path}: ok ({spec.name})")
        except SpecError as exc:
            failed.append(exc)
    if failed:
        raise SpecError([d for exc in failed for d in exc.diagnostics])
    return 0
