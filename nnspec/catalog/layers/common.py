"""What the layer families share: the registry helper, argument checks and shape-rule pieces.

Each family module collects its entries in a `Family`, in registration order; the package joins
the families into the catalog. Shape rules see batched inputs only (nnspec shapes always carry the
batch dimension), so they refuse the unbatched ranks torch would also accept for some layers: a
3-d input to Conv2d here is a bug in the spec, not an unbatched image.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

from nnspec.catalog.types import Arg, Args, LayerDef, Shape, SpatialCollapse, as_tuple
from nnspec.catalog.values import Tensor

Problems = Iterable[tuple[str, str]]
# state_dict names in torch's order -> (shape, is a parameter rather than a buffer)
State = dict[str, tuple[Shape, bool]]


class Family(list[LayerDef]):
    """One family's entries, in the order they were added."""

    def add(self, layer: LayerDef) -> LayerDef:
        """Add an entry; a layer without parameters or buffers has an empty checkpoint layout."""
        if layer.state is None and layer.params is no_params:
            layer = dataclasses.replace(layer, state=no_state)
        self.append(layer)
        return layer


def no_state(args: Args) -> State:
    return {}


# --- value checks ----------------------------------------------------------------------------


def numbers(value: Any) -> list[int | float]:
    """The numbers in an int-or-tuple value (None and strings give none)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    return [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]


def positive(args: Args, *names: str) -> Problems:
    for name in names:
        if any(v <= 0 for v in numbers(args.get(name))):
            yield name, f"{name} must be positive, got {args[name]!r}"


def non_negative(args: Args, *names: str) -> Problems:
    for name in names:
        if any(v < 0 for v in numbers(args.get(name))):
            yield name, f"{name} must not be negative, got {args[name]!r}"


def probability(args: Args) -> Problems:
    if any(not 0 <= v <= 1 for v in numbers(args.get("p"))):
        yield "p", f"p is a probability between 0 and 1, got {args['p']!r}"


def divides(args: Args, groups: str, *names: str) -> Problems:
    count = args.get(groups)
    if not isinstance(count, int) or count <= 0:
        return
    for name in names:
        value = args.get(name)
        if isinstance(value, int) and value > 0 and value % count:
            yield groups, f"{groups}={count} does not divide {name}={value}"


def per_dim(args: Args, *names: str) -> list[tuple[int, ...]]:
    """The int-or-tuple arguments side by side, one tuple per dimension (a bare int counts for
    every dimension); empty when any of them is not numeric."""
    values = [args.get(name) for name in names]
    n = max(len(v) if isinstance(v, (list, tuple)) else 1 for v in values)
    rows = list(zip(*(as_tuple(v, n) for v in values)))
    numeric = all(isinstance(x, int) for row in rows for x in row)
    return rows if numeric else []


# --- shape rules -----------------------------------------------------------------------------


def expect_rank(x: Shape, *ranks: int) -> None:
    if len(x) not in ranks:
        want = " or ".join(f"{r}-d" for r in ranks)
        raise ValueError(f"expects a {want} input (batch included), got {len(x)}-d {list(x)}")


def expect_min_rank(x: Shape, rank: int) -> None:
    if len(x) < rank:
        raise ValueError(f"expects an input of at least {rank} dimensions (batch included), "
                         f"got {len(x)}-d {list(x)}")


def expect_size(x: Shape, dim: int, value: int, arg: str) -> None:
    if x[dim] != value:
        raise ValueError(f"input {list(x)} has size {x[dim]} at dim {dim}, but {arg}={value}")


def dim_index(x: Shape, dim: int) -> int:
    if not -len(x) <= dim < len(x):
        raise ValueError(f"dim {dim} is out of range for a {len(x)}-d input")
    return dim % len(x)


def with_sizes(lead: Shape, sizes: Iterable[int], x: Shape) -> Shape:
    """The output shape `lead + sizes`, refused when a size is 0 or less."""
    shape = (*lead, *sizes)
    if any(s <= 0 for s in shape[len(lead):]):
        raise SpatialCollapse(f"input {list(x)} is too small: output sizes would be "
                              f"{list(shape[len(lead):])}", shape)
    return shape


def same_shape(args: Args, inputs: list[Shape]) -> Shape:
    return inputs[0]


def no_params(args: Args) -> int:
    return 0


def no_macs(args: Args, inputs: list[Shape], out: Shape) -> int:
    return 0


def affine_params(count: int, affine: bool, bias: bool) -> int:
    """Parameters of a normalisation layer: a weight, and a bias unless turned off."""
    return count * (1 + bias) if affine else 0


def bias_state(present: bool, size: int) -> State:
    return {"bias": ((size,), True)} if present else {}


INPLACE = Arg("inplace", "bool", False)


# --- layers with a forward rule -----------------------------------------------------------------
# Their calls take several tensors, flags and optional states, and give tuples, so they have a
# `forward` rule instead of `shape` and `macs`. MACs count the math torch does on its reference
# paths (gate and projection matmuls, attention's two batched matmuls), the same products that
# FlopCounterMode counts there. torch's fused kernels are invisible to FlopCounterMode (it counts
# 0 for a CPU LSTM run by oneDNN, for fused scaled_dot_product_attention, and for the
# eval-and-no-grad fast paths of MultiheadAttention and TransformerEncoderLayer); a count of 0
# would make a transformer look free, so tests measure torch with those paths turned off.


def state_params(state: Callable[[Args], State]) -> Callable[[Args], int]:
    """A parameter count that is the sum of the checkpoint layout's parameters."""
    return lambda args: sum(math.prod(shape) for shape, is_param in state(args).values()
                            if is_param)


def tensor_shape(value: Any, what: str) -> Shape:
    if not isinstance(value, Tensor):
        raise ValueError(f"{what} must be a tensor, got {type(value).__name__}")
    return value.shape


def dropout_check(args: Args, name: str = "dropout") -> Problems:
    if any(not 0 <= v <= 1 for v in numbers(args.get(name))):
        yield name, f"{name} is a probability between 0 and 1, got {args[name]!r}"



def broadcast_shapes(*shapes: Shape) -> Shape:
    """The shape torch broadcasts the operands to; ValueError where a dim differs."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        sizes = {s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0} - {1}
        if len(sizes) > 1:
            raise ValueError(f"inputs {' and '.join(str(list(s)) for s in shapes)} do not "
                             f"broadcast (dim {i} differs)")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)
