"""One printed class as several blocks, each printing under the class's name (`print_name`).

A spec block has one structure and one forward, and cannot contain itself. Some classes'
instances break that: timm's `DlaTree` holds smaller `DlaTree`s (split by nesting height, so
each block holds only lower ones), and T5's first `T5Block` computes the position bias that the
others take as an input (split by the inputs their forwards take). A library class named like a
torch layer (DistilBERT's `Transformer`) is a block under another name for the same reason:
the name is taken. The instances' printed class (`node.cls`) stays what print() shows.
"""

from __future__ import annotations

from typing import Any

from nnspec.catalog import LAYERS


def free_name(wanted: str, taken: Any) -> str:
    """`wanted`, or `wanted_2`, `wanted_3`...: not a torch layer's name nor in `taken`."""
    name, n = wanted, 2
    while name in LAYERS or name in taken:
        name, n = f"{wanted}_{n}", n + 1
    return name


def split(instances: dict[str, list[Any]], name: str, groups: list[list[Any]]) -> list[str]:
    """Move the instances of class `name` into one class per group: the first keeps the
    name, the others get free ones. The classes' names, in the groups' order."""
    names = [name]
    for group in groups[1:]:
        new = free_name(f"{name}_{len(names) + 1}", instances)
        for inst in group:
            inst.cls = new
        instances[new] = list(group)
        names.append(new)
    ids = {id(inst) for inst in groups[0]}
    instances[name] = [inst for inst in instances[name] if id(inst) in ids]
    return names


NO_FORWARD = ("ModuleList", "ModuleDict")  # torch's containers: no forward of their own


def split_nested(instances: dict[str, list[Any]], seq: type, use: type) -> None:
    """Split each class that contains itself by nesting height: the instances holding no
    other instance of their class stay the class, those holding them (at most) one deep
    become `Class_2`, and so on."""
    for name in [n for n, insts in instances.items() if n not in NO_FORWARD and any(
            _nearest(i.items, i.node.cls, seq, use) for i in insts)]:
        height: dict[int, int] = {}

        def measure(inst: Any) -> int:
            if id(inst) not in height:
                below = _nearest(inst.items, inst.node.cls, seq, use)
                height[id(inst)] = 1 + max(map(measure, below)) if below else 0
            return height[id(inst)]

        levels: dict[int, list[Any]] = {}
        for inst in instances[name]:
            levels.setdefault(measure(inst), []).append(inst)
        split(instances, name, [levels[h] for h in sorted(levels)])


def _nearest(items: list[tuple[str, Any]], printed: str, seq: type, use: type) -> list[Any]:
    """The instances of printed class `printed` below these items, not looking inside them."""
    out: list[Any] = []
    for _, item in items:
        if isinstance(item, seq):
            out += _nearest(item.items, printed, seq, use)
        elif isinstance(item, use):
            inner = item.instance
            out += [inner] if inner.node.cls == printed else _nearest(inner.items, printed,
                                                                       seq, use)
    return out


class Split(Exception):
    """A class's instances fall into groups that one block cannot be (their forwards take
    different inputs): fold each group as a class of its own."""

    def __init__(self, groups: list[list[int]], why: str):
        super().__init__(why)
        self.groups = groups  # indices into the class's instances
