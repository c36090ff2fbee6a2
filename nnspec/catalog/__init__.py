"""The layer catalog: the one place that declares each supported torch layer."""

from nnspec.catalog import layers
from nnspec.catalog.types import REQUIRED, Arg, LayerDef, check_accepts
from nnspec.catalog.user import Catalog

LAYERS = Catalog(layers.LAYERS)

__all__ = ["LAYERS", "REQUIRED", "Arg", "LayerDef", "check_accepts"]
