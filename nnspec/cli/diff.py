"""`nnspec diff A [B]`: checkpoint layout and budget changes between two specs, no torch."""

from __future__ import annotations

import argparse
import json

from nnspec.cli.common import add_allow_import, existing, overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="compare two specs: checkpoint layout, parameters, MACs",
                       description="Compare spec A with spec B, or with A itself under --set "
                       "overrides: state_dict keys added, removed or reshaped (so whether a "
                       "checkpoint of A loads into B, strictly or with strict=False), and "
                       "parameter and MAC deltas module by module. Exit 0 when a checkpoint "
                       "of A loads into B with strict=True, 1 when it does not.")
    p.add_argument("a", metavar="A", help="spec file")
    p.add_argument("b", metavar="B", nargs="?", help="spec file (default: A with the --set "
                   "overrides)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="NAME=VALUE", help="override a root parameter of B (repeatable)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    add_allow_import(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nnspec.api import load
    from nnspec.cli.errors import UsageError
    from nnspec.static.diff import diff, render

    params = overrides(args)
    if args.b is None and not params:
        raise UsageError("diff needs a second spec B, or --set overrides to compare A with")
    a = load(existing(args.a), allow_import=args.allow_import)
    b = load(existing(args.b or args.a), allow_import=args.allow_import, **params)
    shown = ", ".join(args.overrides)
    b_name = (args.b or args.a) + (f" (--set {shown})" if shown else "")
    result = diff(args.a, a.analysis, b_name, b.analysis)
    print(json.dumps(result.as_data(), indent=2) if args.json else render(result))
    return 0 if result.compatible else 1
