"""Block dependencies: the classes in the order they must be defined (blocks before their
users, the root last), block cycles reported with the chain that forms them, and the bound on
how deep the module tree they build may nest (`MAX_MODULE_DEPTH`)."""

from __future__ import annotations

from nnspec.diagnostics import Collector
from nnspec.ir.program import (
    Call,
    Child,
    ModuleClass,
    Repeat,
    Seq,
)

# Levels of modules from the root to the deepest leaf. torch walks a module tree recursively
# (printing, `.to()`, `state_dict`, pickling), as do the shape pass and instantiation, so a
# deeper tree is refused before anything walks it; real networks nest a dozen levels or so.
MAX_MODULE_DEPTH = 100


def dependency_order(classes: dict[str, ModuleClass], root: str,
                     errors: Collector) -> list[str]:
    """Blocks before the classes that use them, root last; a cycle is an error, and so is a
    module tree deeper than MAX_MODULE_DEPTH. Iterative: a long chain of blocks is data."""
    order: list[str] = []
    state: dict[str, str] = {root: "active"}
    depth: dict[str, int] = {}  # levels of modules a class's instance spans, itself included
    trail = [root]
    stack = [(root, iter(_calls(classes[root].children)))]
    while stack:
        name, calls = stack[-1]
        for level, call in calls:
            if call.kind != "block" or call.target not in classes:
                continue
            if state.get(call.target) == "active":
                cycle = " -> ".join(trail[trail.index(call.target):] + [call.target])
                errors.error("block-cycle", f"block '{call.target}' contains itself: {cycle}",
                             call.pos, "a block cannot be its own descendant")
            elif call.target not in state:
                state[call.target] = "active"
                trail.append(call.target)
                stack.append((call.target, iter(_calls(classes[call.target].children))))
                break
        else:
            stack.pop()
            trail.pop()
            state[name] = "done"
            order.append(name)
            depth[name] = _depth(classes, name, depth, errors)
    return order


def _depth(classes: dict[str, ModuleClass], name: str, depth: dict[str, int],
           errors: Collector) -> int:
    """The levels of modules `name` spans, its blocks' already known; reported (once, at the
    deepest call) when over MAX_MODULE_DEPTH."""
    deepest, where = 1, None
    for level, call in _calls(classes[name].children):
        below = depth.get(call.target, 1) if call.kind == "block" else 1
        if below > MAX_MODULE_DEPTH:  # already reported inside the block
            return below
        if 1 + level + below > deepest:
            deepest, where = 1 + level + below, call
    if deepest > MAX_MODULE_DEPTH and where is not None:
        errors.error("too-deep-modules", f"the module tree under '{name}' nests {deepest} "
                     f"levels deep; the limit is {MAX_MODULE_DEPTH}", where.pos,
                     "flatten the chain of blocks, e.g. with a repeat in one Sequential")
    return deepest


def _calls(children: list[Child]):
    """(levels of nested Sequentials above it, call) for every call among `children`."""
    stack = [(0, child) for child in reversed(children)]
    while stack:
        level, child = stack.pop()
        value = child.value
        if child.orelse is not None:
            stack.append((level, child.orelse))
        if isinstance(value, Seq):
            stack.extend((level + 1, c) for c in reversed(value.items))
        elif isinstance(value, Repeat):
            stack.extend((level, c) for c in reversed(value.items))
        elif isinstance(value, Call):
            yield level, value
