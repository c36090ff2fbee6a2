"""A check's diagnostics, file by file, as the editor shows them.

Each keeps the CLI's code, message, notes and hint, and its span. A problem inside an
`extends` parent is shown twice: in the parent, where it is, and in the spec being edited, on
the `extends` line that pulled that parent in (the chain followed up to the edited file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nnspec.diagnostics import Diagnostic, Pos
from nnspec.lsp.workspace import Check


@dataclass(frozen=True)
class Problem:
    """One diagnostic for one file: 0-based line and columns (in characters)."""

    line: int
    col: int
    end_col: int
    severity: str  # "error" or "warning"
    code: str
    message: str
    related: tuple[str, int, int] | None = None  # (absolute path, 0-based line, column)


def problems(check: Check) -> dict[str, list[Problem]]:
    """Absolute path -> its problems; the edited file is always present (maybe empty)."""
    out: dict[str, list[Problem]] = {check.path: []}
    origins = check.doc.origins if check.doc else {}
    for d in check.diagnostics:
        file = _absolute(d.pos.file)
        if d.pos.line <= 0 or file == check.path:
            out[check.path].append(_problem(d, d.pos))
            continue
        if not os.path.isabs(d.pos.file) and d.pos.file.startswith("<"):
            out[check.path].append(_problem(d, Pos(check.path, 1, 1)))
            continue
        out.setdefault(file, []).append(_problem(d, d.pos))
        site = _extends_site(d.pos.file, origins, check.path) or Pos(check.path, 1, 1)
        shown = os.path.relpath(file, os.path.dirname(check.path))
        moved = Diagnostic(d.code, f"in parent spec '{shown}' (line {d.pos.line}): {d.message}",
                           site, d.hint, d.severity)
        out[check.path].append(_problem(moved, site, (file, d.pos.line - 1, d.pos.col - 1)))
    return out


def _absolute(file: str) -> str:
    return file if file.startswith("<") else os.path.abspath(file)


def _extends_site(file: str, origins: dict[str, Pos], edited: str) -> Pos | None:
    """The `extends` in the edited file that (through its chain) pulled `file` in."""
    seen = set()
    while file in origins and file not in seen:
        seen.add(file)
        ref = origins[file]
        if _absolute(ref.file) == edited:
            return ref
        file = ref.file
    return None


def _problem(d: Diagnostic, pos: Pos, related: tuple[str, int, int] | None = None) -> Problem:
    lines = [d.message] + [f"note: {note}" for note in d.notes if "is a parent spec" not in note]
    if d.hint:
        lines.append(f"hint: {d.hint}")
    line, col = max(0, pos.line - 1), max(0, pos.col - 1)
    return Problem(line, col, col + max(1, pos.length), d.severity, d.code, "\n".join(lines),
                   related)
