"""The `torch.nn.init` functions a spec's `init` rules and own tensors may call, with their
arguments' kinds and torch's defaults. Pure data: elaboration checks rules against it, and code
generation writes the calls."""

from __future__ import annotations

from typing import Any

_NONLINEARITIES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                   "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                   "leaky_relu", "selu")

# name -> {argument: (accepts, default, choices)}; defaults are torch.nn.init's own
FUNCTIONS: dict[str, dict[str, tuple[str, Any, tuple | None]]] = {
    "zeros": {},
    "ones": {},
    "constant": {"val": ("float", None, None)},
    "normal": {"mean": ("float", 0.0, None), "std": ("float", 1.0, None)},
    "uniform": {"a": ("float", 0.0, None), "b": ("float", 1.0, None)},
    "trunc_normal": {"mean": ("float", 0.0, None), "std": ("float", 1.0, None),
                     "a": ("float", -2.0, None), "b": ("float", 2.0, None)},
    "kaiming_normal": {"a": ("float", 0, None), "mode": ("str", "fan_in", ("fan_in", "fan_out")),
                       "nonlinearity": ("str", "leaky_relu", _NONLINEARITIES)},
    "kaiming_uniform": {"a": ("float", 0, None),
                        "mode": ("str", "fan_in", ("fan_in", "fan_out")),
                        "nonlinearity": ("str", "leaky_relu", _NONLINEARITIES)},
    "xavier_normal": {"gain": ("float", 1.0, None)},
    "xavier_uniform": {"gain": ("float", 1.0, None)},
    "orthogonal": {"gain": ("float", 1, None)},
}
TENSORS = ("weight", "bias")
# lower-triangular ones over the last two dims (a causal mask): for buffers only
TRIL = "tril"
