"""Reading a spec: YAML text to plain data plus a table of source positions.

The YAML is composed (never constructed) with PyYAML's safe machinery, so no tag can build a
Python object. Every node's position is kept in a table keyed by its path in the document, which
later stages use to point diagnostics at the right line and column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from nnspec.diagnostics import Collector, Diagnostic, Pos, SpecError, reset_hint_budget
from nnspec.frontend.document import Document, PathKey
from nnspec.frontend.nesting import MAX_DEPTH, nesting_problem
from nnspec.frontend.paths import SpecPathError, read_limited
from nnspec.language.guards import MAX_INT

MAX_FILE_BYTES = 2_000_000
MAX_NODES = 200_000

_SAFE_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-5` as a float, as a Python user would expect, and reads
    `2024-01-01` and `=` as the strings they look like (not a date or YAML's 'value' tag)."""


# Plain YAML 1.1 resolvers, except that dates and `=` stay the strings they look like.
_RESOLVERS = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# libyaml composes ten times faster (a 10,000-layer spec in 0.04 s instead of 0.4 s) with the
# same nodes and marks; the pure-Python loader stays the reference and reports every error.
_FastLoader = (type("_FastLoader", (yaml.CSafeLoader,), {}) if hasattr(yaml, "CSafeLoader")
               else _Loader)

for _cls in {_Loader, _FastLoader}:
    _cls.yaml_implicit_resolvers = {k: list(v) for k, v in _RESOLVERS.items()}
    _cls.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )


def read_document(path: str | Path) -> Document:
    """Load one YAML file into a Document, or raise SpecError with positioned diagnostics.

    The size limit is checked before the bytes are read (see `paths.read_limited`).
    """
    name = str(path)
    reset_hint_budget()  # each spec gets its own did-you-mean budget
    try:
        raw = read_limited(path, MAX_FILE_BYTES)
    except SpecPathError as exc:
        if exc.too_large:  # "the file is N bytes, over the ...-byte limit"
            raise SpecError([Diagnostic("too-large", f"spec {str(exc).removeprefix('the ')}",
                                        Pos(name, 1, 1))])
        raise SpecError([Diagnostic("io", f"cannot read spec: {exc}", Pos(name, 1, 1))])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([_encoding_diagnostic(raw, exc, name)])
    return parse_document(text, name)


def _encoding_diagnostic(raw: bytes, exc: UnicodeDecodeError, name: str) -> Diagnostic:
    """The first byte that is not UTF-8, at its line and column (in characters)."""
    line_start = raw.rfind(b"\n", 0, exc.start) + 1
    line = raw.count(b"\n", 0, exc.start) + 1
    col = len(raw[line_start:exc.start].decode("utf-8", "replace")) + 1
    return Diagnostic("encoding", f"spec is not UTF-8: byte 0x{raw[exc.start]:02x} is "
                      f"{exc.reason}", Pos(name, line, col),
                      "save the file as UTF-8")


def parse_document(text: str, name: str = "<spec>") -> Document:
    too_deep = nesting_problem(text, name)
    if too_deep:
        raise SpecError([too_deep])
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_yaml_diagnostic(exc, name)])
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - text.rfind("\n", 0, exc.position)
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise SpecError([Diagnostic(
            "yaml-syntax", f"control character {ascii(char)} is not allowed in YAML",
            Pos(name, line, col), "inside double quotes, write it as an escape such as \\x1b")])
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic("yaml-syntax", str(exc), Pos(name, 1, 1))])
    except RecursionError:  # nesting_problem should have caught it first
        raise SpecError([Diagnostic("too-deep", "YAML nesting is too deep", Pos(name, 1, 1))])
    doc = Document(None, files=[name])
    if node is None:
        raise SpecError([Diagnostic("empty", "spec file is empty", Pos(name, 1, 1))])
    errors = Collector()
    doc.data = _Converter(doc, name, text, errors).convert(node, ())
    errors.check()
    return doc


def _compose(text: str) -> yaml.Node | None:
    # libyaml accepts tabs where PyYAML refuses them (`f(3,\t8)`); such text takes the reference
    # path, so a spec means the same with or without libyaml
    if _FastLoader is not _Loader and "\t" not in text:
        try:
            return yaml.compose(text, Loader=_FastLoader)
        except (yaml.YAMLError, RecursionError):
            pass  # the reference loader below reports it, with its own messages
    return yaml.compose(text, Loader=_Loader)


def _yaml_diagnostic(exc: yaml.MarkedYAMLError, name: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    pos = Pos(name, mark.line + 1, mark.column + 1) if mark else Pos(name, 1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    if "'\\t'" in problem and mark:
        before = mark.buffer[mark.pointer - mark.column:mark.pointer] if mark.buffer else ""
        if before.strip(" \t"):
            return Diagnostic("yaml-tab", "a tab cannot start a YAML token here", pos,
                              "replace the tab with a space, or quote the value")
        return Diagnostic("yaml-tab", "tab character in indentation", pos,
                          "YAML indents with spaces only; replace the tab with spaces")
    if problem == "but found another document":
        return Diagnostic("yaml-syntax", "a spec is one YAML document; a second one starts "
                          "here", pos, "delete the '---' line and what follows, or merge them")
    notes: tuple[str, ...] = ()
    if exc.context and exc.problem:
        where = exc.context_mark
        started = f" (it starts at {name}:{where.line + 1}:{where.column + 1})" if where else ""
        notes = (f"{exc.context}{started}",)
    return Diagnostic("yaml-syntax", problem, pos, notes=notes)


def _pos(name: str, node: yaml.Node, text: str) -> Pos:
    start, end = node.start_mark, node.end_mark
    col = start.column + 1
    length = end.column - start.column if end.line == start.line else 1
    quoted = isinstance(node, yaml.ScalarNode) and node.style in ("'", '"')
    if quoted:
        col += 1  # point at the content, so expression columns line up
        length -= 2
    if isinstance(node, yaml.ScalarNode) and end.line > start.line:
        segments = _segments(node, quoted, text)
        if segments:
            return Pos(name, segments[0][1], segments[0][2], 1, segments)
    return Pos(name, start.line + 1, col, max(1, length))


def _segments(node: yaml.ScalarNode, quoted: bool,
              text: str) -> tuple[tuple[int, int, int], ...]:
    """Where each source line of a multi-line scalar lands in its value (see `Pos`).

    The source is sliced from `text` by the marks' indexes: libyaml's marks carry no buffer.
    """
    start, end = node.start_mark, node.end_mark
    lines = text[start.index:end.index].split("\n")
    out: list[tuple[int, int, int]] = []
    cursor = 0
    for i, line in enumerate(lines):
        if i == 0 and node.style in ("|", ">"):
            continue  # the block scalar's header line
        content = line.lstrip(" \t")
        col = (start.column if i == 0 else 0) + len(line) - len(content)
        if quoted and i == 0:
            content, col = content[1:], col + 1
        content = content.rstrip(" \t\r")
        if quoted and i == len(lines) - 1:
            content = content[:-1]
        probe = content.split("\\")[0].split("''")[0][:40]  # up to any escape
        found = node.value.find(probe, cursor) if probe else -1
        if found >= 0:
            out.append((found, start.line + i + 1, col + 1))
            cursor = found + len(probe)
    return tuple(out)


class _Converter:
    """Node tree to plain data, recording positions; refuses unsafe tags and bombs."""

    def __init__(self, doc: Document, name: str, text: str, errors: Collector):
        self.doc, self.name, self.text, self.errors = doc, name, text, errors
        self.count = 0
        self.merging: set[int] = set()
        self.seen: set[int] = set()  # nodes converted once: meeting one again is an alias
        self.expansion: Pos | None = None  # where the outermost alias being expanded is used
        self.scalars = _Loader("")

    def pos(self, node: yaml.Node) -> Pos:
        return _pos(self.name, node, self.text)

    def tick(self, pos: Pos) -> None:
        """Count work done, so that aliases and merges cannot blow up (billion laughs)."""
        self.count += 1
        if self.count > MAX_NODES:
            raise SpecError([Diagnostic("too-large", f"spec expands to over {MAX_NODES:,} YAML "
                                        "nodes (an alias bomb?)", self.expansion or pos,
                                        "aliases (*name) copy what they refer to; a spec "
                                        "this large is almost certainly a mistake")])

    @contextmanager
    def expanding(self, site: Pos) -> Iterator[None]:
        """Mark `site` as the place the outermost alias being expanded is used."""
        self.expansion = site
        try:
            yield
        finally:
            self.expansion = None

    def convert(self, node: yaml.Node, path: PathKey) -> Any:
        pos = self.pos(node)
        if self.expansion is None and id(node) in self.seen:  # an alias, met at its use
            with self.expanding(self.doc.pos.get(path[:-1], pos)):
                return self._convert(node, path, pos)
        self.seen.add(id(node))
        return self._convert(node, path, pos)

    def _convert(self, node: yaml.Node, path: PathKey, pos: Pos) -> Any:
        self.tick(pos)
        if len(path) > MAX_DEPTH:
            raise SpecError([Diagnostic("too-deep", f"spec nests deeper than {MAX_DEPTH} levels",
                                        self.expansion or pos, "a recursive alias (an anchor "
                                        "used inside itself) nests without end")])
        self.doc.pos[path] = pos
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                return self._bad_tag(node, pos)
            skip = self._split_calls([(item, item) for item in node.value], node)
            return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)
                    if i not in skip]
        if node.tag not in _SAFE_SCALAR_TAGS:
            return self._bad_tag(node, pos)
        if node.tag == "tag:yaml.org,2002:str":  # what the constructor would return
            return node.value
        try:
            value = self.scalars.construct_object(node, deep=True)
        except (ValueError, KeyError, TypeError, OverflowError, yaml.YAMLError):
            return self._bad_scalar(node, pos)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_INT:
            self._too_large_int(pos)
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.errors.error("bad-value", f"'{node.value}' is not a finite number", pos,
                              "specs hold finite numbers only")
        return value

    def _bad_scalar(self, node: yaml.ScalarNode, pos: Pos) -> None:
        """A scalar its tag cannot read: `!!int "abc"`, `!!bool maybe`, an int too long."""
        mark = node.start_mark  # the tag, before any quote
        pos = Pos(self.name, mark.line + 1, mark.column + 1, pos.length)
        kind = node.tag.rpartition(":")[2]
        shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
        if kind == "int" and node.value.lstrip("+-").replace("_", "").isdigit():
            self._too_large_int(pos)  # over Python's 4,300-digit limit on int() of a string
        else:
            self.errors.error("bad-value", f"'{shown}' is not a valid {kind}", pos,
                              f"write a valid {kind}, or drop the tag to keep a string")
        return None

    def _too_large_int(self, pos: Pos) -> None:
        # never formats the value: a huge int cannot even be turned into a string
        self.errors.error("out-of-range", "integer is too large (2**63 or more)", pos,
                          "specs hold ints below 2**63, as torch's int64 does")

    def _bad_tag(self, node: yaml.Node, pos: Pos) -> None:
        mark = node.start_mark  # the tag itself, before any quote
        pos = Pos(self.name, mark.line + 1, mark.column + 1, pos.length)
        self.errors.error("unsafe-tag", f"YAML tag '{node.tag}' is not allowed", pos,
                          "specs hold plain data: strings, numbers, booleans, lists and mappings")
        return None

    def _split_calls(self, pieces: list[tuple[yaml.Node, yaml.Node]], node: yaml.Node) -> set[int]:
        """Report calls that a flow collection cut at their commas: `[Conv2d(3, 8, 3)]`.

        `pieces` are (node to check, node that continues a cut call) per item: for a sequence
        both are the item; for a mapping, the value and the key (`{a: f(1, 2)}` reads as
        `{a: 'f(1', '2)': null}`). Returns the indexes of the continuation pieces.
        """
        skip: set[int] = set()
        if not getattr(node, "flow_style", False):
            return skip
        i = 0
        while i < len(pieces):
            first = pieces[i][0]
            balance = _paren_balance(first)
            j = i + 1
            if balance > 0:
                parts = [first.value]
                while j < len(pieces) and balance > 0 and \
                        isinstance(pieces[j][1], yaml.ScalarNode):
                    parts.append(pieces[j][1].value)
                    balance += _paren_balance(pieces[j][1])
                    skip.add(j)
                    j += 1
                whole = ", ".join(parts)
                self.errors.error("flow-split", f"'{first.value}' is cut short: inside [...] "
                                  "or {...}, commas separate items", self.pos(first),
                                  f"quote it: \"{whole}\", or write the items one per line")
            i = j
        return skip

    def _merged(self, source: yaml.MappingNode, path: PathKey, pos: Pos) -> dict[str, Any]:
        """The keys a `<<` merge brings in (the source met again is an alias being expanded)."""
        if self.expansion is None and id(source) in self.seen:
            with self.expanding(self.doc.pos.get(path, pos)):
                return self._mapping(source, path) or {}
        self.seen.add(id(source))
        return self._mapping(source, path) or {}

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        """Merged mappings (`<<: *base`) first, then the node's own keys override them."""
        if node.tag != "tag:yaml.org,2002:map":
            return self._bad_tag(node, self.pos(node))
        out: dict[str, Any] = {}
        merged: list[yaml.Node] = []
        own = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.extend(value_node.value if isinstance(value_node, yaml.SequenceNode)
                              else [value_node])
            else:
                own.append((key_node, value_node))
        for source in merged:
            source_pos = self.pos(source)
            self.tick(source_pos)
            if not isinstance(source, yaml.MappingNode):
                self.errors.error("bad-merge", "'<<' merges only mappings", source_pos)
            elif id(source) in self.merging or source is node:
                self.errors.error("bad-merge", "'<<' merges a mapping into itself", source_pos)
            else:
                self.merging.add(id(source))
                for key, value in self._merged(source, path, source_pos).items():
                    out.setdefault(key, value)
                self.merging.discard(id(source))
        skip = self._split_calls([(v, k) for k, v in own], node)
        seen: set[str] = set()
        for i, (key_node, value_node) in enumerate(own):
            key_pos = self.pos(key_node)
            if i in skip:
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SAFE_SCALAR_TAGS:
                self.errors.error("bad-key", "mapping keys must be plain names", key_pos)
                continue
            key = str(key_node.value)
            if key in seen:
                first = self.doc.keypos[path + (key,)]
                self.errors.error("duplicate-key", f"duplicate key '{key}'", key_pos,
                                  f"'{key}' is already set at line {first.line}")
                continue
            seen.add(key)
            self.doc.keypos[path + (key,)] = key_pos
            out[key] = self.convert(value_node, path + (key,))
        return out


def _paren_balance(node: yaml.Node) -> int:
    """Open minus closed parentheses of a plain scalar (0 for anything else)."""
    if not isinstance(node, yaml.ScalarNode) or node.style:  # plain: None, or '' from libyaml
        return 0
    return node.value.count("(") - node.value.count(")")
