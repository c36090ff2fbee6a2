"""`nnspec summary SPEC...`: shapes, parameters and MACs of every module, without torch."""

from __future__ import annotations

import argparse
import json

from nnspec.cli.common import add_spec_args, existing, overrides, parse_inputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="print shapes, parameters and MACs of every module",
                       description="Print one row per module (path, type, output shape, "
                       "parameters, MACs) and totals, from static shape inference on the "
                       "declared inputs, batch 1; torch is not imported. Given several specs, "
                       "also compare them side by side. Counting convention: docs/summary.md.")
    add_spec_args(p, many=True)
    p.add_argument("--input", dest="inputs", action="append", default=[],
                   metavar="[NAME=]D,D,...", help="override an input's declared shape (no "
                   "batch dimension), e.g. --input 3,64,64 or --input x=3,64,64; repeatable")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list, one object per spec, in the order given")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nnspec.api import summary

    params = overrides(args)
    inputs = parse_inputs(args.inputs)
    try:
        datas = [summary(existing(path), inputs=inputs, allow_import=args.allow_import,
                         **params) for path in args.specs]
    except ValueError as exc:  # an --input that names no input of the spec
        from nnspec.cli.errors import UsageError

        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(datas, indent=2))
        return 0
    from nnspec.static.summary import compare, render

    print("\n\n".join(render(d) for d in datas))
    if len(datas) > 1:
        print()
        print(compare(datas))
    return 0
