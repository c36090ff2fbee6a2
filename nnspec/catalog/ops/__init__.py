"""The functional ops a forward step may use, by namespace, each with its static shape rule.

A forward step is a Python statement over named values. Besides calling children, it may call
only what is listed here: `torch.<fn>`, `F.<fn>` (torch.nn.functional) and tensor methods. Each
op is declared once, as its name and a rule that computes the output from input shapes, with
torch's own argument names so Python binds a call's arguments exactly as torch would. Rules
see `Tensor`s (shapes, batch included, and dtypes) and plain Python values; they raise `OpError`
where torch would raise. Dtypes follow torch's type promotion (`result_type`), reduced to the
real dtypes a spec can declare. Pure Python: no torch import.

This module is the package's public face: the tables, the operator rules the static pass calls
directly, and the value domain (`nnspec.catalog.values`) that the rules see, re-exported.
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
from nnspec.catalog.ops.tensors import broadcast, compare, elementwise, true_divide
from nnspec.catalog.values import (
    DEFAULT_FLOAT,
    DEVICE,
    DTYPES,
    FLOATING,
    INTEGRAL,
    Counted,
    Device,
    DType,
    OpError,
    Tensor,
    is_floating,
    like,
    promote_types,
    require_floating,
    result_type,
)

__all__ = [
    "ATTRIBUTES", "DEFAULT_FLOAT", "DEVICE", "DTYPES", "FLOATING", "F_FUNCTIONS", "INTEGRAL",
    "METHODS", "NAMESPACES", "TORCH_FUNCTIONS", "Counted", "DType", "Device", "OpError", "Tensor",
    "all_names", "broadcast", "compare", "elementwise", "is_floating", "layer_output_dtype",
    "like", "promote_types", "require_floating", "result_type", "true_divide",
]
