"""torch, imported once and quietly: every module of nnspec that needs torch takes it from here.

torch warns at import when numpy is absent; nnspec never uses numpy, so that warning is noise.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

__all__ = ["torch"]
