"""Every supported torch layer, declared once. Argument order and defaults are torch's own."""

from __future__ import annotations

import math
from collections.abc import Iterable

from nnspec.catalog.types import Arg, Args, LayerDef, Shape, as_tuple

LAYERS: dict[str, LayerDef] = {}


def register(layer: LayerDef) -> LayerDef:
    LAYERS[layer.name] = layer
    return layer


def _positive(args: Args, *names: str) -> Iterable[tuple[str, str]]:
    for name in names:
        value = args.get(name)
        values = value if isinstance(value, (list, tuple)) else [value]
        if value is not None and any(isinstance(v, int) and v <= 0 for v in values):
            yield name, f"{name} must be positive, got {value!r}"


def _non_negative(args: Args, *names: str) -> Iterable[tuple[str, str]]:
    for name in names:
        value = args.get(name)
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, int) and v < 0 for v in values):
            yield name, f"{name} must not be negative, got {value!r}"


# --- convolutions ----------------------------------------------------------------------------


def _conv_checks(args: Args) -> Iterable[tuple[str, str]]:
    yield from _positive(args, "in_channels", "out_channels", "kernel_size", "stride",
                         "dilation", "groups")
    yield from _non_negative(args, "padding")
    groups = args.get("groups", 1)
    if isinstance(groups, int) and groups > 0:
        for name in ("in_channels", "out_channels"):
            value = args.get(name)
            if isinstance(value, int) and value > 0 and value % groups:
                yield "groups", f"groups={groups} does not divide {name}={value}"


def _conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _conv_shape(n: int):
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        k, s, d = (as_tuple(args[a], n) for a in ("kernel_size", "stride", "dilation"))
        pad = args["padding"]
        if pad == "same":
            return (*x[:-n - 1], args["out_channels"], *x[-n:])
        p = (0,) * n if pad == "valid" else as_tuple(pad, n)
        spatial = tuple(_conv_out(x[-n + i], k[i], s[i], p[i], d[i]) for i in range(n))
        return (*x[:-n - 1], args["out_channels"], *spatial)
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


def _conv_state(n: int):
    def rule(args: Args) -> dict[str, tuple[Shape, bool]]:
        out = args["out_channels"]
        weight = (out, args["in_channels"] // args["groups"], *as_tuple(args["kernel_size"], n))
        return {"weight": (weight, True), **({"bias": ((out,), True)} if args["bias"] else {})}
    return rule


def _conv(n: int) -> LayerDef:
    kind, pad = f"int{n}", f"pad{n}"
    return register(LayerDef(
        f"Conv{n}d",
        (
            Arg("in_channels", "int"),
            Arg("out_channels", "int"),
            Arg("kernel_size", kind),
            Arg("stride", kind, 1),
            Arg("padding", pad, 0),
            Arg("dilation", kind, 1),
            Arg("groups", "int", 1),
            Arg("bias", "bool", True),
            Arg("padding_mode", "str", "zeros",
                choices=("zeros", "reflect", "replicate", "circular")),
        ),
        checks=_conv_checks,
        shape=_conv_shape(n),
        params=_conv_params(n),
        macs=_conv_macs(n),
        infer={"in_channels": 1},
        ranks=(n + 1, n + 2),
        out_dims={1: "out_channels"},
        state=_conv_state(n),
    ))


for _n in (1, 2, 3):
    _conv(_n)


# --- normalisation ---------------------------------------------------------------------------


def _batchnorm_state(args: Args) -> dict[str, tuple[Shape, bool]]:
    c = (args["num_features"],)
    out = {"weight": (c, True), "bias": (c, True)} if args["affine"] else {}
    if args["track_running_stats"]:
        out.update(running_mean=(c, False), running_var=(c, False),
                   num_batches_tracked=((), False))
    return out


def _batchnorm(n: int) -> LayerDef:
    return register(LayerDef(
        f"BatchNorm{n}d",
        (
            Arg("num_features", "int"),
            Arg("eps", "float", 1e-5),
            Arg("momentum", "float", 0.1, nullable=True),
            Arg("affine", "bool", True),
            Arg("track_running_stats", "bool", True),
        ),
        checks=lambda a: _positive(a, "num_features"),
        shape=lambda a, x: x[0],
        params=lambda a: 2 * a["num_features"] if a["affine"] else 0,
        macs=lambda a, x, out: 0,
        infer={"num_features": 1},
        ranks=(2, 3) if n == 1 else (n + 2,),
        state=_batchnorm_state,
    ))


for _n in (1, 2, 3):
    _batchnorm(_n)


# --- activations -----------------------------------------------------------------------------


def _elementwise(name: str, *args: Arg) -> LayerDef:
    return register(LayerDef(name, tuple(args), shape=lambda a, x: x[0],
                             params=lambda a: 0, macs=lambda a, x, out: 0))


_elementwise("ReLU", Arg("inplace", "bool", False))


# --- pooling ---------------------------------------------------------------------------------


def _pool_shape(n: int, dilation: bool):
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        k = as_tuple(args["kernel_size"], n)
        s = as_tuple(args["stride"] if args["stride"] is not None else args["kernel_size"], n)
        p = as_tuple(args["padding"], n)
        d = as_tuple(args["dilation"], n) if dilation else (1,) * n
        out = []
        for i in range(n):
            size = x[-n + i]
            num = size + 2 * p[i] - d[i] * (k[i] - 1) - 1
            o = (-(-num // s[i]) if args["ceil_mode"] else num // s[i]) + 1
            if args["ceil_mode"] and (o - 1) * s[i] >= size + p[i]:
                o -= 1
            out.append(o)
        return (*x[:-n], *out)
    return rule


def _pool_checks(args: Args) -> Iterable[tuple[str, str]]:
    yield from _positive(args, "kernel_size", "stride", "dilation")
    yield from _non_negative(args, "padding")
    k, p = args.get("kernel_size"), args.get("padding", 0)
    if isinstance(k, int) and isinstance(p, int) and p * 2 > k:
        yield "padding", f"padding={p} must be at most half of kernel_size={k}"


def _maxpool(n: int) -> LayerDef:
    kind = f"int{n}"
    return register(LayerDef(
        f"MaxPool{n}d",
        (
            Arg("kernel_size", kind),
            Arg("stride", kind, None, nullable=True),
            Arg("padding", kind, 0),
            Arg("dilation", kind, 1),
            Arg("return_indices", "bool", False),
            Arg("ceil_mode", "bool", False),
        ),
        checks=_pool_checks,
        shape=_pool_shape(n, dilation=True),
        params=lambda a: 0,
        macs=lambda a, x, out: 0,
        ranks=(n + 1, n + 2),
    ))


def _avgpool(n: int) -> LayerDef:
    kind = f"int{n}"
    extra = (Arg("divisor_override", "int", None, nullable=True),) if n > 1 else ()
    return register(LayerDef(
        f"AvgPool{n}d",
        (
            Arg("kernel_size", kind),
            Arg("stride", kind, None, nullable=True),
            Arg("padding", kind, 0),
            Arg("ceil_mode", "bool", False),
            Arg("count_include_pad", "bool", True),
            *extra,
        ),
        checks=_pool_checks,
        shape=_pool_shape(n, dilation=False),
        params=lambda a: 0,
        macs=lambda a, x, out: 0,
        ranks=(n + 1, n + 2),
    ))


for _n in (1, 2):
    _maxpool(_n)
    _avgpool(_n)


# --- linear and shape ------------------------------------------------------------------------

register(LayerDef(
    "Linear",
    (Arg("in_features", "int"), Arg("out_features", "int"), Arg("bias", "bool", True)),
    checks=lambda a: _positive(a, "in_features", "out_features"),
    shape=lambda a, x: (*x[0][:-1], a["out_features"]),
    params=lambda a: a["in_features"] * a["out_features"] + (a["out_features"] if a["bias"]
                                                             else 0),
    macs=lambda a, x, out: math.prod(out) * a["in_features"],
    infer={"in_features": -1},
    out_dims={-1: "out_features"},
    state=lambda a: {"weight": ((a["out_features"], a["in_features"]), True),
                     **({"bias": ((a["out_features"],), True)} if a["bias"] else {})},
))


def _flatten_shape(args: Args, inputs: list[Shape]) -> Shape:
    x = inputs[0]
    start, end = (d % len(x) for d in (args["start_dim"], args["end_dim"]))
    return (*x[:start], math.prod(x[start:end + 1]), *x[end + 1:])


register(LayerDef(
    "Flatten",
    (Arg("start_dim", "int", 1), Arg("end_dim", "int", -1)),
    shape=_flatten_shape,
    params=lambda a: 0,
    macs=lambda a, x, out: 0,
))

register(LayerDef("Identity", (), shape=lambda a, x: x[0], params=lambda a: 0,
                  macs=lambda a, x, out: 0))
