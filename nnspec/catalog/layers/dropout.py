"""Dropout, the channel-wise Dropout1d/2d/3d, and the alpha dropouts that keep SELU's
self-normalising statistics."""

from __future__ import annotations

from nnspec.catalog.layers.common import (
    INPLACE,
    Family,
    expect_min_rank,
    expect_rank,
    no_macs,
    no_params,
    probability,
)
from nnspec.catalog.types import Arg, Args, LayerDef, Shape

FAMILY = Family()
register = FAMILY.add

# --- dropout ---------------------------------------------------------------------------------


def _dropout_shape(n: int):
    """Dropout{n}d zeroes whole channels of (N, C, *n spatial) inputs; Dropout takes any."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        if n:
            expect_rank(x, n + 2)
        return x
    return rule


for _n in (0, 1, 2, 3):
    register(LayerDef(
        f"Dropout{_n}d" if _n else "Dropout",
        (Arg("p", "float", 0.5), INPLACE),
        checks=probability,
        shape=_dropout_shape(_n),
        params=no_params,
        macs=no_macs,
        input_dtype="any",
    ))


def _feature_alpha_shape(args: Args, inputs: list[Shape]) -> Shape:
    """FeatureAlphaDropout drops whole channels: torch wants at least (N, C)."""
    expect_min_rank(inputs[0], 2)
    return inputs[0]


for _name, _shape in (("AlphaDropout", _dropout_shape(0)),
                      ("FeatureAlphaDropout", _feature_alpha_shape)):
    register(LayerDef(_name, (Arg("p", "float", 0.5), INPLACE), checks=probability,
                      shape=_shape, params=no_params, macs=no_macs))
