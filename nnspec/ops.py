"""The functional ops a forward step may use, by namespace, each with its static shape rule.

A forward step is a Python statement over named values. Besides calling children, it may call
only what is listed here: `torch.<fn>`, `F.<fn>` (torch.nn.functional) and tensor methods. Each
op is declared once, as its name and a rule that computes the output from input shapes, with
torch's own argument names so Python binds a call's arguments exactly as torch would. Rules
see `Tensor`s (shapes, batch included) and plain Python values; they raise `OpError` where torch
would raise. Pure Python: no torch import.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]


@dataclass(eq=False)
class Tensor:
    """A tensor known by its shape. The static pass fills in where it was produced."""

    shape: Shape
    origin: Any = None  # Pos of the step or layer that produced it
    node: int | None = None  # graph node that produced it
    sym: tuple | None = None  # per dim: an expression (ast) over the class's params, or None


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
    return Tensor(input.shape)


def elementwise(*operands: Any) -> Tensor:
    """`a + b`, `a < b`: the operands broadcast together."""
    return Tensor(broadcast(*_tensors(*operands)))


def _binary(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    return elementwise(input, other)


def _where(condition: Any, input: Any, other: Any) -> Tensor:
    return Tensor(broadcast(*_tensors(condition, input, other)))


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
    return Tensor(tuple(out))


def _stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = _tensor_list(tensors, "stack")
    first = tensors[0]
    for t in tensors[1:]:
        if t.shape != first.shape:
            raise OpError(f"stack of different shapes {list(first.shape)} and "
                          f"{list(t.shape)}", first, t)
    d = _dim(dim, len(first.shape) + 1, first)
    return Tensor((*first.shape[:d], len(tensors), *first.shape[d:]))


def _tensor_list(tensors: Any, op: str) -> list[Tensor]:
    if not isinstance(tensors, (list, tuple)) or not tensors or not all(
            isinstance(t, Tensor) for t in tensors):
        raise OpError(f"{op}() takes a non-empty list of tensors", code="bad-op-argument")
    return list(tensors)


def _with_size(shape: Shape, d: int, size: int) -> Tensor:
    return Tensor((*shape[:d], size, *shape[d + 1:]))


def _chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    if not isinstance(chunks, int) or chunks <= 0:
        raise OpError(f"chunk() needs a positive number of chunks, got {chunks!r}",
                      code="bad-op-argument")
    d = _dim(dim, len(input.shape), input)
    size = input.shape[d]
    step = -(-size // chunks)
    return tuple(_with_size(input.shape, d, min(step, size - i)) for i in range(0, size, step))


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
    return tuple(_with_size(tensor.shape, d, s) for s in sections)


def _unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    d = _dim(dim, len(input.shape), input)
    rest = (*input.shape[:d], *input.shape[d + 1:])
    return tuple(Tensor(rest) for _ in range(input.shape[d]))


def _narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = _dim(dim, len(input.shape), input)
    size = input.shape[d]
    begin = start + size if start < 0 else start
    if not 0 <= begin <= size or length < 0 or begin + length > size:
        raise OpError(f"narrow(dim={dim}, start={start}, length={length}) is out of range for "
                      f"{list(input.shape)}", input)
    return _with_size(input.shape, d, length)


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
    return Tensor(tuple(wanted))


def _flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    rank = len(input.shape)
    if rank == 0:
        return Tensor((1,))
    a, b = _dim(start_dim, rank, input), _dim(end_dim, rank, input)
    if a > b:
        raise OpError("flatten() start_dim comes after end_dim", input, code="bad-op-argument")
    return Tensor((*input.shape[:a], math.prod(input.shape[a:b + 1]), *input.shape[b + 1:]))


def _permute(input: Tensor, *dims: Any) -> Tensor:
    order = [_dim(d, len(input.shape), input) for d in _dims(dims)]
    if sorted(order) != list(range(len(input.shape))):
        raise OpError(f"permute{tuple(_dims(dims))} is not a permutation of the dims of "
                      f"{list(input.shape)}", input, code="bad-op-argument")
    return Tensor(tuple(input.shape[d] for d in order))


def _transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    a, b = _dim(dim0, len(input.shape), input), _dim(dim1, len(input.shape), input)
    out = list(input.shape)
    out[a], out[b] = out[b], out[a]
    return Tensor(tuple(out))


def _squeeze(input: Tensor, dim: Any = None) -> Tensor:
    rank = len(input.shape)
    if dim is None:
        drop = {i for i, s in enumerate(input.shape) if s == 1}
    else:
        dims = dim if isinstance(dim, (list, tuple)) else (dim,)
        drop = {_dim(d, rank, input) for d in dims if input.shape[_dim(d, rank, input)] == 1}
    return Tensor(tuple(s for i, s in enumerate(input.shape) if i not in drop))


def _unsqueeze(input: Tensor, dim: int) -> Tensor:
    d = _dim(dim, len(input.shape) + 1, input)
    return Tensor((*input.shape[:d], 1, *input.shape[d:]))


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
    return Tensor(tuple(out))


def _repeat(input: Tensor, *repeats: Any) -> Tensor:
    repeats = _dims(repeats)
    lead = len(repeats) - len(input.shape)
    if lead < 0:
        raise OpError(f"repeat{tuple(repeats)} has fewer dims than {list(input.shape)}",
                      input, code="bad-op-argument")
    shape = (1,) * lead + input.shape
    return Tensor(tuple(s * r for s, r in zip(shape, repeats)))


def _reduce(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
            ) -> Tensor:
    rank = len(input.shape)
    if dim is None:
        return Tensor((1,) * rank if keepdim else ())
    dims = {_dim(d, rank, input) for d in (dim if isinstance(dim, (list, tuple)) else (dim,))}
    return Tensor(tuple(1 if i in dims else s for i, s in enumerate(input.shape)
                        if keepdim or i not in dims))


def _size(input: Tensor, dim: int | None = None) -> Any:
    if dim is None:
        return tuple(input.shape)
    return input.shape[_dim(dim, len(input.shape), input)]


def _ndim(input: Tensor) -> int:
    return len(input.shape)


def _softmax(input: Tensor, dim: int | None = None, *args: Any, **kwargs: Any) -> Tensor:
    if dim is not None:
        _dim(dim, len(input.shape), input)
    return Tensor(input.shape)


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
    return Counted(Tensor(out), macs)


def _bmm(input: Tensor, mat2: Tensor) -> Counted:
    a, b = input.shape, mat2.shape
    if len(a) != 3 or len(b) != 3 or a[0] != b[0] or a[2] != b[1]:
        raise OpError(f"bmm of {list(a)} and {list(b)}: expected [b, n, m] and [b, m, p]",
                      input, mat2)
    return Counted(Tensor((a[0], a[1], b[2])), a[0] * a[1] * a[2] * b[2])


def _linear(input: Tensor, weight: Tensor, bias: Any = None) -> Counted:
    if len(weight.shape) != 2 or input.shape[-1:] != weight.shape[1:]:
        raise OpError(f"linear of {list(input.shape)} with weight {list(weight.shape)}: "
                      "in_features differ", input, weight)
    out = (*input.shape[:-1], weight.shape[0])
    return Counted(Tensor(out), math.prod(out) * weight.shape[1])


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
    out = tuple(sizes[letter] for letter in output)
    if len(terms) == 1:
        return Counted(Tensor(out), 0)
    # torch sums away indices found in one operand only, then runs one bmm over the rest
    kept = {c for c in sizes if (c in terms[0] and c in terms[1]) or c in output}
    return Counted(Tensor(out), math.prod(sizes[c] for c in kept))


def _sdpa(query: Tensor, key: Tensor, value: Tensor, attn_mask: Any = None,
          dropout_p: float = 0.0, is_causal: bool = False, scale: Any = None,
          enable_gqa: bool = False) -> Counted:
    q, k, v = query.shape, key.shape, value.shape
    if q[-1] != k[-1] or k[-2] != v[-2]:
        raise OpError(f"attention of query {list(q)}, key {list(k)}, value {list(v)}: "
                      "sizes differ", query, key, value)
    out = (*q[:-1], v[-1])
    batch = math.prod(q[:-2])
    return Counted(Tensor(out), batch * q[-2] * k[-2] * (q[-1] + v[-1]))


# --- functional layers -----------------------------------------------------------------------


def _adaptive(n: int) -> Callable[..., Tensor]:
    def rule(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
        if len(input.shape) not in (n + 1, n + 2):
            raise OpError(f"adaptive pool{n}d takes a {n + 1}-d or {n + 2}-d input, got "
                          f"{list(input.shape)}", input)
        sizes = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * n
        spatial = tuple(s if s is not None else input.shape[-n + i] for i, s in enumerate(sizes))
        out = Tensor((*input.shape[:-n], *spatial))
        return (out, Tensor(out.shape)) if return_indices else out
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
        out = Tensor(layer_def.shape(layer_def.bind_defaults(given), [input.shape]))
        if any(s <= 0 for s in out.shape):
            raise OpError(f"pooling {list(input.shape)} collapses to {list(out.shape)}",
                          input, code="spatial-collapse")
        return (out, Tensor(out.shape)) if given.get("return_indices") else out
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
    return Tensor((*input.shape[:2], *spatial))


def _layer_norm(input: Tensor, normalized_shape: Any, weight: Any = None, bias: Any = None,
                eps: float = 1e-5) -> Tensor:
    norm = tuple(normalized_shape) if isinstance(normalized_shape, (list, tuple)) else (
        normalized_shape,)
    if input.shape[len(input.shape) - len(norm):] != norm:
        raise OpError(f"layer_norm over {list(norm)} does not match the last dims of "
                      f"{list(input.shape)}", input)
    return Tensor(input.shape)


def _pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: Any = None) -> Tensor:
    if len(pad) % 2 or len(pad) // 2 > len(input.shape):
        raise OpError(f"pad {list(pad)} does not fit {list(input.shape)}", input,
                      code="bad-op-argument")
    out = list(input.shape)
    for i in range(len(pad) // 2):
        out[-1 - i] += pad[2 * i] + pad[2 * i + 1]
    return Tensor(tuple(out))


# --- the tables ------------------------------------------------------------------------------

_ACTIVATIONS = ("relu", "sigmoid", "tanh", "sqrt", "exp")

TORCH_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **dict.fromkeys(_ACTIVATIONS, _same),
    "add": _binary, "sub": _binary, "mul": _binary,
    "cat": _cat, "stack": _stack, "chunk": _chunk, "split": _split, "narrow": _narrow,
    "flatten": _flatten, "reshape": _reshape, "permute": _permute, "transpose": _transpose,
    "squeeze": _squeeze, "unsqueeze": _unsqueeze,
    "mean": _reduce, "sum": _reduce, "softmax": _softmax,
    "matmul": _matmul, "bmm": _bmm, "einsum": _einsum,
    "where": _where, "zeros_like": _same, "ones_like": _same,
}

F_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **dict.fromkeys(("relu", "relu6", "sigmoid", "tanh", "silu", "gelu", "elu", "leaky_relu",
                     "hardsigmoid", "hardswish", "dropout", "normalize"), _same),
    "softmax": _softmax, "log_softmax": _softmax,
    **{f"adaptive_{kind}_pool{n}d": _adaptive(n) for kind in ("avg", "max") for n in (1, 2, 3)},
    **{f"{kind}_pool{n}d": _pool(f"{kind.title()}Pool{n}d") for kind in ("avg", "max")
       for n in (1, 2, 3)},
    "interpolate": _interpolate, "layer_norm": _layer_norm, "pad": _pad, "linear": _linear,
    "scaled_dot_product_attention": _sdpa,
}

METHODS: dict[str, Callable[..., Any]] = {
    **dict.fromkeys((*_ACTIVATIONS[:3], "contiguous", "float", "type_as"), _same),
    "add": _binary, "sub": _binary, "mul": _binary,
    "chunk": _chunk, "split": _split, "unbind": _unbind, "narrow": _narrow,
    "flatten": _flatten, "reshape": _reshape, "view": _reshape, "permute": _permute,
    "transpose": _transpose, "squeeze": _squeeze, "unsqueeze": _unsqueeze, "expand": _expand,
    "repeat": _repeat, "mean": _reduce, "sum": _reduce, "softmax": _softmax,
    "matmul": _matmul, "size": _size, "dim": _ndim,
}

ATTRIBUTES: dict[str, Callable[[Tensor], Any]] = {
    "shape": lambda t: tuple(t.shape),
    "T": lambda t: Tensor(tuple(reversed(t.shape))),
    "ndim": _ndim,
}

NAMESPACES = {"torch": TORCH_FUNCTIONS, "F": F_FUNCTIONS}


def all_names() -> list[str]:
    """Every spelling a user may write, for did-you-mean hints."""
    return sorted({f"{ns}.{fn}" for ns, fns in NAMESPACES.items() for fn in fns} | set(METHODS))
