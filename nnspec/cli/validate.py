"""`nnspec validate SPEC...`: check specs without building anything (no torch import)."""

from __future__ import annotations

import argparse
import re

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
    p.add_argument("--only-specs", action="store_true",
                   help="skip YAML files that are not nnspec specs (no top-level 'nnspec:' key "
                   "at the start of a line), as the pre-commit hook does")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    params = overrides(args)
    paths = [existing(path) for path in args.specs]
    if args.only_specs:
        paths = [path for path in paths if is_spec(path)]
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


# a top-level `nnspec:` key (block style, the key optionally quoted) at the start of a line
_FORMAT_KEY = re.compile(rb"""^(nnspec|"nnspec"|'nnspec')[ \t]*:""", re.MULTILINE)


def is_spec(path: str) -> bool:
    """Whether the YAML file at `path` is an nnspec spec: it has the `nnspec:` key that every
    spec starts with. Read as bytes, so other YAML (templates, CI files) is never parsed; no
    further than a spec may be long (a longer file with the key is a spec, and reported so)."""
    from nnspec.frontend.reader import MAX_FILE_BYTES

    with open(path, "rb") as file:
        return _FORMAT_KEY.search(file.read(MAX_FILE_BYTES + 1)) is not None
