"""Where the cursor is: the word under it, and the class and section of the spec around it.

The section is read from the text's indentation, not from the parsed document, so that it is
known on a line still being typed (which may not parse yet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nnspec.catalog.types import REQUIRED, LayerDef
from nnspec.lsp.workspace import Check

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_KEY = re.compile(r"^(\s*)(?:-\s+)?([A-Za-z_][A-Za-z0-9_]*|\"[^\"]*\"|'[^']*')\s*:(\s|$)")


def word_at(text: str, col: int) -> tuple[str, int, int] | None:
    """The dotted identifier at (or just before) 0-based column `col`: (word, start, end)."""
    for m in _WORD.finditer(text):
        if m.start() <= col <= m.end():
            return m.group(), m.start(), m.end()
    return None


@dataclass(frozen=True)
class Context:
    """The spec around a line: `owner` is ("blocks", name), ("model",) or () at the top,
    `section` the key under the owner the line sits in (children, forward, params...)."""

    owner: tuple[str, ...]
    section: str | None
    keys: tuple[str, ...]  # every enclosing key, outermost first


def context(check: Check, line: int) -> Context:
    """The keys enclosing 0-based `line`, read from indentation (block-style YAML)."""
    keys: list[str] = []
    text = check.line(line)
    here = _KEY.match(text)
    indent = len(here.group(1)) if here else len(text) - len(text.lstrip())
    if here and here.group(1).strip() == "" and text.lstrip().startswith("-"):
        indent += 1  # a key in a list item sits inside the item
    n = line - 1
    while n >= 0 and indent > 0:
        m = _KEY.match(check.line(n))
        if m and len(m.group(1)) < indent and not check.line(n).lstrip().startswith("-"):
            keys.insert(0, m.group(2).strip("\"'"))
            indent = len(m.group(1))
        n -= 1
    if keys[:1] == ["blocks"] and len(keys) >= 2:
        return Context(("blocks", keys[1]), keys[2] if len(keys) > 2 else None, tuple(keys))
    if keys[:1] == ["model"]:
        return Context(("model",), keys[1] if len(keys) > 1 else None, tuple(keys))
    return Context((), keys[0] if keys else None, tuple(keys))


def class_data(check: Check, owner: tuple[str, ...]) -> dict[str, Any]:
    """The block's or the model's mapping in the resolved document ({} if none)."""
    data = check.value(owner) if owner else None
    return data if isinstance(data, dict) else {}


def params_of(data: dict[str, Any]) -> dict[str, str]:
    """A class's parameters, each as it reads in a signature: `cin: int`, `k=3`."""
    params = data.get("params")
    if not isinstance(params, dict):
        return {}
    out = {}
    for name, spec in params.items():
        if isinstance(spec, dict):
            kind = spec.get("type")
            default = spec.get("default", REQUIRED)
            out[str(name)] = (f"{name}: {kind}" if default is REQUIRED else
                              f"{name}: {kind} = {default!r}" if kind else f"{name}={default!r}")
        elif isinstance(spec, str) and _looks_like_type(spec):
            out[str(name)] = f"{name}: {spec}"
        else:
            out[str(name)] = f"{name}={spec!r}"
    return out


def _looks_like_type(text: str) -> bool:
    return text in ("int", "float", "bool", "str", "any") or text.startswith(("list[", "tuple["))


def layer_signature(layer: LayerDef) -> str:
    """`Conv2d(in_channels, out_channels, kernel_size, stride=1, ...)` with torch's defaults."""
    parts: list[str] = []
    star = False
    for arg in layer.args:
        if arg.kwonly and not star:
            parts.append("*")
            star = True
        parts.append(arg.name if arg.required else f"{arg.name}={arg.default!r}")
    return f"{layer.name}({', '.join(parts)})"


def block_names(check: Check) -> list[str]:
    blocks = check.value(("blocks",))
    return [str(name) for name in blocks] if isinstance(blocks, dict) else []
