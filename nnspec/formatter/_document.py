"""Documents: what a statement's layout is built as, before the printer decides line breaks.

A document is a flat list of elements (text, line breaks of a mode, start/end tags of groups
and conditional content, best-fitting variants), the form ruff's printer consumes. Groups print
flat when they fit in the line width and broken otherwise; a group that holds a hard line break
or an expanded group is expanded before printing (`propagate_expands`).

Tag kinds: `group`, `cond_group` (a group only when another group has a given mode),
`cond_content` (content printed only in a given mode), `indent`, `indent_if_breaks`,
`first_line_fits` (content that fits when its first line fits: ruff's fits-expanded),
`parenthesize_to_fit` (content printed flat if it fits, else inside added parentheses on its
own lines if that fits: ruff's best-fit parentheses) and `entry` (one best-fitting variant).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FLAT, EXPANDED = "flat", "expanded"
FIRST_LINE, ALL_LINES, ALL_LINES_OVERFLOW = "first", "all", "all-overflow"

# Line modes
SOFT, SOFT_OR_SPACE, HARD = "soft", "soft_or_space", "hard"

# ("text", str) | ("line", mode) | ("start", Tag) | ("end", kind) | ("best", variants, mode)
Element = tuple


@dataclass
class Tag:
    """Mutable state of a start tag: a group's mode can be raised to expanded by propagation."""

    kind: str
    id: int | None = None
    expand: bool = False  # should_expand, or propagated from an expanding child
    cond_id: int | None = None  # for conditional groups, content and first_line_fits
    cond_mode: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)



class Doc:
    """An element list under construction, with a counter for group ids."""

    def __init__(self) -> None:
        self.items: list[Element] = []
        self._ids = 0

    def new_id(self) -> int:
        self._ids += 1
        return self._ids

    def text(self, s: str) -> None:
        self.items.append(("text", s))

    def line(self, mode: str) -> None:
        self.items.append(("line", mode))

    def start(self, kind: str, **kw: Any) -> None:
        self.items.append(("start", Tag(kind, **kw)))

    def end(self, kind: str) -> None:
        self.items.append(("end", kind))

    def best_fitting(self, variants: list[list[Element]], mode: str = FIRST_LINE) -> None:
        self.items.append(("best", variants, mode))


def propagate_expands(items: list[Element]) -> None:
    """Mark every group that contains an expanded group (or a hard line) as expanded.

    Best-fitting elements and `first_line_fits` are boundaries, as in ruff.
    """
    stack: list[Tag] = []

    def walk(elements: list[Element]) -> bool:
        expands = False
        for el in elements:
            child = False
            if el[0] == "start":
                tag = el[1]
                if tag.kind == "first_line_fits":
                    tag.extra["before"] = expands
                stack.append(tag)
            elif el[0] == "end":
                tag = stack.pop()
                if tag.kind in ("group", "cond_group"):
                    child = tag.expand
                elif tag.kind == "first_line_fits":
                    expands = tag.extra.pop("before")
                    continue
            elif el[0] == "best":
                stack.append(Tag("best"))
                for variant in el[1]:
                    walk(variant)
                stack.pop()
                expands = False
                continue
            elif el == ("line", HARD):
                child = True
            if child:
                expands = True
                if stack and stack[-1].kind in ("group", "cond_group", "first_line_fits"):
                    stack[-1].expand = True
        return expands

    walk(items)
