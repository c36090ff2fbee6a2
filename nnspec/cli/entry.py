"""Where the `nnspec` process starts, before anything else of nnspec is imported: the cyclic
collector is off from here on, as `nnspec.cli.main` explains (the verbs in its `COLLECTING`
turn it back on). Only the console script and `python -m nnspec` import this module, as it
changes the process's collector on import, and its `main` ends the process."""

import atexit
import gc
import os
import sys
import threading

gc.disable()

from nnspec.cli.main import main as run_verb  # noqa: E402

__all__ = ["main"]


def main() -> int:
    """Run the verb, then end the process at once when that is safe.

    Tearing down the interpreter (freeing every module, class and object the run created)
    frees nothing the operating system would not, and costs: about 13 ms, a tenth of a
    torch-free verb's run; about 1.7 s of CPU once `import module` has imported torch, a model
    library and torch.export. So once the output is flushed, a process that runs no other
    thread exits with `os._exit`, as mypy does; one that imported torch runs the exit handlers
    first (torch's, logging's, the caller's), as the normal exit would. One that left threads
    running exits the normal way. Callers of `nnspec.cli.main.main` in process are not
    affected."""
    code = run_verb()
    if threading.active_count() > 1:
        return code
    if "torch" in sys.modules:
        atexit._run_exitfuncs()  # (it reports, and goes past, a handler that raises)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return code  # a reader gone away: the normal exit reports it as the verb would
    os._exit(code)
