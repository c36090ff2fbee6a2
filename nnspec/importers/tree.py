"""Printed module trees (the output of `print(model)`) to a tree of nodes, by indentation.

torch prints a module with children as `Name(`, then one `(key): child` line per child (the
child's own lines indented two more spaces), then `)`; a module without children prints on one
line, `Name(extra_repr)`. ModuleList folds a run of equal children into `(0-2): 3 x Child(...)`,
which is expanded here. Only text is read: nothing is evaluated.

Bounds, each a positioned error before the work it guards: a tree of at most `MAX_TREE_BYTES`
bytes (checked before it is decoded), nesting at most `MAX_TREE_DEPTH` modules deep (checked
before the parser recurses), and at most `MAX_TREE_MODULES` modules once collapsed repeats are
expanded (a repeat's count is checked against what is left before its keys are made).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from nnspec.diagnostics import Diagnostic, Pos, SpecError

MAX_TREE_BYTES = 2_000_000
MAX_TREE_DEPTH = 100
MAX_TREE_MODULES = 20_000

_HEADER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\((.*)$")
_CHILD = re.compile(r"\(([\w-]+)\): (?:([0-9]+) x )?")
_RANGE = re.compile(r"[0-9]+-[0-9]+")  # the keys of a collapsed repeat, `(0-2): 3 x ...`
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


@dataclass
class Node:
    """One printed module: its class name, the text inside a one-line repr, its children."""

    cls: str
    args: str | None  # text between the parentheses of a one-line repr; None for a container
    pos: Pos  # where the class name is printed
    children: list[tuple[str, Node]] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # lines of a container that are not children
    collapsed: bool = False  # has `(0-2): 3 x ...` children, as only a ModuleList prints
    size: int = 1  # modules in this subtree, collapsed repeats expanded

    @property
    def text(self) -> str:
        """The one-line repr as printed."""
        return f"{self.cls}({self.args})"


def read_tree_file(path: str | Path) -> str:
    """A tree file's text; SpecError (positioned) when it is over MAX_TREE_BYTES or is not
    UTF-8 text."""
    path = Path(path)
    with path.open("rb") as f:
        raw = f.read(MAX_TREE_BYTES + 1)
    if len(raw) > MAX_TREE_BYTES:
        line = raw.count(b"\n", 0, MAX_TREE_BYTES) + 1
        raise SpecError([Diagnostic("too-large", f"the file is over the limit of "
                                    f"{MAX_TREE_BYTES:,} bytes for a printed tree",
                                    Pos(str(path), line, 1))])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError([Diagnostic("bad-tree", f"not UTF-8 text: byte 0x{raw[exc.start]:02x} "
                                    f"at offset {exc.start:,}", Pos(str(path), line, col),
                                    "the input should be the output of print(model), saved "
                                    "as text")]) from None


def fenced_trees(text: str) -> list[tuple[int, str]]:
    """The trees in a Markdown document, as (line number of the first tree line, text)."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _FENCE.finditer(text)]


def parse_tree(text: str, file: str = "<tree>", first_line: int = 1) -> Node:
    """The root node of a printed tree; SpecError (with the line) when it is not one."""
    if len(text) > MAX_TREE_BYTES:
        line = text.count("\n", 0, MAX_TREE_BYTES) + first_line
        raise SpecError([Diagnostic("too-large", f"the tree is over the limit of "
                                    f"{MAX_TREE_BYTES:,} characters", Pos(file, line, 1))])
    return _Parser(text, file, first_line).root()


class _Parser:
    def __init__(self, text: str, file: str, first_line: int):
        self.lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
        self.file, self.first_line = file, first_line

    def pos(self, i: int, col: int, length: int = 1) -> Pos:
        return Pos(self.file, self.first_line + i, col + 1, length)

    def fail(self, message: str, i: int, col: int = 0, hint: str | None = None,
             code: str = "bad-tree") -> SpecError:
        length = max(1, len(self.lines[i]) - col) if i < len(self.lines) else 1
        return SpecError([Diagnostic(code, message, self.pos(i, col, length), hint)])

    def root(self) -> Node:
        starts = [i for i, line in enumerate(self.lines) if line.strip()]
        if not starts:
            raise self.fail("no module tree here: the text is empty", 0)
        i = starts[0]
        indent = _indent(self.lines[i])
        node, end = self.module(i, indent, indent, 1)
        rest = [j for j in starts if j >= end]
        if rest:
            raise self.fail("text after the end of the module tree", rest[0],
                            _indent(self.lines[rest[0]]),
                            "give one printed tree: the output of print(model)")
        return node

    def module(self, i: int, col: int, indent: int, depth: int) -> tuple[Node, int]:
        """The module whose repr starts at column `col` of line `i`, `depth` modules deep; and
        the next line index."""
        if depth > MAX_TREE_DEPTH:
            raise self.fail(f"the tree nests deeper than {MAX_TREE_DEPTH} modules", i, col,
                            code="too-deep")
        text = self.lines[i][col:]
        match = _HEADER.match(text)
        if not match:
            raise self.fail("expected a module such as 'Conv2d(...)' or 'Net('", i, col,
                            "the input should be the output of print(model)")
        name, rest = match.groups()
        pos = self.pos(i, col, len(name))
        if rest:
            if not rest.endswith(")"):
                raise self.fail(f"'{name}(' is not closed on this line", i, col)
            return Node(name, rest[:-1], pos), i + 1
        node = Node(name, None, pos)
        j = i + 1
        while j < len(self.lines):
            line = self.lines[j]
            if not line.strip():
                j += 1
                continue
            here = _indent(line)
            if here == indent and line.strip() == ")":
                return node, j + 1
            if here < indent + 2:
                raise self.fail(f"unexpected indentation inside '{name}(' (opened on line "
                                f"{pos.line})", j, here)
            child = _CHILD.match(line, here) if here == indent + 2 else None
            if child is None:  # extra_repr lines, such as a ParameterList's
                node.extra.append(line.strip())
                j += 1
                continue
            key, count = child.group(1), child.group(2)
            node.collapsed = node.collapsed or count is not None
            n = self.count(key, count, j, here)
            sub, j_next = self.module(j, child.end(), here, depth + 1)
            if node.size + n * sub.size > MAX_TREE_MODULES:
                raise self.fail(f"the tree has over {MAX_TREE_MODULES:,} modules (collapsed "
                                "repeats expanded)", j, here, code="too-large")
            node.size += n * sub.size
            node.children += [(k, sub) for k in self.keys(key)]
            j = j_next
        raise self.fail(f"'{name}(' is never closed", i, col)

    def count(self, key: str, count: str | None, i: int, col: int) -> int:
        """How many children a child line stands for: `(3)` one, `(0-2): 3 x ...` three;
        checked (the range against the count, both against MAX_TREE_MODULES) before any key
        is made."""
        if not _RANGE.fullmatch(key):  # one child, its name perhaps with `-` (`block1-0`)
            if count is not None:
                raise self.fail(f"'{count} x' needs a range of keys such as (0-2)", i, col)
            return 1
        digits = len(str(MAX_TREE_MODULES))
        if any(len(part.lstrip("0")) > digits for part in [*key.split("-"), count or ""]):
            short = key if len(key) <= 40 else key[:20] + "..." + key[-10:]
            raise self.fail(f"the collapsed repeat ({short}) is over the limit of "
                            f"{MAX_TREE_MODULES:,} modules", i, col, code="too-large")
        first, last = map(int, key.split("-"))
        if last < first:
            raise self.fail(f"the collapsed repeat ({key}) ends before it starts", i, col)
        if count is None or last - first + 1 != int(count):
            raise self.fail(f"a collapsed repeat ({key}) must say {last - first + 1} x", i, col)
        if int(count) > MAX_TREE_MODULES:
            raise self.fail(f"the collapsed repeat ({key}) is over the limit of "
                            f"{MAX_TREE_MODULES:,} modules", i, col, code="too-large")
        return int(count)

    @staticmethod
    def keys(key: str) -> list[str]:
        """The keys of a checked child line: `(3)` is 3; `(0-2)` is 0, 1 and 2."""
        if not _RANGE.fullmatch(key):
            return [key]
        first, last = map(int, key.split("-"))
        return [str(n) for n in range(first, last + 1)]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))
