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

from nnspec.catalog.ops import Tensor
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


# --- sequence and attention layers -----------------------------------------------------------
# Their calls take several tensors, flags and optional states, and give tuples, so they have a
# `forward` rule instead of `shape` and `macs`. MACs count the math torch does on its reference
# paths (gate and projection matmuls, attention's two batched matmuls), the same products that
# FlopCounterMode counts there. torch's fused kernels are invisible to FlopCounterMode (it counts
# 0 for a CPU LSTM run by oneDNN, for fused scaled_dot_product_attention, and for the
# eval-and-no-grad fast paths of MultiheadAttention and TransformerEncoderLayer); a count of 0
# would make a transformer look free, so tests measure torch with those paths turned off.


def _state_params(state: Callable[[Args], State]) -> Callable[[Args], int]:
    """A parameter count that is the sum of the checkpoint layout's parameters."""
    return lambda args: sum(math.prod(shape) for shape, is_param in state(args).values()
                            if is_param)


def _tensor_shape(value: Any, what: str) -> Shape:
    if not isinstance(value, Tensor):
        raise ValueError(f"{what} must be a tensor, got {type(value).__name__}")
    return value.shape


def _dropout_check(args: Args, name: str = "dropout") -> Problems:
    if any(not 0 <= v <= 1 for v in _numbers(args.get(name))):
        yield name, f"{name} is a probability between 0 and 1, got {args[name]!r}"


# recurrent layers: gates per cell kind
_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _rnn_checks(args: Args) -> Problems:
    yield from _positive(args, "input_size", "hidden_size", "num_layers")
    yield from _dropout_check(args)
    proj, hidden = args.get("proj_size", 0), args.get("hidden_size")
    yield from _non_negative(args, "proj_size")
    if isinstance(proj, int) and isinstance(hidden, int) and proj >= hidden > 0:
        yield "proj_size", f"proj_size={proj} must be smaller than hidden_size={hidden}"


def _rnn_dims(args: Args) -> tuple[int, int, int]:
    """(directions, hidden size, output size per direction: proj_size when projecting)."""
    hidden = args["hidden_size"]
    return 1 + args["bidirectional"], hidden, args.get("proj_size", 0) or hidden


def _rnn_state(kind: str):
    """Per layer, per direction: weight_ih, weight_hh, the two biases, weight_hr (LSTM proj)."""
    def rule(args: Args) -> State:
        dirs, hidden, out = _rnn_dims(args)
        gates = _GATES[kind] * hidden
        state: State = {}
        for layer in range(args["num_layers"]):
            size = args["input_size"] if layer == 0 else out * dirs
            for suffix in ("", "_reverse")[:dirs]:
                name = f"l{layer}{suffix}"
                state[f"weight_ih_{name}"] = ((gates, size), True)
                state[f"weight_hh_{name}"] = ((gates, out), True)
                if args["bias"]:
                    state[f"bias_ih_{name}"] = ((gates,), True)
                    state[f"bias_hh_{name}"] = ((gates,), True)
                if out != hidden:
                    state[f"weight_hr_{name}"] = ((out, hidden), True)
        return state
    return rule


def _rnn_forward(kind: str):
    """`rnn(input, hx=None)`: (output, h_n), or (output, (h_n, c_n)) for an LSTM."""
    def rule(args: Args, input: Any, hx: Any = None) -> tuple[Any, int]:
        x = _tensor_shape(input, "input")
        _expect_rank(x, 2, 3)
        _expect_size(x, -1, args["input_size"], "input_size")
        batched, first = len(x) == 3, args["batch_first"]
        steps, batch = ((x[1], x[0]) if first else (x[0], x[1])) if batched else (x[0], 1)
        dirs, hidden, out = _rnn_dims(args)
        lead = (dirs * args["num_layers"], *((batch,) if batched else ()))
        states = ((*lead, out), (*lead, hidden)) if kind == "LSTM" else ((*lead, out),)
        if hx is not None:
            given = hx if kind == "LSTM" else (hx,)
            if not isinstance(given, tuple) or len(given) != len(states):
                raise ValueError("an LSTM's hx is a tuple (h_0, c_0)")
            for name, value, want in zip(("h_0", "c_0"), given, states):
                if _tensor_shape(value, name) != want:
                    raise ValueError(f"{name} should be {list(want)}, got {list(value.shape)}")
        output = ((batch, steps) if first else (steps, batch)) if batched else (steps,)
        # per step and sequence: input and hidden matmuls for every gate, then the projection
        macs = 0
        for layer in range(args["num_layers"]):
            size = args["input_size"] if layer == 0 else out * dirs
            gates = _GATES[kind] * hidden
            per_step = gates * (size + out) + (hidden * out if out != hidden else 0)
            macs += dirs * steps * batch * per_step
        final = states if kind == "LSTM" else states[0]
        return ((*output, dirs * out), final), macs
    return rule


def _rnn(kind: str) -> LayerDef:
    extra = {"RNN": (Arg("nonlinearity", "str", "tanh", choices=("tanh", "relu")),)}
    state = _rnn_state(kind)
    return register(LayerDef(
        kind,
        (
            Arg("input_size", "int"),
            Arg("hidden_size", "int"),
            Arg("num_layers", "int", 1),
            *extra.get(kind, ()),
            Arg("bias", "bool", True),
            Arg("batch_first", "bool", False),
            Arg("dropout", "float", 0.0),
            Arg("bidirectional", "bool", False),
            *((Arg("proj_size", "int", 0),) if kind == "LSTM" else ()),
        ),
        checks=_rnn_checks,
        params=_state_params(state),
        forward=_rnn_forward(kind),
        infer={"input_size": -1},
        ranks=(2, 3),
        state=state,
    ))


for _kind in _GATES:
    _rnn(_kind)


def _mha_checks(args: Args) -> Problems:
    yield from _positive(args, "embed_dim", "num_heads", "kdim", "vdim")
    yield from _divides(args, "num_heads", "embed_dim")
    yield from _dropout_check(args)


def _mha_state(args: Args) -> State:
    """One packed in_proj_weight, or q/k/v weights when key or value sizes differ; bias_k and
    bias_v; then the out_proj Linear."""
    e = args["embed_dim"]
    kdim, vdim = args["kdim"] or e, args["vdim"] or e
    if kdim == e and vdim == e:
        state: State = {"in_proj_weight": ((3 * e, e), True)}
    else:
        state = {"q_proj_weight": ((e, e), True), "k_proj_weight": ((e, kdim), True),
                 "v_proj_weight": ((e, vdim), True)}
    if args["bias"]:
        state["in_proj_bias"] = ((3 * e,), True)
    if args["add_bias_kv"]:
        state.update(bias_k=((1, 1, e), True), bias_v=((1, 1, e), True))
    state["out_proj.weight"] = ((e, e), True)
    if args["bias"]:
        state["out_proj.bias"] = ((e,), True)
    return state


def _mha_forward(args: Args, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                 need_weights: bool = True, attn_mask: Any = None,
                 average_attn_weights: bool = True, is_causal: bool = False
                 ) -> tuple[Any, int]:
    """(attn_output, attn_weights or None). Sequence first, (L, N, E), unless batch_first."""
    q, k, v = (_tensor_shape(t, n) for t, n in ((query, "query"), (key, "key"),
                                                 (value, "value")))
    _expect_rank(q, 2, 3)
    if not len(q) == len(k) == len(v):
        raise ValueError(f"query {list(q)}, key {list(k)} and value {list(v)} must all be "
                         "batched (3-d) or all unbatched (2-d)")
    e, heads = args["embed_dim"], args["num_heads"]
    for shape, size, name in ((q, e, "embed_dim"), (k, args["kdim"] or e, "kdim"),
                              (v, args["vdim"] or e, "vdim")):
        _expect_size(shape, -1, size, name)
    batched = len(q) == 3
    seq, batch = (1, 0) if args["batch_first"] else (0, 1)
    if batched and not q[batch] == k[batch] == v[batch]:
        raise ValueError(f"query {list(q)}, key {list(k)} and value {list(v)} differ in batch "
                         "size")
    if k[seq if batched else 0] != v[seq if batched else 0]:
        raise ValueError(f"key {list(k)} and value {list(v)} differ in sequence length")
    length, source = (q[seq], k[seq]) if batched else (q[0], k[0])
    n = q[batch] if batched else 1
    lead = (n,) if batched else ()
    if key_padding_mask is not None and \
            _tensor_shape(key_padding_mask, "key_padding_mask") != (*lead, source):
        raise ValueError(f"key_padding_mask should be {[*lead, source]}, got "
                         f"{list(key_padding_mask.shape)}")
    if attn_mask is not None and _tensor_shape(attn_mask, "attn_mask") not in (
            (length, source), (n * heads, length, source)):
        raise ValueError(f"attn_mask should be {[length, source]} or "
                         f"{[n * heads, length, source]}, got {list(attn_mask.shape)}")
    if is_causal and attn_mask is None:
        raise ValueError("is_causal=True is a hint about attn_mask, which must be given too")
    keys = source + args["add_bias_kv"] + args["add_zero_attn"]
    weights = None
    if need_weights:
        weights = (*lead, *(() if average_attn_weights else (heads,)), length, keys)
    projections = n * (2 * length * e + source * (k[-1] + v[-1])) * e
    return (q, weights), projections + 2 * n * length * keys * e


register(LayerDef(
    "MultiheadAttention",
    (
        Arg("embed_dim", "int"),
        Arg("num_heads", "int"),
        Arg("dropout", "float", 0.0),
        Arg("bias", "bool", True),
        Arg("add_bias_kv", "bool", False),
        Arg("add_zero_attn", "bool", False),
        Arg("kdim", "int", None, nullable=True),
        Arg("vdim", "int", None, nullable=True),
        Arg("batch_first", "bool", False),
    ),
    checks=_mha_checks,
    params=_state_params(_mha_state),
    forward=_mha_forward,
    infer={"embed_dim": -1},
    ranks=(2, 3),
    state=_mha_state,
))


def _encoder_checks(args: Args) -> Problems:
    yield from _positive(args, "d_model", "nhead", "dim_feedforward")
    yield from _divides(args, "nhead", "d_model")
    yield from _dropout_check(args)


def _encoder_attention(args: Args) -> Args:
    """The self_attn MultiheadAttention a TransformerEncoderLayer builds."""
    return LAYERS["MultiheadAttention"].bind_defaults(
        {"embed_dim": args["d_model"], "num_heads": args["nhead"], "bias": args["bias"],
         "batch_first": args["batch_first"]})


def _encoder_state(args: Args) -> State:
    e, f = args["d_model"], args["dim_feedforward"]
    state = {f"self_attn.{k}": v for k, v in _mha_state(_encoder_attention(args)).items()}
    for name, shape in (("linear1", (f, e)), ("linear2", (e, f)), ("norm1", (e,)),
                        ("norm2", (e,))):
        state[f"{name}.weight"] = (shape, True)
        if args["bias"]:
            state[f"{name}.bias"] = ((shape[0],), True)
    return state


def _encoder_forward(args: Args, src: Any, src_mask: Any = None,
                     src_key_padding_mask: Any = None, is_causal: bool = False
                     ) -> tuple[Any, int]:
    """Self-attention, then the feed-forward block (two Linears); the output is src's shape."""
    (out, _), attention = _mha_forward(
        _encoder_attention(args), src, src, src, key_padding_mask=src_key_padding_mask,
        need_weights=False, attn_mask=src_mask, is_causal=is_causal)
    tokens = math.prod(out[:-1])
    return out, attention + 2 * tokens * args["d_model"] * args["dim_feedforward"]


register(LayerDef(
    "TransformerEncoderLayer",
    (
        Arg("d_model", "int"),
        Arg("nhead", "int"),
        Arg("dim_feedforward", "int", 2048),
        Arg("dropout", "float", 0.1),
        # torch also takes a function; a spec names one of the two torch accepts as strings
        Arg("activation", "str", "relu", choices=("relu", "gelu")),
        Arg("layer_norm_eps", "float", 1e-5),
        Arg("batch_first", "bool", False),
        Arg("norm_first", "bool", False),
        Arg("bias", "bool", True),
    ),
    checks=_encoder_checks,
    params=_state_params(_encoder_state),
    forward=_encoder_forward,
    infer={"d_model": -1},
    ranks=(2, 3),
    out_dims={-1: "d_model"},
    state=_encoder_state,
))
