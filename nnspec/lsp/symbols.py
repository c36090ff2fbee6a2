"""Document symbols: the outline of a spec, its blocks with their children, and the model's
module tree (Sequentials with their items). Only what is written in the file itself; an
`extends` parent's blocks are in the parent's outline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nnspec.frontend.document import PathKey
from nnspec.lsp.workspace import Check


@dataclass
class Symbol:
    name: str
    kind: str  # "class", "module" or "field"
    detail: str
    line: int  # 0-based: the name
    col: int
    end_col: int
    end_line: int  # the last line of its subtree
    children: list[Symbol] = field(default_factory=list)


def symbols(check: Check) -> list[Symbol]:
    if check.doc is None:
        return []
    out = []
    blocks = check.value(("blocks",))
    for name, body in (blocks.items() if isinstance(blocks, dict) else ()):
        sym = _symbol(check, ("blocks", name), str(name), "class", _doc(body))
        if sym is not None:
            sym.children = _children(check, ("blocks", name, "children"))
            out.append(sym)
    model = check.value(("model",))
    if isinstance(model, dict):
        name = model.get("name", "Net")
        sym = _symbol(check, ("model",), str(name), "class", _doc(model))
        if sym is not None:
            sym.children = _children(check, ("model", "children"))
            out.append(sym)
    return out


def _doc(body: Any) -> str:
    doc = body.get("doc") if isinstance(body, dict) else None
    return doc if isinstance(doc, str) else ""


def _children(check: Check, path: PathKey) -> list[Symbol]:
    """The children under `path` (a mapping of named children, or a list)."""
    value = check.value(path)
    items: list[tuple[Any, Any]] = (list(value.items()) if isinstance(value, dict)
                                    else list(enumerate(value)) if isinstance(value, list)
                                    else [])
    out = []
    for key, child in items:
        sub = path + (key,)
        detail, nested = _describe(child, sub)
        sym = _symbol(check, sub, str(key), "module" if nested is not None else "field",
                      detail)
        if sym is None:
            continue
        if nested is not None:
            sym.children = _children(check, nested)
        out.append(sym)
    return out


def _describe(child: Any, path: PathKey) -> tuple[str, PathKey | None]:
    """What a child is (its call text), and the path of its items if it has any."""
    if isinstance(child, str):
        return child, None
    if isinstance(child, list):
        return "Sequential", path
    if isinstance(child, dict):
        if "seq" in child:
            return "Sequential", path + ("seq",)
        if "do" in child:
            return f"repeat {child.get('repeat')}", path + ("do",)
        if "call" in child:
            prefix = f"repeat {child['repeat']}: " if "repeat" in child else ""
            return prefix + str(child["call"]), None
    return "", None


def _symbol(check: Check, path: PathKey, name: str, kind: str, detail: str) -> Symbol | None:
    """A symbol at the key (or, for a list item, the value) of `path`, if in this file."""
    assert check.doc is not None
    pos = check.doc.keypos.get(path) or check.doc.pos.get(path)
    if pos is None or pos.file != check.path:
        return None
    end = _last_line(check, path, pos.line)
    return Symbol(name, kind, detail, pos.line - 1, pos.col - 1, pos.col - 1 + pos.length,
                  end - 1)


def _last_line(check: Check, path: PathKey, start: int) -> int:
    """The last line, in this file, of a value under `path`."""
    assert check.doc is not None
    last = start
    stack: list[tuple[PathKey, Any]] = [(path, check.value(path))]
    while stack:
        here, value = stack.pop()
        pos = check.doc.pos.get(here)
        if pos is not None and pos.file == check.path:
            last = max(last, pos.segments[-1][1] if pos.segments else pos.line)
        if isinstance(value, dict):
            stack.extend((here + (k,), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((here + (i,), v) for i, v in enumerate(value))
    return last
