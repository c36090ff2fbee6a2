"""Linear, Bilinear, Embedding and EmbeddingBag: the layers that map feature vectors or ids to
features; and AdaptiveLogSoftmaxWithLoss, a factorised classifier head."""

from __future__ import annotations

import math
from typing import Any

from nnspec.catalog.layers.common import (
    Family,
    Problems,
    State,
    bias_state,
    expect_min_rank,
    expect_rank,
    expect_size,
    no_macs,
    positive,
    state_params,
    tensor_shape,
)
from nnspec.catalog.types import Arg, Args, LayerDef, Shape
from nnspec.catalog.values import is_floating

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


# --- EmbeddingBag: the sum, mean or max of each bag of embeddings ------------------------------


def _bag_forward(args: Args, input: Any, offsets: Any = None, per_sample_weights: Any = None
                 ) -> tuple[Any, int]:
    """(B, N) ids give B bags; 1-d ids need 1-d offsets, one bag each (the last offset closes
    the last bag with include_last_offset). Gives (bags, embedding_dim)."""
    x = tensor_shape(input, "input")
    expect_rank(x, 1, 2)
    if len(x) == 2:
        if offsets is not None:
            raise ValueError("offsets must be None when input is 2-d (a batch of bags)")
        bags = x[0]
    else:
        if offsets is None or len(tensor_shape(offsets, "offsets")) != 1:
            raise ValueError("a 1-d input needs 1-d offsets, where each bag starts")
        if offsets.dtype not in ("int64", "int32"):
            raise ValueError(f"offsets must be int64 or int32, got {offsets.dtype}")
        bags = offsets.shape[0] - args["include_last_offset"]
    if per_sample_weights is not None:
        if args["mode"] != "sum":
            raise ValueError("per_sample_weights needs mode='sum'")
        if tensor_shape(per_sample_weights, "per_sample_weights") != x:
            raise ValueError(f"per_sample_weights {list(per_sample_weights.shape)} must have "
                             f"the input's shape {list(x)}")
        if not is_floating(per_sample_weights.dtype):
            raise ValueError("per_sample_weights must be floating point, got "
                             f"{per_sample_weights.dtype}")
    return (bags, args["embedding_dim"]), 0


register(LayerDef(
    "EmbeddingBag",
    (
        Arg("num_embeddings", "int"),
        Arg("embedding_dim", "int"),
        Arg("max_norm", "float", None, nullable=True),
        Arg("norm_type", "float", 2.0),
        Arg("scale_grad_by_freq", "bool", False),
        Arg("mode", "str", "mean", choices=("sum", "mean", "max")),
        Arg("sparse", "bool", False),
        # after torch's private _weight, so a spec passes them by keyword only
        Arg("include_last_offset", "bool", False, kwonly=True),
        Arg("padding_idx", "int", None, nullable=True, kwonly=True),
    ),
    checks=_embedding_checks,
    params=lambda a: a["num_embeddings"] * a["embedding_dim"],
    forward=_bag_forward,
    ranks=(1, 2),
    out_dims={-1: "embedding_dim"},
    state=lambda a: {"weight": ((a["num_embeddings"], a["embedding_dim"]), True)},
    index_input="num_embeddings",
))


# --- AdaptiveLogSoftmaxWithLoss: a head over frequent classes, a tail cluster per cutoff -------


def _adaptive_checks(args: Args) -> Problems:
    yield from positive(args, "in_features", "n_classes")
    cutoffs, count = args.get("cutoffs"), args.get("n_classes")
    if not isinstance(cutoffs, (list, tuple)) or not isinstance(count, int) or not cutoffs:
        return
    if list(cutoffs) != sorted(set(cutoffs)) or cutoffs[0] <= 0 or cutoffs[-1] > count - 1:
        yield "cutoffs", ("cutoffs must be unique, increasing and between 1 and "
                          f"n_classes - 1 = {count - 1}, got {list(cutoffs)}")


def _adaptive_state(args: Args) -> State:
    """head (shortlist + one row per cluster), then per cluster a Linear down to
    in_features // div_value**(i + 1) and one up to the cluster's classes."""
    bounds = [*args["cutoffs"], args["n_classes"]]
    features, clusters = args["in_features"], len(bounds) - 1
    state: State = {"head.weight": ((bounds[0] + clusters, features), True)}
    if args["head_bias"]:
        state["head.bias"] = ((bounds[0] + clusters,), True)
    for i in range(clusters):
        hidden = int(features // (args["div_value"] ** (i + 1)))
        state[f"tail.{i}.0.weight"] = ((hidden, features), True)
        state[f"tail.{i}.1.weight"] = ((bounds[i + 1] - bounds[i], hidden), True)
    return state


# no shape rule: its forward takes the targets, and which tail clusters it computes (so its
# MACs) depends on their values; see nnspec.catalog.coverage
register(LayerDef(
    "AdaptiveLogSoftmaxWithLoss",
    (
        Arg("in_features", "int"),
        Arg("n_classes", "int"),
        Arg("cutoffs", "int_list"),
        Arg("div_value", "float", 4.0),
        Arg("head_bias", "bool", False),
    ),
    checks=_adaptive_checks,
    params=state_params(_adaptive_state),
    state=_adaptive_state,
))
