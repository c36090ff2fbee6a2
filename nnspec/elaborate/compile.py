"""The front half of the compiler in one call: a resolved document to the checked IR.

Validation, elaboration, the shape pass and the inference pass, in order, under one work
budget for the spec's expressions. The API, the runtime (rebuilding classes when a model is
unpickled) and the importers (checking what they write) all compile through here, so there is
one path from spec data to a program.
"""

from __future__ import annotations

import contextlib
import copy
import gc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from nnspec.diagnostics import SpecError
from nnspec.elaborate.elaborator import elaborate
from nnspec.elaborate.infer import apply_inferred
from nnspec.elaborate.shapes.walker import analyze
from nnspec.elaborate.user_layers import UserRuleError, rule_error
from nnspec.frontend.document import Document
from nnspec.frontend.validate import layer_path, validate
from nnspec.ir.analysis import Analysis
from nnspec.ir.program import Instance, Program
from nnspec.language.guards import spec_work


@dataclass
class Compiled:
    """A compiled spec: the IR, its instance tree, and the static analysis of its inputs."""

    document: Document
    program: Program
    tree: Instance
    analysis: Analysis


def compile_document(doc: Document, source: str, allow_import: Sequence[str] = ()) -> Compiled:
    """Validate and elaborate `doc`; raise SpecError with every diagnostic."""
    with gc_paused(), spec_work():
        spec = validate(doc)
        try:
            program, tree = elaborate(doc, spec, source, tuple(allow_import))
        except UserRuleError as exc:
            raise _user_rule_error(doc, spec, exc) from None
        analysis = analyze(program, tree)
        apply_inferred(program, analysis)
        return Compiled(doc, program, tree, analysis)


def _user_rule_error(doc: Document, spec: Any, exc: UserRuleError) -> SpecError:
    """A user layer's faulty declaration, at the spec's `layers:` entry that names it."""
    names = [name for name, entry in spec.layers.items() if layer_path(entry) == exc.path]
    return rule_error(exc, doc.where(("layers", names[0])) if names else doc.where(
        ("layers",), key=True))


def compile_data(data: Any, source: str, allow_import: Sequence[str] = ()) -> Compiled:
    """Compile already-resolved spec data (as kept in pickles), without reading files."""
    return compile_document(Document(copy.deepcopy(data), files=[source]), source, allow_import)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Compiling allocates many small objects and no garbage cycles; the cyclic collector's
    full passes over the growing heap would make big specs take superlinear time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
