"""`nnspec summary SPEC...`: shapes, parameters and MACs of every module, without torch."""

from __future__ import annotations

import argparse
import gc
import json

from nnspec.cli.common import add_spec_args, existing, overrides


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
    gc.disable()  # a short-lived process: no collector passes over the whole tree
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


def parse_inputs(texts: list[str]) -> dict[str, tuple[int, ...]] | None:
    """`--input` values by input name; an unnamed one is keyed "" (the only input)."""
    from nnspec.cli.errors import UsageError

    out: dict[str, tuple[int, ...]] = {}
    for text in texts:
        name, _, dims = text.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.replace("x", ",").split(",") if d.strip())
        except ValueError:
            raise UsageError(f"--input {text}: expected [NAME=]D,D,... such as 3,64,64") \
                from None
        if not shape or any(d <= 0 for d in shape):
            raise UsageError(f"--input {text}: dimensions must be positive integers")
        out[name.strip()] = shape
    return out or None
