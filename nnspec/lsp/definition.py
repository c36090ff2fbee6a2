"""Go to definition: a block's use to its definition (in this spec or an `extends` parent),
and an `extends` path to the parent file."""

from __future__ import annotations

import os
from dataclasses import dataclass

from nnspec.lsp.locate import block_names, word_at
from nnspec.lsp.workspace import Check


@dataclass(frozen=True)
class Location:
    path: str  # absolute
    line: int  # 0-based
    col: int  # 0-based, in characters
    end_col: int


def definition(check: Check, line: int, col: int) -> Location | None:
    """Where the name under the 0-based position is defined, or None."""
    if check.doc is None:
        return None
    parent = _extends_target(check, line)
    if parent is not None:
        return Location(parent, 0, 0, 0)
    found = word_at(check.line(line), col)
    if found is None or found[0] not in block_names(check):
        return None
    pos = check.doc.keypos.get(("blocks", found[0]))
    if pos is None:
        return None
    return Location(os.path.abspath(pos.file), pos.line - 1, pos.col - 1,
                    pos.col - 1 + pos.length)


def _extends_target(check: Check, line: int) -> str | None:
    """The parent file when `line` is this spec's `extends` line."""
    assert check.doc is not None
    key = check.doc.keypos.get(("extends",))
    if key is None or key.line - 1 != line or os.path.abspath(key.file) != check.path:
        return None
    text = check.line(line).split(":", 1)[1].split("#")[0].strip().strip("\"'")
    return os.path.normpath(os.path.join(os.path.dirname(check.path), text)) if text else None
