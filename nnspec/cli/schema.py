"""`nnspec schema`: print (or write, or check) the JSON Schema of spec files, for editors."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of spec files",
                       description="Print the JSON Schema that editors use to check and complete "
                       "spec files (generated from the spec models and the layer catalog). "
                       "Regenerate the committed copy with: "
                       "nnspec schema -o schema/nnspec.schema.json")
    p.add_argument("-o", "--output", metavar="FILE", help="write the schema to FILE")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="with -o: exit 1 if FILE's bytes differ from the schema, writing "
                      "nothing")
    mode.add_argument("--force", action="store_true",
                      help="replace FILE even if nnspec did not write it or it was edited")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nnspec.cli.common import stale
    from nnspec.cli.errors import UsageError
    from nnspec.frontend.schema import render
    from nnspec.output import write

    if args.check and not args.output:
        raise UsageError("--check needs -o FILE")
    if args.force and not args.output:
        raise UsageError("--force needs -o FILE")
    text = render()
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        if args.check:  # bytes, exactly: a copy with CRLF line ends is stale
            current = write.read_for_check(args.output)
            if current != text.encode("utf-8"):
                raise stale(args.output, current is None, f"nnspec schema -o {args.output}")
            return 0
        write.write_output(args.output, text, force=args.force)
    except write.WriteError as exc:
        raise UsageError(str(exc)) from None
    return 0
