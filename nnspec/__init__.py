"""nnspec: neural network architectures as YAML specs, compiled to PyTorch.

Importing nnspec does not import torch; only building a model does.
"""

from nnspec.api import Spec, build, example_inputs, generate, load, summary
from nnspec.diagnostics import Diagnostic, SpecError

__all__ = ["Diagnostic", "Spec", "SpecError", "build", "example_inputs", "generate", "load",
           "summary"]
__version__ = "0.1.0"
