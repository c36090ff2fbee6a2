"""The shape of a catalog entry. Pure Python: no torch, so every stage can read it cheaply.

A `LayerDef` says everything nnspec knows about one torch layer: its arguments in torch's own
positional order with torch's defaults, which of them are keyword-only, value checks, and the
rules that static analysis uses (output shape, parameter count, multiply-accumulates).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from nnspec.language.types import check_accepts  # noqa: F401  (catalog entries are checked by it)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

Shape = tuple[int, ...]
Args = dict[str, Any]


class SpatialCollapse(ValueError):
    """A shape rule's input is too small for the layer: an output size would be 0 or less.

    Its own class, so static analysis reports `spatial-collapse` rather than a generic mismatch;
    `shape` is the output shape the rule computed, when it got that far.
    """

    def __init__(self, message: str, shape: Shape | None = None):
        super().__init__(message)
        self.shape = shape

# What a layer's first input may hold, as torch's kernels decide it:
#   float    floating point only (convolutions, norms, most activations, softmax)
#   number   integers too, not bool, dtype kept (ReLU, max and average pools)
#   promote  anything; integers and bool come out float32 (Sigmoid, Tanh)
#   any      anything, dtype kept (Identity, Flatten, Dropout, padding, pixel shuffles)
INPUT_DTYPES = ("float", "number", "promote", "any")


@dataclass(frozen=True)
class Arg:
    name: str
    accepts: str  # the kind of value it takes, one of language.types.VALUE_KINDS
    default: Any = REQUIRED
    kwonly: bool = False
    choices: tuple[Any, ...] | None = None
    nullable: bool = False  # None is accepted besides `accepts`

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class LayerDef:
    """One torch layer. `args` follow torch's signature order (device/dtype left out)."""

    name: str
    args: tuple[Arg, ...]
    module: str = "nn"  # the generated code spells it `nn.<name>`
    # yields (argument name, message) for each out-of-range value
    checks: Callable[[Args], Iterable[tuple[str, str]]] | None = None
    # output shape from the bound arguments and the input shapes (batch dimension included);
    # raises ValueError, with a message for the user, on an input torch would reject (wrong
    # rank, mismatched channels, too small for the kernel). For a layer that returns a tuple
    # (a pool with return_indices=True) it is the shape of the first item.
    shape: Callable[[Args, list[Shape]], Shape] | None = None
    # number of parameters (torch's count: no buffers)
    params: Callable[[Args], int] | None = None
    # multiply-accumulates of one forward pass, from args, input shapes and output shape
    macs: Callable[[Args, list[Shape], Shape], int] | None = None
    # arguments that may be omitted and follow from the input: name -> input dim index
    infer: dict[str, int] = field(default_factory=dict)
    inputs: int = 1
    # input ranks (batch included) the layer accepts; empty: any
    ranks: tuple[int, ...] = ()
    # output dims whose size is an argument's value (Conv: {1: "out_channels"}), so static
    # inference can copy that argument's expression to the next layer's omitted argument
    out_dims: dict[int, str] = field(default_factory=dict)
    # the checkpoint layout: state_dict names in torch's order -> (shape, is a parameter)
    state: Callable[[Args], dict[str, tuple[Shape, bool]]] | None = None
    # for a layer whose call is more than one input tensor in and one out (attention's query,
    # key, value and masks; an RNN's initial state; flags such as need_weights; tuple outputs):
    # `forward(args, *call_args, **call_kwargs)` takes the bound arguments, then the call's own
    # values with torch's forward signature (tensors as `nnspec.catalog.values.Tensor`), and
    # gives the raw output (a shape, None, or nested tuples of them) and its MACs. Used instead
    # of `shape` and `macs`; raises TypeError where Python would not bind the call, ValueError
    # where torch would refuse the input.
    forward: Callable[..., tuple[Any, int]] | None = None
    # the input dtypes torch accepts (see INPUT_DTYPES); the output keeps a floating input's
    # dtype (the parameters must share it), except "promote", which makes integers float32
    input_dtype: str = "float"
    # the argument that sizes the table an integer index input looks up (Embedding:
    # "num_embeddings"): the input must be int64/int32, within [0, that value); output float32
    index_input: str | None = None

    def arg(self, name: str) -> Arg | None:
        return next((a for a in self.args if a.name == name), None)

    @property
    def arg_names(self) -> list[str]:
        return [a.name for a in self.args]

    @property
    def positional(self) -> list[Arg]:
        return [a for a in self.args if not a.kwonly]

    def state_names(self) -> list[str]:
        """The state_dict names it holds with torch's defaults (every required argument 1):
        what the forward of a block built on it (`base: LayerNorm`) reads as tensors."""
        if self.state is None:
            return []
        return list(self.state(self.bind_defaults({
            a.name: [1] if a.accepts == "int_list" else 1 for a in self.args if a.required})))

    def bind_defaults(self, given: Args) -> Args:
        """All arguments by name: the given ones, then torch's defaults for the rest."""
        return {a.name: given.get(a.name, a.default) for a in self.args
                if a.name in given or not a.required}


def as_tuple(value: Any, n: int) -> tuple[Any, ...]:
    """Expand an int-or-tuple argument the way torch's `_ntuple` does."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,) * n
