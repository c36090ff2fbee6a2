"""The language server behind `nnspec lsp`: diagnostics, hover, inlay hints, completion,
go-to-definition and document symbols for spec files in an editor.

Every feature is a plain function over a `workspace.Check` (one checked text) that returns
plain data with 0-based lines and columns in characters; `server.py` alone speaks the
protocol (pygls, the optional `nnspec[lsp]` extra). Nothing here imports torch.
"""
