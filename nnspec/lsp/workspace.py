"""The spec files an editor has open, checked as the user types.

`Workspace.check` runs the compiler's front half (read, `extends`, validation, elaboration,
the shape pass) on the editor's text, not the file on disk, and keeps everything a feature
needs in one `Check`. `extends` parents are read once and reused while unchanged: by content
when the editor has them open, by modification time and size when they are read from disk.

A check of a big spec makes millions of objects and no reference cycles; left to the cyclic
collector, each later allocation spike would walk them all again (over 100 ms for 10,000
layers, at random moments such as an inlay-hint request). So each check's objects are frozen
out of the collector's view (`gc.freeze`), reference counting still frees them when the next
check replaces them, and `collect()` runs a full collection when the editor is idle.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnspec.diagnostics import Diagnostic, Pos, SpecError, reset_hint_budget
from nnspec.elaborate.compile import Compiled, compile_document, gc_paused
from nnspec.elaborate.reuse import Memo, reusing
from nnspec.frontend.document import Document, PathKey
from nnspec.frontend.extends import load_resolved
from nnspec.frontend.reader import parse_document, read_document
from nnspec.ir.program import Instance


@dataclass
class Check:
    """One text of one spec, checked: the resolved document (None when it cannot be read),
    the compiled spec (None when it has errors), and every diagnostic, errors and warnings."""

    path: str  # the file name diagnostics use for this spec (absolute)
    text: str
    doc: Document | None
    compiled: Compiled | None
    diagnostics: list[Diagnostic]
    _lines: list[str] | None = field(default=None, repr=False)
    _by_line: dict[int, list[Instance]] | None = field(default=None, repr=False)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines

    def line(self, n: int) -> str:
        """Line `n` (0-based) without its line break; "" past the end."""
        return self.lines[n].rstrip("\r") if 0 <= n < len(self.lines) else ""

    def instances_at(self, line: int) -> list[Instance]:
        """The modules called on a 0-based line of this file: one per instance of the call
        (a block's child has one per use of the block)."""
        return self.instance_lines.get(line, [])

    @property
    def instance_lines(self) -> dict[int, list[Instance]]:
        """0-based line -> the instances called there."""
        if self._by_line is None:
            with gc_paused():
                self._by_line = _instances_by_line(self)
        return self._by_line

    def value(self, path: PathKey) -> Any:
        """The resolved data at `path`, or None."""
        data: Any = self.doc.data if self.doc else None
        for key in path:
            if isinstance(data, dict) and key in data:
                data = data[key]
            elif isinstance(data, list) and isinstance(key, int) and key < len(data):
                data = data[key]
            else:
                return None
        return data


def _instances_by_line(check: Check) -> dict[int, list[Instance]]:
    """Every instance whose call is written in this file, by 0-based line. A Sequential
    written as a list or mapping under a key shows on the key's line."""
    out: dict[int, list[Instance]] = {}
    if check.compiled is None or check.doc is None:
        return out
    keyline = _seq_key_lines(check)
    stack = list(reversed(check.compiled.tree.children))
    while stack:
        inst = stack.pop()
        pos = inst.pos
        if pos.file == check.path:
            line = keyline.get((pos.line, pos.col), pos.line) if inst.kind == "seq" \
                else pos.line
            out.setdefault(line - 1, []).append(inst)
        stack.extend(reversed(inst.children))
    return out


def _seq_key_lines(check: Check) -> dict[tuple[int, int], int]:
    """(line, col) of a value in this file -> the line of the key that holds it."""
    doc = check.doc
    assert doc is not None
    out = {}
    for path, pos in doc.pos.items():
        if pos.file == check.path and path in doc.keypos:
            key = doc.keypos[path]
            if key.file == check.path and key.line != pos.line:
                out[(pos.line, pos.col)] = key.line
    return out


class Workspace:
    """The texts the editor has open, and the parent specs read so far."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}  # absolute path -> the editor's text
        self._parents: dict[str, tuple[Any, Document | SpecError]] = {}
        self._editing: tuple[str, str] | None = None
        self._memo = Memo()  # what each compile may reuse of the last (elaborate.reuse)

    def open(self, path: str, text: str) -> None:
        self.texts[os.path.abspath(path)] = text

    def close(self, path: str) -> None:
        self.texts.pop(os.path.abspath(path), None)

    def check(self, path: str, text: str | None = None) -> Check:
        """Check `path` with `text` (by default the editor's text, else the file's)."""
        path = os.path.abspath(path)
        if text is None:
            text = self.texts.get(path)
        if text is None:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        self._editing = (path, text)
        doc = compiled = None
        try:
            with gc_paused():  # reading makes many objects and no cycles, as compiling does
                doc = load_resolved(path, read=self._read)
            with reusing(self._memo):
                compiled = compile_document(doc, path)
            diagnostics = list(compiled.document.warnings)
        except SpecError as exc:
            diagnostics = exc.diagnostics
        except RecursionError:
            diagnostics = [Diagnostic("too-deep", "spec nesting is too deep", Pos(path, 1, 1))]
        except Exception as exc:  # noqa: BLE001 - a defect in nnspec: shown, not fatal
            diagnostics = [Diagnostic("internal", f"internal error: {type(exc).__name__}: "
                                      f"{exc}", Pos(path, 1, 1),
                                      "this is a bug in nnspec; please report it")]
        finally:
            self._editing = None
        check = Check(path, text, doc, compiled, diagnostics)
        gc.freeze()
        return check

    @staticmethod
    def collect() -> None:
        """A full collection of everything, frozen checks included: for idle moments."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def _read(self, path: str | Path) -> Document:
        """One file of an `extends` chain: the text being checked, or a parent, cached."""
        name = str(path)
        full = os.path.abspath(name)
        if self._editing and full == self._editing[0]:
            reset_hint_budget()
            return parse_document(self._editing[1], name)
        text = self.texts.get(full)
        try:
            stat = os.stat(full)
            key: Any = ("text", text) if text is not None else (stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = ("text", text)
        cached = self._parents.get(full)
        if cached is None or cached[0] != key:
            try:
                result: Document | SpecError = parse_document(text, name) if text is not None \
                    else read_document(name)
            except SpecError as exc:
                result = exc
            cached = (key, result)
            self._parents[full] = cached
        if isinstance(cached[1], SpecError):
            raise SpecError(cached[1].diagnostics)
        return cached[1]
