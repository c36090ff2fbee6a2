"""Hover text, in Markdown: what the static pass knows about the thing under the cursor.

- a child or layer call: each instance's output shape, parameters and MACs;
- a block name: its parameters and doc;
- a layer name: its arguments with torch's defaults;
- a root parameter: its value and the lines that read it.
"""

from __future__ import annotations

import re

from nnspec.catalog.layers import LAYERS
from nnspec.ir.program import Instance
from nnspec.lsp.hints import output_text
from nnspec.lsp.locate import (
    block_names,
    class_data,
    context,
    layer_signature,
    params_of,
    word_at,
)
from nnspec.lsp.workspace import Check
from nnspec.static.text import count_text

MAX_INSTANCES = 4  # instances listed on hover, then how many more


def hover(check: Check, line: int, col: int) -> str | None:
    """Markdown for the 0-based position, or None when there is nothing to say."""
    found = word_at(check.line(line), col)
    word = found[0] if found else ""
    if word in _root_params(check) and context(check, line).owner[:1] != ("blocks",):
        return _root_param(check, word)
    parts = []
    instances = check.instances_at(line)
    if instances:
        parts.append(_instances(check, instances))
    if word in block_names(check):
        parts.append(block_hover(check, word))
    elif word in LAYERS:
        parts.append(f"```python\nnn.{layer_signature(LAYERS[word])}\n```")
    return "\n\n---\n\n".join(parts) if parts else None


def _instances(check: Check, instances: list[Instance]) -> str:
    assert check.compiled is not None
    modules = check.compiled.analysis.modules
    rows = []
    for inst in instances[:MAX_INSTANCES]:
        info = modules.get(inst.path)
        if info is None:
            continue
        shapes = ", ".join(dict.fromkeys(output_text(o) for o in info.outputs)) or "-"
        rows.append(f"**{inst.path}** ({inst.type}): output {shapes}; "
                    f"params {count_text(info.params)}; MACs {count_text(info.macs)}")
    if len(instances) > MAX_INSTANCES:
        rows.append(f"… and {len(instances) - MAX_INSTANCES} more instances")
    return "\n\n".join(rows)


def block_hover(check: Check, name: str) -> str:
    """`class Name(params)` and the block's doc."""
    data = class_data(check, ("blocks", name))
    sig = ", ".join(params_of(data).values())
    out = f"```python\nclass {name}({sig})\n```"
    doc = data.get("doc")
    return out + (f"\n\n{doc}" if isinstance(doc, str) else "")


def _root_params(check: Check) -> dict[str, str]:
    return params_of(class_data(check, ("model",)))


_USE_LIMIT = 20  # lines listed as a root parameter's uses


def _root_param(check: Check, name: str) -> str:
    """`name = value` (the default, or the value a child spec set) and where it is read."""
    value = check.value(("model", "params", name))
    if isinstance(value, dict):
        value = value.get("default")
    out = f"```python\n{name} = {value!r}\n```\nroot parameter of `{_root_name(check)}`"
    uses = _uses(check, name)
    if uses:
        out += "\n\nused on " + ", ".join(f"line {n + 1}" for n in uses[:_USE_LIMIT])
        if len(uses) > _USE_LIMIT:
            out += f" and {len(uses) - _USE_LIMIT} more"
    return out


def _root_name(check: Check) -> str:
    name = check.value(("model", "name"))
    return name if isinstance(name, str) else "Net"


def _uses(check: Check, name: str) -> list[int]:
    """0-based lines of this file, in the model or the inputs, whose text reads `name`."""
    word = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
    out = []
    top = None
    for n in range(len(check.lines)):
        text = check.line(n)
        if text[:1].isalpha():
            top = text.split(":")[0]
        if top in ("model", "inputs") and word.search(text.split("#")[0]) \
                and not re.match(rf"\s*{re.escape(name)}\s*:", text):
            out.append(n)
    return out
