"""The `nnspec` command: one subcommand per module of `nnspec.cli`; it parses the arguments and
maps every outcome to an exit code and an error report.

A verb's module is imported only when that verb runs (`VERBS`), so `nnspec validate` starts
without the code generator, the summary tables or the importers; `nnspec --help` imports them
all, for their help lines.

Exit codes, for every verb: 0 success; 1 invalid spec (diagnostics printed) or a stale
`--check`; 2 wrong usage; 3 internal error (a bug in nnspec: the traceback shows with --debug);
141 (as a process killed by SIGPIPE) when the reader of stdout went away (`nnspec diff | head`).
With `--error-format json` every failure is a JSON array on stderr: the spec's diagnostics, or
one object of code `usage` (exit 2, argparse's own errors included) or `internal` (exit 3).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import NoReturn

from nnspec.cli.errors import UsageError
from nnspec.diagnostics import Diagnostic, Pos, SpecError

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process killed by SIGPIPE

# each verb and its module in nnspec.cli (with `register(sub)`), in the order --help lists them
VERBS = {"build": "build", "validate": "validate", "check-generated": "check_generated",
         "summary": "summary", "diff": "diff", "graph": "graph", "schema": "schema",
         "import": "import_", "lsp": "lsp"}

APOLOGY = ("internal error: this is a bug in nnspec, sorry. Please report it with the spec and "
           "command that caused it")
RERUN = "rerun with --debug for the traceback"
# where a usage or internal error points in JSON: no spec position, line and column 0
COMMAND_LINE = Pos("<command line>", 0, 0, 0)
NNSPEC = Pos("<nnspec>", 0, 0, 0)
_MAX_NOTE = 2_000  # an exception's message quoted in an internal error's JSON notes


class _Parser(argparse.ArgumentParser):
    """argparse, with its own usage errors printed as JSON when the command line asks for
    `--error-format json` (`error_format` is set on the class `parser()` makes)."""

    error_format = "text"

    def error(self, message: str) -> NoReturn:
        if self.error_format != "json":
            super().error(message)
        _print_json(Diagnostic("usage", f"{self.prog}: {message}", COMMAND_LINE,
                               hint=f"run '{self.prog} --help' for the options"))
        self.exit(EXIT_USAGE)


def parser(error_format: str = "text", argv: Sequence[str] | None = None
           ) -> argparse.ArgumentParser:
    """The whole command line; `error_format` "json" makes argparse's own errors JSON. With
    `argv`, only the verb it names is registered in full (the others by name, enough for
    argparse to accept it and to list the choices); without, or naming none, every verb."""
    cls = type("Parser", (_Parser,), {"error_format": error_format})
    top = cls(
        prog="nnspec",
        description="Compile YAML architecture specs to PyTorch modules.",
        epilog="Run 'nnspec COMMAND --help' for a command's options. Exit codes: 0 ok, "
        "1 invalid spec, 2 wrong usage, 3 internal error.",
        formatter_class=_VerbsFormatter,
    )
    top.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = chosen_verb(argv)
    for verb, module in VERBS.items():
        if wanted in (None, verb):
            import_module(f"nnspec.cli.{module}").register(sub)
        else:
            sub.add_parser(verb)  # never parsed: `wanted` is the verb on this command line
    _add_common(sub)  # `nnspec build SPEC --debug` works, as does `nnspec import tree F --debug`
    return top


class _VerbsFormatter(argparse.HelpFormatter):
    """argparse's formatter, its help column right of the longest verb (`check-generated`):
    argparse measures the verbs at the indent of the options, not at their own, deeper one."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction) and action.choices:
            longest = max(map(len, action.choices)) + self._current_indent + self._indent_increment
            self._action_max_length = max(self._action_max_length, longest)


def _add_common(sub: argparse._SubParsersAction) -> None:
    """--debug and --error-format on every verb and sub-verb (where it has none of its own)."""
    for verb in sub.choices.values():
        verb.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="show tracebacks of internal errors")
        if not any("--error-format" in action.option_strings for action in verb._actions):
            verb.add_argument("--error-format", choices=["text", "json"],
                              default=argparse.SUPPRESS, help="print errors (on stderr) as "
                              "text, or as a JSON array for editors and CI")
        for action in verb._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_common(action)


def chosen_verb(argv: Sequence[str] | None) -> str | None:
    """The verb a command line names: its first word, after the top-level `--debug`; None when
    there is no command line, or it asks for the top-level help or names no verb."""
    for word in argv or ():
        if word != "--debug":
            return word if word in VERBS else None
    return None


def requested_format(argv: Sequence[str]) -> str:
    """The --error-format the command line asks for, read before (or without) parsing it, so
    that argparse's own errors can honour it: the last `--error-format json` or
    `--error-format=json` (or an abbreviation argparse would take) before a `--`."""
    found = "text"
    for i, word in enumerate(argv):
        if word == "--":
            break
        name, eq, value = word.partition("=")
        if len(name) < 4 or not "--error-format".startswith(name):
            continue
        if not eq:
            value = argv[i + 1] if i + 1 < len(argv) else ""
        if value in ("text", "json"):
            found = value
    return found


# A verb's run is short and makes few reference cycles, so the collector's passes over the many
# objects that importing nnspec creates cost more than they free (about 5 ms of a 150 ms
# `build --check`). The verbs that run long or trace models keep it.
COLLECTING = {"import", "lsp"}


def main(argv: Sequence[str] | None = None) -> int:
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if enabled:
            gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = requested_format(argv)
    debug = "--debug" in argv[:argv.index("--")] if "--" in argv else "--debug" in argv
    try:
        args = parser(wanted, argv).parse_args(argv)
    except SystemExit:
        raise  # --help (exit 0), or argparse's usage error, already printed (exit 2)
    except Exception as exc:  # noqa: BLE001 - any failure while parsing is nnspec's defect
        return _internal(exc, debug, wanted == "json")
    json_format = getattr(args, "error_format", wanted) == "json"
    if args.command in COLLECTING:
        gc.enable()
    try:
        code = args.run(args)
        sys.stdout.flush()  # a reader gone away shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - sorted out below, a defect being exit 3
        return _failure(exc, args.debug, json_format)


def _failure(exc: Exception, debug: bool, json_format: bool) -> int:
    """Print the error on stderr, return its exit code: 1 for a spec's diagnostics, 2 for
    wrong usage, 3 for anything else (and for a report that cannot be rendered)."""
    try:
        if isinstance(exc, SpecError):
            print(exc.render(json_format), file=sys.stderr)
            return EXIT_INVALID
        if isinstance(exc, UsageError):
            print(_json(Diagnostic("usage", str(exc), COMMAND_LINE)) if json_format
                  else f"nnspec: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    except BrokenPipeError:  # stderr's reader went away: the exit code still says it
        return EXIT_INVALID if isinstance(exc, SpecError) else EXIT_USAGE
    except Exception as failed:  # noqa: BLE001 - a report that cannot be printed is a defect
        return _internal(failed, debug, json_format)
    return _internal(exc, debug, json_format)


def _internal(exc: BaseException, debug: bool, json_format: bool) -> int:
    """Exit 3: one line of apology, or the traceback with --debug; in JSON, one object of code
    `internal` whose notes name the exception (and hold the traceback with --debug)."""
    import traceback

    try:
        if json_format:
            notes = [f"{type(exc).__name__}: {str(exc)[:_MAX_NOTE]}"]
            if debug:
                notes.append("".join(traceback.format_exception(exc)))
            _print_json(Diagnostic("internal", f"{APOLOGY}.", NNSPEC, notes=tuple(notes),
                                   hint=None if debug else RERUN))
        elif debug:
            traceback.print_exception(exc)
        else:
            print(f"nnspec: {APOLOGY}; {RERUN}.", file=sys.stderr)
    except Exception:  # noqa: BLE001, S110 - stderr itself is failing: the exit code still says it
        pass
    return EXIT_INTERNAL


def _json(diagnostic: Diagnostic) -> str:
    import json

    return json.dumps([diagnostic.as_json()], indent=2, ensure_ascii=True)


def _print_json(diagnostic: Diagnostic) -> None:
    print(_json(diagnostic), file=sys.stderr)


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what is still buffered
    raises no second BrokenPipeError ("Exception ignored ...") on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor behind stdout: nothing to flush
        pass
