"""nnspec: neural network architectures as YAML specs, compiled to PyTorch.

Importing nnspec does not import torch; only building a model does. The names below load on
first use (PEP 562), so that `nnspec validate`, which imports `nnspec.cli` and so runs this
file first, pays only for what it uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nnspec.api import Spec, build, example_inputs, generate, load, summary
    from nnspec.catalog import Arg
    from nnspec.diagnostics import Diagnostic, SpecError
    from nnspec.elaborate.user_layers import declare_layer

_HOMES = {"Spec": "nnspec.api", "build": "nnspec.api", "example_inputs": "nnspec.api",
          "generate": "nnspec.api", "load": "nnspec.api", "summary": "nnspec.api",
          "Arg": "nnspec.catalog", "Diagnostic": "nnspec.diagnostics",
          "SpecError": "nnspec.diagnostics", "declare_layer": "nnspec.elaborate.user_layers"}

__all__ = ["Arg", "Diagnostic", "Spec", "SpecError", "build", "declare_layer", "example_inputs",
           "generate", "load", "summary"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """A public name, loaded now; or, as when this file imported them all up front, a
    subpackage they load (`nnspec.static.budget.limit` after `import nnspec`)."""
    if name in _HOMES:
        value = getattr(import_module(_HOMES[name]), name)
        globals()[name] = value  # once loaded, a plain module attribute
        return value
    if not name.startswith("_"):
        for home in sorted(set(_HOMES.values())):
            import_module(home)  # each sets its packages as attributes here
        if name in globals():
            return globals()[name]
    raise AttributeError(f"module 'nnspec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
