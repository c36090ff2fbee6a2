"""The spec language's data classes, and a fast check that builds them from valid YAML data.

The pydantic models of `nnspec.frontend.models` define the language and report its errors;
building them costs more than checking a whole spec, so `validate` first tries `fast_check`
here: plain classes with the models' fields and defaults, filled in by a strict walk over the
data that accepts only what the models accept, and gives up (returns None) on anything else,
a valid spec written in an unusual way included. The models then decide, and say why.
`tests/test_spec_fast_check.py` holds the two to the same fields, defaults and results.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from nnspec.language.types import TYPE_NAMES, VALUE_KINDS

FORMAT_VERSIONS = (1,)

DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
          "uint8", "bool")
DType = Literal["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
                "uint8", "bool"]
REQUIRED = object()  # a field without a default


class SpecData:
    """One mapping of a spec: each field an attribute, named as in the pydantic model (`if_`
    for the key `if`); `FIELDS` gives each field's default, or REQUIRED."""

    FIELDS: ClassVar[dict[str, Any]] = {}

    def __init__(self, **values: Any) -> None:
        self._given = frozenset(values)
        for name, default in self.FIELDS.items():
            if name in values:
                setattr(self, name, values.pop(name))
            elif default is REQUIRED:
                raise TypeError(f"{type(self).__name__} needs '{name}'")
            else:  # a fresh copy, as pydantic gives each instance its own mutable default
                setattr(self, name, copy.copy(default))
        if values:
            raise TypeError(f"{type(self).__name__} has no field '{next(iter(values))}'")

    @classmethod
    def model_construct(cls, **values: Any) -> SpecData:
        """The spec with these fields and defaults for the rest (pydantic's name for it)."""
        return cls(**values)

    @property
    def model_fields_set(self) -> frozenset[str]:
        """The fields the spec wrote, not defaulted (pydantic's name for it)."""
        return self._given

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(other, name) == getattr(self, name) for name in self.FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the models

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.FIELDS)
        return f"{type(self).__name__}({shown})"


class InputSpec(SpecData):
    FIELDS = {"shape": REQUIRED, "dtype": "float32", "range": None, "doc": None}


class ParamSpec(SpecData):
    FIELDS = {"type": REQUIRED, "default": None, "doc": None}


class ChildSpec(SpecData):
    FIELDS = {"call": None, "seq": None, "modules": None, "if_": None, "else_": None,
              "repeat": None, "as_": None, "do": None, "doc": None}


class IfStep(SpecData):
    FIELDS = {"if_": REQUIRED, "then": REQUIRED, "else_": None}


class InitRule(SpecData):
    FIELDS = {"if_": None, "type": None, "child": None, "weight": None, "bias": None,
              "doc": None}


class ParameterSpec(SpecData):
    FIELDS = {"shape": REQUIRED, "init": REQUIRED, "dtype": None, "after_children": False,
              "doc": None}


class BufferSpec(SpecData):
    FIELDS = {"shape": None, "init": None, "compute": None, "dtype": None, "persistent": True,
              "after_children": False, "doc": None}


class TieSpec(SpecData):
    FIELDS = {"source": REQUIRED, "if_": REQUIRED}


class BlockSpec(SpecData):
    FIELDS = {"base": "Module", "doc": None, "extra_repr": None, "print_name": None,
              "params": {}, "inputs": ["x"],
              "children": {}, "forward": None, "parameters": {}, "buffers": {}, "tie": {},
              "init": []}


class ModelSpec(BlockSpec):
    FIELDS = {**BlockSpec.FIELDS, "name": "Net", "inputs": None}


class SpecFile(SpecData):
    FIELDS = {"nnspec": REQUIRED, "doc": None, "inputs": REQUIRED, "model": REQUIRED,
              "blocks": {}, "layers": {}}


class LayerArgSpec(SpecData):
    """A referenced layer's constructor argument in long form: `{type: str, default: row}`."""

    FIELDS = {"type": REQUIRED, "default": None, "optional": False, "doc": None}


class LayerRef(SpecData):
    """A layer class by reference, with its constructor's signature written in the spec so
    that the static verbs need not import it: `{class: "pkg.mod:Class", args: {p: float}}`."""

    FIELDS = {"class_": REQUIRED, "args": None, "doc": None}


def layer_path(entry: str | LayerRef) -> str:
    """The import path of a `layers:` entry, in either form."""
    return entry if isinstance(entry, str) else entry.class_


CLASSES = {cls.__name__: cls for cls in (InputSpec, ParamSpec, ChildSpec, IfStep, InitRule,
                                         ParameterSpec, BufferSpec, BlockSpec, ModelSpec,
                                         TieSpec, LayerArgSpec, LayerRef, SpecFile)}

# The fast check. Each function returns the checked value, or raises _GiveUp.


class _GiveUp(Exception):
    """Not plainly valid: let the models decide."""


Check = Callable[[Any], Any]
_MAX_INT = 2**63  # larger ints are left to the models


def _str(value: Any) -> str:
    if type(value) is not str:
        raise _GiveUp
    return value


def _int(value: Any) -> int:
    if type(value) is not int or not -_MAX_INT < value < _MAX_INT:
        raise _GiveUp
    return value


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _GiveUp
    return value


def _scalar(value: Any) -> Any:
    if type(value) is float or type(value) is bool:
        return value
    return _int(value)


def _any(value: Any) -> Any:
    return value


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str:
        if type(value) is not str or value not in choices:
            raise _GiveUp
        return value
    return check


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def _list(item: Check, length: int | None = None) -> Check:
    def check(value: Any) -> list:
        if type(value) is not list or (length is not None and len(value) != length):
            raise _GiveUp
        return [item(v) for v in value]
    return check


def _dict(item: Check, nonempty: bool = False) -> Check:
    def check(value: Any) -> dict:
        if type(value) is not dict or (nonempty and not value):
            raise _GiveUp
        return {_str(k): item(v) for k, v in value.items()}
    return check


# the branch of a union each YAML type takes (the models pick branches alike)
TAGS = {str: "str", list: "list", dict: "map", int: "scalar", float: "scalar", bool: "scalar"}


def _by_type(**branches: Check) -> Check:
    """The models' unions picked by the YAML value's own type."""
    def check(value: Any) -> Any:
        branch = branches.get(TAGS.get(type(value), ""))
        if branch is None:
            raise _GiveUp
        return branch(value)
    return check


def _mapping(cls: type[SpecData], keys: dict[str, Check]) -> Check:
    """A mapping of exactly these keys (YAML names), given or defaulted, into `cls`; a key
    is its field's name, or `name_` for the Python keywords `if`, `else` and `as`."""
    fields = {key: key + "_" if key in ("if", "else", "as", "class") else key for key in keys}
    required = [key for key, name in fields.items() if cls.FIELDS[name] is REQUIRED]

    def check(value: Any) -> SpecData:
        if type(value) is not dict or any(key not in value for key in required):
            raise _GiveUp
        values = {}
        for key, item in value.items():
            if key not in keys:
                raise _GiveUp
            values[fields[key]] = keys[key](item)
        return cls(**values)
    return check


def _recursive(get: Callable[[], Check]) -> Check:
    return lambda value: get()(value)


_child: Check = _recursive(lambda: _CHILD)
_step: Check = _recursive(lambda: _STEP)
_input_size = _by_type(scalar=_int, str=_str)
_init_fn = _by_type(str=_str, map=_dict(_any))
_CHILD = _by_type(str=_str, list=_list(_child), map=_mapping(ChildSpec, {
    "call": _optional(_str), "seq": _optional(_by_type(list=_list(_child), map=_dict(_child))),
    "modules": _optional(_list(_child)),
    "if": _optional(_str), "else": _optional(_child),
    "repeat": _optional(_by_type(scalar=_int, str=_str)), "as": _optional(_str),
    "do": _optional(_list(_child)), "doc": _optional(_str)}))
_steps = _by_type(list=_list(_step), str=_str)
_STEP = _by_type(str=_str, map=_mapping(IfStep, {"if": _str, "then": _steps,
                                                  "else": _optional(_steps)}))
_init_rule = _mapping(InitRule, {
    "if": _optional(_str), "type": _optional(_by_type(str=_str, list=_list(_str))),
    "child": _optional(_str), "weight": _optional(_init_fn), "bias": _optional(_init_fn),
    "doc": _optional(_str)})
_tensor = {"shape": _list(_input_size), "init": _init_fn,
           "dtype": _optional(_one_of(*DTYPES)), "after_children": _bool, "doc": _optional(_str)}
_param = _by_type(map=_mapping(ParamSpec, {"type": _one_of(*TYPE_NAMES), "default": _any,
                                           "doc": _optional(_str)}),
                  scalar=_scalar, str=_str, list=_list(_any))
_block = {
    "base": _str, "doc": _optional(_str), "extra_repr": _optional(_str),
    "print_name": _optional(_str), "params": _dict(_param),
    "inputs": _list(_str), "children": _by_type(map=_dict(_child), list=_list(_child)),
    "forward": _optional(_by_type(list=_list(_step), str=_one_of("unknown"))),
    "parameters": _dict(_mapping(ParameterSpec, _tensor)),
    "buffers": _dict(_mapping(BufferSpec, {
        "shape": _optional(_list(_input_size)), "init": _optional(_init_fn),
        "compute": _optional(_list(_step)), "dtype": _optional(_one_of(*DTYPES)),
        "persistent": _bool, "after_children": _bool, "doc": _optional(_str)})),
    "tie": _dict(_by_type(str=_str, map=_mapping(TieSpec, {"source": _str, "if": _str}))),
    "init": _list(_by_type(map=_init_rule, list=_list(_init_rule)))}
_input = _by_type(list=_list(_input_size), map=_mapping(InputSpec, {
    "shape": _list(_input_size), "dtype": _one_of(*DTYPES),
    "range": _optional(_list(_input_size, length=2)), "doc": _optional(_str)}))
_layer_arg = _by_type(map=_mapping(LayerArgSpec, {
    "type": _one_of(*VALUE_KINDS), "default": _any, "optional": _bool, "doc": _optional(_str)}),
    scalar=_scalar, str=_str)
_layer = _by_type(str=_str, map=_mapping(LayerRef, {
    "class": _str, "args": _optional(_dict(_layer_arg)), "doc": _optional(_str)}))
_SPEC = _mapping(SpecFile, {
    "nnspec": _int, "doc": _optional(_str), "inputs": _dict(_input, nonempty=True),
    "model": _mapping(ModelSpec, {**_block, "name": _str, "inputs": _optional(_list(_str))}),
    "blocks": _dict(_mapping(BlockSpec, _block)), "layers": _dict(_layer)})


def fast_check(data: Any) -> SpecFile | None:
    """The spec's data classes, when `data` is plainly a valid spec; None when the models
    must decide (an error, or anything this check does not follow)."""
    try:
        return _SPEC(data)
    except (_GiveUp, RecursionError):
        return None
