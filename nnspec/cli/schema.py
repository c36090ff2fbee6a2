"""`nnspec schema`: print (or write, or check) the JSON Schema of spec files, for editors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of spec files",
                       description="Print the JSON Schema that editors use to check and complete "
                       "spec files (generated from the spec models and the layer catalog). "
                       "Regenerate the committed copy with: "
                       "nnspec schema -o schema/nnspec.schema.json")
    p.add_argument("-o", "--output", metavar="FILE", help="write the schema to FILE")
    p.add_argument("--check", action="store_true",
                   help="with -o: exit 1 if FILE is not up to date, writing nothing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nnspec.cli.errors import UsageError
    from nnspec.frontend.schema import render

    text = render()
    if args.check and not args.output:
        raise UsageError("--check needs -o FILE")
    if not args.output:
        sys.stdout.write(text)
        return 0
    path = Path(args.output)
    if args.check:
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            print(f"{path}: stale; regenerate with: nnspec schema -o {path}", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return 0
