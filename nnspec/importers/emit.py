"""Folded classes to spec YAML text, written by hand so that it reads like a hand-written spec:
calls as plain scalars, short parameter lists on one line, comments where something is assumed.
The header ends with the marker line by which `-o` recognises a spec nnspec wrote.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from typing import Any

import yaml

from nnspec.catalog import REQUIRED
from nnspec.formatter import literal
from nnspec.importers.fold import DraftChild, DraftClass, DraftTensor
from nnspec.language.types import TYPE_NAMES
from nnspec.output import markers

WIDTH = 100


def render(classes: list[DraftClass], inputs: dict[str, tuple[Any, str | None]],
           header: list[str], layers: Sequence[str] = ()) -> str:
    """The spec text; `inputs` maps each input name to (its declaration: a shape, or a
    mapping with its dtype and range; a comment); `layers`, the lines
    of a `layers:` section (layer references)."""
    out = [f"# {part}".rstrip() for line in header
           for part in textwrap.wrap(line, WIDTH - 2, subsequent_indent="  ",
                                     break_on_hyphens=False, break_long_words=False,
                                     drop_whitespace=not line.startswith(" ")) or [""]]
    out.append(markers.FORMATS["yaml"].format(markers.PLACEHOLDER))  # nnspec wrote this file
    out += ["nnspec: 1", "inputs:"]
    for name, (shape, comment) in inputs.items():
        out.append(_comment(f"  {name}: {_flow(shape)}", comment))
    out += list(layers)
    *blocks, root = classes
    if blocks:
        out += ["", "blocks:"]
        for cls in blocks:
            out.append(f"  {cls.name}:")
            out += _body(cls, 4)
    out += ["", "model:", f"  name: {root.name}"]
    out += _body(root, 2)
    return markers.seal("\n".join(out) + "\n")


def _body(cls: DraftClass, indent: int) -> list[str]:
    pad = " " * indent
    out = []
    if cls.base != "Module":
        out.append(f"{pad}base: {cls.base}")
    if cls.print_name is not None:
        out.append(f"{pad}print_name: {cls.print_name}")
    if cls.inputs and cls.inputs != ["x"] and indent > 2:  # the model takes the top-level inputs
        out.append(f"{pad}inputs: [{', '.join(cls.inputs)}]")
    if cls.params:
        out += _params(cls, pad)
    for buffer, key in ((False, "parameters"), (True, "buffers")):
        tensors = [t for t in cls.tensors if t.buffer is buffer]
        if tensors:
            note = "from the state_dict; init unknown: zeros assumed" if any(
                t.recorded for t in tensors) else "init unknown where zeros: the state_dict " \
                "holds the values"
            out.append(f"{pad}{key}:  # {note}")
            out += [_tensor(t, pad) for t in tensors]
    if cls.children:
        out.append(f"{pad}children:")
        for child in cls.children:
            out += _child(child, indent + 2, numbered=cls.numbered)
    if cls.ties:
        out.append(f"{pad}tie:  # registered in both places: one module or parameter")
        out += [f"{pad}  {_scalar(t)}: {_scalar(s)}" for t, s in cls.ties]
    if isinstance(cls.forward, list):
        out += [f"{pad}forward:"] + _steps(cls.forward, indent + 2)
    elif cls.forward is not None:
        out.append(f"{pad}forward: {cls.forward}")
    return out


def _steps(steps: list, indent: int) -> list[str]:
    pad = " " * indent
    out = []
    for step in steps:
        if isinstance(step, str):
            out.append(f"{pad}- {_scalar(step)}")
            continue
        out.append(f"{pad}- if: {_scalar(step['if'])}")
        for key in ("then", "else"):
            branch = step.get(key)
            if not branch:
                continue
            if len(branch) == 1 and isinstance(branch[0], str):
                out.append(f"{pad}  {key}: {_scalar(branch[0])}")
            else:
                out += [f"{pad}  {key}:"] + _steps(branch, indent + 4)
    return out


def _params(cls: DraftClass, pad: str) -> list[str]:
    entries = []
    comments = [p.comment for p in cls.params]
    for p in cls.params:
        if p.default is REQUIRED:  # `list[int]` is quoted: a flow mapping cannot hold `[`
            entries.append((p.name, json.dumps(p.type) if "[" in p.type else p.type))
        elif isinstance(p.default, str) and p.default in TYPE_NAMES:
            entries.append((p.name, f"{{type: str, default: {json.dumps(p.default)}}}"))
        else:
            entries.append((p.name, _flow(p.default)))
    one = f"{pad}params: {{{', '.join(f'{k}: {v}' for k, v in entries)}}}"
    if len(one) <= WIDTH and not any(comments):
        return [one]
    return [f"{pad}params:"] + [_comment(f"{pad}  {k}: {v}", c)
                                for (k, v), c in zip(entries, comments)]


def _child(child: DraftChild, indent: int, numbered: bool) -> list[str]:
    """Lines for one child, as a mapping entry (`key: ...`) or a list item (`- ...`)."""
    pad = " " * indent
    lead = f"{pad}- " if numbered else f"{pad}{child.key}: "
    if child.repeat is not None:
        count, var = child.repeat
        return [f"{pad}{json.dumps(child.key)}: {{repeat: {count}, as: {var}, call: "
                f"{json.dumps(child.value)}}}"]
    if isinstance(child.value, str):
        if child.cond is None:
            return [lead + _scalar(child.value)]
        if child.orelse is None:
            return [f"{lead}{{call: {json.dumps(child.value)}, if: {json.dumps(child.cond)}}}"]
        return [f"{lead}{{if: {json.dumps(child.cond)}, call: {json.dumps(child.value)},"
                f" else: {_else(child.orelse)}}}"]
    empty = "{}" if child.named else "[]"
    plain = child.container == "Sequential" and not child.named
    if child.cond is None and plain:  # a plain list is a Sequential
        items = _items(child, indent + 2)
        if not items:
            return [lead + empty]
        if numbered:  # a list inside a list: `- - first item`
            return [lead + items[0][indent + 2:]] + items[1:]
        return [lead.rstrip()] + items
    keys = [f"if: {_scalar(child.cond)}"] if child.cond is not None else []
    items = _items(child, indent + 4)
    key = "modules" if child.container == "ModuleList" else "seq"
    keys.append(f"{key}:" + ("" if items else f" {empty}"))
    if child.orelse is not None:  # after the items, which belong to `seq:`
        items.append(f"{pad}  else: {_else(child.orelse)}")
    if numbered:
        head = [f"{pad}- {keys[0]}"] + [f"{pad}  {k}" for k in keys[1:]]
    else:
        head = [lead.rstrip()] + [f"{pad}  {k}" for k in keys]
    return head + items


def _else(child: DraftChild) -> str:
    """A child in flow style, as an `else` takes it: `{call: "Identity()"}`, `{seq: [...]}`,
    its items (conditional ones too) in flow style."""
    if isinstance(child.value, str):
        return f"{{call: {json.dumps(child.value)}}}"
    items = [_flow_item(item) for item in child.value]
    key = "modules" if child.container == "ModuleList" else "seq"
    if child.named:
        return f"{{{key}: {{" + ", ".join(f"{json.dumps(item.key)}: {text}" for item, text in
                                          zip(child.value, items)) + "}}"
    return f"{{{key}: [" + ", ".join(items) + "]}"


def _flow_item(item: DraftChild) -> str:
    """An item of an `else` child's list: a quoted call, or a mapping."""
    if item.repeat is not None:
        count, var = item.repeat
        return f"{{repeat: {count}, as: {var}, call: {json.dumps(item.value)}}}"
    if isinstance(item.value, str) and item.cond is None:
        return json.dumps(item.value)
    text = _else(item)[1:-1]
    if item.cond is not None:
        text = f"if: {json.dumps(item.cond)}, {text}"
    if item.orelse is not None:
        text += f", else: {_else(item.orelse)}"
    return "{" + text + "}"


def _items(seq: DraftChild, indent: int) -> list[str]:
    assert isinstance(seq.value, list)
    return [line for item in seq.value for line in _child(item, indent, not seq.named)]


def _scalar(text: str) -> str:
    """A plain YAML scalar when it reads back as the same string, else double-quoted."""
    plain = text == text.strip() and (text[:1].isalpha() or text[:1] == "_")
    if plain:
        try:
            plain = yaml.safe_load(f"k: {text}") == {"k": text}
        except yaml.YAMLError:
            plain = False
    return text if plain else json.dumps(text)


def _flow(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):  # an input's {shape, dtype, range}
        return "{" + ", ".join(f"{k}: {v if isinstance(v, str) else _flow(v)}"
                               for k, v in value.items()) + "}"
    return literal(value)


def _tensor(t: DraftTensor, pad: str) -> str:
    """One of a class's own tensors: shape, dtype and init, or the steps computing it."""
    persistent = "" if t.persistent else ", persistent: false"
    if isinstance(t.init, dict) and "compute" in t.init:
        return f"{pad}  {t.name}: {{compute: [{json.dumps(t.init['compute'])}]{persistent}}}"
    return (f"{pad}  {t.name}: {{shape: [{', '.join(t.shape)}], "
            + ("" if t.dtype == "float32" else f"dtype: {t.dtype}, ")
            + f"init: {_init(t.init)}{persistent}}}")


def _init(value: Any) -> str:
    """An init function as a spec writes it: `zeros`, `{constant: {val: 0.5}}`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_init(v)}" for k, v in value.items()) + "}"
    return value if isinstance(value, str) else _flow(value)


def _comment(line: str, comment: str | None) -> str:
    return f"{line}  # {comment}" if comment else line
