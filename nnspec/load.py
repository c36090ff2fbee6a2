"""Stage 1, load: YAML text to plain data plus a table of source positions.

The YAML is composed (never constructed) with PyYAML's safe machinery, so no tag can build a
Python object. Every node's position is kept in a table keyed by its path in the document, which
later stages use to point diagnostics at the right line and column. `extends` parents are merged
here, and `--set` overrides are applied, so validation sees one resolved document.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nnspec.diagnostics import Collector, Diagnostic, Pos, SpecError, did_you_mean

PathKey = tuple[str | int, ...]

MAX_FILE_BYTES = 2_000_000
MAX_NODES = 200_000
MAX_DEPTH = 100

_SAFE_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-5` as a float, as a Python user would expect."""


# libyaml composes ten times faster (a 10,000-layer spec in 0.04 s instead of 0.4 s) with the
# same nodes and marks; the pure-Python loader stays the reference and reports every error.
_FastLoader = (type("_FastLoader", (yaml.CSafeLoader,), {}) if hasattr(yaml, "CSafeLoader")
               else _Loader)

for _cls in {_Loader, _FastLoader}:
    _cls.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )


@dataclass
class Document:
    """Plain YAML data, with the position of every value (`pos`) and mapping key (`keypos`)."""

    data: Any
    pos: dict[PathKey, Pos] = field(default_factory=dict)
    keypos: dict[PathKey, Pos] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def where(self, path: PathKey, key: bool = False) -> Pos:
        """The position of `path`, or of its nearest ancestor that has one."""
        table = self.keypos if key and path in self.keypos else self.pos
        for n in range(len(path), -1, -1):
            if path[:n] in table:
                return table[path[:n]]
        return Pos(self.files[0] if self.files else "<spec>", 1, 1)

    def digest(self) -> str:
        """sha256 of the fully resolved document: parents merged and overrides applied."""
        text = json.dumps(self.data, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()


def read_document(path: str | Path) -> Document:
    """Load one YAML file into a Document, or raise SpecError with positioned diagnostics."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError([Diagnostic("io", f"cannot read spec: {exc.strerror}", Pos(name, 1, 1))])
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError([Diagnostic("too-large", f"spec file is {len(raw):,} bytes, over the "
                                    f"{MAX_FILE_BYTES:,}-byte limit", Pos(name, 1, 1))])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([Diagnostic("encoding", f"spec is not UTF-8: {exc.reason}",
                                    Pos(name, 1, 1))])
    return parse_document(text, name)


def parse_document(text: str, name: str = "<spec>") -> Document:
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_yaml_diagnostic(exc, name)])
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic("yaml-syntax", str(exc), Pos(name, 1, 1))])
    except RecursionError:
        raise SpecError([Diagnostic("too-deep", "YAML nesting is too deep", Pos(name, 1, 1))])
    doc = Document(None, files=[name])
    if node is None:
        raise SpecError([Diagnostic("empty", "spec file is empty", Pos(name, 1, 1))])
    errors = Collector()
    doc.data = _Converter(doc, name, errors).convert(node, ())
    errors.check()
    return doc


def _compose(text: str) -> yaml.Node | None:
    if _FastLoader is not _Loader:
        try:
            return yaml.compose(text, Loader=_FastLoader)
        except (yaml.YAMLError, RecursionError):
            pass  # the reference loader below reports it, with its own messages
    return yaml.compose(text, Loader=_Loader)


def _yaml_diagnostic(exc: yaml.MarkedYAMLError, name: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    pos = Pos(name, mark.line + 1, mark.column + 1) if mark else Pos(name, 1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    if "'\\t'" in problem:
        return Diagnostic("yaml-tab", "tab character in indentation", pos,
                          "YAML indents with spaces only; replace the tab with spaces")
    context = exc.context
    if context and exc.context_mark and exc.problem_mark and \
            exc.context_mark.line != exc.problem_mark.line:  # where the unclosed thing opened
        context += f" opened at line {exc.context_mark.line + 1}, column " \
                   f"{exc.context_mark.column + 1}"
    message = problem if not context else f"{problem} ({context})"
    return Diagnostic("yaml-syntax", message, pos)


def _pos(name: str, node: yaml.Node) -> Pos:
    start, end = node.start_mark, node.end_mark
    col = start.column + 1
    if isinstance(node, yaml.ScalarNode) and node.style in ("'", '"'):
        col += 1  # point at the content, so expression columns line up
    length = end.column - start.column if end.line == start.line else 1
    return Pos(name, start.line + 1, col, max(1, length), _segments(node))


def _segments(node: yaml.Node) -> tuple[tuple[int, int, int], ...]:
    """Where each source line of a folded multi-line scalar starts in its value."""
    start, end = node.start_mark, node.end_mark
    if not isinstance(node, yaml.ScalarNode) or start.line == end.line or not start.buffer:
        return ()
    quote = 1 if node.style in ("'", '"') else 0
    lines = start.buffer.split("\n")
    first = start.line + (1 if node.style in ("|", ">") else 0)
    pieces = []
    for n in range(first, min(end.line + 1, len(lines))):
        lo = start.column + quote if n == start.line else 0
        text = lines[n][lo:end.column - quote] if n == end.line else lines[n][lo:]
        if text.strip():
            pieces.append((text.strip(), n + 1, lo + len(text) - len(text.lstrip()) + 1))
    if node.value.rstrip("\n") not in (" ".join(t for t, _, _ in pieces),
                                       "\n".join(t for t, _, _ in pieces)):
        return ()  # blank lines, escapes or extra indentation: keep the start position only
    out, offset = [], 0
    for text, line, col in pieces:
        out.append((offset, line, col))
        offset += len(text) + 1
    return tuple(out)


class _Converter:
    """Node tree to plain data, recording positions; refuses unsafe tags and bombs."""

    def __init__(self, doc: Document, name: str, errors: Collector):
        self.doc, self.name, self.errors = doc, name, errors
        self.count = 0
        self.scalars = _Loader("")

    def convert(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        pos = _pos(self.name, node)
        if self.count > MAX_NODES:
            raise SpecError([Diagnostic("too-large", f"spec expands to over {MAX_NODES:,} YAML "
                                        "nodes (an alias bomb?)", pos)])
        if len(path) > MAX_DEPTH:
            raise SpecError([Diagnostic("too-deep", f"spec nests deeper than {MAX_DEPTH} levels",
                                        pos)])
        self.doc.pos[path] = pos
        if isinstance(node, yaml.CollectionNode) and node.flow_style:
            self._flow_split(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                return self._bad_tag(node, pos)
            return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
        if node.tag not in _SAFE_SCALAR_TAGS:
            return self._bad_tag(node, pos)
        return self.scalars.construct_object(node, deep=True)

    def _flow_split(self, node: yaml.CollectionNode) -> None:
        """`[Conv2d(3, 8, 3), ReLU()]` is four YAML items: commas split a flow collection."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [
            n for pair in node.value for n in pair]
        for item in items:
            text = item.value if isinstance(item, yaml.ScalarNode) and item.style is None else ""
            if isinstance(text, str) and text.count("(") > text.count(")"):
                self.errors.error("flow-split", f"YAML split '{text}' at a comma: inside "
                                  "[...] or {...}, commas separate items",
                                  _pos(self.name, item), "quote the call, or write one item "
                                  "per line starting with '- '")
                return

    def _bad_tag(self, node: yaml.Node, pos: Pos) -> None:
        self.errors.error("unsafe-tag", f"YAML tag '{node.tag}' is not allowed", pos,
                          "specs hold plain data: strings, numbers, booleans, lists and mappings")
        return None

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        if node.tag != "tag:yaml.org,2002:map":
            return self._bad_tag(node, _pos(self.name, node))
        out: dict[str, Any] = {}
        merged: list[yaml.MappingNode] = []
        for key_node, value_node in node.value:
            key_pos = _pos(self.name, key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.extend(value_node.value if isinstance(value_node, yaml.SequenceNode)
                              else [value_node])
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SAFE_SCALAR_TAGS:
                self.errors.error("bad-key", "mapping keys must be plain names", key_pos)
                continue
            key = str(key_node.value)
            if key in out:
                first = self.doc.keypos[path + (key,)]
                self.errors.error("duplicate-key", f"duplicate key '{key}'", key_pos,
                                  f"'{key}' is already set at line {first.line}")
                continue
            self.doc.keypos[path + (key,)] = key_pos
            out[key] = self.convert(value_node, path + (key,))
        for source in merged:
            if not isinstance(source, yaml.MappingNode):
                self.errors.error("bad-merge", "'<<' merges only mappings", _pos(self.name, source))
                continue
            for key, value in self._mapping(source, path).items():
                out.setdefault(key, value)
        return out


# --- extends -------------------------------------------------------------------------------


def load_resolved(path: str | Path, _chain: tuple[str, ...] = ()) -> Document:
    """Read a spec and merge the chain of `extends` parents beneath it."""
    doc = read_document(path)
    parent_ref = doc.data.get("extends") if isinstance(doc.data, dict) else None
    if parent_ref is None:
        return doc
    ref_pos = doc.where(("extends",))
    if not isinstance(parent_ref, str):
        raise SpecError([Diagnostic("wrong-type", "'extends' takes a path to a parent spec",
                                    ref_pos)])
    parent_path = (Path(path).parent / parent_ref)
    key = str(parent_path.resolve())
    chain = _chain + (str(Path(path).resolve()),)
    if key in chain:
        names = " -> ".join(Path(p).name for p in chain + (key,))
        raise SpecError([Diagnostic("extends-cycle", f"'extends' forms a cycle: {names}",
                                    ref_pos)])
    if not parent_path.is_file():
        raise SpecError([Diagnostic("extends-missing", f"parent spec '{parent_ref}' not found",
                                    ref_pos, f"looked for {parent_path}")])
    try:
        parent = load_resolved(_display_path(parent_path), chain)
    except SpecError as exc:
        note = f"in parent spec pulled in by 'extends' at {ref_pos}"
        raise SpecError([Diagnostic(d.code, d.message, d.pos, d.hint, d.severity,
                                    d.notes + (note,)) for d in exc.diagnostics])
    merged = Document(None, files=doc.files + parent.files)
    merged.data = _merge(parent, doc, (), merged)
    merged.data.pop("extends", None)
    return merged


def _display_path(path: Path) -> str:
    """A path relative to the working directory where possible, as users typed it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _merge(base: Document, over: Document, path: PathKey, out: Document) -> Any:
    """Recursively lay `over` on `base`: mappings merge key by key, `null` deletes a key."""
    b, o = _get(base.data, path), _get(over.data, path)
    if not (isinstance(b, dict) and isinstance(o, dict)):
        return _copy(over, path, out)
    for table, target in ((over.pos, out.pos), (over.keypos, out.keypos)):
        if path in table:
            target[path] = table[path]
    result: dict[str, Any] = {}
    for key in list(b) + [k for k in o if k not in b]:
        sub = path + (key,)
        if key not in o:
            result[key] = _copy(base, sub, out)
        elif o[key] is not None:
            result[key] = _merge(base, over, sub, out) if key in b else _copy(over, sub, out)
    return result


def _get(data: Any, path: PathKey) -> Any:
    for key in path:
        data = data[key]
    return data


def _copy(doc: Document, path: PathKey, out: Document) -> Any:
    """The subtree at `path`, with every position beneath it."""
    n = len(path)
    for table, target in ((doc.pos, out.pos), (doc.keypos, out.keypos)):
        target.update((key, value) for key, value in table.items() if key[:n] == path)
    return _get(doc.data, path)


# --- overrides -------------------------------------------------------------------------------


def parse_override(text: str) -> tuple[str, Any]:
    """`NAME=VALUE` with VALUE read as a YAML scalar or flow list: `widen=2`, `cfg=[1, 2]`."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--set takes NAME=VALUE, got '{text}'")
    try:
        parsed = yaml.load(value, Loader=_Loader) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return name.strip(), parsed


def apply_overrides(doc: Document, overrides: dict[str, Any]) -> None:
    """Set root parameter defaults, so the resolved spec (and its hash) is the variant."""
    errors = Collector()
    model = doc.data.get("model") if isinstance(doc.data, dict) else None
    params = model.get("params") if isinstance(model, dict) else None
    params = params if isinstance(params, dict) else {}
    for name, value in overrides.items():
        if name not in params:
            hint = did_you_mean(name, list(params)) or (
                f"root parameters: {', '.join(params)}" if params else "the model has no params")
            errors.error("unknown-param", f"'{name}' is not a parameter of the model",
                         Pos("--set", 1, 1), hint)
            continue
        decl = params[name]
        if isinstance(decl, dict):
            decl["default"] = value
        elif isinstance(decl, str) and decl in TYPE_NAMES:
            params[name] = {"type": decl, "default": value}
        else:
            # declared by its default alone: the override must keep the default's type,
            # which the value in its place would otherwise redefine
            from nnspec.elaborate import infer_type, param_type_problem

            problem = param_type_problem(infer_type(decl), value)
            if problem:
                errors.error("wrong-type", f"'{name}' should be {problem}", Pos("--set", 1, 1))
                continue
            params[name] = value
        doc.pos[("model", "params", name)] = Pos("--set", 1, 1)
    errors.check()


TYPE_NAMES = {"int", "float", "bool", "str", "list[int]", "list[float]", "list[bool]",
              "list[str]", "list"}
