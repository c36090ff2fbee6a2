"""Errors as values: every problem nnspec finds is a Diagnostic with a source position.

Stages collect diagnostics instead of raising on the first problem, so a user sees every
error in a file at once. `SpecError` carries them out of the API; the CLI prints them.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Pos:
    """A 1-based line and column in a source file; `length` is the span under the caret."""

    file: str
    line: int
    col: int
    length: int = 1
    # for a value folded from several source lines: (offset in the value, line, col) where
    # each line's text starts, so `shifted` lands on the right line
    segments: tuple[tuple[int, int, int], ...] = field(default=(), compare=False, repr=False)

    def shifted(self, offset: int, length: int = 1) -> Pos:
        """The position `offset` characters into the value that starts here."""
        line, col = self.line, self.col + offset
        for start, seg_line, seg_col in self.segments:
            if offset >= start:
                line, col = seg_line, seg_col + offset - start
        return Pos(self.file, line, col, max(1, length))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


UNKNOWN = Pos("<unknown>", 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    pos: Pos
    hint: str | None = None
    severity: str = "error"
    notes: tuple[str, ...] = field(default=())

    def render(self, source_lines: list[str] | None = None) -> str:
        """`path:line:col: error[code]: message`, the source line with a caret, then the hint."""
        out = [f"{self.pos}: {self.severity}[{self.code}]: {self.message}"]
        if source_lines and 0 < self.pos.line <= len(source_lines):
            text = source_lines[self.pos.line - 1].rstrip("\n")
            gutter = f"{self.pos.line:>5} | "
            out.append(gutter + text)
            width = min(self.pos.length, max(1, len(text) - self.pos.col + 1))
            out.append(" " * (len(gutter) - 2) + "| " + " " * (self.pos.col - 1) + "^" * width)
        out.extend(f"  note: {note}" for note in self.notes)
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)

    def as_json(self) -> dict:
        return {
            "file": self.pos.file,
            "line": self.pos.line,
            "column": self.pos.col,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "notes": list(self.notes),
        }


class SpecError(Exception):
    """An invalid spec. `diagnostics` holds every problem found, with positions."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__(self.render())

    def render(self, json_format: bool = False) -> str:
        if json_format:
            return json.dumps([d.as_json() for d in self.diagnostics], indent=2)
        cache: dict[str, list[str] | None] = {}
        return "\n".join(d.render(_source_lines(d.pos.file, cache)) for d in self.diagnostics)


def _source_lines(path: str, cache: dict[str, list[str] | None]) -> list[str] | None:
    if path not in cache:
        try:
            cache[path] = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            cache[path] = None
    return cache[path]


class Collector:
    """Gathers diagnostics from one stage; `check()` raises them together."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, code: str, message: str, pos: Pos, hint: str | None = None, notes=()) -> None:
        self.items.append(Diagnostic(code, message, pos, hint, notes=tuple(notes)))

    def extend(self, diagnostics: list[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    def check(self) -> None:
        if self.errors:
            raise SpecError(sorted(self.items, key=lambda d: (d.pos.file, d.pos.line,
                                                              d.pos.col)))


def did_you_mean(name: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """A hint naming the closest known spelling, or None when nothing is close."""
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered and lowered[name.lower()] != name:
        return f"did you mean '{lowered[name.lower()]}'?"
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
