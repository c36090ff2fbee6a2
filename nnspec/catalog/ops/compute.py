"""The ops that compute new values: products, attention, the functional layers (pools,
interpolation, norms, padding) and dtype conversions and new tensors, as static rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from nnspec.catalog.layers.pooling import POOLS
from nnspec.catalog.ops.tensors import broadcast, dim_args, tensors_in
from nnspec.catalog.values import (
    DEFAULT_FLOAT,
    INTEGRAL,
    Counted,
    Device,
    DType,
    OpError,
    Shape,
    Tensor,
    dtype_arg,
    is_floating,
    require_floating,
    same_dtypes,
)

# --- products --------------------------------------------------------------------------------


def matmul_rule(input: Tensor, other: Tensor) -> Counted:
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
    return Counted(Tensor(out, dtype=same_dtypes("matmul", input, other)), macs)


def bmm_rule(input: Tensor, mat2: Tensor) -> Counted:
    a, b = input.shape, mat2.shape
    if len(a) != 3 or len(b) != 3 or a[0] != b[0] or a[2] != b[1]:
        raise OpError(f"bmm of {list(a)} and {list(b)}: expected [b, n, m] and [b, m, p]",
                      input, mat2)
    return Counted(Tensor((a[0], a[1], b[2]), dtype=same_dtypes("bmm", input, mat2)),
                   a[0] * a[1] * a[2] * b[2])


def linear_rule(input: Tensor, weight: Tensor, bias: Any = None) -> Counted:
    if len(weight.shape) != 2 or input.shape[-1:] != weight.shape[1:]:
        raise OpError(f"linear of {list(input.shape)} with weight {list(weight.shape)}: "
                      "in_features differ", input, weight)
    out = (*input.shape[:-1], weight.shape[0])
    dtype = same_dtypes("linear", input, weight, *tensors_in(bias))
    return Counted(Tensor(out, dtype=dtype), math.prod(out) * weight.shape[1])


def einsum_rule(equation: str, *operands: Any) -> Counted:
    operands = dim_args(operands)
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
                 dtype=same_dtypes("einsum", *operands))
    if len(terms) == 1:
        return Counted(out, 0)
    # torch sums away indices found in one operand only, then runs one bmm over the rest
    kept = {c for c in sizes if (c in terms[0] and c in terms[1]) or c in output}
    return Counted(out, math.prod(sizes[c] for c in kept))


def sdpa_rule(query: Tensor, key: Tensor, value: Tensor, attn_mask: Any = None,
          dropout_p: float = 0.0, is_causal: bool = False, scale: Any = None,
          enable_gqa: bool = False) -> Counted:
    q, k, v = query.shape, key.shape, value.shape
    if q[-1] != k[-1] or k[-2] != v[-2]:
        raise OpError(f"attention of query {list(q)}, key {list(k)}, value {list(v)}: "
                      "sizes differ", query, key, value)
    dtype = same_dtypes("scaled_dot_product_attention", query, key, value)
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


def adaptive_rule(n: int) -> Callable[..., Tensor]:
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


def pool_rule(layer: str) -> Callable[..., Any]:
    """F.max_pool2d / F.avg_pool2d: the catalog layer's own shape rule."""
    layer_def = POOLS[layer]
    names = list(_MAX_POOL_ORDER if layer.startswith("Max") else layer_def.arg_names)

    def rule(input: Tensor, kernel_size: Any, *args: Any, **kwargs: Any) -> Any:
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


def interpolate_rule(input: Tensor, size: Any = None, scale_factor: Any = None,
                     mode: str = "nearest", align_corners: Any = None,
                     recompute_scale_factor: Any = None, antialias: bool = False) -> Tensor:
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


def layer_norm_rule(input: Tensor, normalized_shape: Any, weight: Any = None, bias: Any = None,
                eps: float = 1e-5) -> Tensor:
    norm = tuple(normalized_shape) if isinstance(normalized_shape, (list, tuple)) else (
        normalized_shape,)
    if input.shape[len(input.shape) - len(norm):] != norm:
        raise OpError(f"layer_norm over {list(norm)} does not match the last dims of "
                      f"{list(input.shape)}", input)
    require_floating(input, "layer_norm()")
    return Tensor(input.shape, dtype=input.dtype)


def pad_rule(input: Tensor, pad: Sequence[int], mode: str = "constant", value: Any = None
             ) -> Tensor:
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


def cast_rule(dtype: str) -> Callable[..., Tensor]:
    def rule(input: Tensor, memory_format: Any = None) -> Tensor:
        return _converted(input, dtype)
    return rule


def type_as_rule(input: Tensor, other: Tensor) -> Tensor:
    if not isinstance(other, Tensor):
        raise OpError("type_as() takes a tensor", code="bad-op-argument")
    return _converted(input, other.dtype)


def to_rule(input: Tensor, *args: Any, dtype: Any = None, device: Any = None,
        non_blocking: bool = False, copy: bool = False, memory_format: Any = None) -> Tensor:
    """`.to(dtype)`, `.to(device[, dtype])`, `.to(other)`, and the keyword forms."""
    target = dtype_arg(dtype, "to")
    for arg in args:
        if isinstance(arg, DType):
            target = arg.name
        elif isinstance(arg, Tensor):
            target = arg.dtype
        elif not isinstance(arg, (Device, str, bool)):
            raise OpError(f"to() cannot take {arg!r}", code="bad-op-argument")
    return _converted(input, target or input.dtype)


def _sizes(size: Any, op: str) -> Shape:
    size = dim_args(size)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in size):
        raise OpError(f"{op}() takes sizes as non-negative ints, got {list(size)}",
                      code="bad-op-argument")
    return tuple(size)


def filled_rule(op: str) -> Callable[..., Tensor]:
    """torch.zeros / torch.ones: float32 unless dtype= says otherwise."""
    def rule(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
             ) -> Tensor:
        return Tensor(_sizes(size, op), dtype=dtype_arg(dtype, op) or DEFAULT_FLOAT)
    return rule


def new_filled_rule(op: str) -> Callable[..., Tensor]:
    """`x.new_ones(size)` / `x.new_zeros(size)`: the size given (as ints or one sequence), the
    input's dtype unless dtype= says otherwise."""
    def rule(input: Tensor, *size: Any, dtype: Any = None, device: Any = None,
             requires_grad: bool = False, layout: Any = None, pin_memory: bool = False
             ) -> Tensor:
        if not size:
            raise OpError(f"{op}() takes a size", input, code="bad-op-argument")
        return Tensor(_sizes(size, op), dtype=dtype_arg(dtype, op) or input.dtype)
    return rule


def filled_like_rule(input: Tensor, *, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    return Tensor(input.shape, dtype=dtype_arg(dtype, "zeros_like") or input.dtype)


def full_like_rule(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
                   requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """`torch.full_like(x, value)`: x's shape, and its dtype unless dtype says."""
    if not isinstance(fill_value, (bool, int, float)):
        raise OpError(f"full_like() fills with a number, got {type(fill_value).__name__}",
                      input, code="bad-op-argument")
    return Tensor(input.shape, dtype=dtype_arg(dtype, "full_like") or input.dtype)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def arange_rule(*args: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
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
    out = dtype_arg(dtype, "arange") or ("int64" if ints else DEFAULT_FLOAT)
    bounds = None
    if ints and out in INTEGRAL and count:
        last = start + (count - 1) * step
        bounds = (min(start, last), max(start, last) + 1)
    return Tensor((count,), dtype=out, bounds=bounds)
