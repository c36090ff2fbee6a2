"""The shape of a catalog entry. Pure Python: no torch, so every stage can read it cheaply.

A `LayerDef` says everything nnspec knows about one torch layer: its arguments in torch's own
positional order with torch's defaults, which of them are keyword-only, value checks, and the
rules that static analysis uses (output shape, parameter count, multiply-accumulates).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


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

# Value kinds an argument accepts. Each maps to a checker in `check_kind`.
#   int, float, bool, str         a plain value of that type
#   int1, int2, int3              an int or a tuple of 1/2/3 ints (kernel_size, stride, ...)
#   int4, int6                    an int or a tuple of 4/6 ints (ZeroPad2d/3d's padding)
#   pad1, pad2, pad3              like int1/int2/int3, or the strings 'same' / 'valid'
#   opt_int2, opt_int3            an int or a tuple of 2/3 items, each an int or None
#                                 (adaptive pools' output_size: None keeps that input size)
#   ints                          an int or a list of ints (LayerNorm's normalized_shape)
#   int_list                      a list or tuple of ints, never a bare int (Unflatten's sizes)
#   float_or_floats               a float or a tuple of floats (Upsample's scale_factor)
#   any                           no check beyond being a literal
KINDS = ("int", "float", "bool", "str", "int1", "int2", "int3", "int4", "int6", "pad1",
         "pad2", "pad3", "opt_int2", "opt_int3", "ints", "int_list", "float_or_floats",
         "int_or_ints", "any")


# What a layer's first input may hold, as torch's kernels decide it:
#   float    floating point only (convolutions, norms, most activations, softmax)
#   number   integers too, not bool, dtype kept (ReLU, max and average pools)
#   promote  anything; integers and bool come out float32 (Sigmoid, Tanh)
#   any      anything, dtype kept (Identity, Flatten, Dropout, padding, pixel shuffles)
INPUT_DTYPES = ("float", "number", "promote", "any")


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str
    default: Any = REQUIRED
    kwonly: bool = False
    choices: tuple[Any, ...] | None = None
    nullable: bool = False  # None is accepted besides `kind`

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

    def bind_defaults(self, given: Args) -> Args:
        """All arguments by name: the given ones, then torch's defaults for the rest."""
        return {a.name: given.get(a.name, a.default) for a in self.args
                if a.name in given or not a.required}


def check_kind(kind: str, value: Any) -> str | None:
    """None when `value` is acceptable for `kind`, else what was expected."""
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_float(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def int_tuple(v: Any, n: int | None) -> bool:
        return isinstance(v, (list, tuple)) and (n is None or len(v) == n) and all(
            is_int(x) for x in v)

    if kind == "int":
        return None if is_int(value) else "an int"
    if kind == "float":
        return None if is_float(value) else "a number"
    if kind == "bool":
        return None if isinstance(value, bool) else "a bool"
    if kind == "str":
        return None if isinstance(value, str) else "a string"
    if kind in ("int1", "int2", "int3", "int4", "int6"):
        n = int(kind[-1])
        return None if is_int(value) or int_tuple(value, n) else f"an int or {n} ints"
    if kind in ("pad1", "pad2", "pad3"):
        n = int(kind[-1])
        ok = is_int(value) or int_tuple(value, n) or value in ("same", "valid")
        return None if ok else f"an int, {n} ints, 'same' or 'valid'"
    if kind in ("opt_int2", "opt_int3"):
        n = int(kind[-1])
        ok = is_int(value) or (isinstance(value, (list, tuple)) and len(value) == n and all(
            x is None or is_int(x) for x in value))
        return None if ok else f"an int or {n} items, each an int or None"
    if kind == "int_list":
        return None if int_tuple(value, None) else "a list of ints"
    if kind in ("ints", "int_or_ints"):
        return None if is_int(value) or int_tuple(value, None) else "an int or a list of ints"
    if kind == "float_or_floats":
        ok = is_float(value) or (isinstance(value, (list, tuple)) and all(
            is_float(x) for x in value))
        return None if ok else "a number or a list of numbers"
    return None


def as_tuple(value: Any, n: int) -> tuple[Any, ...]:
    """Expand an int-or-tuple argument the way torch's `_ntuple` does."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,) * n
