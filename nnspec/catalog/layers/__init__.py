"""Every supported torch layer, declared once, by family. Argument order and defaults are torch's.

This module only joins the families, in the order the catalog lists them (the JSON schema and
the did-you-mean lists follow that order).
"""

from __future__ import annotations

from nnspec.catalog.layers import (
    activation,
    attention,
    conv,
    dropout,
    linear,
    normalisation,
    pooling,
    recurrent,
    reshape,
)
from nnspec.catalog.types import LayerDef

FAMILIES = (conv, linear, normalisation, activation, dropout, pooling, reshape, recurrent,
            attention)

LAYERS: dict[str, LayerDef] = {layer.name: layer for family in FAMILIES
                               for layer in family.FAMILY}
