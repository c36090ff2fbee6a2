"""The tables of ops a forward step may call, by namespace (`torch.`, `F.`, tensor methods and
attributes), and every spelling for did-you-mean hints.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from nnspec.catalog.ops.compute import (
    adaptive_rule,
    arange_rule,
    bmm_rule,
    cast_rule,
    einsum_rule,
    filled_like_rule,
    filled_rule,
    full_like_rule,
    interpolate_rule,
    layer_norm_rule,
    linear_rule,
    matmul_rule,
    new_filled_rule,
    pad_rule,
    pool_rule,
    sdpa_rule,
    to_rule,
    type_as_rule,
)
from nnspec.catalog.ops.tensors import (
    binary_rule,
    cat_rule,
    chunk_rule,
    cumsum_rule,
    diff_rule,
    div_rule,
    expand_rule,
    flatten_rule,
    gather_rule,
    masked_fill_rule,
    mean_rule,
    meshgrid_rule,
    narrow_rule,
    ndim_rule,
    permute_rule,
    repeat_rule,
    reshape_rule,
    roll_rule,
    same_rule,
    shaped_as,
    size_rule,
    softmax_rule,
    split_rule,
    squeeze_rule,
    stack_rule,
    sum_rule,
    swapaxes_rule,
    swapdims_rule,
    transpose_rule,
    triangle_rule,
    unary_rule,
    unbind_rule,
    unsqueeze_rule,
    where_rule,
)
from nnspec.catalog.values import DEVICE, DType, OpError, Tensor, like

# --- the tables ------------------------------------------------------------------------------

_FLOAT_ONLY = ("silu", "gelu", "elu", "leaky_relu", "hardsigmoid", "hardswish", "normalize")


def _unaries(accepts: str, *names: str) -> dict[str, Callable[..., Tensor]]:
    return {name: unary_rule(name, accepts) for name in names}


_MATH = {**_unaries("number", "relu", "abs"),
         **_unaries("promote", "sigmoid", "tanh", "sqrt", "exp", "log"),
         **_unaries("promote", "rsqrt", "cos", "sin")}
_CASTS = {"float": cast_rule("float32"), "double": cast_rule("float64"),
          "half": cast_rule("float16"), "long": cast_rule("int64"), "int": cast_rule("int32"),
          "bool": cast_rule("bool")}

TORCH_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **_MATH,
    "add": binary_rule, "sub": binary_rule, "mul": binary_rule,
    "cat": cat_rule, "stack": stack_rule, "chunk": chunk_rule, "split": split_rule,
    "narrow": narrow_rule, "flatten": flatten_rule, "reshape": reshape_rule,
    "permute": permute_rule, "transpose": transpose_rule, "squeeze": squeeze_rule,
    "roll": roll_rule, "swapaxes": swapaxes_rule, "swapdims": swapdims_rule,
    "gather": gather_rule,
    "unsqueeze": unsqueeze_rule,
    "mean": mean_rule, "sum": sum_rule, "softmax": softmax_rule,
    "matmul": matmul_rule, "bmm": bmm_rule, "einsum": einsum_rule,
    "where": where_rule, "zeros_like": filled_like_rule, "ones_like": filled_like_rule,
    "masked_fill": masked_fill_rule, "tril": triangle_rule, "triu": triangle_rule,
    "arange": arange_rule, "zeros": filled_rule("zeros"), "ones": filled_rule("ones"),
    "meshgrid": meshgrid_rule, "pow": binary_rule, "div": div_rule, "cumsum": cumsum_rule,
    "diff": diff_rule, "minimum": binary_rule, "maximum": binary_rule,
    "full_like": full_like_rule,
}

F_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **_unaries("number", "relu", "relu6"), **_unaries("promote", "sigmoid", "tanh"),
    **_unaries("float", *_FLOAT_ONLY), **_unaries("any", "dropout"),
    "softmax": softmax_rule, "log_softmax": softmax_rule,
    **{f"adaptive_{pool}_pool{n}d": adaptive_rule(n) for pool in ("avg", "max")
       for n in (1, 2, 3)},
    **{f"{pool}_pool{n}d": pool_rule(f"{pool.title()}Pool{n}d") for pool in ("avg", "max")
       for n in (1, 2, 3)},
    "interpolate": interpolate_rule, "layer_norm": layer_norm_rule, "pad": pad_rule,
    "linear": linear_rule,
    "scaled_dot_product_attention": sdpa_rule,
}

METHODS: dict[str, Callable[..., Any]] = {
    **{name: _MATH[name] for name in ("relu", "sigmoid", "tanh")}, **_CASTS,
    "contiguous": same_rule, "type_as": type_as_rule, "to": to_rule,
    "masked_fill": masked_fill_rule, "tril": triangle_rule, "triu": triangle_rule,
    "add": binary_rule, "sub": binary_rule, "mul": binary_rule,
    "chunk": chunk_rule, "split": split_rule, "unbind": unbind_rule, "narrow": narrow_rule,
    "flatten": flatten_rule, "reshape": reshape_rule, "view": reshape_rule, "permute": permute_rule,
    "transpose": transpose_rule, "squeeze": squeeze_rule, "unsqueeze": unsqueeze_rule,
    "expand": expand_rule, "roll": roll_rule, "swapaxes": swapaxes_rule,
    **{f"{name}_as": shaped_as(rule, f"{name}_as") for name, rule in (
        ("reshape", reshape_rule), ("view", reshape_rule), ("expand", expand_rule))},
    "swapdims": swapdims_rule, "gather": gather_rule,
    "repeat": repeat_rule, "mean": mean_rule, "sum": sum_rule, "softmax": softmax_rule,
    "matmul": matmul_rule, "size": size_rule, "dim": ndim_rule,
    **{name: _MATH[name] for name in ("rsqrt", "cos", "sin", "abs", "log")},
    "pow": binary_rule, "minimum": binary_rule, "maximum": binary_rule,
    "div": div_rule, "cumsum": cumsum_rule, "diff": diff_rule,
    "new_ones": new_filled_rule("new_ones"), "new_zeros": new_filled_rule("new_zeros"),
}

ATTRIBUTES: dict[str, Callable[[Tensor], Any]] = {
    "shape": lambda t: tuple(t.shape),
    "T": lambda t: like(t, tuple(reversed(t.shape))),
    "ndim": ndim_rule,
    "dtype": lambda t: DType(t.dtype),
    "device": lambda t: DEVICE,
}



def _scalar(name: str) -> Callable[..., Any]:
    """`math.<name>` on a plain number (sizes: `math.ceil(H / patch)`); a tensor is refused,
    as its value is not known statically."""
    fn = getattr(math, name)

    def rule(x: Any) -> Any:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise OpError(f"math.{name}() takes a number, got {type(x).__name__}",
                          code="type-error")
        return fn(x)
    return rule


# `math.<fn>` on numbers, as Python code computes sizes and scales
MATH_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: _scalar(name) for name in ("ceil", "floor", "sqrt", "log", "exp")}

NAMESPACES = {"torch": TORCH_FUNCTIONS, "F": F_FUNCTIONS, "math": MATH_FUNCTIONS}


def all_names() -> list[str]:
    """Every spelling a user may write, for did-you-mean hints."""
    return sorted({f"{ns}.{fn}" for ns, fns in NAMESPACES.items() for fn in fns} | set(METHODS))
