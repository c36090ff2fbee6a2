"""The pools: max, average and adaptive, in one to three dimensions."""

from __future__ import annotations

from nnspec.catalog.layers.common import (
    Family,
    Problems,
    expect_rank,
    no_macs,
    no_params,
    non_negative,
    per_dim,
    positive,
    with_sizes,
)
from nnspec.catalog.types import Arg, Args, LayerDef, Shape, SpatialCollapse, as_tuple

FAMILY = Family()
register = FAMILY.add

# --- pooling ---------------------------------------------------------------------------------


def pool_shape(n: int, dilation: bool, kernel_fits_input: bool = False):
    """kernel_fits_input: torch's avg_pool3d wants each input size, padding aside, to hold the
    kernel, where the other pools only need the padded input to."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        expect_rank(x, n + 1, n + 2)
        k = as_tuple(args["kernel_size"], n)
        if kernel_fits_input and any(size < ki for size, ki in zip(x[-n:], k)):
            raise SpatialCollapse(f"input {list(x)} is smaller than kernel_size "
                                  f"{args['kernel_size']!r}")
        s = as_tuple(args["stride"] if args["stride"] is not None else args["kernel_size"], n)
        p = as_tuple(args["padding"], n)
        d = as_tuple(args["dilation"], n) if dilation else (1,) * n
        out = []
        for i in range(n):
            size = x[-n + i]
            num = size + 2 * p[i] - d[i] * (k[i] - 1) - 1
            o = (-(-num // s[i]) if args["ceil_mode"] else num // s[i]) + 1
            # torch drops a last window that would start inside the right padding
            if args["ceil_mode"] and (o - 1) * s[i] >= size + p[i]:
                o -= 1
            out.append(o)
        return with_sizes(x[:-n], out, x)
    return rule


def _pool_checks(args: Args) -> Problems:
    yield from positive(args, "kernel_size", "stride", "dilation")
    yield from non_negative(args, "padding")
    if any(p > k // 2 for k, p in per_dim(args, "kernel_size", "padding")):
        yield "padding", (f"padding={args['padding']!r} must be at most half of "
                          f"kernel_size={args['kernel_size']!r}")
    if args.get("divisor_override") == 0:
        yield "divisor_override", "divisor_override must not be 0"


def _maxpool(n: int) -> LayerDef:
    ints = f"int{n}"
    return register(LayerDef(
        f"MaxPool{n}d",
        (
            Arg("kernel_size", ints),
            Arg("stride", ints, None, nullable=True),
            Arg("padding", ints, 0),
            Arg("dilation", ints, 1),
            Arg("return_indices", "bool", False),
            Arg("ceil_mode", "bool", False),
        ),
        checks=_pool_checks,
        shape=pool_shape(n, dilation=True),
        params=no_params,
        macs=no_macs,
        input_dtype="number",
    ))


def _avgpool(n: int) -> LayerDef:
    ints = f"int{n}"
    extra = (Arg("divisor_override", "int", None, nullable=True),) if n > 1 else ()
    return register(LayerDef(
        f"AvgPool{n}d",
        (
            Arg("kernel_size", ints),
            Arg("stride", ints, None, nullable=True),
            Arg("padding", ints, 0),
            Arg("ceil_mode", "bool", False),
            Arg("count_include_pad", "bool", True),
            *extra,
        ),
        checks=_pool_checks,
        shape=pool_shape(n, dilation=False, kernel_fits_input=n == 3),
        params=no_params,
        macs=no_macs,
        input_dtype="number",
    ))


def _adaptive_shape(n: int):
    """output_size per spatial dim; None keeps that dim's input size."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        expect_rank(x, n + 1, n + 2)
        sizes = as_tuple(args["output_size"], n)
        return (*x[:-n], *(s if o is None else o for o, s in zip(sizes, x[-n:])))
    return rule


def _adaptive(pool: str, n: int) -> LayerDef:
    extra = (Arg("return_indices", "bool", False),) if pool == "Max" else ()
    return register(LayerDef(
        f"Adaptive{pool}Pool{n}d",
        (Arg("output_size", "int1" if n == 1 else f"opt_int{n}"), *extra),
        checks=lambda a: positive(a, "output_size"),
        shape=_adaptive_shape(n),
        params=no_params,
        macs=no_macs,
    ))


for _n in (1, 2, 3):
    _maxpool(_n)
    _avgpool(_n)
    _adaptive("Avg", _n)
    _adaptive("Max", _n)

# by name, for the functional pools (F.max_pool2d, ...) that reuse their rules
POOLS: dict[str, LayerDef] = {layer.name: layer for layer in FAMILY}
