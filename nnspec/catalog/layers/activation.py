"""The activations: elementwise nonlinearities, softmaxes, GLU and PReLU."""

from __future__ import annotations

from collections.abc import Callable

from nnspec.catalog.layers.common import (
    INPLACE,
    Family,
    Problems,
    dim_index,
    expect_min_rank,
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
