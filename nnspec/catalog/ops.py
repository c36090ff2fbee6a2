"""The functional ops a forward step may use, by namespace, each with its static shape rule.

A forward step is a Python statement over named values. Besides calling children, it may call
only what is listed here: `torch.<fn>`, `F.<fn>` (torch.nn.functional) and tensor methods. Each
op is declared once, as its name and a rule that computes the output from input shapes, with
torch's own argument names so Python binds a call's arguments exactly as torch would. Rules
see `Tensor`s (shapes, batch included, and dtypes) and plain Python values; they raise `OpError`
where torch would raise. Dtypes follow torch's type promotion (`result_type`), reduced to the
real dtypes a spec can declare. Pure Python: no torch import.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]


FLOATING = ("float16", "bfloat16", "float32", "float64")
INTEGRAL = ("uint8", "int8", "int16", "int32", "int64")
DEFAULT_FLOAT = "float32"  # torch's default dtype: parameters, float literals, int / int


@dataclass(eq=False)
class Tensor:
    """A tensor known by its shape and dtype. The static pass fills in where it was produced."""

    shape: Shape
    origin: Any = None  # Pos of the step or layer that produced it
    node: int | None = None  # graph node that produced it
    sym: tuple | None = None  # per dim: an expression (ast) over the class's params, or None
    dtype: str = DEFAULT_FLOAT  # torch's name, without the `torch.` prefix
    bounds: tuple[int, int] | None = None  # [low, high) of an integer tensor's values, if known


@dataclass(frozen=True)
class DType:
    """A dtype as a forward value: `torch.long`, `x.dtype`."""

    name: str

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class Device:
    """`x.device` as a forward value: the pass does not track devices, it only passes them."""

    def __repr__(self) -> str:
        return "device"


DEVICE = Device()

# `torch.<name>` dtypes a forward may spell, aliases included
DTYPES: dict[str, DType] = {
    **{name: DType(name) for name in (*FLOATING, *INTEGRAL, "bool")},
    **{alias: DType(name) for alias, name in (("float", "float32"), ("double", "float64"),
                                              ("half", "float16"), ("long", "int64"),
                                              ("int", "int32"), ("short", "int16"))},
}


def like(t: Tensor, shape: Shape) -> Tensor:
    """A tensor holding `t`'s values rearranged: same dtype, same value bounds."""
    return Tensor(shape, dtype=t.dtype, bounds=t.bounds)


def is_floating(dtype: str) -> bool:
    return dtype in FLOATING


def _rank(dtype: str) -> int:
    return ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
            "float64").index("float16" if dtype == "bfloat16" else dtype)


def promote_types(a: str, b: str) -> str:
    """torch.promote_types over the real dtypes."""
    if a == b:
        return a
    if {a, b} == {"uint8", "int8"}:
        return "int16"
    if {a, b} == {"float16", "bfloat16"}:
        return "float32"
    return max(a, b, key=_rank)


def _promote(a: str | None, b: str) -> str:
    return b if a is None else promote_types(a, b)


def _combine(higher: str | None, lower: str | None) -> str | None:
    """torch's combine_categories: a lower-priority operand counts only when its category
    (bool < integer < floating) is higher."""
    if higher is None or lower is None:
        return higher or lower
    if is_floating(higher):
        return higher
    if higher == "bool" or is_floating(lower):
        return promote_types(higher, lower)
    return higher


def result_type(*operands: Any) -> str:
    """torch.result_type: tensors with dims first, then 0-d tensors, then Python numbers."""
    dims = zero = wrapped = None
    for v in operands:
        if isinstance(v, Tensor):
            if v.shape:
                dims = _promote(dims, v.dtype)
            else:
                zero = _promote(zero, v.dtype)
        elif isinstance(v, bool):
            wrapped = _promote(wrapped, "bool")
        elif isinstance(v, int):
            wrapped = _promote(wrapped, "int64")
        elif isinstance(v, float):
            wrapped = _promote(wrapped, DEFAULT_FLOAT)
    return _combine(dims, _combine(zero, wrapped)) or DEFAULT_FLOAT


def _dtype_arg(value: Any, op: str) -> str | None:
    """A `dtype=` argument: None, or a `torch.<dtype>` value."""
    if value is None or isinstance(value, DType):
        return None if value is None else value.name
    raise OpError(f"{op}() takes dtype=torch.<dtype>, got {value!r}", code="bad-op-argument")


def require_floating(t: Tensor, what: str, hint_int: str = "") -> None:
    if not is_floating(t.dtype):
        raise OpError(f"{what} expects a floating-point tensor, got {t.dtype}{hint_int}", t,
                      code="dtype-mismatch")


def _same_dtypes(op: str, *tensors: Tensor) -> str:
    """matmul-like ops: torch does not promote, the operands must agree."""
    dtypes = list(dict.fromkeys(t.dtype for t in tensors if isinstance(t, Tensor)))
    if len(dtypes) > 1:
        raise OpError(f"{op} of {' and '.join(dtypes)} tensors: torch needs one dtype",
                      *tensors, code="dtype-mismatch")
    return dtypes[0]


@dataclass
class Counted:
    """An op's result together with its multiply-accumulates (matmul, conv-like ops)."""

    value: Any
    macs: int


class OpError(Exception):
    """Torch would raise here. `tensors` are the operands to point at."""

    def __init__(self, message: str, *tensors: Tensor, code: str = "shape-mismatch"):
        super().__init__(message)
        self.message, self.tensors, self.code = message, tensors, code


def _dim(d: int, rank: int, t: Tensor | None = None) -> int:
    if not -max(rank, 1) <= d < max(rank, 1):
        raise OpError(f"dim {d} is out of range for a tensor of rank {rank}",
                      *([t] if t else []), code="bad-dim")
    return d % max(rank, 1)


def _dims(dims: Any) -> tuple:
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


def _tensors(*values: Any) -> list[Tensor]:
    return [v for v in values if isinstance(v, Tensor)]


# --- elementwise -----------------------------------------------------------------------------


def _same(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    return like(input, input.shape)


def _unary(name: str, accepts: str) -> Callable[..., Tensor]:
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
    return Tensor(broadcast(*_tensors(*operands)), dtype=result_type(*operands))


def true_divide(*operands: Any) -> Tensor:
    """`a / b`: integers divide to float32."""
    out = elementwise(*operands)
    if not is_floating(out.dtype):
        out.dtype = DEFAULT_FLOAT
    return out


def compare(*operands: Any) -> Tensor:
    """`a < b`: a bool tensor of the broadcast shape."""
    return Tensor(broadcast(*_tensors(*operands)), dtype="bool")


def _binary(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    return elementwise(input, other)


def _where(condition: Any, input: Any, other: Any) -> Tensor:
    if not isinstance(condition, Tensor) or condition.dtype != "bool":
        got = condition.dtype if isinstance(condition, Tensor) else type(condition).__name__
        raise OpError(f"where() needs a bool condition, got {got}", *_tensors(condition),
                      code="dtype-mismatch")
    return Tensor(broadcast(*_tensors(condition, input, other)), dtype=result_type(input, other))


def _masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    if not isinstance(mask, Tensor) or mask.dtype != "bool":
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise OpError(f"masked_fill() needs a bool mask, got {got}", *_tensors(mask),
                      code="dtype-mismatch")
    if broadcast(input, mask) != input.shape:
        raise OpError(f"masked_fill() mask {list(mask.shape)} does not broadcast to "
                      f"{list(input.shape)}", input, mask)
    return Tensor(input.shape, dtype=input.dtype)


def _triangle(input: Tensor, diagonal: int = 0) -> Tensor:
    """torch.tril / torch.triu: the last two dims keep their shape."""
    if len(input.shape) < 2:
        raise OpError(f"tril()/triu() need at least 2 dims, got {list(input.shape)}", input,
                      code="bad-dim")
    return Tensor(input.shape, dtype=input.dtype)


# --- joining and splitting -------------------------------------------------------------------


def _cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
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


def _stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = _tensor_list(tensors, "stack")
    first = tensors[0]
    for t in tensors[1:]:
        if t.shape != first.shape:
            raise OpError(f"stack of different shapes {list(first.shape)} and "
                          f"{list(t.shape)}", first, t)
    d = _dim(dim, len(first.shape) + 1, first)
    return Tensor((*first.shape[:d], len(tensors), *first.shape[d:]),
                  dtype=result_type(*tensors))


def _tensor_list(tensors: Any, op: str) -> list[Tensor]:
    if not isinstance(tensors, (list, tuple)) or not tensors or not all(
            isinstance(t, Tensor) for t in tensors):
        raise OpError(f"{op}() takes a non-empty list of tensors", code="bad-op-argument")
    return list(tensors)


def _with_size(t: Tensor, d: int, size: int) -> Tensor:
    return like(t, (*t.shape[:d], size, *t.shape[d + 1:]))


def _chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    if not isinstance(chunks, int) or chunks <= 0:
        raise OpError(f"chunk() needs a positive number of chunks, got {chunks!r}",
                      code="bad-op-argument")
    d = _dim(dim, len(input.shape), input)
    size = input.shape[d]
    step = -(-size // chunks)
    return tuple(_with_size(input, d, min(step, size - i)) for i in range(0, size, step))


def _split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
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


def _unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    d = _dim(dim, len(input.shape), input)
    rest = (*input.shape[:d], *input.shape[d + 1:])
    return tuple(like(input, rest) for _ in range(input.shape[d]))


def _narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = _dim(dim, len(input.shape), input)
    size = input.shape[d]
    begin = start + size if start < 0 else start
    if not 0 <= begin <= size or length < 0 or begin + length > size:
        raise OpError(f"narrow(dim={dim}, start={start}, length={length}) is out of range for "
                      f"{list(input.shape)}", input)
    return _with_size(input, d, length)


# --- reshaping -------------------------------------------------------------------------------


def _reshape(input: Tensor, *shape: Any) -> Tensor:
    wanted = list(_dims(shape))
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


def _flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    rank = len(input.shape)
    if rank == 0:
        return like(input, (1,))
    a, b = _dim(start_dim, rank, input), _dim(end_dim, rank, input)
    if a > b:
        raise OpError("flatten() start_dim comes after end_dim", input, code="bad-op-argument")
    return like(input, (*input.shape[:a], math.prod(input.shape[a:b + 1]),
                        *input.shape[b + 1:]))


def _permute(input: Tensor, *dims: Any) -> Tensor:
    order = [_dim(d, len(input.shape), input) for d in _dims(dims)]
    if sorted(order) != list(range(len(input.shape))):
        raise OpError(f"permute{tuple(_dims(dims))} is not a permutation of the dims of "
                      f"{list(input.shape)}", input, code="bad-op-argument")
    return like(input, tuple(input.shape[d] for d in order))


def _transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    a, b = _dim(dim0, len(input.shape), input), _dim(dim1, len(input.shape), input)
    out = list(input.shape)
    out[a], out[b] = out[b], out[a]
    return like(input, tuple(out))


def _squeeze(input: Tensor, dim: Any = None) -> Tensor:
    rank = len(input.shape)
    if dim is None:
        drop = {i for i, s in enumerate(input.shape) if s == 1}
    else:
        dims = dim if isinstance(dim, (list, tuple)) else (dim,)
        drop = {_dim(d, rank, input) for d in dims if input.shape[_dim(d, rank, input)] == 1}
    return like(input, tuple(s for i, s in enumerate(input.shape) if i not in drop))


def _unsqueeze(input: Tensor, dim: int) -> Tensor:
    d = _dim(dim, len(input.shape) + 1, input)
    return like(input, (*input.shape[:d], 1, *input.shape[d:]))


def _expand(input: Tensor, *sizes: Any) -> Tensor:
    sizes = _dims(sizes)
    lead = len(sizes) - len(input.shape)
    if lead < 0:
        raise OpError(f"expand{tuple(sizes)} has fewer dims than {list(input.shape)}", input)
    out = list(sizes[:lead])
    for have, want in zip(input.shape, sizes[lead:]):
        if want != -1 and have not in (1, want):
            raise OpError(f"cannot expand {list(input.shape)} to {list(sizes)}", input)
        out.append(have if want == -1 else want)
    return like(input, tuple(out))


def _repeat(input: Tensor, *repeats: Any) -> Tensor:
    repeats = _dims(repeats)
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


def _mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
          ) -> Tensor:
    dtype = _dtype_arg(dtype, "mean") or input.dtype
    if not is_floating(dtype):
        raise OpError(f"mean() of a {dtype} tensor: torch needs a floating-point one", input,
                      code="dtype-mismatch")
    return Tensor(_reduced(input, dim, keepdim), dtype=dtype)


def _sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
         ) -> Tensor:
    """Integers and bool sum to int64."""
    dtype = _dtype_arg(dtype, "sum") or (input.dtype if is_floating(input.dtype) else "int64")
    return Tensor(_reduced(input, dim, keepdim), dtype=dtype)


def _size(input: Tensor, dim: int | None = None) -> Any:
    if dim is None:
        return tuple(input.shape)
    return input.shape[_dim(dim, len(input.shape), input)]


def _ndim(input: Tensor) -> int:
    return len(input.shape)


def _softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
             ) -> Tensor:
    """F.softmax's signature; torch.softmax and the method take (dim, dtype) as keywords."""
    if dim is not None:
        _dim(dim, len(input.shape), input)
    dtype = _dtype_arg(dtype, "softmax")
    if dtype is None:
        require_floating(input, "softmax()")
    return Tensor(input.shape, dtype=dtype or input.dtype)


# --- products --------------------------------------------------------------------------------


def _matmul(input: Tensor, other: Tensor) -> Counted:
    a, b = input.shape, other.shape
    if not a or not b:
        raise OpError("matmul() needs tensors of at least one dim", input, other)
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise OpError(f"matmul of {list(a)} and {list(b)}: inner sizes {a2[-1]} and "
                      f"{b2[-2]} differ", input, other)
    batch = broadcast(Tensor(a2[:-2]), Tensor(b2[:-2])) if len(a2) > 2 or len(b2) > 2 else ()
    out = (*batch, *a[-2:-1], *(b[-1:] if len(b) > 1 else ()))
    # a 1-d operand makes torch call mv/dot, which FlopCounterMode does not count
    macs = math.prod(batch) * a2[-2] * a2[-1] * b2[-1] if len(a) > 1 and len(b) > 1 else 0
    return Counted(Tensor(out, dtype=_same_dtypes("matmul", input, other)), macs)


def _bmm(input: Tensor, mat2: Tensor) -> Counted:
    a, b = input.shape, mat2.shape
    if len(a) != 3 or len(b) != 3 or a[0] != b[0] or a[2] != b[1]:
        raise OpError(f"bmm of {list(a)} and {list(b)}: expected [b, n, m] and [b, m, p]",
                      input, mat2)
    return Counted(Tensor((a[0], a[1], b[2]), dtype=_same_dtypes("bmm", input, mat2)),
                   a[0] * a[1] * a[2] * b[2])


def _linear(input: Tensor, weight: Tensor, bias: Any = None) -> Counted:
    if len(weight.shape) != 2 or input.shape[-1:] != weight.shape[1:]:
        raise OpError(f"linear of {list(input.shape)} with weight {list(weight.shape)}: "
                      "in_features differ", input, weight)
    out = (*input.shape[:-1], weight.shape[0])
    dtype = _same_dtypes("linear", input, weight, *_tensors(bias))
    return Counted(Tensor(out, dtype=dtype), math.prod(out) * weight.shape[1])


def _einsum(equation: str, *operands: Any) -> Counted:
    operands = _dims(operands)
    if not isinstance(equation, str) or "..." in equation or "->" not in equation:
        raise OpError("einsum() needs an explicit equation like 'bij,bjk->bik' (no '...')",
                      code="bad-op-argument")
    inputs, output = equation.replace(" ", "").split("->")
    terms = inputs.split(",")
    if len(terms) != len(operands) or not 1 <= len(terms) <= 2:
        raise OpError(f"einsum '{equation}' takes one or two operands here, got "
                      f"{len(operands)}", code="bad-op-argument")
    sizes: dict[str, int] = {}
    for term, t in zip(terms, operands):
        if len(term) != len(t.shape):
            raise OpError(f"einsum term '{term}' does not match shape {list(t.shape)}", t)
        for letter, size in zip(term, t.shape):
            if sizes.setdefault(letter, size) != size and 1 not in (size, sizes[letter]):
                raise OpError(f"einsum index '{letter}' is {sizes[letter]} and {size}",
                              *operands)
            sizes[letter] = max(size, sizes[letter])
    out = Tensor(tuple(sizes[letter] for letter in output),
                 dtype=_same_dtypes("einsum", *operands))
    if len(terms) == 1:
        return Counted(out, 0)
    # torch sums away indices found in one operand only, then runs one bmm over the rest
    kept = {c for c in sizes if (c in terms[0] and c in terms[1]) or c in output}
    return Counted(out, math.prod(sizes[c] for c in kept))


def _sdpa(query: Tensor, key: Tensor, value: Tensor, attn_mask: Any = None,
          dropout_p: float = 0.0, is_causal: bool = False, scale: Any = None,
          enable_gqa: bool = False) -> Counted:
    q, k, v = query.shape, key.shape, value.shape
    if q[-1] != k[-1] or k[-2] != v[-2]:
        raise OpError(f"attention of query {list(q)}, key {list(k)}, value {list(v)}: "
                      "sizes differ", query, key, value)
    dtype = _same_dtypes("scaled_dot_product_attention", query, key, value)
    require_floating(query, "scaled_dot_product_attention()")
    if isinstance(attn_mask, Tensor):
        if is_causal:
            raise OpError("scaled_dot_product_attention() takes attn_mask or is_causal=True, "
                          "not both", attn_mask, code="bad-op-argument")
        if attn_mask.dtype not in ("bool", dtype):
            raise OpError(f"scaled_dot_product_attention() needs a bool or {dtype} attn_mask, "
                          f"got {attn_mask.dtype}", attn_mask, code="dtype-mismatch")
    out = (*q[:-1], v[-1])
    batch = math.prod(q[:-2])
    return Counted(Tensor(out, dtype=dtype), batch * q[-2] * k[-2] * (q[-1] + v[-1]))


# --- functional layers -----------------------------------------------------------------------


def _adaptive(n: int) -> Callable[..., Tensor]:
    def rule(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
        if len(input.shape) not in (n + 1, n + 2):
            raise OpError(f"adaptive pool{n}d takes a {n + 1}-d or {n + 2}-d input, got "
                          f"{list(input.shape)}", input)
        require_floating(input, f"adaptive pool{n}d")
        sizes = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * n
        spatial = tuple(s if s is not None else input.shape[-n + i] for i, s in enumerate(sizes))
        out = Tensor((*input.shape[:-n], *spatial), dtype=input.dtype)
        return (out, Tensor(out.shape, dtype="int64")) if return_indices else out
    return rule


# F.max_pool*d put ceil_mode before return_indices, where the MaxPool*d modules do the opposite
_MAX_POOL_ORDER = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")


def _pool(layer: str) -> Callable[..., Any]:
    """F.max_pool2d / F.avg_pool2d: the catalog layer's own shape rule."""
    def rule(input: Tensor, kernel_size: Any, *args: Any, **kwargs: Any) -> Any:
        from nnspec.catalog import LAYERS

        layer_def = LAYERS[layer]
        names = list(_MAX_POOL_ORDER if layer.startswith("Max") else layer_def.arg_names)
        given = dict(zip(names, (kernel_size, *args)), **kwargs)
        unknown = set(given) - set(names)
        if unknown:
            raise TypeError(f"got an unexpected keyword argument '{unknown.pop()}'")
        if layer_def.ranks and len(input.shape) not in layer_def.ranks:  # empty: any rank
            raise OpError(f"{layer} takes a {' or '.join(map(str, layer_def.ranks))}-d "
                          f"input, got {list(input.shape)}", input)
        out = Tensor(layer_def.shape(layer_def.bind_defaults(given), [input.shape]),
                     dtype=layer_output_dtype(layer_def, input))
        if any(s <= 0 for s in out.shape):
            raise OpError(f"pooling {list(input.shape)} collapses to {list(out.shape)}",
                          input, code="spatial-collapse")
        return (out, Tensor(out.shape, dtype="int64")) if given.get("return_indices") else out
    return rule


def _interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: Any = None, recompute_scale_factor: Any = None,
                 antialias: bool = False) -> Tensor:
    n = len(input.shape) - 2
    if n < 1 or (size is None) == (scale_factor is None):
        raise OpError("interpolate() needs a batched input and one of size and scale_factor",
                      input, code="bad-op-argument")
    if size is not None:
        spatial = tuple(size) if isinstance(size, (list, tuple)) else (size,) * n
    else:
        scales = scale_factor if isinstance(scale_factor, (list, tuple)) else (scale_factor,) * n
        spatial = tuple(math.floor(s * f) for s, f in zip(input.shape[2:], scales))
    require_floating(input, "interpolate()")
    return Tensor((*input.shape[:2], *spatial), dtype=input.dtype)


def _layer_norm(input: Tensor, normalized_shape: Any, weight: Any = None, bias: Any = None,
                eps: float = 1e-5) -> Tensor:
    norm = tuple(normalized_shape) if isinstance(normalized_shape, (list, tuple)) else (
        normalized_shape,)
    if input.shape[len(input.shape) - len(norm):] != norm:
        raise OpError(f"layer_norm over {list(norm)} does not match the last dims of "
                      f"{list(input.shape)}", input)
    require_floating(input, "layer_norm()")
    return Tensor(input.shape, dtype=input.dtype)


def _pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: Any = None) -> Tensor:
    if len(pad) % 2 or len(pad) // 2 > len(input.shape):
        raise OpError(f"pad {list(pad)} does not fit {list(input.shape)}", input,
                      code="bad-op-argument")
    out = list(input.shape)
    for i in range(len(pad) // 2):
        out[-1 - i] += pad[2 * i] + pad[2 * i + 1]
    return Tensor(tuple(out), dtype=input.dtype)


def layer_output_dtype(layer: Any, t: Tensor, source: str = "") -> str:
    """The dtype a catalog layer (`LayerDef`) makes of input `t`, or OpError where torch
    refuses it. `source` describes the input for the message (" from input 'idx'")."""
    if layer.index_input:
        if t.dtype not in ("int64", "int32"):
            raise OpError(f"{layer.name} looks up int64 or int32 indices, got a {t.dtype} "
                          f"tensor{source}", t, code="dtype-mismatch")
        return DEFAULT_FLOAT
    accepts = layer.input_dtype
    if accepts == "float" and not is_floating(t.dtype):
        what = "tokens" if t.dtype in INTEGRAL else "values"
        raise OpError(f"{layer.name} expects a floating-point input, got {t.dtype} {what}"
                      f"{source}", t, code="dtype-mismatch")
    if accepts == "number" and t.dtype == "bool":
        raise OpError(f"{layer.name} does not take a bool input{source}", t,
                      code="dtype-mismatch")
    if accepts == "promote" and not is_floating(t.dtype):
        return DEFAULT_FLOAT
    return t.dtype


# --- dtypes and new tensors ------------------------------------------------------------------


def _converted(input: Tensor, dtype: str) -> Tensor:
    """`input` in another dtype; integer value bounds survive integer-to-integer casts."""
    keep = dtype in INTEGRAL and input.dtype in INTEGRAL
    return Tensor(input.shape, dtype=dtype, bounds=input.bounds if keep else None)


def _cast(dtype: str) -> Callable[..., Tensor]:
    def rule(input: Tensor, memory_format: Any = None) -> Tensor:
        return _converted(input, dtype)
    return rule


def _type_as(input: Tensor, other: Tensor) -> Tensor:
    if not isinstance(other, Tensor):
        raise OpError("type_as() takes a tensor", code="bad-op-argument")
    return _converted(input, other.dtype)


def _to(input: Tensor, *args: Any, dtype: Any = None, device: Any = None,
        non_blocking: bool = False, copy: bool = False, memory_format: Any = None) -> Tensor:
    """`.to(dtype)`, `.to(device[, dtype])`, `.to(other)`, and the keyword forms."""
    target = _dtype_arg(dtype, "to")
    for arg in args:
        if isinstance(arg, DType):
            target = arg.name
        elif isinstance(arg, Tensor):
            target = arg.dtype
        elif not isinstance(arg, (Device, str, bool)):
            raise OpError(f"to() cannot take {arg!r}", code="bad-op-argument")
    return _converted(input, target or input.dtype)


def _sizes(size: Any, op: str) -> Shape:
    size = _dims(size)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in size):
        raise OpError(f"{op}() takes sizes as non-negative ints, got {list(size)}",
                      code="bad-op-argument")
    return tuple(size)


def _filled(op: str) -> Callable[..., Tensor]:
    """torch.zeros / torch.ones: float32 unless dtype= says otherwise."""
    def rule(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
             ) -> Tensor:
        return Tensor(_sizes(size, op), dtype=_dtype_arg(dtype, op) or DEFAULT_FLOAT)
    return rule


def _filled_like(input: Tensor, *, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    return Tensor(input.shape, dtype=_dtype_arg(dtype, "zeros_like") or input.dtype)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _arange(*args: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
            ) -> Tensor:
    """`torch.arange(end)` / `(start, end[, step])`: int64 for ints, else float32. An
    integer range knows its values' bounds (an Embedding checks them)."""
    if not 1 <= len(args) <= 3 or not all(_number(a) for a in args):
        raise OpError(f"arange() takes end, or start, end[, step], as numbers, got "
                      f"{list(args)}", code="bad-op-argument")
    start, end, step = (0, args[0], 1) if len(args) == 1 else (*args, 1)[:3]
    if step == 0 or (end - start) * step < 0:
        raise OpError(f"arange({', '.join(map(str, args))}): the step does not lead from "
                      "start to end", code="bad-op-argument")
    count = math.ceil((end - start) / step)
    ints = all(isinstance(a, int) for a in args)
    out = _dtype_arg(dtype, "arange") or ("int64" if ints else DEFAULT_FLOAT)
    bounds = None
    if ints and out in INTEGRAL and count:
        last = start + (count - 1) * step
        bounds = (min(start, last), max(start, last) + 1)
    return Tensor((count,), dtype=out, bounds=bounds)


# --- the tables ------------------------------------------------------------------------------

_FLOAT_ONLY = ("silu", "gelu", "elu", "leaky_relu", "hardsigmoid", "hardswish", "normalize")


def _unaries(accepts: str, *names: str) -> dict[str, Callable[..., Tensor]]:
    return {name: _unary(name, accepts) for name in names}


_MATH = {**_unaries("number", "relu"), **_unaries("promote", "sigmoid", "tanh", "sqrt", "exp")}
_CASTS = {"float": _cast("float32"), "double": _cast("float64"), "half": _cast("float16"),
          "long": _cast("int64"), "int": _cast("int32"), "bool": _cast("bool")}

TORCH_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **_MATH,
    "add": _binary, "sub": _binary, "mul": _binary,
    "cat": _cat, "stack": _stack, "chunk": _chunk, "split": _split, "narrow": _narrow,
    "flatten": _flatten, "reshape": _reshape, "permute": _permute, "transpose": _transpose,
    "squeeze": _squeeze, "unsqueeze": _unsqueeze,
    "mean": _mean, "sum": _sum, "softmax": _softmax,
    "matmul": _matmul, "bmm": _bmm, "einsum": _einsum,
    "where": _where, "zeros_like": _filled_like, "ones_like": _filled_like,
    "masked_fill": _masked_fill, "tril": _triangle, "triu": _triangle,
    "arange": _arange, "zeros": _filled("zeros"), "ones": _filled("ones"),
}

F_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **_unaries("number", "relu", "relu6"), **_unaries("promote", "sigmoid", "tanh"),
    **_unaries("float", *_FLOAT_ONLY), **_unaries("any", "dropout"),
    "softmax": _softmax, "log_softmax": _softmax,
    **{f"adaptive_{kind}_pool{n}d": _adaptive(n) for kind in ("avg", "max") for n in (1, 2, 3)},
    **{f"{kind}_pool{n}d": _pool(f"{kind.title()}Pool{n}d") for kind in ("avg", "max")
       for n in (1, 2, 3)},
    "interpolate": _interpolate, "layer_norm": _layer_norm, "pad": _pad, "linear": _linear,
    "scaled_dot_product_attention": _sdpa,
}

METHODS: dict[str, Callable[..., Any]] = {
    **{name: _MATH[name] for name in ("relu", "sigmoid", "tanh")}, **_CASTS,
    "contiguous": _same, "type_as": _type_as, "to": _to,
    "masked_fill": _masked_fill, "tril": _triangle, "triu": _triangle,
    "add": _binary, "sub": _binary, "mul": _binary,
    "chunk": _chunk, "split": _split, "unbind": _unbind, "narrow": _narrow,
    "flatten": _flatten, "reshape": _reshape, "view": _reshape, "permute": _permute,
    "transpose": _transpose, "squeeze": _squeeze, "unsqueeze": _unsqueeze, "expand": _expand,
    "repeat": _repeat, "mean": _mean, "sum": _sum, "softmax": _softmax,
    "matmul": _matmul, "size": _size, "dim": _ndim,
}

ATTRIBUTES: dict[str, Callable[[Tensor], Any]] = {
    "shape": lambda t: tuple(t.shape),
    "T": lambda t: like(t, tuple(reversed(t.shape))),
    "ndim": _ndim,
    "dtype": lambda t: DType(t.dtype),
    "device": lambda t: DEVICE,
}

NAMESPACES = {"torch": TORCH_FUNCTIONS, "F": F_FUNCTIONS}


def all_names() -> list[str]:
    """Every spelling a user may write, for did-you-mean hints."""
    return sorted({f"{ns}.{fn}" for ns, fns in NAMESPACES.items() for fn in fns} | set(METHODS))
