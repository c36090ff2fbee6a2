"""Dropout and the channel-wise Dropout1d/2d/3d."""

from __future__ import annotations

from nnspec.catalog.layers.common import (
    INPLACE,
    Family,
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
