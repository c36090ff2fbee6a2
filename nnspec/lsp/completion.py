"""Completion: what may be written at the cursor.

- a child's value: layer and block names (a call snippet with the required arguments);
- inside a call's parentheses: the argument names with their defaults, and the names the
  expression may read (the class's parameters);
- a forward step: the children, inputs and parameters of the class, `torch.` and `F.` ops,
  and tensor methods after a dot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nnspec.catalog.layers import LAYERS
from nnspec.catalog.ops import F_FUNCTIONS, METHODS, TORCH_FUNCTIONS
from nnspec.lsp.locate import (
    Context,
    block_names,
    class_data,
    context,
    layer_signature,
    params_of,
)
from nnspec.lsp.workspace import Check


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # "class", "function", "field", "variable", "property", "method"
    detail: str = ""
    insert: str | None = None  # the text to insert, when it differs from the label


_OPEN_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\(([^()]*)$")


def complete(check: Check, line: int, col: int) -> list[Item]:
    """The completions at a 0-based position."""
    before = check.line(line)[:col]
    ctx = context(check, line)
    if ctx.section == "forward" or before.lstrip().startswith(("- return", "return")):
        return _forward(check, ctx, before)
    call = _innermost_call(before)
    if call is not None:
        return _arguments(check, call) + _names(check, ctx)
    if ctx.section in ("children", None) or ctx.owner:
        return _modules(check)
    return []


def _innermost_call(before: str) -> str | None:
    """The name of the call whose parentheses are open at the cursor."""
    depth = 0
    for i in range(len(before) - 1, -1, -1):
        ch = before[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)$", before[:i])
                return m.group(1) if m else None
            depth -= 1
    return None


def _modules(check: Check) -> list[Item]:
    items = [Item(name, "class", f"nn.{layer_signature(layer)}") for name, layer in
             LAYERS.items()]
    for name in block_names(check):
        sig = ", ".join(params_of(class_data(check, ("blocks", name))).values())
        items.append(Item(name, "class", f"block {name}({sig})"))
    return items


def _arguments(check: Check, call: str) -> list[Item]:
    """`name=` for each argument of the layer or block being called, with its default."""
    if call in LAYERS:
        return [Item(f"{a.name}=", "field", "required" if a.required else
                     f"default {a.default!r}", f"{a.name}=") for a in LAYERS[call].args]
    if call in block_names(check):
        params = params_of(class_data(check, ("blocks", call)))
        return [Item(f"{name}=", "field", sig, f"{name}=") for name, sig in params.items()]
    return []


def _names(check: Check, ctx: Context) -> list[Item]:
    """The names an expression in this class may read: its parameters."""
    params = params_of(class_data(check, ctx.owner)) if ctx.owner else {}
    return [Item(name, "variable", sig) for name, sig in params.items()]


def _forward(check: Check, ctx: Context, before: str) -> list[Item]:
    """Ops after `torch.` / `F.`, methods after `name.`, else the class's names and ops."""
    if before.endswith("torch.") or re.search(r"\btorch\.\w*$", before):
        return [Item(name, "function", f"torch.{name}") for name in TORCH_FUNCTIONS]
    if re.search(r"\bF\.\w*$", before):
        return [Item(name, "function", f"torch.nn.functional.{name}") for name in F_FUNCTIONS]
    if re.search(r"[\w)\]]\.\w*$", before):
        return [Item(name, "method", f"Tensor.{name}") for name in METHODS]
    data = class_data(check, ctx.owner) if ctx.owner else {}
    items = _names(check, ctx)
    children = data.get("children")
    if isinstance(children, dict):
        items += [Item(str(name), "property", f"child: {value}" if isinstance(value, str)
                       else "child") for name, value in children.items()]
    inputs = data.get("inputs", ["x"]) if ctx.owner != ("model",) else check.value(("inputs",))
    items += [Item(str(name), "variable", "input") for name in (inputs or [])]
    items += [Item("torch", "module", "torch functions"), Item("F", "module",
                                                               "torch.nn.functional")]
    return items
