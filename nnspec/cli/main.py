"""The `nnspec` command: one subcommand per module of `nnspec.cli`.

Exit codes, for every verb: 0 success; 1 invalid spec (diagnostics printed) or a stale
`--check`; 2 wrong usage; 3 internal error (a bug in nnspec: the traceback shows with --debug);
141 (as a process killed by SIGPIPE) when the reader of stdout went away (`nnspec diff | head`).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from nnspec.cli import build, diff, graph, import_, schema, summary, validate
from nnspec.cli.errors import UsageError
from nnspec.diagnostics import SpecError

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process killed by SIGPIPE


COMMANDS = [build, validate, summary, diff, graph, schema, import_]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="nnspec",
        description="Compile YAML architecture specs to PyTorch modules.",
        epilog="Run 'nnspec COMMAND --help' for a command's options. Exit codes: 0 ok, "
        "1 invalid spec, 2 wrong usage, 3 internal error.",
    )
    top.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    _add_debug(sub)  # `nnspec build SPEC --debug` works too, as does `nnspec import tree F --debug`
    return top


def _add_debug(sub: argparse._SubParsersAction) -> None:
    for verb in sub.choices.values():
        verb.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="show tracebacks of internal errors")
        for action in verb._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_debug(action)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code = args.run(args)
        sys.stdout.flush()  # a reader gone away shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except SpecError as exc:
        print(exc.render(getattr(args, "error_format", "text") == "json"), file=sys.stderr)
        return EXIT_INVALID
    except UsageError as exc:
        print(f"nnspec: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception:
        if args.debug:
            traceback.print_exc()
        else:
            print("nnspec: internal error: this is a bug in nnspec, sorry. Please report it "
                  "with the spec and command that caused it; rerun with --debug for the "
                  "traceback.", file=sys.stderr)
        return EXIT_INTERNAL


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what is still buffered
    raises no second BrokenPipeError ("Exception ignored ...") on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor behind stdout: nothing to flush
        pass
