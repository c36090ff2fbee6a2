"""Shapes of referenced layers that declare no shape rule, measured by torch on the meta device.

A library class (timm's, torchvision's) referenced in a spec has at best its signature there.
When the user allowed its package and torch is installed, `summary` builds the class with the
call's arguments on the meta device (allocating nothing) and runs it on meta tensors of the
input shapes: its output shape and parameter count are then torch's own, and the rows they
come from are marked. The static pass stays torch-free: these rules are handed to it from
above (nnspec.api), in place of the rules a declaration would give.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from nnspec.catalog.library import UNWRITTEN, Unmeasured
from nnspec.catalog.types import Args, Shape
from nnspec.elaborate.user_layers import import_class
from nnspec.runtime.torchlib import torch


def measured_rules(path: str, classes: frozenset[str] = frozenset()
                   ) -> tuple[Callable[[Args, list[Shape]], Any], Callable[[Args], int]]:
    """A shape rule and a parameter rule for the class at `path`, measured on the meta
    device. The class is imported here (its package must be allowed), and so are the classes
    its arguments named in `classes` (of kind `class`) give by import path, as a build does.
    A class that refuses an input raises ValueError with torch's message, as a declared rule
    would."""
    cls = import_class(path)

    def build(args: Args) -> Any:
        given = {k: import_class(v) if k in classes and isinstance(v, str) else v
                 for k, v in args.items() if v is not UNWRITTEN}
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls(**given)

    def shape(args: Args, inputs: list[Shape]) -> Any:
        module = build(args)
        module.eval()  # (not chained: some libraries' `train` overrides return None)
        tensors = [torch.empty(s, device="meta") for s in inputs]
        try:
            with torch.no_grad():
                out = module(*tensors)
        except NotImplementedError as exc:  # an op meta tensors lack: not the input's fault
            raise Unmeasured(str(exc)) from None
        except RuntimeError as exc:
            if "meta" in str(exc):  # the forward reads values (`.item()`, `if x.mean() > 0`)
                raise Unmeasured(str(exc)) from None
            raise ValueError(f"torch refuses it: {exc}") from None
        return _shapes(out)

    def params(args: Args) -> int:
        return sum(p.numel() for p in build(args).parameters())

    return shape, params


def _shapes(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)) and out:
        return tuple(_shapes(o) for o in out)
    raise Unmeasured(f"the layer returns {type(out).__name__}, not tensors")
