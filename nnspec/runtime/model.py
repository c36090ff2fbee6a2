"""Models from the generated classes: the root built in tree order (so a seed fixes its
parameters), on a device and in a dtype, and example inputs that match the declared ones."""

from __future__ import annotations

import contextlib
from typing import Any

from nnspec.diagnostics import Diagnostic, SpecError
from nnspec.ir.program import Program
from nnspec.runtime.classes import load_classes
from nnspec.runtime.torchlib import torch


def instantiate(program: Program, device: Any = None, dtype: Any = None) -> torch.nn.Module:
    """Construct the root model, in tree order so a fixed seed gives fixed parameters."""
    cls = getattr(load_classes(program), program.root)
    with torch.device(device) if device is not None else contextlib.nullcontext():
        try:
            model = cls()
        except MemoryError:
            raise  # the build budget's to report, user layers or not
        except Exception as exc:
            if not program.user_layers:  # then generated code failed: nnspec's bug
                raise
            raise _user_code_error(program, exc) from None
    if dtype is not None:
        model = model.to(dtype=_dtype(dtype))
    return model


def _user_code_error(program: Program, exc: Exception) -> SpecError:
    """Building with user layers failed: their constructors, or an init rule reaching a child
    that the user's class does not have (declarations do not describe children)."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    pos = program.classes[program.root].pos
    for cls in program.classes.values():
        for rule in cls.init:
            child = (rule.child or "").split(".")[0]
            if child and any(kind == "user" for _, kind in rule.types) and \
                    f"attribute '{child}'" in reason:
                pos = rule.child_pos or rule.pos
    return SpecError([Diagnostic("build-failed", f"building the model fails: "
                                 f"{type(exc).__name__}: {reason}", pos)])


def _dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}")
    return value


def example_inputs(program: Program, batch: int = 2, seed: int = 0,
                   shape_override: dict[str, tuple[int, ...]] | None = None,
                   device: Any = None) -> tuple[torch.Tensor, ...]:
    """Random inputs matching the declared inputs in shape and dtype, reproducibly."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for inp in program.inputs:
        shape = (batch, *((shape_override or {}).get(inp.name, inp.shape)))
        dtype = _dtype(inp.dtype)
        if dtype.is_floating_point:
            tensor = torch.randn(shape, generator=gen).to(dtype)
        elif dtype == torch.bool:
            tensor = torch.rand(shape, generator=gen) > 0.5
        else:
            low, high = inp.range or (0, 2)
            tensor = torch.randint(low, high, shape, generator=gen, dtype=dtype)
        out.append(tensor.to(device) if device is not None else tensor)
    return tuple(out)
