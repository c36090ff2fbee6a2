"""The ops that keep or rearrange values: elementwise math, joining, splitting, reshaping,
reductions and softmax, each as a static rule over `Tensor`s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from nnspec.catalog.values import (
    DEFAULT_FLOAT,
    OpError,
    Shape,
    Tensor,
    dtype_arg,
    is_floating,
    like,
    promote_types,
    require_floating,
    result_type,
)


def _dim(d: int, rank: int, t: Tensor | None = None) -> int:
    if not -max(rank, 1) <= d < max(rank, 1):
        raise OpError(f"dim {d} is out of range for a tensor of rank {rank}",
                      *([t] if t else []), code="bad-dim")
    return d % max(rank, 1)


def dim_args(dims: Any) -> tuple:
    """`f(x, 0, 2, 1)` and `f(x, (0, 2, 1))` mean the same, as in torch."""
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        return tuple(dims[0])
    return tuple(dims)


def broadcast(*tensors: Tensor) -> Shape:
    """The broadcast shape of the operands, or OpError naming them."""
    rank = max(len(t.shape) for t in tensors)
    out = []
    for i in range(rank):
        sizes = {t.shape[i - rank + len(t.shape)] for t in tensors if i - rank + len(t.shape) >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            shown = " and ".join(str(list(t.shape)) for t in tensors)
            raise OpError(f"shapes {shown} cannot be combined elementwise (dim {i} differs)",
                          *tensors)
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def tensors_in(*values: Any) -> list[Tensor]:
    return [v for v in values if isinstance(v, Tensor)]


# --- elementwise -----------------------------------------------------------------------------


def same_rule(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    return like(input, input.shape)


def unary_rule(name: str, accepts: str) -> Callable[..., Tensor]:
    """An elementwise function; `accepts` as the catalog's `input_dtype` (float, number,
    promote, any)."""
    def rule(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if accepts == "float":
            require_floating(input, f"{name}()")
        if accepts == "number" and input.dtype == "bool":
            raise OpError(f"{name}() does not take bool tensors", input, code="dtype-mismatch")
        if accepts == "promote" and not is_floating(input.dtype):
            return Tensor(input.shape, dtype=DEFAULT_FLOAT)
        return Tensor(input.shape, dtype=input.dtype)
    return rule


def elementwise(*operands: Any) -> Tensor:
    """`a + b`, `a * 2`: the operands broadcast together, their dtypes promote."""
    return Tensor(broadcast(*tensors_in(*operands)), dtype=result_type(*operands))


def true_divide(*operands: Any) -> Tensor:
    """`a / b`: integers divide to float32."""
    out = elementwise(*operands)
    if not is_floating(out.dtype):
        out.dtype = DEFAULT_FLOAT
    return out


def compare(*operands: Any) -> Tensor:
    """`a < b`: a bool tensor of the broadcast shape."""
    return Tensor(broadcast(*tensors_in(*operands)), dtype="bool")


def bitwise(*operands: Any) -> Tensor:
    """`a & b`, `a | b`, `a ^ b`: on bools and integers only (a float operand is refused, as
    torch refuses it), broadcast, their dtypes promoted."""
    out = elementwise(*operands)
    if is_floating(out.dtype):
        raise OpError(f"&, | and ^ take bool or integer tensors, not {out.dtype}",
                      *tensors_in(*operands), code="dtype-mismatch")
    return out


def unary_operator(symbol: str, operand: Tensor) -> Tensor:
    """`~x` on bools and integers, `-x` and `+x` on anything but bools, as torch takes
    them: the operand's shape and dtype."""
    if symbol == "~" and is_floating(operand.dtype):
        raise OpError(f"~ takes bool or integer tensors, not {operand.dtype}", operand,
                      code="dtype-mismatch")
    if symbol in ("-", "+") and operand.dtype == "bool":
        raise OpError(f"{symbol} does not take bool tensors", operand, code="dtype-mismatch")
    return like(operand, operand.shape)


def binary_rule(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    return elementwise(input, other)


def div_rule(input: Any, other: Any, *, rounding_mode: Any = None) -> Tensor:
    """`torch.div`: true division, or with rounding_mode 'floor' / 'trunc' a division that
    keeps integer dtypes."""
    if rounding_mode is None:
        return true_divide(input, other)
    if rounding_mode not in ("floor", "trunc"):
        raise OpError(f"div() takes rounding_mode None, 'floor' or 'trunc', got "
                      f"{rounding_mode!r}", *tensors_in(input, other), code="bad-op-argument")
    return elementwise(input, other)


def cumsum_rule(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """`torch.cumsum`: the input's shape; integers and bools sum to int64 unless dtype says."""
    _dim(dim, len(input.shape), input)
    out = dtype_arg(dtype, "cumsum") or (input.dtype if is_floating(input.dtype) else "int64")
    return Tensor(input.shape, dtype=out)


def diff_rule(input: Any, n: Any = 1, dim: Any = -1, prepend: Any = None,
              append: Any = None) -> Tensor:
    """`torch.diff`: prepend and append (of the input's rank, its sizes off `dim`) join the
    input along `dim`, which then shrinks by n (to no less than 0); the dtypes promote, and
    bools stay bools (their difference is an xor). n=0 gives the input itself (torch checks
    dim only against a prepend or append)."""
    if not isinstance(input, Tensor) or not input.shape:
        raise OpError("diff() takes a tensor of at least one dim", *tensors_in(input),
                      code="bad-op-argument")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise OpError(f"diff() takes n as a non-negative int, got {n!r}", input,
                      code="bad-op-argument")
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise OpError(f"diff() takes dim as an int, got {dim!r}", input, code="bad-op-argument")
    if n == 0 and prepend is None and append is None:  # torch returns the input unchecked
        return like(input, input.shape)
    axis = _dim(dim, len(input.shape), input)
    size, dtype = input.shape[axis], input.dtype
    for name, other in (("prepend", prepend), ("append", append)):
        if other is None:
            continue
        if not isinstance(other, Tensor) or len(other.shape) != len(input.shape) or any(
                a != b for i, (a, b) in enumerate(zip(other.shape, input.shape)) if i != axis):
            got = list(other.shape) if isinstance(other, Tensor) else type(other).__name__
            raise OpError(f"diff() takes {name} as a tensor of the input's shape "
                          f"{list(input.shape)} off dim {axis}, got {got}", input,
                          *tensors_in(other), code="bad-op-argument")
        size += other.shape[axis]
        dtype = promote_types(dtype, other.dtype)
    if n == 0:
        return like(input, input.shape)
    shape = list(input.shape)
    shape[axis] = max(size - n, 0)
    return Tensor(tuple(shape), dtype=dtype)


def where_rule(condition: Any, input: Any, other: Any) -> Tensor:
    if not isinstance(condition, Tensor) or condition.dtype != "bool":
        got = condition.dtype if isinstance(condition, Tensor) else type(condition).__name__
        raise OpError(f"where() needs a bool condition, got {got}", *tensors_in(condition),
                      code="dtype-mismatch")
    return Tensor(broadcast(*tensors_in(condition, input, other)), dtype=result_type(input, other))


def masked_fill_rule(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    if not isinstance(mask, Tensor) or mask.dtype != "bool":
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise OpError(f"masked_fill() needs a bool mask, got {got}", *tensors_in(mask),
                      code="dtype-mismatch")
    if broadcast(input, mask) != input.shape:
        raise OpError(f"masked_fill() mask {list(mask.shape)} does not broadcast to "
                      f"{list(input.shape)}", input, mask)
    return Tensor(input.shape, dtype=input.dtype)


def triangle_rule(input: Tensor, diagonal: int = 0) -> Tensor:
    """torch.tril / torch.triu: the last two dims keep their shape."""
    if len(input.shape) < 2:
        raise OpError(f"tril()/triu() need at least 2 dims, got {list(input.shape)}", input,
                      code="bad-dim")
    return Tensor(input.shape, dtype=input.dtype)


# --- joining and splitting -------------------------------------------------------------------


def cat_rule(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = _tensor_list(tensors, "cat")
    first = tensors[0]
    d = _dim(dim, len(first.shape), first)
    for t in tensors[1:]:
        if len(t.shape) != len(first.shape):
            raise OpError(f"cat of tensors of rank {len(first.shape)} and {len(t.shape)}: "
                          f"{list(first.shape)} and {list(t.shape)}", first, t)
        for i, (a, b) in enumerate(zip(first.shape, t.shape)):
            if i != d and a != b:
                raise OpError(f"cat along dim {dim}: {list(first.shape)} and {list(t.shape)} "
                              f"differ in dim {i}", first, t)
    out = list(first.shape)
    out[d] = sum(t.shape[d] for t in tensors)
    return Tensor(tuple(out), dtype=result_type(*tensors))


def stack_rule(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = _tensor_list(tensors, "stack")
    first = tensors[0]
    for t in tensors[1:]:
        if t.shape != first.shape:
            raise OpError(f"stack of different shapes {list(first.shape)} and "
                          f"{list(t.shape)}", first, t)
    d = _dim(dim, len(first.shape) + 1, first)
    return Tensor((*first.shape[:d], len(tensors), *first.shape[d:]),
                  dtype=result_type(*tensors))


def meshgrid_rule(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    """`torch.meshgrid(a, b, indexing="ij")` (or of one list): one grid per 1-d input."""
    items = _tensor_list(tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple))
                         else list(tensors), "meshgrid")
    if any(len(t.shape) > 1 for t in items):
        raise OpError("meshgrid() takes 0-d or 1-d tensors", *items, code="bad-op-argument")
    if len({t.dtype for t in items}) > 1:
        raise OpError("meshgrid() takes tensors of one dtype, got "
                      f"{', '.join(t.dtype for t in items)}", *items, code="dtype-mismatch")
    if indexing not in (None, "ij", "xy"):
        raise OpError(f"meshgrid(): indexing is 'ij' or 'xy', got {indexing!r}",
                      code="bad-op-argument")
    sizes = [t.shape[0] if t.shape else 1 for t in items]
    if indexing == "xy" and len(sizes) > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    return tuple(Tensor(tuple(sizes), dtype=t.dtype) for t in items)


def _tensor_list(tensors: Any, op: str) -> list[Tensor]:
    if not isinstance(tensors, (list, tuple)) or not tensors or not all(
            isinstance(t, Tensor) for t in tensors):
        raise OpError(f"{op}() takes a non-empty list of tensors", code="bad-op-argument")
    return list(tensors)


def _with_size(t: Tensor, d: int, size: int) -> Tensor:
    return like(t, (*t.shape[:d], size, *t.shape[d + 1:]))


def chunk_rule(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    if not isinstance(chunks, int) or chunks <= 0:
        raise OpError(f"chunk() needs a positive number of chunks, got {chunks!r}",
                      code="bad-op-argument")
    d = _dim(dim, len(input.shape), input)
    size = input.shape[d]
    step = -(-size // chunks)
    return tuple(_with_size(input, d, min(step, size - i)) for i in range(0, size, step))


def split_rule(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    d = _dim(dim, len(tensor.shape), tensor)
    size = tensor.shape[d]
    sections = split_size_or_sections
    if isinstance(sections, int):
        if sections <= 0:
            raise OpError(f"split() size must be positive, got {sections}",
                          code="bad-op-argument")
        sections = [min(sections, size - i) for i in range(0, size, sections)]
    elif sum(sections) != size:
        raise OpError(f"split() sections {list(sections)} sum to {sum(sections)}, but dim {dim} "
                      f"of {list(tensor.shape)} has {size}", tensor)
    return tuple(_with_size(tensor, d, s) for s in sections)


def unbind_rule(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    d = _dim(dim, len(input.shape), input)
    rest = (*input.shape[:d], *input.shape[d + 1:])
    return tuple(like(input, rest) for _ in range(input.shape[d]))


def narrow_rule(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = _dim(dim, len(input.shape), input)
    size = input.shape[d]
    begin = start + size if start < 0 else start
    if not 0 <= begin <= size or length < 0 or begin + length > size:
        raise OpError(f"narrow(dim={dim}, start={start}, length={length}) is out of range for "
                      f"{list(input.shape)}", input)
    return _with_size(input, d, length)


# --- reshaping -------------------------------------------------------------------------------


def reshape_rule(input: Tensor, *shape: Any) -> Tensor:
    wanted = list(dim_args(shape))
    total = math.prod(input.shape)
    if wanted.count(-1) > 1:
        raise OpError("only one dimension can be -1", code="bad-op-argument")
    known = math.prod(s for s in wanted if s != -1)
    if -1 in wanted:
        if known == 0 or total % known:
            raise OpError(f"cannot view {list(input.shape)} ({total} elements) as "
                          f"{wanted}", input)
        wanted[wanted.index(-1)] = total // known
    elif known != total:
        raise OpError(f"cannot view {list(input.shape)} ({total} elements) as {wanted} "
                      f"({known} elements)", input)
    return like(input, tuple(wanted))


def flatten_rule(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    rank = len(input.shape)
    if rank == 0:
        return like(input, (1,))
    a, b = _dim(start_dim, rank, input), _dim(end_dim, rank, input)
    if a > b:
        raise OpError("flatten() start_dim comes after end_dim", input, code="bad-op-argument")
    return like(input, (*input.shape[:a], math.prod(input.shape[a:b + 1]),
                        *input.shape[b + 1:]))


def permute_rule(input: Tensor, *dims: Any) -> Tensor:
    order = [_dim(d, len(input.shape), input) for d in dim_args(dims)]
    if sorted(order) != list(range(len(input.shape))):
        raise OpError(f"permute{tuple(dim_args(dims))} is not a permutation of the dims of "
                      f"{list(input.shape)}", input, code="bad-op-argument")
    return like(input, tuple(input.shape[d] for d in order))


def roll_rule(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """`torch.roll(x, shifts=(-3, -3), dims=(1, 2))`: shifting windows keeps the shape."""
    shifts = tuple(shifts) if isinstance(shifts, (list, tuple)) else (shifts,)
    if dims is None:
        if len(shifts) != 1:
            raise OpError(f"roll() without dims takes one shift, got {list(shifts)}", input,
                          code="bad-op-argument")
        return like(input, input.shape)
    dims = tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)
    if len(shifts) != len(dims) or not all(isinstance(s, int) for s in shifts):
        raise OpError(f"roll() takes one int shift per dim, got shifts {list(shifts)} for dims "
                      f"{list(dims)}", input, code="bad-op-argument")
    for d in dims:
        _dim(d, len(input.shape), input)
    return like(input, input.shape)


def gather_rule(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """`torch.gather(x, 1, index)`: the index's shape, the input's dtype; an integer index of
    the input's rank."""
    _dim(dim, len(input.shape), input)
    if not isinstance(index, Tensor) or len(index.shape) != len(input.shape):
        raise OpError(f"gather() takes an index tensor of the input's rank "
                      f"({len(input.shape)})", input, code="bad-op-argument")
    if not index.dtype.startswith(("int", "uint")):
        raise OpError(f"gather() index must be an integer tensor, got {index.dtype}", index,
                      code="dtype-mismatch")
    return like(input, tuple(index.shape))


def transpose_rule(input: Tensor, dim0: int, dim1: int) -> Tensor:
    a, b = _dim(dim0, len(input.shape), input), _dim(dim1, len(input.shape), input)
    out = list(input.shape)
    out[a], out[b] = out[b], out[a]
    return like(input, tuple(out))


def swapaxes_rule(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """`torch.swapaxes`: transpose, with NumPy's argument names."""
    return transpose_rule(input, axis0, axis1)


def swapdims_rule(input: Tensor, dim0: int, dim1: int) -> Tensor:
    return transpose_rule(input, dim0, dim1)


def squeeze_rule(input: Tensor, dim: Any = None) -> Tensor:
    rank = len(input.shape)
    if dim is None:
        drop = {i for i, s in enumerate(input.shape) if s == 1}
    else:
        dims = dim if isinstance(dim, (list, tuple)) else (dim,)
        drop = {_dim(d, rank, input) for d in dims if input.shape[_dim(d, rank, input)] == 1}
    return like(input, tuple(s for i, s in enumerate(input.shape) if i not in drop))


def unsqueeze_rule(input: Tensor, dim: int) -> Tensor:
    d = _dim(dim, len(input.shape) + 1, input)
    return like(input, (*input.shape[:d], 1, *input.shape[d:]))


def expand_rule(input: Tensor, *sizes: Any) -> Tensor:
    sizes = dim_args(sizes)
    lead = len(sizes) - len(input.shape)
    if lead < 0:
        raise OpError(f"expand{tuple(sizes)} has fewer dims than {list(input.shape)}", input)
    out = list(sizes[:lead])
    for have, want in zip(input.shape, sizes[lead:]):
        if want != -1 and have not in (1, want):
            raise OpError(f"cannot expand {list(input.shape)} to {list(sizes)}", input)
        out.append(have if want == -1 else want)
    return like(input, tuple(out))


def shaped_as(rule: Callable[..., Tensor], name: str) -> Callable[[Tensor, Any], Tensor]:
    """`x.reshape_as(other)`, `view_as`, `expand_as`: the rule given other's shape."""
    def shaped(input: Tensor, other: Any) -> Tensor:
        if not isinstance(other, Tensor):
            raise OpError(f"{name}() takes a tensor", input, code="bad-op-argument")
        return rule(input, *other.shape)
    return shaped


def repeat_rule(input: Tensor, *repeats: Any) -> Tensor:
    repeats = dim_args(repeats)
    lead = len(repeats) - len(input.shape)
    if lead < 0:
        raise OpError(f"repeat{tuple(repeats)} has fewer dims than {list(input.shape)}",
                      input, code="bad-op-argument")
    shape = (1,) * lead + input.shape
    return like(input, tuple(s * r for s, r in zip(shape, repeats)))


def _reduced(input: Tensor, dim: Any, keepdim: bool) -> Shape:
    rank = len(input.shape)
    if dim is None:
        return (1,) * rank if keepdim else ()
    dims = {_dim(d, rank, input) for d in (dim if isinstance(dim, (list, tuple)) else (dim,))}
    return tuple(1 if i in dims else s for i, s in enumerate(input.shape)
                 if keepdim or i not in dims)


def mean_rule(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
          ) -> Tensor:
    dtype = dtype_arg(dtype, "mean") or input.dtype
    if not is_floating(dtype):
        raise OpError(f"mean() of a {dtype} tensor: torch needs a floating-point one", input,
                      code="dtype-mismatch")
    return Tensor(_reduced(input, dim, keepdim), dtype=dtype)


def sum_rule(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
         ) -> Tensor:
    """Integers and bool sum to int64."""
    dtype = dtype_arg(dtype, "sum") or (input.dtype if is_floating(input.dtype) else "int64")
    return Tensor(_reduced(input, dim, keepdim), dtype=dtype)


def size_rule(input: Tensor, dim: int | None = None) -> Any:
    if dim is None:
        return tuple(input.shape)
    return input.shape[_dim(dim, len(input.shape), input)]


def ndim_rule(input: Tensor) -> int:
    return len(input.shape)


def softmax_rule(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
             ) -> Tensor:
    """F.softmax's signature; torch.softmax and the method take (dim, dtype) as keywords."""
    if dim is not None:
        _dim(dim, len(input.shape), input)
    dtype = dtype_arg(dtype, "softmax")
    if dtype is None:
        require_floating(input, "softmax()")
    return Tensor(input.shape, dtype=dtype or input.dtype)
