"""Stage 2, validate: the resolved YAML data as the spec language's data classes.

A spec that the fast check of `nnspec.frontend.spec` passes needs nothing more; any other is
judged by the pydantic models of `nnspec.frontend.models` (imported only then), which report
every problem at once, positioned. Either way the later stages get the same data classes,
re-exported here.
"""

from __future__ import annotations

from nnspec.diagnostics import Collector
from nnspec.frontend.document import Document
from nnspec.frontend.spec import (
    FORMAT_VERSIONS,
    BlockSpec,
    BufferSpec,
    ChildSpec,
    DType,
    IfStep,
    InitRule,
    InputSpec,
    LayerArgSpec,
    LayerRef,
    ModelSpec,
    ParameterSpec,
    ParamSpec,
    SpecFile,
    TieSpec,
    fast_check,
    layer_path,
)

__all__ = ["FORMAT_VERSIONS", "BlockSpec", "BufferSpec", "ChildSpec", "DType", "IfStep",
           "InitRule", "InputSpec", "LayerArgSpec", "LayerRef", "ModelSpec", "ParamSpec",
           "ParameterSpec", "SpecFile", "TieSpec", "layer_path", "validate"]


def validate(doc: Document) -> SpecFile:
    """The spec's data classes for a resolved document, or SpecError with every problem
    positioned."""
    errors = Collector(doc.origins)
    data = doc.data
    if not isinstance(data, dict):
        errors.error("wrong-type", "a spec is a mapping with 'nnspec', 'inputs' and 'model'",
                     doc.where(()))
        errors.check()
    version = data.get("nnspec")
    if "nnspec" in data and version not in FORMAT_VERSIONS:
        errors.error("unsupported-version", f"unsupported format version {version!r}",
                     doc.where(("nnspec",)), "this nnspec reads format versions "
                     + ", ".join(map(str, FORMAT_VERSIONS)))
        errors.check()
    spec = fast_check(data)
    if spec is not None:
        return spec
    from nnspec.frontend import models

    return models.check(doc, errors)
