"""The tables of ops a forward step may call, by namespace (`torch.`, `F.`, tensor methods and
attributes), and every spelling for did-you-mean hints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nnspec.catalog.ops.compute import (
    _adaptive,
    _arange,
    _bmm,
    _cast,
    _einsum,
    _filled,
    _filled_like,
    _interpolate,
    _layer_norm,
    _linear,
    _matmul,
    _pad,
    _pool,
    _sdpa,
    _to,
    _type_as,
)
from nnspec.catalog.ops.tensors import (
    _binary,
    _cat,
    _chunk,
    _expand,
    _flatten,
    _masked_fill,
    _mean,
    _narrow,
    _ndim,
    _permute,
    _repeat,
    _reshape,
    _same,
    _size,
    _softmax,
    _split,
    _squeeze,
    _stack,
    _sum,
    _transpose,
    _triangle,
    _unary,
    _unbind,
    _unsqueeze,
    _where,
)
from nnspec.catalog.values import DEVICE, DType, Tensor, like

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
