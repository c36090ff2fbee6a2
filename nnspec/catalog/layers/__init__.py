"""Every supported torch layer, declared once, by family. Argument order and defaults are torch's.

This module only joins the families, in the order the catalog lists them (the JSON schema and
the did-you-mean lists follow that order). What torch.nn has that the catalog leaves out, and
which entries have no shape rule, is in nnspec.catalog.coverage.
"""

from __future__ import annotations

from nnspec.catalog.layers import (
    activation,
    attention,
    conv,
    distance,
    dropout,
    linear,
    normalisation,
    padding,
    pooling,
    pooling_other,
    recurrent,
    reshape,
    transformer,
)
from nnspec.catalog.types import LayerDef

FAMILIES = (conv, linear, normalisation, activation, dropout, pooling, pooling_other, reshape,
            padding, distance, recurrent, attention, transformer)

LAYERS: dict[str, LayerDef] = {layer.name: layer for family in FAMILIES
                               for layer in family.FAMILY}
