"""The Python API: load, build, example_inputs, generate. Torch is imported only by `build`
and `example_inputs`, so validating and generating stay fast.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnspec.catalog.user import DECLARED
from nnspec.diagnostics import Diagnostic, Pos, SpecError
from nnspec.elaborate.compile import compile_document, gc_paused
from nnspec.elaborate.shapes.walker import analyze
from nnspec.frontend.document import Document
from nnspec.frontend.extends import load_resolved
from nnspec.frontend.overrides import apply_overrides
from nnspec.ir.analysis import Analysis
from nnspec.ir.program import Instance, Program
from nnspec.static import budget

if TYPE_CHECKING:
    import torch

@dataclass
class Spec:
    """A compiled spec: the IR, the instance tree, and the resolved document it came from."""

    path: str
    document: Document
    program: Program
    tree: Instance
    analysis: Analysis  # static shapes, parameters and MACs for the declared inputs

    @property
    def name(self) -> str:
        return self.program.root

    def with_params(self, **params: Any) -> Spec:
        """This spec with root parameters overridden, as `--set` does."""
        if not params:
            return self
        doc = copy.deepcopy(self.document)
        apply_overrides(doc, params)
        return _compile(doc, self.path, self.program.allow_import)


def load(path: str | os.PathLike[str], *, allow_import: Sequence[str] = (),
         **params: Any) -> Spec:
    """Load, validate and elaborate a spec file. Raises SpecError with every diagnostic.

    `allow_import` names the packages whose user layers (the spec's `layers:`) nnspec may
    import; see `nnspec.declare_layer`."""
    with gc_paused():
        doc = load_resolved(str(path))
        if params:
            apply_overrides(doc, params)
        return _compile(doc, str(path), _packages(allow_import))


def _packages(allow_import: Sequence[str]) -> tuple[str, ...]:
    if isinstance(allow_import, str):  # a lone package name, not its letters
        allow_import = [allow_import]
    return tuple(allow_import)


def _compile(doc: Document, source: str, allow_import: tuple[str, ...] = ()) -> Spec:
    compiled = compile_document(doc, source, allow_import)
    return Spec(source, doc, compiled.program, compiled.tree, compiled.analysis)


def _spec(path_or_spec: Any, params: dict[str, Any], allow_import: Sequence[str] = ()) -> Spec:
    if isinstance(path_or_spec, Spec):
        return path_or_spec.with_params(**params)
    if isinstance(path_or_spec, (str, os.PathLike)):
        if not Path(path_or_spec).is_file():
            raise SpecError([Diagnostic("io", "spec file not found", Pos(str(path_or_spec), 1,
                                                                          1))])
        return load(path_or_spec, allow_import=allow_import, **params)
    raise TypeError(f"expected a spec path or nnspec.Spec, got {type(path_or_spec).__name__}")


def build(path_or_spec: Any, *, device: Any = None, dtype: Any = None,
          allow_import: Sequence[str] = (), **params: Any) -> torch.nn.Module:
    """The spec's model as a real `torch.nn.Module`. Before allocating, the build budget
    (`nnspec.static.budget`: the parameter budget, and the estimate in bytes against the memory
    available) is checked; `device="meta"` allocates nothing, so it is not. User layers'
    modules are imported here, from the packages `allow_import` names."""
    from nnspec.runtime.model import instantiate

    spec = _spec(path_or_spec, params, allow_import)
    if device is not None and str(device).split(":")[0] == "meta":
        return instantiate(spec.program, device=device, dtype=dtype)
    # memory is the host's: other devices' memory is for torch to report
    host = device is None or str(device).split(":")[0] == "cpu"
    budget.check_build(spec.analysis, spec.tree, dtype, memory=host)
    with budget.allocating(spec.analysis, spec.tree, dtype):
        return instantiate(spec.program, device=device, dtype=dtype)


def example_inputs(path_or_spec: Any, batch: int = 2, seed: int = 0,
                   allow_import: Sequence[str] = (), **params: Any) -> tuple[torch.Tensor, ...]:
    """Random tensors matching the spec's declared inputs, in shape and dtype."""
    from nnspec.runtime.model import example_inputs

    program = _spec(path_or_spec, params, allow_import).program
    return example_inputs(program, batch=batch, seed=seed)


def generate(path_or_spec: Any, *, spec_label: str | None = None,
             templates: str | os.PathLike[str] | None = None,
             allow_import: Sequence[str] = (), **params: Any) -> str:
    """The standalone PyTorch source that `nnspec build SPEC -o FILE` writes.

    `spec_label` is how the header names the spec (the CLI passes its path relative to the
    output file); by default, its path relative to the working directory.
    """
    from nnspec.codegen import generate as codegen  # the module: generate(), spec_label()

    with gc_paused():  # like compiling, generating makes many objects and no cycles
        spec = _spec(path_or_spec, params, allow_import)
        label = spec_label if spec_label is not None else codegen.spec_label(spec.path)
        return codegen.generate(spec.program, label, templates, overrides=params)


def summary(path_or_spec: Any, *, inputs: dict[str, tuple[int, ...]] | None = None,
            allow_import: Sequence[str] = (), **params: Any) -> dict[str, Any]:
    """What `nnspec summary --json` prints for one spec: totals (`params`, `macs`, `flops`),
    `inputs`/`outputs` shapes and one row per module under `layers`. No torch import.

    `inputs` overrides declared input shapes (without batch), by input name; the key ""
    names the only input."""
    from nnspec.static.summary import as_data  # only here: `load` needs no summary tables

    spec = _spec(path_or_spec, params, allow_import)
    shapes = _input_shapes(spec, inputs)
    measured = _measured(spec.program)
    if not measured:
        analysis = analyze(spec.program, spec.tree, shapes) if shapes else spec.analysis
        return as_data(spec.path, spec.name, analysis)
    saved = {path: DECLARED[path] for path in measured}
    try:
        for path, (shape, count) in measured.items():
            DECLARED[path] = replace(saved[path], shape=shape,
                                     params=saved[path].params or count)
        analysis = analyze(spec.program, spec.tree, shapes)
    finally:
        DECLARED.update(saved)
    return as_data(spec.path, spec.name, analysis, set(measured))


def _measured(program: Program) -> dict[str, tuple[Any, Any]]:
    """Shape and parameter rules measured on torch's meta device, for the referenced layers
    that declare no shape rule and whose package is allowed; none without torch (summary is
    torch-free until a spec needs this)."""
    from nnspec.catalog import LAYERS
    from nnspec.elaborate.user_layers import allowed

    opaque = [path for path in program.user_layers if path in DECLARED
              and LAYERS[path].shape is None and LAYERS[path].forward is None
              and allowed(path.split(":")[0], program.allow_import)]
    if not opaque:
        return {}
    try:
        from nnspec.runtime.meta import measured_rules
    except ImportError:  # no torch: shapes stay unknown after these layers
        return {}
    out = {}
    for path in opaque:
        try:
            out[path] = measured_rules(path, frozenset(
                a.name for a in LAYERS[path].args if a.accepts == "class"))
        except ImportError:  # the class cannot be imported: building reports it
            continue
    return out


def _input_shapes(spec: Spec, inputs: dict[str, tuple[int, ...]] | None
                  ) -> dict[str, tuple[int, ...]] | None:
    if not inputs:
        return None
    names = [i.name for i in spec.program.inputs]
    out = {}
    for name, shape in inputs.items():
        if not name:
            if len(names) != 1:
                raise ValueError(f"{spec.path} has inputs {', '.join(names)}: name the one to "
                                 "override, as NAME=D,D,...")
            name = names[0]
        if name not in names:
            raise ValueError(f"{spec.path} has no input '{name}' (inputs: {', '.join(names)})")
        out[name] = tuple(shape)
    return out
