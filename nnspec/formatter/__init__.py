"""The in-house Python formatter: lays generated statements out byte for byte as `ruff format`.

Generated files are checked in elsewhere and compared with `nnspec build --check`, so their
bytes must not depend on which ruff or black a user has installed; this package reproduces
ruff's layout for the statement subset code generation emits, with no formatter dependency
(see docs/architecture.md, "Why nnspec formats generated code itself", and
tools/format_drift.py, which checks the output against the newest ruff).

Public API:

- `format_statement(node, indent)`: one statement, or the header of an `if`, `for`, `def` or
  `class` statement given with an empty body, as lines. The only way in to the layout engine.
- `literal(value)`: source text for a validated literal value. A second name because it is a
  separate concern with its own callers: importers and the schema write literal values into
  YAML, messages and command lines, which are not Python statements and need no layout; it is
  the same quoting and escaping the formatter itself writes literals with.
- `LINE_WIDTH`, `INDENT_WIDTH`, `INDENT`: the style's settings, for the few lines code
  generation writes itself (import lists, docstrings, `else:`).
- `nnspec.formatter.nodes`: builders for the syntax-tree nodes `format_statement` reads.

Everything else (modules whose names start with `_`) is private:
`_literals` (literal text), `_precedence` (parentheses the source needs, where chains split),
`_document` (the document of groups a layout is built as), `_builder` (building it by
nesting level), `_expressions` and `_statements` (ruff's layout rules for each node) and
`_printer` (printing a document in lines of at most 88 characters, as ruff's printer does).
"""

from nnspec.formatter._literals import literal
from nnspec.formatter._printer import INDENT_WIDTH, LINE_WIDTH
from nnspec.formatter._statements import format_statement

INDENT = " " * INDENT_WIDTH

__all__ = ["INDENT", "INDENT_WIDTH", "LINE_WIDTH", "format_statement", "literal"]
