"""The front end's result: resolved YAML data with the source position of every value and key.

Later stages point diagnostics at a line and column through the position tables, keyed by each
value's path in the document.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from nnspec.diagnostics import Diagnostic, Pos

PathKey = tuple[str | int, ...]


@dataclass
class Document:
    """Plain YAML data, with the position of every value (`pos`) and mapping key (`keypos`)."""

    data: Any
    pos: dict[PathKey, Pos] = field(default_factory=dict)
    keypos: dict[PathKey, Pos] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # each `extends` parent file -> the position of the `extends` that pulled it in
    origins: dict[str, Pos] = field(default_factory=dict)
    # warnings found while compiling a valid spec (errors raise SpecError instead)
    warnings: list[Diagnostic] = field(default_factory=list)

    def where(self, path: PathKey, key: bool = False) -> Pos:
        """The position of `path`, or of its nearest ancestor that has one."""
        table = self.keypos if key and path in self.keypos else self.pos
        found = table.get(path)
        if found is not None:
            return found
        for n in range(len(path) - 1, -1, -1):
            if path[:n] in table:
                return table[path[:n]]
        return Pos(self.files[0] if self.files else "<spec>", 1, 1)

    def digest(self) -> str:
        """sha256 of the fully resolved document: parents merged and overrides applied."""
        text = json.dumps(self.data, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()
