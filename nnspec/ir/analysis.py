"""The static analysis result: the contract between the shape pass and the static backends.

`Analysis` holds, for one set of input shapes, every module's outputs, parameters and MACs,
the dataflow graph, and the arguments the pass inferred (`Inferred`), which the inference pass
(`nnspec.elaborate.infer`) writes into the IR. Summaries, diffs and graphs read only this.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nnspec.catalog.values import Tensor
from nnspec.ir.program import Call, Instance
from nnspec.language.expr import Expr

Shape = tuple[int, ...]


class _Unknown:
    """A value the pass cannot know (the output of a layer without a shape rule)."""

    def __repr__(self) -> str:
        return "?"


UNKNOWN: Any = _Unknown()


@dataclass
class ModuleInfo:
    """One module of the tree: static results summed over every call of it."""

    path: str
    type: str
    kind: str  # "layer", "block" or "seq"
    params: int | None  # its subtree's, as torch counts them; None: a layer has no rule
    macs: int = 0
    # the parameters it allocates itself: a layer's by its catalog rule, a block's own tensors
    # (tied ones too: each is allocated before the tie replaces it); None: no rule
    own_params: int | None = 0
    outputs: list[Any] = field(default_factory=list)  # one per call: Tensor, tuple, UNKNOWN
    state: dict[str, tuple[Shape, bool]] | None = field(default_factory=dict)


@dataclass
class Node:
    """A step of the dataflow graph: an input, a layer call, an op, or the output."""

    id: int
    role: str  # "input", "layer", "op", "output"
    label: str
    chain: tuple[str, ...]  # module path parts, then the op's own name for ops
    inputs: list[int]
    output: Any


@dataclass
class Inferred:
    """An argument a layer call omitted, inferred from its input: one expression in the
    calling class, valid for every instance, and the value each instance gets."""

    call: Call
    name: str
    expr: Expr
    values: list[tuple[Instance, int]]


@dataclass
class Analysis:
    inputs: dict[str, Shape]
    output: Any
    modules: dict[str, ModuleInfo]  # every module, pre-order, the root first (path "")
    nodes: list[Node]
    inferred: list[Inferred] = field(default_factory=list)  # applied by elaborate.infer

    @property
    def input_dtypes(self) -> dict[str, str]:
        return {n.label: n.output.dtype for n in self.nodes if n.role == "input"}

    @property
    def root(self) -> ModuleInfo:
        return self.modules[""]

    @property
    def macs(self) -> int:
        return self.root.macs

    @property
    def params(self) -> int | None:
        return self.root.params


def shape_of(value: Any) -> Any:
    """A plain-data view of a value: a shape list for a tensor, lists for tuples, None else."""
    if isinstance(value, Tensor):
        return list(value.shape)
    if isinstance(value, (tuple, list)):
        return [shape_of(v) for v in value]
    if isinstance(value, dict):  # a forward that returns a mapping
        return {k: shape_of(v) for k, v in value.items()}
    return None


def tensors_in(value: Any) -> Iterator[Tensor]:
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list, dict)):
        for v in (value.values() if isinstance(value, dict) else value):
            yield from tensors_in(v)
