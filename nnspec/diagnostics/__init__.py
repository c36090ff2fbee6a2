"""Errors as values: every problem nnspec finds is a Diagnostic with a source position.

Stages collect diagnostics instead of raising on the first problem, so a user sees every
error in a file at once. `SpecError` carries them out of the API; the CLI prints them like a
compiler: `path:line:col: error[code]: message`, the source line with a caret under the span,
notes, then a hint. Warnings (`warning[code]`) travel beside a valid spec in `Document.warnings`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import stat
import unicodedata
from dataclasses import dataclass, field

from nnspec.diagnostics import codes

MAX_SHOWN = 50  # text output lists this many diagnostics, then says how many more there are
_WINDOW = 120  # longest source excerpt shown; longer lines are cut around the caret
_MAX_MESSAGE = 300  # messages quoting user text are cut to this length
_MAX_HINT_NAME = 64  # did-you-mean looks only at names up to this length


@dataclass(frozen=True)
class Pos:
    """A 1-based line and column in a source file; `length` is the span under the caret.

    A YAML value that spans lines (a folded or quoted multi-line scalar) carries `segments`:
    `(offset in the value, line, column)` for each source line, so an offset inside the value
    (an expression's sub-span) still maps to the right line and column.
    """

    file: str
    line: int
    col: int
    length: int = 1
    segments: tuple[tuple[int, int, int], ...] = field(default=(), compare=False, repr=False)

    def shifted(self, offset: int, length: int = 1) -> Pos:
        """The position `offset` characters into the value that starts here."""
        line, col = self.line, self.col + offset
        for start, seg_line, seg_col in self.segments:
            if start > offset:
                break
            line, col = seg_line, seg_col + offset - start
        return Pos(self.file, line, col, max(1, length))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


UNKNOWN = Pos("<unknown>", 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    """One problem at one position. `code` must be registered in `codes.CODES`."""

    code: str
    message: str
    pos: Pos
    hint: str | None = None
    severity: str = "error"
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        codes.check(self.code)  # an unregistered code is nnspec's defect: fail loudly

    def render(self, source_lines: list[str] | None = None) -> str:
        """`path:line:col: error[code]: message`, the source line with a caret, then the hint."""
        out = [f"{_escape(str(self.pos))}: {self.severity}[{self.code}]: {_clean(self.message)}"]
        if source_lines and 0 < self.pos.line <= len(source_lines):
            out += _excerpt(source_lines[self.pos.line - 1], self.pos)
        out.extend(f"  note: {_clean(note)}" for note in self.notes)
        if self.hint:
            out.append(f"  hint: {_clean(self.hint)}")
        return "\n".join(out)

    def as_json(self) -> dict:
        return {
            "file": self.pos.file,
            "line": self.pos.line,
            "column": self.pos.col,
            "end_line": self.pos.line,
            "end_column": self.pos.col + self.pos.length,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "notes": list(self.notes),
        }

    def as_error(self, note: str) -> Diagnostic:
        """This warning promoted to an error (`--strict`)."""
        return dataclasses.replace(self, severity="error", notes=self.notes + (note,))


def _excerpt(line: str, pos: Pos) -> list[str]:
    """The source line (cut around the caret when long) and the caret line under the span."""
    text = line.rstrip("\r\n")
    start = pos.col - 1
    width = max(1, min(pos.length, len(text) - start))
    cut = max(0, start - _WINDOW // 3) if len(text) > _WINDOW else 0
    shown = text[cut:cut + _WINDOW]
    before = shown[:start - cut]
    span = shown[start - cut:start - cut + width]
    prefix, suffix = ("..." if cut else ""), ("..." if cut + _WINDOW < len(text) else "")
    gutter = f"{pos.line:>5} | "
    pad = " " * len(prefix) + "".join(_cell(ch)[1] for ch in before)
    pad += " " * (start - cut - len(before))  # a column just past the end of the line
    carets = "^" * max(1, sum(len(_cell(ch)[1]) for ch in span))
    return [gutter + prefix + "".join(_cell(ch)[0] for ch in shown) + suffix,
            " " * (len(gutter) - 2) + "| " + pad + carets]


def _cell(ch: str) -> tuple[str, str]:
    """How a character shows in a terminal, and blank padding of the same width.

    Control and bidi characters are escaped (a spec must not be able to reorder or hide what
    the user sees), wide East Asian characters take two cells, a tab stays a tab.
    """
    if ch == "\t":
        return "\t", "\t"
    if not ch.isprintable():
        shown = ascii(ch)[1:-1]
        return shown, " " * len(shown)
    if unicodedata.combining(ch):
        return ch, ""
    return ch, "  " if unicodedata.east_asian_width(ch) in "WF" else " "


def _escape(text: str) -> str:
    """Text safe to print on a terminal: control and bidi characters escaped."""
    return "".join(_cell(ch)[0] if ch != "\t" else "\\t" for ch in text)


def _clean(text: str) -> str:
    """A message or hint safe to print, and cut when long (it may quote a whole value)."""
    shown = _escape(text)
    return shown if len(shown) <= _MAX_MESSAGE else shown[:_MAX_MESSAGE] + "..."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(diagnostics: list[Diagnostic]) -> str:
    """`2 errors, 1 warning`."""
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    parts = [_plural(errors, "error")] if errors else []
    return ", ".join(parts + ([_plural(warnings, "warning")] if warnings else []))


def render(diagnostics: list[Diagnostic], json_format: bool = False,
           limit: int = MAX_SHOWN) -> str:
    """Text (the first `limit`, then how many more) or a JSON array of every diagnostic."""
    if json_format:
        return json.dumps([d.as_json() for d in diagnostics], indent=2, ensure_ascii=True)
    cache: dict[str, list[str] | None] = {}
    out = [d.render(_source_lines(d.pos.file, cache)) for d in diagnostics[:limit]]
    if len(diagnostics) > limit:
        rest = diagnostics[limit:]
        out.append(f"nnspec: {summary(rest)} more not shown (the first {limit} are above)")
    if diagnostics:
        out.append(f"nnspec: {summary(diagnostics)}")
    return "\n".join(out)


class SpecError(Exception):
    """An invalid spec. `diagnostics` holds every problem found, with positions."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__(render(self.diagnostics))

    def render(self, json_format: bool = False) -> str:
        return render(self.diagnostics, json_format)


_MAX_SOURCE_BYTES = 2_000_000  # source lines are shown only from regular files up to this size


def _source_lines(path: str, cache: dict[str, list[str] | None]) -> list[str] | None:
    """The lines of the file a diagnostic points into, to quote; None for a file too large
    (checked before reading) or that is not a regular file (a FIFO is never opened)."""
    if path not in cache:
        cache[path] = None
        try:
            info = os.stat(path)
            if stat.S_ISREG(info.st_mode) and info.st_size <= _MAX_SOURCE_BYTES:
                with open(path, "rb") as f:
                    raw = f.read(_MAX_SOURCE_BYTES + 1)
                if len(raw) <= _MAX_SOURCE_BYTES:
                    cache[path] = raw.decode("utf-8").splitlines()
        except (OSError, UnicodeDecodeError, ValueError):
            pass
    return cache[path]


class Collector:
    """Gathers diagnostics from one stage; `check()` raises them together if any is an error.

    `origins` maps each `extends` parent file to the position of the `extends` that pulled it
    in, so a diagnostic inside a parent says which child spec brought that file in.
    """

    def __init__(self, origins: dict[str, Pos] | None = None) -> None:
        self.items: list[Diagnostic] = []
        self.origins = origins or {}

    def error(self, code: str, message: str, pos: Pos, hint: str | None = None, notes=()) -> None:
        self.add(Diagnostic(code, message, pos, hint, notes=tuple(notes)))

    def warning(self, code: str, message: str, pos: Pos, hint: str | None = None) -> None:
        self.add(Diagnostic(code, message, pos, hint, severity="warning"))

    def add(self, diagnostic: Diagnostic) -> None:
        notes = extends_notes(diagnostic.pos.file, self.origins)
        if notes:
            diagnostic = dataclasses.replace(diagnostic, notes=diagnostic.notes + notes)
        self.items.append(diagnostic)

    def extend(self, diagnostics: list[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return sort([d for d in self.items if d.severity == "warning"])

    def check(self) -> None:
        if self.errors:
            raise SpecError(sort(self.items))


def sort(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.pos.file, d.pos.line, d.pos.col))


def extends_notes(file: str, origins: dict[str, Pos]) -> tuple[str, ...]:
    """For a position in an `extends` parent: which spec pulled each file in, child-most last."""
    notes: list[str] = []
    seen = set()
    while file in origins and file not in seen:
        seen.add(file)
        ref = origins[file]
        notes.append(f"'{file}' is a parent spec, pulled in by 'extends' at {ref}")
        file = ref.file
    return tuple(notes)


def did_you_mean(name: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """A hint naming the closest known spelling, or None when nothing is close.

    The closest is difflib's (ratio at least 0.6, ties to the greater name). The work is capped,
    so ten thousand misspellings stay fast: choices are indexed by length once per set of
    choices, only lengths that could reach the ratio are compared, and after
    `MAX_HINT_SEARCHES` searches (counted from the last `reset_hint_budget`, which the reader
    calls for each spec) only a different-case spelling is hinted.
    """
    if not isinstance(name, str) or len(name) > _MAX_HINT_NAME:
        return None
    lowered, by_length = _hint_index(tuple(c for c in choices if isinstance(c, str)))
    same = lowered.get(name.lower())
    if same is not None and same != name:
        return f"did you mean '{same}'?"
    _hint_searches[0] += 1
    if _hint_searches[0] > MAX_HINT_SEARCHES:
        return None
    import difflib

    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(name)
    best: tuple[float, str] | None = None
    n = len(name)
    for length in range((3 * n + 6) // 7, (7 * n) // 3 + 1):  # a ratio of 0.6 is reachable
        for choice in by_length.get(length, ()):
            matcher.set_seq1(choice)
            if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6:
                score = matcher.ratio()
                if score >= 0.6 and (best is None or (score, choice) > best):
                    best = (score, choice)
    return f"did you mean '{best[1]}'?" if best else None


MAX_HINT_SEARCHES = 200  # did-you-mean searches per spec; later errors get no spelling hint
_hint_searches = [0]


def reset_hint_budget() -> None:
    """Start a new count of did-you-mean searches (the reader calls it once per spec)."""
    _hint_searches[0] = 0


@functools.lru_cache(maxsize=64)
def _hint_index(choices: tuple[str, ...]) -> tuple[dict[str, str], dict[int, list[str]]]:
    """The choices by lower-cased spelling, and by length."""
    by_length: dict[int, list[str]] = {}
    for choice in set(choices):
        by_length.setdefault(len(choice), []).append(choice)
    return {c.lower(): c for c in choices}, by_length
