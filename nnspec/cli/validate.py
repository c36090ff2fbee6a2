"""`nnspec validate SPEC...`: check specs without building anything (no torch import)."""

from __future__ import annotations

import argparse

from nnspec.cli.common import (
    add_check_args,
    add_spec_args,
    existing,
    load_checked,
    overrides,
    report,
)
from nnspec.diagnostics import SpecError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check specs and print diagnostics",
                       description="Check each spec: YAML, schema, names, expressions, values, "
                       "parameter budget. Exit 0 when all are valid (warnings are printed), 1 "
                       "when any is not.")
    add_spec_args(p, many=True)
    add_check_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    params = overrides(args)
    paths = [existing(path) for path in args.specs]
    diagnostics = []
    failed = False
    for path in paths:
        spec, found = load_checked(args, path, params)
        diagnostics += found
        if spec is None:
            failed = True
        else:
            print(f"{path}: ok ({spec.name})")
    if failed:
        raise SpecError(diagnostics)
    report(args, diagnostics)
    return 0
