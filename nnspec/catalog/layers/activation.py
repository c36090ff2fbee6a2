"""The activations: elementwise nonlinearities, softmaxes, GLU and PReLU."""

from __future__ import annotations

from collections.abc import Callable

from nnspec.catalog.layers.common import (
    INPLACE,
    Family,
    Problems,
    dim_index,
    expect_min_rank,
    expect_rank,
    expect_size,
    no_macs,
    no_params,
    positive,
    same_shape,
)
from nnspec.catalog.types import Arg, Args, LayerDef, Shape

FAMILY = Family()
register = FAMILY.add

# --- activations -----------------------------------------------------------------------------


def _elementwise(name: str, *args: Arg, checks: Callable[[Args], Problems] | None = None,
                 shape: Callable[[Args, list[Shape]], Shape] = same_shape,
                 input_dtype: str = "float") -> LayerDef:
    return register(LayerDef(name, tuple(args), checks=checks, shape=shape, params=no_params,
                             macs=no_macs, input_dtype=input_dtype))


for _name in ("ReLU", "ReLU6"):
    _elementwise(_name, INPLACE, input_dtype="number")
for _name in ("SiLU", "Mish", "Hardswish", "Hardsigmoid", "SELU"):
    _elementwise(_name, INPLACE)
for _name in ("Sigmoid", "Tanh"):
    _elementwise(_name, input_dtype="promote")
_elementwise("LogSigmoid")

_elementwise("LeakyReLU", Arg("negative_slope", "float", 0.01), INPLACE)
_elementwise("ELU", Arg("alpha", "float", 1.0), INPLACE)
_elementwise("GELU", Arg("approximate", "str", "none", choices=("none", "tanh")))
_elementwise("Softplus", Arg("beta", "float", 1.0), Arg("threshold", "float", 20.0))


def _celu_checks(args: Args) -> Problems:
    if args.get("alpha") == 0:
        yield "alpha", "alpha must not be 0 (CELU divides by it)"


_elementwise("CELU", Arg("alpha", "float", 1.0), INPLACE, checks=_celu_checks)


def _softmax_shape(args: Args, inputs: list[Shape]) -> Shape:
    if args["dim"] is not None:
        dim_index(inputs[0], args["dim"])
    return inputs[0]


for _name in ("Softmax", "LogSoftmax"):
    _elementwise(_name, Arg("dim", "int", None, nullable=True), shape=_softmax_shape)


def _glu_shape(args: Args, inputs: list[Shape]) -> Shape:
    x = inputs[0]
    dim = dim_index(x, args["dim"])
    if x[dim] % 2:
        raise ValueError(f"GLU halves dim {args['dim']}, but it has odd size {x[dim]}")
    return (*x[:dim], x[dim] // 2, *x[dim + 1:])


_elementwise("GLU", Arg("dim", "int", -1), shape=_glu_shape)


def _prelu_shape(args: Args, inputs: list[Shape]) -> Shape:
    x, count = inputs[0], args["num_parameters"]
    if count != 1:
        expect_min_rank(x, 2)
        expect_size(x, 1, count, "num_parameters")
    return x


register(LayerDef(
    "PReLU",
    (Arg("num_parameters", "int", 1), Arg("init", "float", 0.25)),
    checks=lambda a: positive(a, "num_parameters"),
    shape=_prelu_shape,
    params=lambda a: a["num_parameters"],
    state=lambda a: {"weight": ((a["num_parameters"],), True)},
    macs=no_macs,
))


# --- shrinks, clamps and the rest of torch's activations ------------------------------------


def _hardtanh_checks(args: Args) -> Problems:
    low = args.get("min_val") if args.get("min_value") is None else args["min_value"]
    high = args.get("max_val") if args.get("max_value") is None else args["max_value"]
    if all(isinstance(v, (int, float)) for v in (low, high)) and high <= low:
        name = "max_val" if args.get("max_value") is None else "max_value"
        yield name, f"max_val ({high!r}) must be greater than min_val ({low!r})"


def _softshrink_checks(args: Args) -> Problems:
    if isinstance(args.get("lambd"), (int, float)) and args["lambd"] < 0:
        yield "lambd", f"lambd must not be negative, got {args['lambd']!r}"


def _rrelu_checks(args: Args) -> Problems:
    low, high = args.get("lower"), args.get("upper")
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
        yield "lower", f"lower={low!r} must not be above upper={high!r}"


_elementwise("Hardshrink", Arg("lambd", "float", 0.5))
_elementwise("Softshrink", Arg("lambd", "float", 0.5), checks=_softshrink_checks)
_elementwise("Hardtanh", Arg("min_val", "float", -1.0), Arg("max_val", "float", 1.0), INPLACE,
             Arg("min_value", "float", None, nullable=True),
             Arg("max_value", "float", None, nullable=True), checks=_hardtanh_checks)
_elementwise("RReLU", Arg("lower", "float", 1.0 / 8), Arg("upper", "float", 1.0 / 3), INPLACE,
             checks=_rrelu_checks)
_elementwise("Threshold", Arg("threshold", "float"), Arg("value", "float"), INPLACE)
for _name in ("Softsign", "Tanhshrink"):
    _elementwise(_name)
_elementwise("Softmin", Arg("dim", "int", None, nullable=True), shape=_softmax_shape)


def _softmax2d_shape(args: Args, inputs: list[Shape]) -> Shape:
    """A softmax over the channels of (N, C, H, W) or (C, H, W) inputs."""
    expect_rank(inputs[0], 3, 4)
    return inputs[0]


_elementwise("Softmax2d", shape=_softmax2d_shape)
