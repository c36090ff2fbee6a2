"""Building a statement's document: groups, line breaks and brackets, by nesting level.

Python can break a line only inside brackets, so each piece of layout depends on where it is:
at statement level (no break possible), inside brackets the source has, or inside optional
parentheses that are added only if the content breaks (then operators inside may break too).
`DocumentBuilder` tracks that level while the expression and statement layouts add elements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from nnspec.formatter._document import EXPANDED, FLAT, SOFT, SOFT_OR_SPACE, Doc

# Nesting levels: a statement's own level, inside brackets, or inside an expression whose
# optional parentheses (a group id) may break (ruff's NodeLevel).
STATEMENT, BRACKETED = ("statement",), ("bracketed",)


def expression_level(gid: int | None) -> tuple:
    return ("expr", gid)


class DocumentBuilder:
    """A document under construction, and the nesting level of what is added next."""

    def __init__(self) -> None:
        self.doc = Doc()
        self.level: tuple = STATEMENT

    # document helpers

    @contextmanager
    def at(self, level: tuple) -> Iterator[None]:
        saved, self.level = self.level, level
        try:
            yield
        finally:
            self.level = saved

    def text(self, s: str) -> None:
        self.doc.text(s)

    def line(self, mode: str) -> None:
        self.doc.line(mode)

    def wrap(self, kind: str, content: Callable[[], None], **kw) -> None:
        self.doc.start(kind, **kw)
        content()
        self.doc.end(kind)

    def group(self, content: Callable[[], None], gid: int | None = None,
              expand: bool = False) -> None:
        self.wrap("group", content, id=gid, expand=expand)

    def if_breaks(self, content: Callable[[], None], gid: int | None = None) -> None:
        self.wrap("cond_content", content, cond_id=gid, cond_mode=EXPANDED)

    def if_fits(self, content: Callable[[], None], gid: int | None = None) -> None:
        self.wrap("cond_content", content, cond_id=gid, cond_mode=FLAT)

    def capture(self, content: Callable[[], None]) -> list:
        saved, self.doc.items = self.doc.items, []
        try:
            content()
            return self.doc.items
        finally:
            self.doc.items = saved

    def in_brackets(self) -> bool:
        """Inside brackets, or inside optional parentheses."""
        return self.level == BRACKETED or (self.level[0] == "expr" and self.level[1] is not None)

    def block_indent_soft(self, content: Callable[[], None]) -> None:
        self.wrap("indent", lambda: (self.line(SOFT), content()))
        self.line(SOFT)

    def bracketed(self, left: str, content: Callable[[], None], right: str) -> None:
        """`left content right`, the content on indented lines of its own if it breaks."""
        current = self.level

        def inner() -> None:
            self.group(lambda: (self.text(left), self.block_indent_soft(content),
                                self.text(right)))

        with self.at(BRACKETED):
            if current[0] == "expr" and current[1] is not None:
                self.wrap("first_line_fits", inner, cond_id=current[1], cond_mode=FLAT)
            else:
                inner()

    def bracketed_group(self, content: Callable[[], None]) -> None:
        """A group where the source can break lines (inside brackets, or inside optional
        parentheses, breaking when they do); elsewhere the content as is (ruff's
        in_parentheses_only_group)."""
        if self.level[0] == "expr" and self.level[1] is not None:
            self.wrap("cond_group", content, cond_id=self.level[1], cond_mode=EXPANDED)
        elif self.level == BRACKETED:
            self.group(content)
        else:
            content()

    def bracketed_line(self, mode: str) -> None:
        """A line break where the source can break lines, else a space or nothing (ruff's
        in_parentheses_only_soft_line_break[_or_space])."""
        if self.level[0] == "expr" and self.level[1] is not None:
            gid = self.level[1]
            self.if_breaks(lambda: self.line(mode), gid)
            if mode == SOFT_OR_SPACE:
                self.if_fits(lambda: self.text(" "), gid)
        elif self.level == BRACKETED:
            self.line(mode)
        elif mode == SOFT_OR_SPACE:
            self.text(" ")

    def bracketed_if_breaks(self, content: Callable[[], None]) -> None:
        """Content printed only when the enclosing brackets or optional parentheses break."""
        if self.level[0] == "expr" and self.level[1] is not None:
            self.if_breaks(content, self.level[1])
        elif self.level == BRACKETED:
            self.if_breaks(content)

    def join(self, entries: list[Callable[[], None]]) -> None:
        """Comma-separated entries; a trailing comma when broken, unless there is just one."""
        for i, entry in enumerate(entries):
            if i:
                self.text(",")
                self.line(SOFT_OR_SPACE)
            entry()
        if len(entries) > 1:
            self.if_breaks(lambda: self.text(","))

    def optional_parentheses(self, content: Callable[[], None]) -> None:
        """Parentheses added only if the content breaks; operators inside break with them."""
        gid = self.doc.new_id()
        with self.at(expression_level(gid)):
            self._parentheses_if_breaks(content, gid)

    def parenthesize_if_expands(self, content: Callable[[], None]) -> None:
        """Parentheses added only if the content breaks, which breaks as in brackets."""
        with self.at(BRACKETED):
            self._parentheses_if_breaks(content, self.doc.new_id())

    def _parentheses_if_breaks(self, content: Callable[[], None], gid: int) -> None:
        """A group `gid` that shows parentheses, and indents the content, only if it breaks."""
        self.group(lambda: (
            self.if_breaks(lambda: self.text("(")),
            self.wrap("indent_if_breaks", lambda: (self.line(SOFT), content()), cond_id=gid),
            self.line(SOFT),
            self.if_breaks(lambda: self.text(")")),
        ), gid=gid)
