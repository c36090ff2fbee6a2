"""Where the `nnspec` process starts, before anything else of nnspec is imported: the cyclic
collector is off from here on, as `nnspec.cli.main` explains (the verbs in its `COLLECTING`
turn it back on). Only the console script and `python -m nnspec` import this module, as it
changes the process's collector on import."""

import gc

gc.disable()

from nnspec.cli.main import main  # noqa: E402

__all__ = ["main"]
