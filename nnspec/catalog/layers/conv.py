"""The convolutions: Conv1d/2d/3d and ConvTranspose1d/2d/3d."""

from __future__ import annotations

import math

from nnspec.catalog.layers.common import (
    Family,
    Problems,
    State,
    bias_state,
    divides,
    expect_rank,
    expect_size,
    non_negative,
    numbers,
    per_dim,
    positive,
    with_sizes,
)
from nnspec.catalog.types import Arg, Args, LayerDef, Shape, as_tuple

FAMILY = Family()
register = FAMILY.add

# --- convolutions ----------------------------------------------------------------------------

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _conv_checks(args: Args) -> Problems:
    yield from positive(args, "in_channels", "out_channels", "kernel_size", "stride",
                         "dilation", "groups")
    yield from non_negative(args, "padding")
    yield from divides(args, "groups", "in_channels", "out_channels")
    if args.get("padding") == "same" and any(s != 1 for s in numbers(args.get("stride"))):
        yield "padding", "padding='same' is not supported for strided convolutions"


def _conv_pads(args: Args, n: int) -> list[tuple[int, int]]:
    """(before, after) padding per spatial dim; 'same' puts the odd one after, as torch does."""
    pad = args["padding"]
    if pad == "same":
        k, d = as_tuple(args["kernel_size"], n), as_tuple(args["dilation"], n)
        totals = [d[i] * (k[i] - 1) for i in range(n)]
        return [(t // 2, t - t // 2) for t in totals]
    return [(p, p) for p in ((0,) * n if pad == "valid" else as_tuple(pad, n))]


def _check_pad_mode(mode: str, pads: list[tuple[int, int]], x: Shape) -> None:
    """reflect padding must stay inside the input, circular may wrap around it at most once."""
    if mode not in ("reflect", "circular"):
        return
    for size, pad in zip(x[2:], pads):
        limit = size - 1 if mode == "reflect" else size
        if max(pad) > limit:
            raise ValueError(f"padding {max(pad)} is too large for padding_mode='{mode}' on "
                             f"input {list(x)}")


def _conv_shape(n: int):
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        expect_rank(x, n + 2)
        expect_size(x, 1, args["in_channels"], "in_channels")
        k, s, d = (as_tuple(args[a], n) for a in ("kernel_size", "stride", "dilation"))
        pads = _conv_pads(args, n)
        _check_pad_mode(args["padding_mode"], pads, x)
        sizes = ((x[2 + i] + sum(pads[i]) - d[i] * (k[i] - 1) - 1) // s[i] + 1
                 for i in range(n))
        return with_sizes((x[0], args["out_channels"]), sizes, x)
    return rule


def _conv_params(n: int):
    def rule(args: Args) -> int:
        k = math.prod(as_tuple(args["kernel_size"], n))
        weight = args["out_channels"] * (args["in_channels"] // args["groups"]) * k
        return weight + (args["out_channels"] if args["bias"] else 0)
    return rule


def _conv_macs(n: int):
    def rule(args: Args, inputs: list[Shape], out: Shape) -> int:
        k = math.prod(as_tuple(args["kernel_size"], n))
        return math.prod(out) * (args["in_channels"] // args["groups"]) * k
    return rule


def _conv_state(n: int, transposed: bool):
    """weight is (out, in/groups, *k), or (in, out/groups, *k) when transposed; then bias."""
    def rule(args: Args) -> State:
        cin, cout, groups = args["in_channels"], args["out_channels"], args["groups"]
        lead = (cin, cout // groups) if transposed else (cout, cin // groups)
        weight = (*lead, *as_tuple(args["kernel_size"], n))
        return {"weight": (weight, True), **bias_state(args["bias"], cout)}
    return rule



def _conv(n: int) -> LayerDef:
    ints, pad = f"int{n}", f"pad{n}"
    return register(LayerDef(
        f"Conv{n}d",
        (
            Arg("in_channels", "int"),
            Arg("out_channels", "int"),
            Arg("kernel_size", ints),
            Arg("stride", ints, 1),
            Arg("padding", pad, 0),
            Arg("dilation", ints, 1),
            Arg("groups", "int", 1),
            Arg("bias", "bool", True),
            Arg("padding_mode", "str", "zeros", choices=_PADDING_MODES),
        ),
        checks=_conv_checks,
        shape=_conv_shape(n),
        params=_conv_params(n),
        macs=_conv_macs(n),
        infer={"in_channels": 1},
        ranks=(n + 1, n + 2),
        out_dims={1: "out_channels"},
        state=_conv_state(n, transposed=False),
    ))


def _conv_transpose_checks(args: Args) -> Problems:
    yield from _conv_checks(args)
    yield from non_negative(args, "output_padding")
    # per dimension, as torch checks it: a bare int counts for every dimension
    dims = per_dim(args, "output_padding", "stride", "dilation")
    if any(op >= s and op >= d for op, s, d in dims):
        yield "output_padding", "output_padding must be smaller than either stride or dilation"
    if args.get("padding_mode", "zeros") != "zeros":
        yield "padding_mode", "transposed convolutions only support padding_mode='zeros'"


def _conv_transpose_shape(n: int):
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        expect_rank(x, n + 2)
        expect_size(x, 1, args["in_channels"], "in_channels")
        k, s, p, op, d = (as_tuple(args[a], n) for a in (
            "kernel_size", "stride", "padding", "output_padding", "dilation"))
        sizes = ((x[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1
                 for i in range(n))
        return with_sizes((x[0], args["out_channels"]), sizes, x)
    return rule


def _conv_transpose_macs(n: int):
    """torch counts a transposed convolution over the input positions, not the output's."""
    def rule(args: Args, inputs: list[Shape], out: Shape) -> int:
        k = math.prod(as_tuple(args["kernel_size"], n))
        return math.prod(inputs[0]) * (args["out_channels"] // args["groups"]) * k
    return rule


def _conv_transpose(n: int) -> LayerDef:
    ints = f"int{n}"
    return register(LayerDef(
        f"ConvTranspose{n}d",
        (
            Arg("in_channels", "int"),
            Arg("out_channels", "int"),
            Arg("kernel_size", ints),
            Arg("stride", ints, 1),
            Arg("padding", ints, 0),
            Arg("output_padding", ints, 0),
            Arg("groups", "int", 1),
            Arg("bias", "bool", True),
            Arg("dilation", ints, 1),
            Arg("padding_mode", "str", "zeros", choices=_PADDING_MODES),
        ),
        checks=_conv_transpose_checks,
        shape=_conv_transpose_shape(n),
        params=_conv_params(n),
        macs=_conv_transpose_macs(n),
        infer={"in_channels": 1},
        out_dims={1: "out_channels"},
        state=_conv_state(n, transposed=True),
    ))


for _n in (1, 2, 3):
    _conv(_n)
    _conv_transpose(_n)
