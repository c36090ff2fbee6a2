"""`nnspec lsp`: the language server for editors, over stdin and stdout (see docs/editor.md).

It needs the optional `lsp` extra (pygls); without it the verb says how to install it and
exits 2, as for any other usage error.
"""

from __future__ import annotations

import argparse

INSTALL = "pip install 'nnspec[lsp]'"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lsp", help="run the language server (stdio) for editors",
                       description="Serve the Language Server Protocol over stdin and stdout: "
                       "diagnostics as you type, shapes inline, hover, completion, go to "
                       f"definition and an outline. Needs the 'lsp' extra: {INSTALL}. Editor "
                       "set-up: docs/editor.md.")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nnspec.cli.errors import UsageError

    try:
        from nnspec.lsp.server import main
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in ("pygls", "lsprotocol", "cattrs"):
            raise
        raise UsageError(f"'nnspec lsp' needs the language server extra ({exc.name} is not "
                         f"installed): {INSTALL}") from None
    main()
    return 0
