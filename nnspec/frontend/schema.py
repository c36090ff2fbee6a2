"""The spec's JSON Schema, for editors: generated from the pydantic models and the layer catalog.

`nnspec schema -o schema/nnspec.schema.json` writes it; spec files point at it with the modeline
`# yaml-language-server: $schema=../schema/nnspec.schema.json`.

What JSON Schema can and cannot say: it checks the document's structure (keys, types, the format
version) exactly as validation does. A layer call is a string, and JSON Schema cannot look inside a
string beyond a regular expression, nor know the block names a spec declares. So a call is checked
only for its shape `Name(...)`; each catalog layer gets its own branch (matched by its name) whose
description lists the layer's arguments with types and defaults, for hover, and a snippet, for
completion. Argument types, counts and values are checked by `nnspec validate`, not the schema.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from nnspec.catalog import LAYERS, LayerDef
from nnspec.catalog.types import Arg
from nnspec.formatter import literal
from nnspec.frontend.models import SpecFile
from nnspec.frontend.spec import FORMAT_VERSIONS
from nnspec.language.names import CONTAINER_BASES, IMPORT_PATH
from nnspec.language.types import TYPE_NAMES
from nnspec.output import markers

MODELINE = "# yaml-language-server: $schema=../schema/nnspec.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ACCEPTS_TYPES = {
    "int": "int", "float": "float", "bool": "bool", "str": "str", "any": "any",
    "int1": "int | [int]", "int2": "int | [int, int]", "int3": "int | [int, int, int]",
    "pad1": "int | [int] | 'same' | 'valid'", "pad2": "int | [int, int] | 'same' | 'valid'",
    "pad3": "int | [int, int, int] | 'same' | 'valid'", "ints": "int | [int, ...]",
    "int_or_ints": "int | [int, ...]", "float_or_floats": "float | [float, ...]",
    "class": "'package.module:Class'",
}

# Descriptions for hover, by model and key (the models' docstrings describe the objects).
_DESCRIPTIONS = {
    ("Spec", "nnspec"): "The spec format version.",
    ("Spec", "inputs"): "Model inputs by name, without the batch dimension: a shape such as "
                        "[3, 32, 32], or {shape, dtype, range}.",
    ("Spec", "blocks"): "Reusable module classes by name; call them like layers.",
    ("Spec", "layers"): "User and library layers: a call name for a layer class, "
                        "'package.module:Class' (declared with nnspec.declare_layer in "
                        "package.nnspec_layers, or by nnspec for common library layers) or "
                        "{class, args} with its signature. Built only with --allow-import "
                        "package.",
    ("Spec", "model"): "The root module class.",
    ("Spec", "doc"): "What this spec describes.",
    ("BlockSpec", "base"): "Module (the default), Sequential (children run in order, no "
                           "forward), ModuleList (numbered children, no forward), or a torch "
                           "layer to subclass (its arguments and tensors, a forward of its own).",
    ("BlockSpec", "extra_repr"): "What print() shows inside the parentheses: text with "
                                 "{parameter} fields, as in 'p={p}, mode={mode}'.",
    ("BlockSpec", "print_name"): "The class name print() shows, when it is not the block's "
                                 "name: two blocks may print as one class (an imported "
                                 "class whose instances differ), or a block named unlike a "
                                 "torch layer may print as one.",
    ("BlockSpec", "params"): "Constructor parameters: a default value (its type is inferred), a "
                             "type name such as 'int' (required), or {type, default, doc}.",
    ("BlockSpec", "inputs"): "Names of the forward arguments.",
    ("BlockSpec", "children"): "Submodules: a mapping of names to layer calls, or a list "
                               "(numbered, as in nn.Sequential).",
    ("BlockSpec", "forward"): "Forward steps: 'y = conv(x)', ..., 'return y'; or "
                              "{if, then, else}. Default: the children in order.",
    ("BlockSpec", "parameters"): "Parameters the class creates itself, before its children: "
                                 "{shape, init, dtype}; forward reads them by name.",
    ("BlockSpec", "buffers"): "Buffers the class registers itself: {shape, init (also 'tril'), "
                              "dtype, persistent}, or {compute: steps ending in 'return', "
                              "persistent}; forward reads them by name.",
    ("BlockSpec", "tie"): "Weight tying, target: source (lm_head.weight: tok_emb.weight): one "
                          "shared parameter under two names.",
    ("BlockSpec", "init"): "Weight-init rules run at the end of the class's __init__: over "
                           "self.modules() by 'type', or one 'child' by its dotted path.",
    ("ModelSpec", "name"): "The generated class name.",
    ("ChildSpec", "call"): "A layer or block call.",
    ("ChildSpec", "seq"): "An nn.Sequential of children (a list, or a mapping of names).",
    ("ChildSpec", "modules"): "An nn.ModuleList of children (a list): no forward; printed as "
                              "torch prints one.",
    ("ChildSpec", "if"): "An expression over parameters: the child exists only when it holds.",
    ("ChildSpec", "else"): "With 'if': the child built instead when the condition is false.",
    ("ChildSpec", "repeat"): "In a list: repeat this item (or the items in 'do') N times.",
    ("ChildSpec", "as"): "The loop variable of 'repeat' (0, 1, ...), usable in expressions.",
    ("ChildSpec", "do"): "With 'repeat': the items repeated, numbered on in the enclosing list.",
    ("IfStep", "if"): "An expression over parameters.",
}


def spec_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file (with `extends`, of the keys it lays over its parent)."""
    generated = SpecFile.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs: dict[str, Any] = generated.pop("$defs")
    defs["Spec"] = generated
    _retitle(defs)
    root = defs["Spec"]
    root["properties"]["nnspec"] = {"enum": list(FORMAT_VERSIONS),
                                    "description": _DESCRIPTIONS[("Spec", "nnspec")]}
    root["properties"]["extends"] = {
        "type": "string",
        "description": "A parent spec, relative to this file. This file's keys are merged over "
                       "the parent's: mappings key by key, null deletes a key, lists replace."}
    for (model, key), text in _DESCRIPTIONS.items():
        for target in (model, "ModelSpec") if model == "BlockSpec" else (model,):
            if key in defs[target]["properties"]:
                defs[target]["properties"][key]["description"] = text
    for target in ("BlockSpec", "ModelSpec"):
        defs[target]["properties"]["base"]["enum"] = [*CONTAINER_BASES, *sorted(LAYERS)]
    _replace_strings(defs)
    root["properties"]["layers"]["additionalProperties"]["oneOf"][0]["pattern"] = IMPORT_PATH
    defs["LayerRef"]["properties"]["class"]["pattern"] = IMPORT_PATH
    defs["LayerCall"] = layer_call_schema()
    defs["Statement"] = statement_schema()
    for name in [n for n in defs if n not in ("LayerCall", "Statement")]:
        defs[name + "Overlay"] = _overlay(defs[name])
    return {
        "$schema": DIALECT,
        "$comment": markers.SCHEMA_COMMENT + markers.PLACEHOLDER,
        "title": "nnspec spec",
        "description": "A neural network architecture, compiled to PyTorch by nnspec. Generated "
                       "by `nnspec schema`; do not edit by hand.",
        "type": "object",
        "if": {"required": ["extends"]},
        "then": {"$ref": "#/$defs/SpecOverlay"},
        "else": {"$ref": "#/$defs/Spec"},
        "$defs": dict(sorted(defs.items())),
    }


def _retitle(defs: dict[str, Any]) -> None:
    """Drop pydantic's per-property titles (they repeat the key) and the SpecFile title."""
    defs["Spec"]["title"] = "Spec"
    for schema in defs.values():
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)


def _replace_strings(defs: dict[str, Any]) -> None:
    """Point the string branches that hold calls and statements at their own definitions."""
    call, step = {"$ref": "#/$defs/LayerCall"}, {"$ref": "#/$defs/Statement"}
    _swap_string(defs["Child"]["oneOf"], call)
    _swap_string(defs["ChildSpec"]["properties"]["call"]["anyOf"], call)
    _swap_string(defs["Step"]["oneOf"], step)
    _swap_string(defs["IfStep"]["properties"]["then"]["oneOf"], step)
    _swap_string(defs["IfStep"]["properties"]["else"]["anyOf"][0]["oneOf"], step)
    for branch in defs["BlockSpec"]["properties"]["params"]["additionalProperties"]["oneOf"]:
        if branch.get("type") == "string":
            branch["examples"] = sorted(TYPE_NAMES)
            branch["description"] = "A type name (the parameter is then required), or a " \
                                    "string default."


def _swap_string(branches: list[dict[str, Any]], replacement: dict[str, Any]) -> None:
    index = branches.index({"type": "string"})  # fails loudly if pydantic's output changes
    branches[index] = replacement


def layer_call_schema() -> dict[str, Any]:
    """Call strings: one branch per catalog layer (documented), one for the spec's own blocks."""
    names = "|".join(sorted(LAYERS))
    return {
        "type": "string",
        "description": "A call of a torch layer or of a block of this spec, with Python "
                       "arguments over the parameters: 'Conv2d(cin, cout, 3, padding=1)'.",
        "pattern": rf"^\s*{_NAME}\s*(\([\s\S]*\))?\s*$",
        "oneOf": [_layer_branch(layer) for _, layer in sorted(LAYERS.items())] + [{
            "title": "block",
            "type": "string",
            "description": "A block declared under `blocks:` in this spec, or a user layer "
                           "under `layers:`.",
            "not": {"pattern": rf"^\s*({names})\s*(\(|$)"},
        }],
        "examples": [_example(layer) for _, layer in sorted(LAYERS.items())],
        "defaultSnippets": [{"label": name, "description": signature(layer),
                             "body": _snippet(layer)} for name, layer in sorted(LAYERS.items())],
    }


def signature(layer: LayerDef) -> str:
    """`Conv2d(in_channels: int, ..., stride: int | [int, int] = 1, ...)`."""
    return f"{layer.name}(" + ", ".join(_describe(a) for a in layer.args) + ")"


def _describe(arg: Arg) -> str:
    shown = " | ".join(map(repr, arg.choices)) if arg.choices else _ACCEPTS_TYPES.get(arg.accepts,
                                                                                 arg.accepts)
    shown += " | None" if arg.nullable else ""
    text = f"{arg.name}: {shown}"
    text = f"*, {text}" if arg.kwonly else text
    return text if arg.required else f"{text} = {literal(arg.default)}"


def _layer_branch(layer: LayerDef) -> dict[str, Any]:
    return {
        "title": layer.name,
        "type": "string",
        "description": f"torch.{layer.module}.{signature(layer)}\n\nPositional arguments "
                       "follow torch's order; omitted ones take torch's defaults.",
        "pattern": rf"^\s*{re.escape(layer.name)}\s*(\(|$)",
    }


def _example(layer: LayerDef) -> str:
    return f"{layer.name}(" + ", ".join(a.name for a in layer.args if a.required) + ")"


def _snippet(layer: LayerDef) -> str:
    required = [a.name for a in layer.args if a.required]
    return f"{layer.name}(" + ", ".join(f"${{{i}:{n}}}" for i, n in enumerate(required, 1)) + ")"


def statement_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "description": "One forward step: an assignment from children, torch./F. functions and "
                       "tensor methods ('y = conv(x)', 'x += y'), or 'return ...'.",
        "pattern": r"^\s*(return\b[\s\S]*|[A-Za-z_][\w\s,:()\[\]]*?"
                   r"(\*\*|//|<<|>>|[-+*/%@&|^])?=(?!=)[\s\S]*)$",
        "examples": ["x = conv(x)", "return x"],
    }


def _overlay(schema: Any) -> Any:
    """A definition as a child spec may state it: nothing required, null allowed (it deletes
    the parent's key), references to other overlays."""
    if isinstance(schema, list):
        return [_overlay(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _overlay(value) for key, value in schema.items() if key != "required"}
    if "$ref" in out and not out["$ref"].endswith(("LayerCall", "Statement")):
        out["$ref"] += "Overlay"
    if "properties" in out:
        out["properties"] = {key: _nullable(value) for key, value in out["properties"].items()}
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _nullable(out["additionalProperties"])
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def render() -> str:
    """The schema file's text: stable key order, two-space indent, a final newline; its
    `$comment` carries the digest by which nnspec recognises the file as its own."""
    text = json.dumps(copy.deepcopy(spec_schema()), indent=2, ensure_ascii=False) + "\n"
    return markers.seal(text)
