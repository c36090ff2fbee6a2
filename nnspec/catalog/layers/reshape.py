"""Layers that move values around: flattening, resampling, pixel and channel shuffles, zero
padding, sliding blocks (Fold, Unfold), Identity."""

from __future__ import annotations

import math

from nnspec.catalog.layers.common import (
    Family,
    Problems,
    dim_index,
    expect_min_rank,
    expect_rank,
    no_macs,
    no_params,
    non_negative,
    positive,
    same_shape,
    with_sizes,
)
from nnspec.catalog.types import Arg, Args, LayerDef, Shape, SpatialCollapse, as_tuple

FAMILY = Family()
register = FAMILY.add

# --- reshaping and resampling ----------------------------------------------------------------


def _flatten_shape(args: Args, inputs: list[Shape]) -> Shape:
    x = inputs[0]
    start, end = (dim_index(x, args[d]) for d in ("start_dim", "end_dim"))
    if start > end:
        raise ValueError(f"start_dim={args['start_dim']} comes after end_dim={args['end_dim']}")
    return (*x[:start], math.prod(x[start:end + 1]), *x[end + 1:])


register(LayerDef(
    "Flatten",
    (Arg("start_dim", "int", 1), Arg("end_dim", "int", -1)),
    shape=_flatten_shape,
    params=no_params,
    macs=no_macs,
    input_dtype="any",
))


def _unflatten_checks(args: Args) -> Problems:
    sizes = args.get("unflattened_size")
    if not isinstance(sizes, (list, tuple)):
        return
    if not sizes or any(s == 0 or s < -1 for s in sizes) or list(sizes).count(-1) > 1:
        yield "unflattened_size", ("unflattened_size needs positive sizes, with at most one "
                                   f"-1, got {sizes!r}")


def _unflatten_shape(args: Args, inputs: list[Shape]) -> Shape:
    x, sizes = inputs[0], list(args["unflattened_size"])
    dim = dim_index(x, args["dim"])
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes and x[dim] % known == 0:
        sizes[sizes.index(-1)] = x[dim] // known
    if math.prod(sizes) != x[dim]:
        raise ValueError(f"unflattened_size {args['unflattened_size']!r} does not multiply to "
                         f"{x[dim]}, the size of dim {args['dim']}")
    return (*x[:dim], *sizes, *x[dim + 1:])


register(LayerDef(
    "Unflatten",
    (Arg("dim", "int"), Arg("unflattened_size", "int_list")),
    checks=_unflatten_checks,
    shape=_unflatten_shape,
    params=no_params,
    macs=no_macs,
    input_dtype="any",
))

register(LayerDef("Identity", (), shape=same_shape, params=no_params, macs=no_macs,
                  input_dtype="any"))

# input ranks each interpolation mode accepts
_UPSAMPLE_RANKS = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "area": (3, 4, 5),
                   "linear": (3,), "bilinear": (4,), "bicubic": (4,), "trilinear": (5,)}
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")


def _upsample_checks(args: Args) -> Problems:
    size, scale = args.get("size"), args.get("scale_factor")
    if (size is None) == (scale is None):
        yield "size", "give exactly one of size and scale_factor"
    yield from positive(args, "size", "scale_factor")
    if isinstance(scale, list):
        yield "scale_factor", "scale_factor must be a number or a tuple; torch refuses a list"
    mode = args.get("mode", "nearest")
    if args.get("align_corners") is not None and mode not in _INTERPOLATING:
        yield "align_corners", f"align_corners only applies to modes {', '.join(_INTERPOLATING)}"
    if args.get("recompute_scale_factor") and size is not None:
        yield "recompute_scale_factor", "recompute_scale_factor means nothing with a size"


def _upsample_shape(args: Args, inputs: list[Shape]) -> Shape:
    x = inputs[0]
    expect_rank(x, *_UPSAMPLE_RANKS[args["mode"]])
    n = len(x) - 2
    given = "size" if args["size"] is not None else "scale_factor"
    values = as_tuple(args[given], n)
    if len(values) != n:
        raise ValueError(f"{given} {args[given]!r} does not match the {n} spatial dims of "
                         f"input {list(x)}")
    # the same double-precision product torch truncates
    sizes = values if given == "size" else (
        math.floor(float(s) * f) for s, f in zip(x[2:], values))
    return with_sizes(x[:2], sizes, x)


register(LayerDef(
    "Upsample",
    (
        Arg("size", "ints", None, nullable=True),
        Arg("scale_factor", "float_or_floats", None, nullable=True),
        Arg("mode", "str", "nearest", choices=tuple(_UPSAMPLE_RANKS)),
        Arg("align_corners", "bool", None, nullable=True),
        Arg("recompute_scale_factor", "bool", None, nullable=True),
    ),
    checks=_upsample_checks,
    shape=_upsample_shape,
    params=no_params,
    macs=no_macs,
))


def _pixel_shuffle_shape(args: Args, inputs: list[Shape]) -> Shape:
    x, r = inputs[0], args["upscale_factor"]
    expect_min_rank(x, 4)
    if x[-3] % (r * r):
        raise ValueError(f"input {list(x)} has {x[-3]} channels, not a multiple of "
                         f"upscale_factor**2={r * r}")
    return (*x[:-3], x[-3] // (r * r), x[-2] * r, x[-1] * r)


def _pixel_unshuffle_shape(args: Args, inputs: list[Shape]) -> Shape:
    x, r = inputs[0], args["downscale_factor"]
    expect_min_rank(x, 4)
    if x[-2] % r or x[-1] % r:
        raise ValueError(f"input {list(x)} has height or width not divisible by "
                         f"downscale_factor={r}")
    return (*x[:-3], x[-3] * r * r, x[-2] // r, x[-1] // r)


for _name, _arg, _shape in (("PixelShuffle", "upscale_factor", _pixel_shuffle_shape),
                            ("PixelUnshuffle", "downscale_factor", _pixel_unshuffle_shape)):
    register(LayerDef(_name, (Arg(_arg, "int"),), checks=lambda a, arg=_arg: positive(a, arg),
                      shape=_shape, params=no_params, macs=no_macs, input_dtype="any"))


def zeropad_shape(n: int):
    """padding runs (left, right, top, bottom, front, back): from the last dim backwards.
    Negative padding crops."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        expect_min_rank(x, n + 1)
        pad = as_tuple(args["padding"], 2 * n)
        pairs = [(x[-1 - i], pad[2 * i], pad[2 * i + 1]) for i in range(n)]
        # torch crops (negative padding) before it pads, and cannot crop below nothing
        if any(size + min(a, 0) + min(b, 0) < 0 for size, a, b in pairs):
            raise ValueError(f"padding {args['padding']!r} crops more than input {list(x)} has")
        sizes = [size + a + b for size, a, b in pairs]
        return with_sizes(x[:-n], reversed(sizes), x)
    return rule


for _n in (1, 2, 3):
    register(LayerDef(f"ZeroPad{_n}d", (Arg("padding", f"int{2 * _n}"),),
                      shape=zeropad_shape(_n), params=no_params, macs=no_macs,
                      input_dtype="any"))


# UpsamplingNearest2d and UpsamplingBilinear2d: Upsample with a fixed mode (bilinear with
# align_corners=True), despite the name any rank the mode takes
for _name, _mode in (("UpsamplingNearest2d", "nearest"), ("UpsamplingBilinear2d", "bilinear")):
    register(LayerDef(
        _name,
        (Arg("size", "ints", None, nullable=True),
         Arg("scale_factor", "float_or_floats", None, nullable=True)),
        checks=lambda a, mode=_mode: _upsample_checks({**a, "mode": mode}),
        shape=lambda a, x, mode=_mode: _upsample_shape(
            {**a, "mode": mode, "align_corners": None, "recompute_scale_factor": None}, x),
        params=no_params,
        macs=no_macs,
    ))


def _channel_shuffle_shape(args: Args, inputs: list[Shape]) -> Shape:
    x, groups = inputs[0], args["groups"]
    expect_min_rank(x, 3)
    if x[1] % groups:
        raise ValueError(f"input {list(x)} has {x[1]} channels, not divisible by "
                         f"groups={groups}")
    return x


register(LayerDef("ChannelShuffle", (Arg("groups", "int"),),
                  checks=lambda a: positive(a, "groups"), shape=_channel_shuffle_shape,
                  params=no_params, macs=no_macs, input_dtype="any"))


# --- sliding blocks: Unfold cuts (N, C, H, W) into columns, Fold sums them back --------------


def _fold_checks(args: Args) -> Problems:
    yield from positive(args, "output_size", "kernel_size", "dilation", "stride")
    yield from non_negative(args, "padding")


def _blocks(args: Args, sizes: Shape, x: Shape) -> int:
    """How many sliding blocks fit in `sizes`: torch refuses none along a dim."""
    k, d, p, s = (as_tuple(args[a], 2) for a in ("kernel_size", "dilation", "padding",
                                                  "stride"))
    counts = [(sizes[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    if any(c < 1 for c in counts):
        raise SpatialCollapse(f"{list(sizes)} holds no sliding block of kernel_size "
                              f"{args['kernel_size']!r} (input {list(x)})")
    return math.prod(counts)


def _unfold_shape(args: Args, inputs: list[Shape]) -> Shape:
    x = inputs[0]
    expect_rank(x, 4)
    kernel = math.prod(as_tuple(args["kernel_size"], 2))
    return (x[0], x[1] * kernel, _blocks(args, x[2:], x))


def _fold_shape(args: Args, inputs: list[Shape]) -> Shape:
    x = inputs[0]
    expect_rank(x, 3)
    kernel, sizes = math.prod(as_tuple(args["kernel_size"], 2)), as_tuple(args["output_size"], 2)
    if x[1] % kernel:
        raise ValueError(f"input {list(x)}: dim 1 must be a multiple of the kernel's "
                         f"{kernel} values")
    if x[2] != _blocks(args, sizes, x):
        raise ValueError(f"input {list(x)} should have {_blocks(args, sizes, x)} blocks in "
                         f"dim 2 for output_size {args['output_size']!r}")
    return (x[0], x[1] // kernel, *sizes)


_BLOCK_ARGS = (Arg("dilation", "int2", 1), Arg("padding", "int2", 0), Arg("stride", "int2", 1))
register(LayerDef("Fold", (Arg("output_size", "int2"), Arg("kernel_size", "int2"), *_BLOCK_ARGS),
                  checks=_fold_checks, shape=_fold_shape, params=no_params, macs=no_macs))
register(LayerDef("Unfold", (Arg("kernel_size", "int2"), *_BLOCK_ARGS), checks=_fold_checks,
                  shape=_unfold_shape, params=no_params, macs=no_macs))
