"""The other pools: power-average (LPPool), fractional max pooling, and max unpooling."""

from __future__ import annotations

from typing import Any

from nnspec.catalog.layers.common import (
    Family,
    Problems,
    expect_rank,
    no_macs,
    no_params,
    numbers,
    positive,
    tensor_shape,
    with_sizes,
)
from nnspec.catalog.layers.pooling import pool_shape
from nnspec.catalog.types import Arg, Args, LayerDef, Shape, SpatialCollapse, as_tuple

FAMILY = Family()
register = FAMILY.add


def _lp_shape(n: int):
    """An average pool without padding or dilation, as torch computes it."""
    rule = pool_shape(n, dilation=False, kernel_fits_input=n == 3)

    def shape(args: Args, inputs: list[Shape]) -> Shape:
        return rule({**args, "padding": 0}, inputs)
    return shape


def _lp_checks(args: Args) -> Problems:
    yield from positive(args, "kernel_size", "stride")
    if args.get("norm_type") == 0:
        yield "norm_type", "norm_type must not be 0 (the pool takes the 1/norm_type power)"


for _n in (1, 2, 3):
    register(LayerDef(
        f"LPPool{_n}d",
        (
            Arg("norm_type", "float"),
            # LPPool1d multiplies by kernel_size itself: torch fails on a tuple there
            Arg("kernel_size", "int" if _n == 1 else f"int{_n}"),
            Arg("stride", f"int{_n}", None, nullable=True),
            Arg("ceil_mode", "bool", False),
        ),
        checks=_lp_checks,
        shape=_lp_shape(_n),
        params=no_params,
        macs=no_macs,
    ))


# --- fractional max pooling ------------------------------------------------------------------


def _fractional_checks(args: Args) -> Problems:
    size, ratio = args.get("output_size"), args.get("output_ratio")
    if (size is None) == (ratio is None):
        yield "output_size", "give exactly one of output_size and output_ratio"
    yield from positive(args, "kernel_size", "output_size")
    if any(not 0 < r < 1 for r in numbers(ratio)):
        yield "output_ratio", f"output_ratio must be between 0 and 1, got {ratio!r}"


def _fractional_shape(n: int):
    """Each output size is given, or the input's size times the ratio, truncated; the windows
    (one kernel each) must fit in the input, with room to spare in 3-d (torch's own checks)."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        expect_rank(x, n + 1, n + 2)
        kernel = as_tuple(args["kernel_size"], n)
        if args["output_size"] is not None:
            sizes = as_tuple(args["output_size"], n)
        else:
            ratio = as_tuple(args["output_ratio"], n)
            sizes = tuple(int(s * r) for s, r in zip(x[-n:], ratio))
        spare = n == 3
        if any(o + k - 1 + spare > s for o, k, s in zip(sizes, kernel, x[-n:])):
            raise SpatialCollapse(f"output size {list(sizes)} with kernel_size "
                                  f"{args['kernel_size']!r} is too large for input {list(x)}")
        return with_sizes(x[:-n], sizes, x)
    return rule


for _n in (2, 3):
    register(LayerDef(
        f"FractionalMaxPool{_n}d",
        (
            Arg("kernel_size", f"int{_n}"),
            Arg("output_size", f"int{_n}", None, nullable=True),
            Arg("output_ratio", "float_or_floats", None, nullable=True),
            Arg("return_indices", "bool", False),
        ),
        checks=_fractional_checks,
        shape=_fractional_shape(_n),
        params=no_params,
        macs=no_macs,
    ))


# --- max unpooling ---------------------------------------------------------------------------


def _unpool_forward(n: int):
    """`unpool(input, indices, output_size=None)`: by default each size is
    (size - 1) * stride - 2 * padding + kernel_size; a given output_size (the spatial sizes, or
    the whole shape) must lie strictly within one stride of that."""
    def rule(args: Args, input: Any, indices: Any, output_size: Any = None) -> tuple[Any, int]:
        x = tensor_shape(input, "input")
        expect_rank(x, n + 1, n + 2)
        if tensor_shape(indices, "indices") != x:
            raise ValueError(f"indices {list(indices.shape)} must have the input's shape "
                             f"{list(x)}")
        if indices.dtype != "int64":
            raise ValueError(f"indices must be int64, as max pooling's return_indices gives "
                             f"them, got {indices.dtype}")
        k, p = as_tuple(args["kernel_size"], n), as_tuple(args["padding"], n)
        s = as_tuple(args["stride"] if args["stride"] is not None else args["kernel_size"], n)
        default = [(x[-n + i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(n)]
        if output_size is None:
            return with_sizes(x[:-n], default, x), 0
        sizes = list(output_size)
        if len(sizes) == n + 2:
            sizes = sizes[2:]
        if len(sizes) != n:
            raise ValueError(f"output_size {list(output_size)} should have {n} or {n + 2} "
                             "items")
        for i, size in enumerate(sizes):
            if not default[i] - s[i] < size < default[i] + s[i]:
                raise ValueError(f"output_size {list(output_size)}: item {i} must lie between "
                                 f"{default[i] - s[i]} and {default[i] + s[i]}")
        return with_sizes(x[:-n], sizes, x), 0
    return rule


for _n in (1, 2, 3):
    register(LayerDef(
        f"MaxUnpool{_n}d",
        (
            Arg("kernel_size", f"int{_n}"),
            Arg("stride", f"int{_n}", None, nullable=True),
            Arg("padding", f"int{_n}", 0),
        ),
        # negative padding is allowed: torch makes the output larger
        checks=lambda a: positive(a, "kernel_size", "stride"),
        params=no_params,
        forward=_unpool_forward(_n),
        ranks=(_n + 1, _n + 2),
    ))
