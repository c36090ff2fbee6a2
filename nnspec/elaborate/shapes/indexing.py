"""The shape of `tensor[index]`, as torch computes it: basic indexing (ints, slices, None,
...) and integer-tensor (advanced) indexing, with NumPy's placement rule for the dims the
index tensors give."""

from __future__ import annotations

from typing import Any

from nnspec.catalog import values
from nnspec.catalog.ops.tensors import broadcast
from nnspec.catalog.values import OpError, Tensor


def index_shape(input: Tensor, index: Any) -> Tensor:
    """Ints drop a dim, slices shrink it, None adds one, ... stands for the dims no other item
    takes. Integer tensors each take one dim; their broadcast shape replaces those dims where
    they are adjacent in the index once its ints are gone (torch applies ints first), and goes
    first where they are not. Boolean masks give a shape only the data decides: refused."""
    items = list(index) if isinstance(index, tuple) else [index]
    for item in items:
        if isinstance(item, list):
            raise OpError("indexing with a list is not supported statically: index with an "
                          "integer tensor", input, code="unsupported")
        if isinstance(item, Tensor) and item.dtype not in values.INTEGRAL:
            raise OpError(f"indexing with a {item.dtype} tensor is not supported statically "
                          "(a mask's result has a shape only its values decide)", input, item,
                          code="unsupported")
    if items.count(...) > 1:
        raise OpError("an index can have only one '...'", input, code="bad-op-argument")
    used = sum(1 for i in items if i is not None and i is not ...)
    if used > len(input.shape):
        raise OpError(f"too many indices for {list(input.shape)}", input, code="bad-dim")
    if ... in items:
        at = items.index(...)
        items[at:at + 1] = [slice(None)] * (len(input.shape) - used)
    tensors = [i for i in items if isinstance(i, Tensor)]
    out: list[int] = []
    advanced_at: list[int] = []  # where the index tensors are among the items
    place: int | None = None
    dims = iter(input.shape)
    pos = 0  # an item's place among the items that are not ints: torch applies ints first
    for item in items:
        pos += not isinstance(item, int) or isinstance(item, bool)
        if item is None:
            out.append(1)
            continue
        size = next(dims)
        if isinstance(item, Tensor):
            _check_bounds(input, item, size)
            advanced_at.append(pos)
            if place is None:
                place = len(out)
            continue
        if isinstance(item, bool) or not isinstance(item, (int, slice)):
            raise OpError(f"cannot index with {item!r}", input, code="type-error")
        if isinstance(item, int):
            if not -size <= item < size:
                raise OpError(f"index {item} is out of range for size {size}", input,
                              code="bad-dim")
            continue
        out.append(len(range(*item.indices(size))))
    out.extend(dims)
    if not tensors:
        return values.like(input, tuple(out))
    gathered = broadcast(*tensors) if len(tensors) > 1 else tensors[0].shape
    adjacent = advanced_at == list(range(advanced_at[0], advanced_at[-1] + 1))
    at = place if adjacent and place is not None else 0
    return values.like(input, (*out[:at], *gathered, *out[at:]))


def _check_bounds(input: Tensor, index: Tensor, size: int) -> None:
    """An index tensor whose values are known to be out of range for its dim: an error now,
    not an IndexError when the model runs."""
    if index.bounds is None:
        return
    low, high = index.bounds
    if low < -size or high > size:
        raise OpError(f"index values in [{low}, {high}) are out of range for size {size}",
                      input, index, code="bad-dim")
