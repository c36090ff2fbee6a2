"""The layer catalog: the one place that declares each supported torch layer."""

from nnspec.catalog.layers import LAYERS
from nnspec.catalog.types import REQUIRED, Arg, LayerDef, check_kind

__all__ = ["LAYERS", "REQUIRED", "Arg", "LayerDef", "check_kind"]
