"""Loops back out of unrolled traces: torch.fx unrolls `for block in self.blocks:`, and the
turns that differ only in the item become one `for` step again (48 layers read as one step).
Also how an item of a container child is spelled (`layers[0]`, `heads['aux']`, `self[0]`).
"""

from __future__ import annotations

import ast
import re
from typing import Any


def containers_of(module: Any) -> dict[str, list[str]]:
    """Each container the forward may loop over (a child ModuleList, ModuleDict or
    Sequential, or the module itself when it is one), to the spelling of its items' calls."""
    from torch import nn

    kinds = (nn.ModuleList, nn.ModuleDict, nn.Sequential)
    out = {}
    for name, child in [("self", module), *module.named_children()]:
        if isinstance(child, kinds):
            out[name] = [ast.unparse(item(name, key, child)) + "("
                         for key, _ in child.named_children()]
    return out


def item(name: str, key: str, container: Any) -> ast.expr:
    """`layers[0]`, `heads['aux']`, `self[0]`: an item of a container, by position or name."""
    from torch import nn

    index: object = int(key) if key.isdigit() and not isinstance(container, nn.ModuleDict) \
        else key  # a Sequential built from an OrderedDict has named items
    return ast.Subscript(ast.Name(name, ast.Load()), ast.Constant(index), ast.Load())


def item_of(node: ast.expr, key: str, container: Any) -> ast.expr:
    """`node[0]`, `node['aux']`: an item of the container `node` spells."""
    return ast.Subscript(node, item("_", key, container).slice, ast.Load())


def fold_loops(steps: list[str], containers: dict[str, list[str]],
               taken: set[str] | None = None) -> list[str]:
    """Unrolled turns of a loop over a container, back into one `for` step: from the first
    step that calls item 0, the shortest run of steps that, with item 0 replaced by item j,
    gives the next run, for every item in order. The item's name avoids `taken` (the
    children) and every name the steps use."""
    for name, calls in containers.items():
        n = len(calls)
        if n < 2:
            continue
        start = next((i for i, step in enumerate(steps) if calls[0] in step), None)
        if start is None:
            continue
        for k in range(1, (len(steps) - start) // n + 1):
            body = steps[start:start + k]
            if any(call in step for step in body for call in calls[1:]):
                break
            if any(step.startswith("return ") for step in body):
                break
            if all(steps[start + j * k + t] == body[t].replace(calls[0], calls[j])
                   for j in range(1, n) for t in range(k)):
                var = _loop_name(steps, set(containers) | (taken or set()))
                loop = f"for {var} in {name}: " + "; ".join(
                    step.replace(calls[0], f"{var}(") for step in body)
                steps = steps[:start] + [loop] + steps[start + n * k:]
                break
    return steps


def _loop_name(steps: list[str], taken: set[str]) -> str:
    words = {w for step in steps for w in re.findall(r"\w+", step)} | taken
    return next(name for name in ("layer", "block", "module") + tuple(
        f"layer{i}" for i in range(2, 999)) if name not in words)
