"""User layers as the catalog sees them: declared `LayerDef`s keyed by 'package.module:Class'.

Declarations come from `nnspec.declare_layer` (nnspec/elaborate/user_layers.py), or from a
spec's own `args`, or, for common library layers, from nnspec (catalog/library.py). The key holds
a ':' that no torch layer name has, so lookups by key never meet a catalog entry; iterating the
catalog (the schema, "did you mean" lists) still lists torch layers only.
"""

from __future__ import annotations

from nnspec.catalog.library import LIBRARY
from nnspec.catalog.types import LayerDef

DECLARED: dict[str, LayerDef] = {}


class Catalog(dict[str, LayerDef]):
    """The torch layers; a lookup by a user layer's key finds its declaration too."""

    def __missing__(self, key: str) -> LayerDef:
        found = DECLARED.get(key) or LIBRARY.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def get(self, key: str, default: LayerDef | None = None) -> LayerDef | None:  # type: ignore[override]
        return super().get(key) or DECLARED.get(key) or LIBRARY.get(key, default)
