"""RNG-free weights and inputs, so outputs can be compared across torch versions.

``torch.manual_seed`` streams are not promised to stay the same between torch
releases or devices, so golden outputs recorded from seeded weights could drift
for reasons that have nothing to do with the model. These helpers fill a model
from closed-form trigonometric sequences computed in float64 instead: the same
architecture gets bit-identical weights on any torch version and any machine.
Torch only (no numpy, no torchvision), so tests can import it anywhere.
"""

from __future__ import annotations

import math

import torch

__all__ = ["fill_fixed_", "fixed_input", "fixed_values"]


def _wave(numel: int, k: int) -> torch.Tensor:
    """Entry ``k``'s base sequence: values in [-1, 1], float64, one per flat index ``i``.

    ``sin(0.37 * i + 1.3 * k + 0.0123 * ((i * i) mod 7919))``. A plain
    ``sin(0.37 * i + c)`` would make every weight matrix (rows = output
    channels) rank 2, since each row is the same sinusoid shifted, and every
    logit would then be one sinusoid in the class index: a weak check. The
    quadratic term, taken modulo a prime in exact int64 arithmetic, scrambles
    the phase so that matrices are full rank, without any RNG.
    """
    linear, scramble = _phase_terms(numel)
    return torch.sin(linear + k * 1.3 + scramble)


_TERMS: list[torch.Tensor] = []


def _phase_terms(numel: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``0.37 * i`` and ``0.0123 * ((i * i) mod 7919)`` for the first ``numel`` indices.

    They do not depend on ``k``, so they are computed once for the largest ``numel`` seen and
    sliced: elementwise, so bit-identical to computing them per call, and ViT-B/16's 86 M
    values are filled about twice as fast.
    """
    if not _TERMS or _TERMS[0].numel() < numel:
        i = torch.arange(numel, dtype=torch.int64)
        _TERMS[:] = [i.to(torch.float64) * 0.37, ((i * i) % 7919).to(torch.float64) * 0.0123]
    return _TERMS[0][:numel], _TERMS[1][:numel]


def fixed_values(key: str, shape: torch.Size | tuple[int, ...], k: int) -> torch.Tensor:
    """The float64 values that ``fill_fixed_`` writes into state_dict entry ``k`` named ``key``.

    - ``*running_var``: ``1 + 0.25 * (1 + s)``, strictly positive, in [1, 1.5].
    - ``*running_mean``: ``0.1 * s``.
    - tensors with two or more dims (conv/linear weights, embeddings): ``s * sqrt(2 / fan_in)``
      with ``fan_in = numel / shape[0]``; as ``mean(s**2) = 1/2`` that is variance
      ``1 / fan_in``, which keeps activations of order 0.1..1 through ResNet-50 and ViT-B/16.
    - one-dim ``*weight`` (BatchNorm / LayerNorm scale): ``1 + 0.1 * s``.
    - everything else (biases, scalars): ``0.05 * s``.
    """
    shape = tuple(shape)
    numel = math.prod(shape)
    s = _wave(numel, k)
    if key.endswith("running_var"):
        t = 1.0 + 0.25 * (1.0 + s)
    elif key.endswith("running_mean"):
        t = 0.1 * s
    elif len(shape) >= 2:
        fan_in = numel // shape[0] if shape[0] else 1
        t = s * math.sqrt(2.0 / max(fan_in, 1))
    elif key.endswith("weight") and len(shape) == 1:
        t = 1.0 + 0.1 * s
    else:
        t = 0.05 * s
    return t.reshape(shape)


def fill_fixed_(model: torch.nn.Module) -> None:
    """Overwrite every floating-point ``model.state_dict()`` entry in place, RNG-free.

    Parameters and buffers alike, in state_dict order (``k`` is the entry's index
    in that order, counting every entry). Integer buffers such as
    ``num_batches_tracked`` are left untouched.
    """
    with torch.no_grad():
        for k, (key, t) in enumerate(model.state_dict().items()):
            if not t.is_floating_point():
                continue
            values = fixed_values(key, t.shape, k)
            t.copy_(values.to(dtype=t.dtype, device=t.device))


def fixed_input(shape: tuple[int, ...]) -> torch.Tensor:
    """A deterministic float32 input: ``cos(0.113 * i)`` over the flat index, reshaped."""
    numel = math.prod(shape)
    x = torch.cos(torch.arange(numel, dtype=torch.float64) * 0.113)
    return x.to(torch.float32).reshape(shape)
