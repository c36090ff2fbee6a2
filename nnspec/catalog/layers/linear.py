"""Linear, Bilinear and Embedding: the layers that map feature vectors or ids to features."""

from __future__ import annotations

import math

from nnspec.catalog.layers.common import (
    Family,
    Problems,
    bias_state,
    expect_min_rank,
    expect_size,
    no_macs,
    positive,
)
from nnspec.catalog.types import Arg, Args, LayerDef, Shape

FAMILY = Family()
register = FAMILY.add

# --- linear and embedding --------------------------------------------------------------------


def _linear_shape(args: Args, inputs: list[Shape]) -> Shape:
    x = inputs[0]
    expect_min_rank(x, 2)
    expect_size(x, -1, args["in_features"], "in_features")
    return (*x[:-1], args["out_features"])


register(LayerDef(
    "Linear",
    (Arg("in_features", "int"), Arg("out_features", "int"), Arg("bias", "bool", True)),
    checks=lambda a: positive(a, "in_features", "out_features"),
    shape=_linear_shape,
    params=lambda a: a["in_features"] * a["out_features"] + (a["out_features"] if a["bias"]
                                                             else 0),
    macs=lambda a, x, out: math.prod(out) * a["in_features"],
    infer={"in_features": -1},
    out_dims={-1: "out_features"},
    state=lambda a: {"weight": ((a["out_features"], a["in_features"]), True),
                     **bias_state(a["bias"], a["out_features"])},
))


def _bilinear_shape(args: Args, inputs: list[Shape]) -> Shape:
    x1, x2 = inputs
    for x, name in ((x1, "in1_features"), (x2, "in2_features")):
        expect_min_rank(x, 2)
        expect_size(x, -1, args[name], name)
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
    checks=lambda a: positive(a, "in1_features", "in2_features", "out_features"),
    shape=_bilinear_shape,
    params=lambda a: a["out_features"] * (a["in1_features"] * a["in2_features"] + a["bias"]),
    # torch's FlopCounterMode does not see bilinear at all; these are the products it computes
    macs=lambda a, x, out: math.prod(out) * a["in1_features"] * a["in2_features"],
    inputs=2,
    out_dims={-1: "out_features"},
    state=lambda a: {"weight": ((a["out_features"], a["in1_features"], a["in2_features"]),
                                True), **bias_state(a["bias"], a["out_features"])},
))


def _embedding_checks(args: Args) -> Problems:
    yield from positive(args, "num_embeddings", "embedding_dim")
    count, index = args.get("num_embeddings"), args.get("padding_idx")
    if isinstance(count, int) and isinstance(index, int) and not -count <= index < count:
        yield "padding_idx", f"padding_idx={index} is outside num_embeddings={count}"


def _embedding_shape(args: Args, inputs: list[Shape]) -> Shape:
    expect_min_rank(inputs[0], 1)
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
    macs=no_macs,
    out_dims={-1: "embedding_dim"},
    state=lambda a: {"weight": ((a["num_embeddings"], a["embedding_dim"]), True)},
    index_input="num_embeddings",
))
