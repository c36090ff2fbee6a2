"""The functional ops a forward step may use, by namespace. Pure data: no torch import.

A forward step is a Python statement over named values. Besides calling children, it may call
only what is listed here: `torch.<fn>`, `F.<fn>` (torch.nn.functional) and tensor methods.
"""

from __future__ import annotations

TORCH_FUNCTIONS = frozenset({
    "add", "cat", "chunk", "flatten", "matmul", "mean", "mul", "permute", "relu", "reshape",
    "sigmoid", "softmax", "split", "squeeze", "stack", "sub", "sum", "tanh", "transpose",
    "unsqueeze", "narrow", "where", "zeros_like", "ones_like", "sqrt", "exp", "bmm", "einsum",
})

F_FUNCTIONS = frozenset({
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d",
    "dropout", "elu", "gelu", "hardsigmoid", "hardswish", "interpolate", "layer_norm",
    "leaky_relu", "log_softmax", "max_pool2d", "normalize", "pad", "relu", "relu6",
    "scaled_dot_product_attention", "sigmoid", "silu", "softmax", "tanh", "linear",
})

METHODS = frozenset({
    "add", "chunk", "contiguous", "dim", "expand", "flatten", "float", "matmul", "mean", "mul",
    "permute", "relu", "repeat", "reshape", "sigmoid", "size", "softmax", "split", "squeeze",
    "sum", "transpose", "unbind", "unsqueeze", "view", "narrow", "sub", "tanh", "type_as",
})

ATTRIBUTES = frozenset({"shape", "T", "ndim"})

NAMESPACES = {"torch": TORCH_FUNCTIONS, "F": F_FUNCTIONS}


def all_names() -> list[str]:
    """Every spelling a user may write, for did-you-mean hints."""
    return sorted({f"{ns}.{fn}" for ns, fns in NAMESPACES.items() for fn in fns} | METHODS)
