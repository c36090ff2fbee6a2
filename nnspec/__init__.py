"""nnspec: neural network architectures as YAML specs, compiled to PyTorch.

Importing nnspec does not import torch; only building a model does.
"""

from nnspec.api import Spec, build, example_inputs, generate, load, summary
from nnspec.catalog import Arg
from nnspec.diagnostics import Diagnostic, SpecError
from nnspec.elaborate.user_layers import declare_layer

__all__ = ["Arg", "Diagnostic", "Spec", "SpecError", "build", "declare_layer", "example_inputs",
           "generate", "load", "summary"]
__version__ = "0.1.0"
