"""Computed buffers over shapes: the steps a block's `__init__` runs to compute a buffer
(rotary `inv_freq`, Swin's `relative_position_index`), evaluated with the forward's op rules,
for the buffer's shape, dtype and value bounds. Building is not the forward: the steps add no
graph nodes and no MACs."""

from __future__ import annotations

from typing import Any

from nnspec.catalog.values import Tensor
from nnspec.elaborate.shapes import steps as forward
from nnspec.elaborate.shapes.steps import NO_RETURN, Abort, Frame
from nnspec.ir.analysis import Node
from nnspec.ir.program import If, Instance


def compute(walker: Any, inst: Instance) -> dict[str, Tensor]:
    """The block instance's computed buffers by name; errors go to `walker` (the shape
    pass), and a buffer with one is left out."""
    out: dict[str, Tensor] = {}
    for tensor in walker.program.classes[inst.type].tensors:
        if not tensor.compute:
            continue
        try:
            value = _Builder(walker).steps(tensor.compute, Frame(inst, inst.args, {}))
        except Abort:
            continue
        if not isinstance(value, Tensor):
            walker.error("wrong-type", f"buffer '{tensor.name}' is computed as "
                         f"{type(value).__name__}, not a tensor", tensor.compute[-1].pos,
                         inst.path, hint="return a tensor, as 'torch.arange(n)'")
            continue
        out[tensor.name] = value
    return out


class _Builder:
    """The shape pass as the steps computing a buffer see it: errors go to it; no graph
    nodes, MACs or child calls (the steps read only parameters)."""

    def __init__(self, walker: Any):
        self.walker = walker

    def error(self, *args: Any, **kwargs: Any) -> None:
        self.walker.error(*args, **kwargs)

    def node(self, role: str, label: str, chain: tuple[str, ...], inputs: list[int],
             output: Any) -> Node:
        return Node(-1, role, label, chain, inputs, output)

    def add_macs(self, path: str, macs: int) -> None:
        """Computing a buffer is not the forward's work: not counted."""

    def steps(self, steps: list, frame: Frame) -> Any:
        for step in steps:
            if isinstance(step, If):
                taken = self.walker.condition(step.cond, frame)
                result = self.steps(step.then if taken else step.orelse, frame)
            else:
                result = forward.statement(self, step, frame)
            if result is not NO_RETURN:
                return result
        return NO_RETURN
