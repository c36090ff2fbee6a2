"""Where the `nnspec` process starts, before anything else of nnspec is imported: the cyclic
collector is off from here on, as `nnspec.cli.main` explains (the verbs in its `COLLECTING`
turn it back on). Only the console script and `python -m nnspec` import this module, as it
changes the process's collector on import, and its `main` ends the process."""

import gc
import os
import sys
import threading

gc.disable()

from nnspec.cli.main import main as run_verb  # noqa: E402

__all__ = ["main"]


def main() -> int:
    """Run the verb, then end the process at once when that is safe.

    Tearing down the interpreter (freeing every module, class and object that importing
    pydantic, yaml and nnspec created) costs about 13 ms, a tenth of a torch-free verb's run,
    and frees nothing the operating system would not. So once the output is flushed, a process
    that never imported torch and runs no other thread exits with `os._exit`, as mypy does.
    A verb that imported torch, or left threads running, exits the normal way: their exit
    handlers still run. Callers of `nnspec.cli.main.main` in process are not affected."""
    code = run_verb()
    if "torch" in sys.modules or threading.active_count() > 1:
        return code
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return code  # a reader gone away: the normal exit reports it as the verb would
    os._exit(code)
