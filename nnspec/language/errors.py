"""The positioned error of the expression language: a code, a message, and the span of the
offending sub-expression inside the expression's text."""

from __future__ import annotations

import ast


class ExprError(Exception):
    """An error at `offset` (length `length`) inside the expression text."""

    def __init__(self, code: str, message: str, node: ast.AST | None = None,
                 hint: str | None = None):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint
        self.offset = getattr(node, "col_offset", 0) if node is not None else 0
        end = getattr(node, "end_col_offset", None) if node is not None else None
        same_line = node is not None and getattr(node, "end_lineno", 1) == getattr(
            node, "lineno", 1)
        self.length = (end - self.offset) if end is not None and same_line else 1
