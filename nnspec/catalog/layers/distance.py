"""The distances between two inputs: CosineSimilarity and PairwiseDistance."""

from __future__ import annotations

from nnspec.catalog.layers.common import (
    Family,
    broadcast_shapes,
    dim_index,
    no_macs,
    no_params,
)
from nnspec.catalog.types import Arg, Args, LayerDef, Shape

FAMILY = Family()
register = FAMILY.add


def _cosine_shape(args: Args, inputs: list[Shape]) -> Shape:
    """The broadcast shape of the two inputs, without `dim`."""
    shape = broadcast_shapes(*inputs)
    if not shape:  # torch reads a scalar as one value along dim 0 or -1
        dim_index((1,), args["dim"])
        return shape
    dim = dim_index(shape, args["dim"])
    return (*shape[:dim], *shape[dim + 1:])


def _pairwise_shape(args: Args, inputs: list[Shape]) -> Shape:
    """The p-norm of the difference over the last dim of the broadcast shape (kept as size 1
    with keepdim)."""
    shape = broadcast_shapes(*inputs)
    if not shape:
        return (1,) if args["keepdim"] else ()
    return (*shape[:-1], 1) if args["keepdim"] else shape[:-1]


register(LayerDef("CosineSimilarity", (Arg("dim", "int", 1), Arg("eps", "float", 1e-8)),
                  shape=_cosine_shape, params=no_params, macs=no_macs, inputs=2))
register(LayerDef(
    "PairwiseDistance",
    (Arg("p", "float", 2.0), Arg("eps", "float", 1e-6), Arg("keepdim", "bool", False)),
    shape=_pairwise_shape, params=no_params, macs=no_macs, inputs=2))
