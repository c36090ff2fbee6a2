"""`--set NAME=VALUE`: root parameter defaults replaced before validation, type-checked.

The resolved document (and so its digest) becomes the variant, exactly as if the spec had been
edited.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from nnspec.diagnostics import Collector, Diagnostic, Pos, SpecError, did_you_mean
from nnspec.frontend.document import Document
from nnspec.frontend.reader import parse_document
from nnspec.language.types import TYPE_NAMES, infer_type, param_type_problem


def parse_override(text: str) -> tuple[str, Any]:
    """`NAME=VALUE` with VALUE read as a YAML scalar or flow list: `widen=2`, `cfg=[1, 2]`.

    VALUE goes through the same bounded reader as a spec file (nesting, alias and node limits,
    tags), so a hostile value is a SpecError positioned at `--set:1:COL`, COL counted in the
    whole `NAME=VALUE` argument. A value that is not valid YAML stays the string it is.
    """
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--set takes NAME=VALUE, got '{text}'")
    if not value.strip():
        return name.strip(), ""
    try:
        doc = parse_document(value, SET_SOURCE)
    except SpecError as exc:
        if all(d.code == "empty" for d in exc.diagnostics):
            return name.strip(), None  # only a comment: YAML's null
        if all(d.code in _NOT_YAML for d in exc.diagnostics):
            return name.strip(), value
        raise SpecError([_shifted(d, len(name) + 1) for d in exc.diagnostics]) from None
    return name.strip(), doc.data


SET_SOURCE = "--set"
_NOT_YAML = {"yaml-syntax", "yaml-tab", "flow-split"}


def _shifted(d: Diagnostic, offset: int) -> Diagnostic:
    """`d` with its first-line columns moved past the `NAME=` before the value."""
    pos = d.pos
    if pos.line == 1:
        pos = dataclasses.replace(pos, col=pos.col + offset)
    return dataclasses.replace(d, pos=pos)


def apply_overrides(doc: Document, overrides: dict[str, Any]) -> None:
    """Set root parameter defaults, so the resolved spec (and its hash) is the variant."""
    errors = Collector()
    model = doc.data.get("model") if isinstance(doc.data, dict) else None
    params = model.get("params") if isinstance(model, dict) else None
    params = params if isinstance(params, dict) else {}
    for name, value in overrides.items():
        if name not in params:
            hint = did_you_mean(name, list(params)) or (
                f"root parameters: {', '.join(params)}" if params else "the model has no params")
            errors.error("unknown-param", f"'{name}' is not a parameter of the model",
                         Pos("--set", 1, 1), hint)
            continue
        decl = params[name]
        problem = _override_problem(decl, value)
        if problem:
            errors.error("wrong-type", f"'{name}' should be {problem}", Pos("--set", 1, 1))
            continue
        if isinstance(decl, dict):
            decl["default"] = value
        elif isinstance(decl, str) and decl in TYPE_NAMES:
            params[name] = {"type": decl, "default": value}
        else:  # declared by its default alone, whose type the value keeps (checked above)
            params[name] = value
        doc.pos[("model", "params", name)] = Pos("--set", 1, 1)
    errors.check()


def _override_problem(decl: Any, value: Any) -> str | None:
    """What a --set value should have been, judged by the parameter's declared or default type."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"a finite number, got {value}"
    if isinstance(decl, str) and decl in TYPE_NAMES:
        type_name = decl
    elif isinstance(decl, dict):
        type_name = decl.get("type")
    else:
        type_name = infer_type(decl)
    return param_type_problem(type_name, value) if type_name in TYPE_NAMES else None
