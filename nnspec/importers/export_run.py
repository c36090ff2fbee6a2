"""Running torch.export on one module, on the arguments it received in the model's run: every
tensor dimension and size argument dynamic (Dim.AUTO), those at the forward's defaults fixed,
its children's call signatures preserved, and torch's own logging quiet."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import Iterator
from typing import Any

from nnspec.importers import export_paths as paths
from nnspec.importers.calls import is_default
from nnspec.importers.inputs import plain_arguments
from nnspec.importers.trace import Untraceable


def export_program(module: Any, args: tuple, kwargs: dict,
                   plain: set[int] | None = None, opaque: set[int] = frozenset()) -> Any:
    """The ExportedProgram; Untraceable with torch's reason where it fails. `plain`: as
    oblivious_first takes it; `opaque`: as _opaque_children takes it."""
    import torch
    from torch.export import Dim

    def dynamic(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return {d: Dim.AUTO for d in range(value.dim())}
        if isinstance(value, int) and not isinstance(value, bool):  # a size: stays a size
            return Dim.AUTO
        if isinstance(value, (tuple, list)):
            return type(value)(dynamic(v) for v in value)
        if isinstance(value, dict):
            return {k: dynamic(v) for k, v in value.items()}
        return None

    children = tuple(paths.callables(module))
    quiet = logging.getLogger("torch")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # export logs what it specialises and gives up on
    try:
        signature = inspect.signature(module.forward)
        bound = signature.bind(*args, **kwargs).arguments
        # an argument at the forward's own default is a constant, which its parents' calls
        # leave out (calls.baked_out): BERT's past_key_values_length=0 is no size input
        shapes = {k: None if is_default(v, signature.parameters[k].default) else dynamic(v)
                  for k, v in bound.items()}
        def export() -> Any:
            return torch.export.export(module, args, kwargs, strict=False,
                                       dynamic_shapes=shapes,
                                       preserve_module_call_signature=children)

        plain = set() if plain is None else plain
        try:
            with _opaque_children(module, opaque):
                return oblivious_first(module, export, plain)
        except Exception:
            if not _MISMATCHED:
                raise
            _MISMATCHED.clear()  # a child ran otherwise than recorded: all of it traced
            return oblivious_first(module, export, plain)
    except Exception as exc:  # export says why: data-dependent shapes, unsupported code
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Untraceable(f"torch.export cannot trace it either: {message[:200]}") from None
    finally:
        quiet.setLevel(level)


def oblivious_first(module: Any, export: Any, plain: set[int]) -> Any:
    """Export with size-oblivious reasoning (as torch.onnx does), else as torch defaults to.
    Size-oblivious, sympy is not asked to prove what the forward never branches on:
    MobileViT's `math.ceil(H / p) * p` costs seconds per block otherwise. It cannot prove
    every size, though (a `y[:, -1:]` slice is not known to be 1 long; T5's attention bias
    broadcast over a batch of 1), so what it refuses is exported again the usual way, and so
    at once is any module holding one it refused (`plain`: their ids)."""
    from torch.fx.experimental import _config

    if not any(id(m) in plain for m in module.modules()):
        try:
            with _config.patch(backed_size_oblivious=True):
                return export()
        except Exception:  # noqa: BLE001 - the usual way says why, if it fails too
            plain.add(id(module))
    return export()


# the calls of opaque children made while an export runs: (forward, args, kwargs with the
# tensors taken out, the output's form), by the key the op is given (_opaque_children)
_CALLS: list[tuple[Any, list, dict, Any]] = []
_MISMATCHED: list[int] = []  # keys whose output was not of its recorded form


@contextlib.contextmanager
def _opaque_children(module: Any, opaque: set[int]) -> Iterator[None]:
    """The module's children (and theirs) whose recorded calls took tensors and constants and
    gave back a tensor or a tuple of tensors and Nones (`opaque`: their ids) run, while it is
    exported, as one op each, whose fake kernel runs them untraced: their steps are their own
    (each class is traced on its own), and tracing them again inside every ancestor cost a
    third of MobileViT's import and most of T5's. The op keeps the child's call in the graph,
    under the child's place in `nn_module_stack`, as its nodes were."""
    children = [c for c in module.modules() if c is not module and id(c) in opaque]
    if not children:
        yield
        return
    op = _opaque_op()
    for child in children:
        child.forward = functools.partial(_call, op, child.forward)
    try:
        yield
    finally:
        for child in children:
            del child.forward  # the class's own again
        _CALLS.clear()


def _call(op: Any, forward: Any, *args: Any, **kwargs: Any) -> Any:
    import torch

    values = [*args, *kwargs.values()]
    if not plain_arguments(values):
        return forward(*args, **kwargs)  # a size (SymInt) or a structure: traced as before
    tensors = [v for v in values if isinstance(v, torch.Tensor)]
    key = len(_CALLS)
    _CALLS.append((forward, list(args), dict(kwargs), None))
    outs = iter(op(tensors, key))
    form = _CALLS[key][3]
    if form is None:  # a single tensor
        return next(outs)
    return type(form)(None if slot is None else next(outs) for slot in form)


def _run(xs: list, key: int) -> list:
    """The child's call on `xs` in place of its tensors; its output's tensors (the form it
    came in is kept for _call)."""
    import torch

    forward, args, kwargs, _ = _CALLS[key]
    given = iter(xs)

    def put(v: Any) -> Any:
        return next(given) if isinstance(v, torch.Tensor) else v

    out = forward(*[put(v) for v in args], **{k: put(v) for k, v in kwargs.items()})
    if isinstance(out, torch.Tensor):
        return [out]
    if type(out) not in (tuple, list) or not all(
            o is None or isinstance(o, torch.Tensor) for o in out):
        _MISMATCHED.append(key)
        raise TypeError("an opaque child gave back other than tensors")
    _CALLS[key] = (forward, args, kwargs, type(out)(None if o is None else 0 for o in out))
    return [o for o in out if o is not None]


@functools.cache
def _opaque_op() -> Any:
    import torch

    @torch.library.custom_op("nnspec::opaque_child", mutates_args=(),
                             schema="(Tensor[] xs, int key) -> Tensor[]")  # (text annotations)
    def opaque_child(xs: list, key: int) -> list:
        return [o.clone() for o in _run(xs, key)]

    @opaque_child.register_fake
    def _(xs: list, key: int) -> list:
        return [torch.empty_strided(o.size(), o.stride(), dtype=o.dtype, device=o.device)
                for o in _run(xs, key)]

    return opaque_child
