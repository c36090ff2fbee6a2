"""Every supported torch layer, declared once. Argument order and defaults are torch's own.

Shape rules see batched inputs only (nnspec shapes always carry the batch dimension), so they
refuse the unbatched ranks torch would also accept for some layers: a 3-d input to Conv2d
here is a bug in the spec, not an unbatched image.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

from nnspec.catalog.types import Arg, Args, LayerDef, Shape, SpatialCollapse, as_tuple

LAYERS: dict[str, LayerDef] = {}

Problems = Iterable[tuple[str, str]]
# state_dict names in torch's order -> (shape, is a parameter rather than a buffer)
State = dict[str, tuple[Shape, bool]]


def register(layer: LayerDef) -> LayerDef:
    """Add an entry; a layer without parameters or buffers has an empty checkpoint layout."""
    if layer.state is None and layer.params is _no_params:
        layer = dataclasses.replace(layer, state=_no_state)
    LAYERS[layer.name] = layer
    return layer


def _no_state(args: Args) -> State:
    return {}


# --- value checks ----------------------------------------------------------------------------


def _numbers(value: Any) -> list[int | float]:
    """The numbers in an int-or-tuple value (None and strings give none)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    return [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _positive(args: Args, *names: str) -> Problems:
    for name in names:
        if any(v <= 0 for v in _numbers(args.get(name))):
            yield name, f"{name} must be positive, got {args[name]!r}"


def _non_negative(args: Args, *names: str) -> Problems:
    for name in names:
        if any(v < 0 for v in _numbers(args.get(name))):
            yield name, f"{name} must not be negative, got {args[name]!r}"


def _probability(args: Args) -> Problems:
    if any(not 0 <= v <= 1 for v in _numbers(args.get("p"))):
        yield "p", f"p is a probability between 0 and 1, got {args['p']!r}"


def _divides(args: Args, groups: str, *names: str) -> Problems:
    count = args.get(groups)
    if not isinstance(count, int) or count <= 0:
        return
    for name in names:
        value = args.get(name)
        if isinstance(value, int) and value > 0 and value % count:
            yield groups, f"{groups}={count} does not divide {name}={value}"


def _pairs(args: Args, first: str, second: str) -> list[tuple[int, int]]:
    """Per-dimension pairs of two int-or-tuple arguments; empty when either is not numeric."""
    a, b = args.get(first), args.get(second)
    n = max(len(v) if isinstance(v, (list, tuple)) else 1 for v in (a, b))
    pairs = list(zip(as_tuple(a, n), as_tuple(b, n)))
    numeric = all(isinstance(x, int) for pair in pairs for x in pair)
    return pairs if numeric else []


# --- shape rules -----------------------------------------------------------------------------


def _expect_rank(x: Shape, *ranks: int) -> None:
    if len(x) not in ranks:
        want = " or ".join(f"{r}-d" for r in ranks)
        raise ValueError(f"expects a {want} input (batch included), got {len(x)}-d {list(x)}")


def _expect_min_rank(x: Shape, rank: int) -> None:
    if len(x) < rank:
        raise ValueError(f"expects an input of at least {rank} dimensions (batch included), "
                         f"got {len(x)}-d {list(x)}")


def _expect_size(x: Shape, dim: int, value: int, arg: str) -> None:
    if x[dim] != value:
        raise ValueError(f"input {list(x)} has size {x[dim]} at dim {dim}, but {arg}={value}")


def _dim_index(x: Shape, dim: int) -> int:
    if not -len(x) <= dim < len(x):
        raise ValueError(f"dim {dim} is out of range for a {len(x)}-d input")
    return dim % len(x)


def _with_sizes(lead: Shape, sizes: Iterable[int], x: Shape) -> Shape:
    """The output shape `lead + sizes`, refused when a size is 0 or less."""
    shape = (*lead, *sizes)
    if any(s <= 0 for s in shape[len(lead):]):
        raise SpatialCollapse(f"input {list(x)} is too small: output sizes would be "
                              f"{list(shape[len(lead):])}", shape)
    return shape


def _same_shape(args: Args, inputs: list[Shape]) -> Shape:
    return inputs[0]


def _no_params(args: Args) -> int:
    return 0


def _no_macs(args: Args, inputs: list[Shape], out: Shape) -> int:
    return 0


def _affine(count: int, affine: bool, bias: bool) -> int:
    """Parameters of a normalisation layer: a weight, and a bias unless turned off."""
    return count * (1 + bias) if affine else 0


# --- convolutions ----------------------------------------------------------------------------

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _conv_checks(args: Args) -> Problems:
    yield from _positive(args, "in_channels", "out_channels", "kernel_size", "stride",
                         "dilation", "groups")
    yield from _non_negative(args, "padding")
    yield from _divides(args, "groups", "in_channels", "out_channels")
    if args.get("padding") == "same" and any(s != 1 for s in _numbers(args.get("stride"))):
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
        _expect_rank(x, n + 2)
        _expect_size(x, 1, args["in_channels"], "in_channels")
        k, s, d = (as_tuple(args[a], n) for a in ("kernel_size", "stride", "dilation"))
        pads = _conv_pads(args, n)
        _check_pad_mode(args["padding_mode"], pads, x)
        sizes = ((x[2 + i] + sum(pads[i]) - d[i] * (k[i] - 1) - 1) // s[i] + 1
                 for i in range(n))
        return _with_sizes((x[0], args["out_channels"]), sizes, x)
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
        return {"weight": (weight, True), **_bias(args["bias"], cout)}
    return rule


def _bias(present: bool, size: int) -> State:
    return {"bias": ((size,), True)} if present else {}


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
    yield from _non_negative(args, "output_padding")
    strides = _pairs(args, "output_padding", "stride")
    dilations = _pairs(args, "output_padding", "dilation")
    if any(op >= s and op >= d for (op, s), (_, d) in zip(strides, dilations)):
        yield "output_padding", "output_padding must be smaller than either stride or dilation"
    if args.get("padding_mode", "zeros") != "zeros":
        yield "padding_mode", "transposed convolutions only support padding_mode='zeros'"


def _conv_transpose_shape(n: int):
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        _expect_rank(x, n + 2)
        _expect_size(x, 1, args["in_channels"], "in_channels")
        k, s, p, op, d = (as_tuple(args[a], n) for a in (
            "kernel_size", "stride", "padding", "output_padding", "dilation"))
        sizes = ((x[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1
                 for i in range(n))
        return _with_sizes((x[0], args["out_channels"]), sizes, x)
    return rule


def _conv_transpose_macs(n: int):
    """torch counts a transposed convolution over the input positions, not the output's."""
    def rule(args: Args, inputs: list[Shape], out: Shape) -> int:
        k = math.prod(as_tuple(args["kernel_size"], n))
        return math.prod(inputs[0]) * (args["out_channels"] // args["groups"]) * k
    return rule


def _conv_transpose(n: int) -> LayerDef:
    kind = f"int{n}"
    return register(LayerDef(
        f"ConvTranspose{n}d",
        (
            Arg("in_channels", "int"),
            Arg("out_channels", "int"),
            Arg("kernel_size", kind),
            Arg("stride", kind, 1),
            Arg("padding", kind, 0),
            Arg("output_padding", kind, 0),
            Arg("groups", "int", 1),
            Arg("bias", "bool", True),
            Arg("dilation", kind, 1),
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


# --- linear and embedding --------------------------------------------------------------------


def _linear_shape(args: Args, inputs: list[Shape]) -> Shape:
    x = inputs[0]
    _expect_min_rank(x, 2)
    _expect_size(x, -1, args["in_features"], "in_features")
    return (*x[:-1], args["out_features"])


register(LayerDef(
    "Linear",
    (Arg("in_features", "int"), Arg("out_features", "int"), Arg("bias", "bool", True)),
    checks=lambda a: _positive(a, "in_features", "out_features"),
    shape=_linear_shape,
    params=lambda a: a["in_features"] * a["out_features"] + (a["out_features"] if a["bias"]
                                                             else 0),
    macs=lambda a, x, out: math.prod(out) * a["in_features"],
    infer={"in_features": -1},
    out_dims={-1: "out_features"},
    state=lambda a: {"weight": ((a["out_features"], a["in_features"]), True),
                     **_bias(a["bias"], a["out_features"])},
))


def _bilinear_shape(args: Args, inputs: list[Shape]) -> Shape:
    x1, x2 = inputs
    for x, name in ((x1, "in1_features"), (x2, "in2_features")):
        _expect_min_rank(x, 2)
        _expect_size(x, -1, args[name], name)
    if x1[:-1] != x2[:-1]:
        raise ValueError(f"inputs {list(x1)} and {list(x2)} must agree in all dims but the last")
    return (*x1[:-1], args["out_features"])


register(LayerDef(
    "Bilinear",
    (
        Arg("in1_features", "int"),
        Arg("in2_features", "int"),
        Arg("out_features", "int"),
        Arg("bias", "bool", True),
    ),
    checks=lambda a: _positive(a, "in1_features", "in2_features", "out_features"),
    shape=_bilinear_shape,
    params=lambda a: a["out_features"] * (a["in1_features"] * a["in2_features"] + a["bias"]),
    # torch's FlopCounterMode does not see bilinear at all; these are the products it computes
    macs=lambda a, x, out: math.prod(out) * a["in1_features"] * a["in2_features"],
    inputs=2,
    out_dims={-1: "out_features"},
    state=lambda a: {"weight": ((a["out_features"], a["in1_features"], a["in2_features"]),
                                True), **_bias(a["bias"], a["out_features"])},
))


def _embedding_checks(args: Args) -> Problems:
    yield from _positive(args, "num_embeddings", "embedding_dim")
    count, index = args.get("num_embeddings"), args.get("padding_idx")
    if isinstance(count, int) and isinstance(index, int) and not -count <= index < count:
        yield "padding_idx", f"padding_idx={index} is outside num_embeddings={count}"


def _embedding_shape(args: Args, inputs: list[Shape]) -> Shape:
    _expect_min_rank(inputs[0], 1)
    return (*inputs[0], args["embedding_dim"])


register(LayerDef(
    "Embedding",
    (
        Arg("num_embeddings", "int"),
        Arg("embedding_dim", "int"),
        Arg("padding_idx", "int", None, nullable=True),
        Arg("max_norm", "float", None, nullable=True),
        Arg("norm_type", "float", 2.0),
        Arg("scale_grad_by_freq", "bool", False),
        Arg("sparse", "bool", False),
    ),
    checks=_embedding_checks,
    shape=_embedding_shape,
    params=lambda a: a["num_embeddings"] * a["embedding_dim"],
    macs=_no_macs,
    out_dims={-1: "embedding_dim"},
    state=lambda a: {"weight": ((a["num_embeddings"], a["embedding_dim"]), True)},
    index_input="num_embeddings",
))


# --- normalisation ---------------------------------------------------------------------------


def _channel_norm_shape(channels: str, ranks: tuple[int, ...] | None = None,
                        min_spatial: int = 0):
    """Norms over (N, C, ...) inputs of the given ranks (None: any from 2 up); instance norm
    needs more than one value per channel."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        if ranks is None:
            _expect_min_rank(x, 2)
        else:
            _expect_rank(x, *ranks)
        _expect_size(x, 1, args[channels], channels)
        if math.prod(x[2:]) < min_spatial:
            raise ValueError(f"input {list(x)} has one value per channel; instance norm needs "
                             f"at least {min_spatial} when training")
        return x
    return rule


def _norm_state(channels: str, affine: str = "affine", running: bool = True):
    """weight and bias when affine (bias may be switched off), then the running statistics."""
    def rule(args: Args) -> State:
        c = _normalized_shape(args) if channels == "normalized_shape" else (args[channels],)
        out: State = {}
        if args[affine]:
            out["weight"] = (c, True)
            if args.get("bias", True):
                out["bias"] = (c, True)
        if running and args.get("track_running_stats"):
            out.update(running_mean=(c, False), running_var=(c, False),
                       num_batches_tracked=((), False))
        return out
    return rule


def _batchnorm(n: int) -> LayerDef:
    return register(LayerDef(
        f"BatchNorm{n}d",
        (
            Arg("num_features", "int"),
            Arg("eps", "float", 1e-5),
            Arg("momentum", "float", 0.1, nullable=True),
            Arg("affine", "bool", True),
            Arg("track_running_stats", "bool", True),
            Arg("bias", "bool", True, kwonly=True),
        ),
        checks=lambda a: _positive(a, "num_features"),
        shape=_channel_norm_shape("num_features", (2, 3) if n == 1 else (n + 2,)),
        params=lambda a: _affine(a["num_features"], a["affine"], a["bias"]),
        macs=_no_macs,
        infer={"num_features": 1},
        state=_norm_state("num_features"),
    ))


def _instancenorm(n: int) -> LayerDef:
    return register(LayerDef(
        f"InstanceNorm{n}d",
        (
            Arg("num_features", "int"),
            Arg("eps", "float", 1e-5),
            Arg("momentum", "float", 0.1),
            Arg("affine", "bool", False),
            Arg("track_running_stats", "bool", False),
            Arg("bias", "bool", True, kwonly=True),
        ),
        checks=lambda a: _positive(a, "num_features"),
        shape=_channel_norm_shape("num_features", (n + 2,), min_spatial=2),
        params=lambda a: _affine(a["num_features"], a["affine"], a["bias"]),
        macs=_no_macs,
        infer={"num_features": 1},
        state=_norm_state("num_features"),
    ))


for _n in (1, 2, 3):
    _batchnorm(_n)
    _instancenorm(_n)


def _groupnorm_checks(args: Args) -> Problems:
    yield from _positive(args, "num_groups", "num_channels")
    yield from _divides(args, "num_groups", "num_channels")


register(LayerDef(
    "GroupNorm",
    (
        Arg("num_groups", "int"),
        Arg("num_channels", "int"),
        Arg("eps", "float", 1e-5),
        Arg("affine", "bool", True),
        Arg("bias", "bool", True, kwonly=True),
    ),
    checks=_groupnorm_checks,
    shape=_channel_norm_shape("num_channels"),
    params=lambda a: _affine(a["num_channels"], a["affine"], a["bias"]),
    state=_norm_state("num_channels", running=False),
    macs=_no_macs,
    infer={"num_channels": 1},
))


def _normalized_shape(args: Args) -> tuple[int, ...]:
    return tuple(as_tuple(args["normalized_shape"], 1))


def _trailing_norm_shape(args: Args, inputs: list[Shape]) -> Shape:
    """LayerNorm and RMSNorm: the last dims must be normalized_shape, and a batch dim precede."""
    x, tail = inputs[0], _normalized_shape(args)
    _expect_min_rank(x, len(tail) + 1)
    if tuple(x[-len(tail):]) != tail:
        raise ValueError(f"input {list(x)} does not end in normalized_shape {list(tail)}")
    return x


register(LayerDef(
    "LayerNorm",
    (
        Arg("normalized_shape", "ints"),
        Arg("eps", "float", 1e-5),
        Arg("elementwise_affine", "bool", True),
        Arg("bias", "bool", True),
    ),
    checks=lambda a: _positive(a, "normalized_shape"),
    shape=_trailing_norm_shape,
    params=lambda a: _affine(math.prod(_normalized_shape(a)), a["elementwise_affine"],
                             a["bias"]),
    state=_norm_state("normalized_shape", "elementwise_affine", running=False),
    macs=_no_macs,
))

register(LayerDef(
    "RMSNorm",
    (
        Arg("normalized_shape", "ints"),
        Arg("eps", "float", None, nullable=True),
        Arg("elementwise_affine", "bool", True),
    ),
    checks=lambda a: _positive(a, "normalized_shape"),
    shape=_trailing_norm_shape,
    params=lambda a: _affine(math.prod(_normalized_shape(a)), a["elementwise_affine"], False),
    state=lambda a: {"weight": (_normalized_shape(a), True)} if a["elementwise_affine"] else {},
    macs=_no_macs,
))


# --- activations -----------------------------------------------------------------------------

_INPLACE = Arg("inplace", "bool", False)


def _elementwise(name: str, *args: Arg, checks: Callable[[Args], Problems] | None = None,
                 shape: Callable[[Args, list[Shape]], Shape] = _same_shape,
                 input_dtype: str = "float") -> LayerDef:
    return register(LayerDef(name, tuple(args), checks=checks, shape=shape, params=_no_params,
                             macs=_no_macs, input_dtype=input_dtype))


for _name in ("ReLU", "ReLU6"):
    _elementwise(_name, _INPLACE, input_dtype="number")
for _name in ("SiLU", "Mish", "Hardswish", "Hardsigmoid", "SELU"):
    _elementwise(_name, _INPLACE)
for _name in ("Sigmoid", "Tanh"):
    _elementwise(_name, input_dtype="promote")
_elementwise("LogSigmoid")

_elementwise("LeakyReLU", Arg("negative_slope", "float", 0.01), _INPLACE)
_elementwise("ELU", Arg("alpha", "float", 1.0), _INPLACE)
_elementwise("GELU", Arg("approximate", "str", "none", choices=("none", "tanh")))
_elementwise("Softplus", Arg("beta", "float", 1.0), Arg("threshold", "float", 20.0))


def _celu_checks(args: Args) -> Problems:
    if args.get("alpha") == 0:
        yield "alpha", "alpha must not be 0 (CELU divides by it)"


_elementwise("CELU", Arg("alpha", "float", 1.0), _INPLACE, checks=_celu_checks)


def _softmax_shape(args: Args, inputs: list[Shape]) -> Shape:
    if args["dim"] is not None:
        _dim_index(inputs[0], args["dim"])
    return inputs[0]


for _name in ("Softmax", "LogSoftmax"):
    _elementwise(_name, Arg("dim", "int", None, nullable=True), shape=_softmax_shape)


def _glu_shape(args: Args, inputs: list[Shape]) -> Shape:
    x = inputs[0]
    dim = _dim_index(x, args["dim"])
    if x[dim] % 2:
        raise ValueError(f"GLU halves dim {args['dim']}, but it has odd size {x[dim]}")
    return (*x[:dim], x[dim] // 2, *x[dim + 1:])


_elementwise("GLU", Arg("dim", "int", -1), shape=_glu_shape)


def _prelu_shape(args: Args, inputs: list[Shape]) -> Shape:
    x, count = inputs[0], args["num_parameters"]
    if count != 1:
        _expect_min_rank(x, 2)
        _expect_size(x, 1, count, "num_parameters")
    return x


register(LayerDef(
    "PReLU",
    (Arg("num_parameters", "int", 1), Arg("init", "float", 0.25)),
    checks=lambda a: _positive(a, "num_parameters"),
    shape=_prelu_shape,
    params=lambda a: a["num_parameters"],
    state=lambda a: {"weight": ((a["num_parameters"],), True)},
    macs=_no_macs,
))


# --- dropout ---------------------------------------------------------------------------------


def _dropout_shape(n: int):
    """Dropout{n}d zeroes whole channels of (N, C, *n spatial) inputs; Dropout takes any."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        if n:
            _expect_rank(x, n + 2)
        return x
    return rule


for _n in (0, 1, 2, 3):
    register(LayerDef(
        f"Dropout{_n}d" if _n else "Dropout",
        (Arg("p", "float", 0.5), _INPLACE),
        checks=_probability,
        shape=_dropout_shape(_n),
        params=_no_params,
        macs=_no_macs,
        input_dtype="any",
    ))


# --- pooling ---------------------------------------------------------------------------------


def _pool_shape(n: int, dilation: bool, kernel_fits_input: bool = False):
    """kernel_fits_input: torch's avg_pool3d wants each input size, padding aside, to hold the
    kernel, where the other pools only need the padded input to."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        _expect_rank(x, n + 1, n + 2)
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
        return _with_sizes(x[:-n], out, x)
    return rule


def _pool_checks(args: Args) -> Problems:
    yield from _positive(args, "kernel_size", "stride", "dilation")
    yield from _non_negative(args, "padding")
    if any(p > k // 2 for k, p in _pairs(args, "kernel_size", "padding")):
        yield "padding", (f"padding={args['padding']!r} must be at most half of "
                          f"kernel_size={args['kernel_size']!r}")
    if args.get("divisor_override") == 0:
        yield "divisor_override", "divisor_override must not be 0"


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
        params=_no_params,
        macs=_no_macs,
        input_dtype="number",
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
        shape=_pool_shape(n, dilation=False, kernel_fits_input=n == 3),
        params=_no_params,
        macs=_no_macs,
        input_dtype="number",
    ))


def _adaptive_shape(n: int):
    """output_size per spatial dim; None keeps that dim's input size."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        _expect_rank(x, n + 1, n + 2)
        sizes = as_tuple(args["output_size"], n)
        return (*x[:-n], *(s if o is None else o for o, s in zip(sizes, x[-n:])))
    return rule


def _adaptive(pool: str, n: int) -> LayerDef:
    extra = (Arg("return_indices", "bool", False),) if pool == "Max" else ()
    return register(LayerDef(
        f"Adaptive{pool}Pool{n}d",
        (Arg("output_size", "int1" if n == 1 else f"opt_int{n}"), *extra),
        checks=lambda a: _positive(a, "output_size"),
        shape=_adaptive_shape(n),
        params=_no_params,
        macs=_no_macs,
    ))


for _n in (1, 2, 3):
    _maxpool(_n)
    _avgpool(_n)
    _adaptive("Avg", _n)
    _adaptive("Max", _n)


# --- reshaping and resampling ----------------------------------------------------------------


def _flatten_shape(args: Args, inputs: list[Shape]) -> Shape:
    x = inputs[0]
    start, end = (_dim_index(x, args[d]) for d in ("start_dim", "end_dim"))
    if start > end:
        raise ValueError(f"start_dim={args['start_dim']} comes after end_dim={args['end_dim']}")
    return (*x[:start], math.prod(x[start:end + 1]), *x[end + 1:])


register(LayerDef(
    "Flatten",
    (Arg("start_dim", "int", 1), Arg("end_dim", "int", -1)),
    shape=_flatten_shape,
    params=_no_params,
    macs=_no_macs,
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
    dim = _dim_index(x, args["dim"])
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
    params=_no_params,
    macs=_no_macs,
    input_dtype="any",
))

register(LayerDef("Identity", (), shape=_same_shape, params=_no_params, macs=_no_macs,
                  input_dtype="any"))

# input ranks each interpolation mode accepts
_UPSAMPLE_RANKS = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "area": (3, 4, 5),
                   "linear": (3,), "bilinear": (4,), "bicubic": (4,), "trilinear": (5,)}
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")


def _upsample_checks(args: Args) -> Problems:
    size, scale = args.get("size"), args.get("scale_factor")
    if (size is None) == (scale is None):
        yield "size", "give exactly one of size and scale_factor"
    yield from _positive(args, "size", "scale_factor")
    if isinstance(scale, list):
        yield "scale_factor", "scale_factor must be a number or a tuple; torch refuses a list"
    mode = args.get("mode", "nearest")
    if args.get("align_corners") is not None and mode not in _INTERPOLATING:
        yield "align_corners", f"align_corners only applies to modes {', '.join(_INTERPOLATING)}"
    if args.get("recompute_scale_factor") and size is not None:
        yield "recompute_scale_factor", "recompute_scale_factor means nothing with a size"


def _upsample_shape(args: Args, inputs: list[Shape]) -> Shape:
    x = inputs[0]
    _expect_rank(x, *_UPSAMPLE_RANKS[args["mode"]])
    n = len(x) - 2
    given = "size" if args["size"] is not None else "scale_factor"
    values = as_tuple(args[given], n)
    if len(values) != n:
        raise ValueError(f"{given} {args[given]!r} does not match the {n} spatial dims of "
                         f"input {list(x)}")
    # the same double-precision product torch truncates
    sizes = values if given == "size" else (
        math.floor(float(s) * f) for s, f in zip(x[2:], values))
    return _with_sizes(x[:2], sizes, x)


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
    params=_no_params,
    macs=_no_macs,
))


def _pixel_shuffle_shape(args: Args, inputs: list[Shape]) -> Shape:
    x, r = inputs[0], args["upscale_factor"]
    _expect_min_rank(x, 4)
    if x[-3] % (r * r):
        raise ValueError(f"input {list(x)} has {x[-3]} channels, not a multiple of "
                         f"upscale_factor**2={r * r}")
    return (*x[:-3], x[-3] // (r * r), x[-2] * r, x[-1] * r)


def _pixel_unshuffle_shape(args: Args, inputs: list[Shape]) -> Shape:
    x, r = inputs[0], args["downscale_factor"]
    _expect_min_rank(x, 4)
    if x[-2] % r or x[-1] % r:
        raise ValueError(f"input {list(x)} has height or width not divisible by "
                         f"downscale_factor={r}")
    return (*x[:-3], x[-3] * r * r, x[-2] // r, x[-1] // r)


for _name, _arg, _shape in (("PixelShuffle", "upscale_factor", _pixel_shuffle_shape),
                            ("PixelUnshuffle", "downscale_factor", _pixel_unshuffle_shape)):
    register(LayerDef(_name, (Arg(_arg, "int"),), checks=lambda a, arg=_arg: _positive(a, arg),
                      shape=_shape, params=_no_params, macs=_no_macs, input_dtype="any"))


def _zeropad_shape(n: int):
    """padding runs (left, right, top, bottom, front, back): from the last dim backwards.
    Negative padding crops."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        _expect_min_rank(x, n + 1)
        pad = as_tuple(args["padding"], 2 * n)
        pairs = [(x[-1 - i], pad[2 * i], pad[2 * i + 1]) for i in range(n)]
        # torch crops (negative padding) before it pads, and cannot crop below nothing
        if any(size + min(a, 0) + min(b, 0) < 0 for size, a, b in pairs):
            raise ValueError(f"padding {args['padding']!r} crops more than input {list(x)} has")
        sizes = [size + a + b for size, a, b in pairs]
        return _with_sizes(x[:-n], reversed(sizes), x)
    return rule


for _n in (1, 2, 3):
    register(LayerDef(f"ZeroPad{_n}d", (Arg("padding", f"int{2 * _n}"),),
                      shape=_zeropad_shape(_n), params=_no_params, macs=_no_macs,
                      input_dtype="any"))
