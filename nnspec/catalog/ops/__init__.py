"""The functional ops a forward step may use, by namespace, each with its static shape rule.

A forward step is a Python statement over named values. Besides calling children, it may call
only what is listed here: `torch.<fn>`, `F.<fn>` (torch.nn.functional) and tensor methods. Each
op is declared once, as its name and a rule that computes the output from input shapes, with
torch's own argument names so Python binds a call's arguments exactly as torch would. Rules
see `Tensor`s (shapes, batch included, and dtypes) and plain Python values; they raise `OpError`
where torch would raise. Dtypes follow torch's type promotion (`result_type`), reduced to the
real dtypes a spec can declare. Pure Python: no torch import.

This module is the package's public face: the tables and the operator rules the static pass
calls directly. The values the rules see live in `nnspec.catalog.values`.
"""

from __future__ import annotations

from nnspec.catalog.ops.compute import layer_output_dtype
from nnspec.catalog.ops.tables import (
    ATTRIBUTES,
    F_FUNCTIONS,
    METHODS,
    NAMESPACES,
    TORCH_FUNCTIONS,
    all_names,
)
from nnspec.catalog.ops.tensors import (
    bitwise,
    broadcast,
    compare,
    elementwise,
    true_divide,
    unary_operator,
)

__all__ = [
    "ATTRIBUTES", "F_FUNCTIONS", "METHODS", "NAMESPACES", "TORCH_FUNCTIONS", "all_names",
    "bitwise", "broadcast", "compare", "elementwise", "layer_output_dtype", "true_divide",
    "unary_operator",
]
