"""A model's inputs as an importer takes them (`--input NAME=D,D,...[:DTYPE[<HIGH]]`), the
example tensors it runs the model on, and the call those tensors make.

An input is a shape without the batch dimension, a dtype (default float32) and, for integer
inputs, the bound of its values: `[0, high)`. Token ids must stay below the size of the
Embedding that looks them up, so an integer input with no bound given takes the smallest
`num_embeddings` of the `nn.Embedding` layers that read it directly (found by running the model
once on zeros); when none reads it, the spec's default range `[0, 2)` is kept, and said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nnspec.catalog.values import INTEGRAL


@dataclass(frozen=True)
class Input:
    shape: tuple[int, ...]
    dtype: str = "float32"
    high: int | None = None  # integer inputs: values in [0, high); None: not yet known

    @property
    def integer(self) -> bool:
        return self.dtype in INTEGRAL


def normalise(given: dict[str, Any] | None) -> dict[str, Input] | None:
    """`{name: [3, 32, 32]}` (float32) or `{name: Input(...)}`, as Inputs."""
    if not given:
        return None
    return {name: value if isinstance(value, Input) else Input(tuple(value))
            for name, value in given.items()}


def declared(inp: Input, shape: list[int] | None = None) -> Any:
    """How the spec's `inputs:` writes it: a shape list for float32, else a mapping."""
    shape = list(inp.shape if shape is None else shape)
    if inp.dtype == "float32":
        return shape
    out: dict[str, Any] = {"shape": shape, "dtype": inp.dtype}
    if inp.integer and inp.high is not None:
        out["range"] = [0, inp.high]
    return out


def examples(inputs: dict[str, Input], batch: int = 2, seed: int = 0) -> dict[str, Any]:
    """Seeded random tensors for the inputs, drawn as `nnspec.example_inputs` draws them for
    the spec written (so the spec's own examples are these)."""
    from nnspec.runtime.torchlib import torch

    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, inp in inputs.items():
        shape = (batch, *inp.shape)
        dtype = getattr(torch, inp.dtype)
        if dtype.is_floating_point:
            out[name] = torch.randn(shape, generator=gen).to(dtype)
        elif dtype == torch.bool:
            out[name] = torch.rand(shape, generator=gen) > 0.5
        else:
            out[name] = torch.randint(0, inp.high or 2, shape, generator=gen, dtype=dtype)
    return out


def bound_integers(model: Any, inputs: dict[str, Input]) -> tuple[dict[str, Input], list[str]]:
    """Integer inputs without a bound given get one: the smallest `num_embeddings` of the
    `nn.Embedding` layers that read the input itself (a view of it too), seen on one run of
    the model on zeros. Notes for the spec's header say where each bound came from."""
    from nnspec.runtime.torchlib import torch

    open_ = [name for name, inp in inputs.items() if inp.integer and inp.high is None]
    if not open_:
        return inputs, []
    zeros = {name: torch.zeros((2, *inp.shape), dtype=getattr(torch, inp.dtype))
             for name, inp in inputs.items()}
    storage = {zeros[name].untyped_storage().data_ptr(): name for name in open_}
    sizes: dict[str, list[int]] = {}

    def hook(module: Any, args: tuple, kwargs: dict) -> None:
        first = args[0] if args else kwargs.get("input")
        if isinstance(first, torch.Tensor):
            name = storage.get(first.untyped_storage().data_ptr())
            if name is not None:
                sizes.setdefault(name, []).append(module.num_embeddings)

    hooks = [m.register_forward_pre_hook(hook, with_kwargs=True) for m in model.modules()
             if isinstance(m, torch.nn.Embedding)]
    try:
        with torch.no_grad():
            model(**call_arguments(model, zeros))
    except Exception:  # noqa: S110 - the model's own failure is reported by the output check
        pass
    finally:
        for h in hooks:
            h.remove()
    out, notes = dict(inputs), []
    for name in open_:
        if name in sizes:
            out[name] = Input(inputs[name].shape, inputs[name].dtype, min(sizes[name]))
            notes.append(f"Input {name}: values in [0, {min(sizes[name])}), below the size of "
                         "the Embedding that reads it.")
        else:
            notes.append(f"Input {name}: no Embedding reads it, so its values are the spec's "
                         f"default range [0, 2); give another with --input "
                         f"'{name}=...:{inputs[name].dtype}<N'.")
    return out, notes


def call_arguments(model: Any, tensors: dict[str, Any]) -> dict[str, Any]:
    """The model's call on the inputs the user picked (`--input input_ids=16`), by name; every
    other argument keeps its default (a mask of None), except that caches are off
    (`use_cache=False`, as Hugging Face models take it). Unnamed inputs go by position."""
    import inspect

    parameters = inspect.signature(model.forward).parameters
    named = [p.name for p in parameters.values()
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    out = {name if name in parameters else named[i]: t
           for i, (name, t) in enumerate(tensors.items()) if i < len(named)}
    if "use_cache" in parameters and "use_cache" not in out:
        out["use_cache"] = False
    return out


class Calls(dict):
    """id(module) -> (args, kwargs) of its first call; `tensor_out`: the ids of the modules
    whose every call took tensors and plain constants and gave back a tensor or a tuple of
    tensors and Nones (export_run may leave them opaque)."""

    tensor_out: set[int]


def plain_arguments(values: list) -> bool:
    """Tensors (one at least) and constants: no size (SymInt), list or other structure."""
    import torch

    return any(isinstance(v, torch.Tensor) for v in values) and all(
        isinstance(v, torch.Tensor) or v is None or type(v) in (bool, int, float, str)
        for v in values)


def _plain_call(args: tuple, kwargs: dict, out: Any) -> bool:
    """Tensors and constants in, a tensor or a flat tuple of tensors and Nones out."""
    import torch

    outs = list(out) if type(out) in (tuple, list) else [out]
    return plain_arguments([*args, *kwargs.values()]) and \
        any(isinstance(o, torch.Tensor) for o in outs) and \
        all(isinstance(o, torch.Tensor) or o is None for o in outs)


def record_calls(model: Any, inputs: dict[str, Input]) -> Calls:
    """The arguments each module received when the model ran once on example inputs (the
    first call of each): what torch.export traces a module on. The run takes the code paths
    an export takes (torch's exporting flags are on, as torch.export sets them), so a child
    receives here what its parent's exported graph gives it: Hugging Face builds an attention
    mask under export where an eager run passes None. Empty if the model does not run."""
    from torch._export.utils import _compiling_state_context
    from torch.utils import _pytree

    from nnspec.runtime.torchlib import torch

    calls = Calls()
    plain, other = set(), set()  # ids of modules with a plain call, with another call

    def record(module: Any, args: tuple, kwargs: dict) -> None:
        if id(module) not in calls:
            calls[id(module)] = _pytree.tree_map(
                lambda v: v.clone() if isinstance(v, torch.Tensor) else v, (args, kwargs))

    def returned(module: Any, args: tuple, kwargs: dict, out: Any) -> None:
        (plain if _plain_call(args, kwargs, out) else other).add(id(module))

    hooks = [m.register_forward_pre_hook(record, with_kwargs=True) for m in model.modules()]
    hooks += [m.register_forward_hook(returned, with_kwargs=True) for m in model.modules()]
    try:
        with torch.no_grad(), _compiling_state_context():
            model(**call_arguments(model, examples(inputs)))
    except Exception:  # the model's own code failed on the guess: nothing to export with
        calls.clear()
        plain.clear()
    finally:
        for hook in hooks:
            hook.remove()
    calls.tensor_out = plain - other
    return calls
