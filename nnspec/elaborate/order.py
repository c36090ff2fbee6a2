"""Block dependencies: the classes in the order they must be defined (blocks before their
users, the root last), and block cycles reported with the chain that forms them."""

from __future__ import annotations

from nnspec.diagnostics import Collector
from nnspec.ir.program import (
    Child,
    ModuleClass,
    Repeat,
    Seq,
)


def dependency_order(classes: dict[str, ModuleClass], root: str,
                      errors: Collector) -> list[str]:
    """Blocks before the classes that use them, root last; a cycle is an error."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "active"
        for call in _calls(classes[name].children):
            if call.kind != "block" or call.target not in classes:
                continue
            if state.get(call.target) == "active":
                cycle = " -> ".join(trail[trail.index(call.target):] + [call.target]) \
                    if call.target in trail else f"{name} -> {call.target}"
                errors.error("block-cycle", f"block '{call.target}' contains itself: {cycle}",
                             call.pos, "a block cannot be its own descendant")
            elif call.target not in state:
                visit(call.target, trail + [call.target])
        state[name] = "done"
        order.append(name)

    visit(root, [root])
    return order


def _calls(children: list[Child]):
    for child in children:
        if isinstance(child.value, (Seq, Repeat)):
            yield from _calls(child.value.items)
        else:
            yield child.value
        if child.orelse is not None:
            yield from _calls([child.orelse])


# --- instantiation ---------------------------------------------------------------------------
