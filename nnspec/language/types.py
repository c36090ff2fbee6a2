"""The spec's value vocabulary: parameter types, and the kinds of value a layer argument takes.

Every stage reads these: the front end checks `--set` values against a parameter's type, the
pydantic models list the type names, elaboration checks defaults and call arguments, and the
catalog declares each layer argument's kind. Pure Python, no other nnspec module.
"""

from __future__ import annotations

import re
from typing import Any

# a class's import path, as language.names.IMPORT_PATH (this module imports no other)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_CLASS_PATH = re.compile(rf"{_NAME}(\.{_NAME})*:{_NAME}")

# The declared types of a block or model parameter (`k: {type: int, default: 3}`).
TYPE_NAMES = {"int", "float", "bool", "str", "list[int]", "list[float]", "list[bool]",
              "list[str]", "list"}

# Value kinds an argument accepts. Each maps to a checker in `check_accepts`.
#   int, float, bool, str         a plain value of that type
#   int1, int2, int3              an int or a tuple of 1/2/3 ints (kernel_size, stride, ...)
#   int4, int6                    an int or a tuple of 4/6 ints (ZeroPad2d/3d's padding)
#   pad1, pad2, pad3              like int1/int2/int3, or the strings 'same' / 'valid'
#   opt_int2, opt_int3            an int or a tuple of 2/3 items, each an int or None
#                                 (adaptive pools' output_size: None keeps that input size)
#   ints                          an int or a list of ints (LayerNorm's normalized_shape)
#   int_list                      a list or tuple of ints, never a bare int (Unflatten's sizes)
#   float_or_floats               a float or a tuple of floats (Upsample's scale_factor)
#   class                         a class by import path, 'package.module:Class' (a layer
#                                 reference's `act_layer=nn.Hardswish`); a build imports it
#   any                           no check beyond being a literal
VALUE_KINDS = ("int", "float", "bool", "str", "int1", "int2", "int3", "int4", "int6", "pad1",
         "pad2", "pad3", "opt_int2", "opt_int3", "ints", "int_list", "float_or_floats",
         "int_or_ints", "class", "any")


def param_type_problem(type_name: str, value: Any) -> str | None:
    """None when `value` fits the declared parameter type, else what was expected."""
    if type_name.startswith("list"):
        if not isinstance(value, list):
            return f"a list, got {type(value).__name__}"
        inner = type_name[5:-1] if "[" in type_name else None
        return next((f"a {type_name}, got item {v!r}" for v in value
                     if inner and param_type_problem(inner, v)), None)
    kind = {"int": "int", "float": "float", "bool": "bool", "str": "str"}[type_name]
    expected = check_accepts(kind, value)
    return f"{expected}, got {type(value).__name__} {value!r}" if expected else None


def infer_type(value: Any) -> str:
    """The type a parameter declared by its default alone has: `k: 3` is an int."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        inner = {infer_type(v) for v in value}
        return f"list[{inner.pop()}]" if len(inner) == 1 and "list" not in next(iter(inner),
                                                                                "") else "list"
    return "str"


def check_accepts(kind: str, value: Any) -> str | None:
    """None when `value` is acceptable for `kind`, else what was expected."""
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_float(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def int_tuple(v: Any, n: int | None) -> bool:
        return isinstance(v, (list, tuple)) and (n is None or len(v) == n) and all(
            is_int(x) for x in v)

    if kind == "int":
        return None if is_int(value) else "an int"
    if kind == "float":
        return None if is_float(value) else "a number"
    if kind == "bool":
        return None if isinstance(value, bool) else "a bool"
    if kind == "str":
        return None if isinstance(value, str) else "a string"
    if kind in ("int1", "int2", "int3", "int4", "int6"):
        n = int(kind[-1])
        return None if is_int(value) or int_tuple(value, n) else f"an int or {n} ints"
    if kind in ("pad1", "pad2", "pad3"):
        n = int(kind[-1])
        ok = is_int(value) or int_tuple(value, n) or value in ("same", "valid")
        return None if ok else f"an int, {n} ints, 'same' or 'valid'"
    if kind in ("opt_int2", "opt_int3"):
        n = int(kind[-1])
        ok = is_int(value) or (isinstance(value, (list, tuple)) and len(value) == n and all(
            x is None or is_int(x) for x in value))
        return None if ok else f"an int or {n} items, each an int or None"
    if kind == "int_list":
        return None if int_tuple(value, None) else "a list of ints"
    if kind in ("ints", "int_or_ints"):
        return None if is_int(value) or int_tuple(value, None) else "an int or a list of ints"
    if kind == "class":
        ok = isinstance(value, str) and _CLASS_PATH.fullmatch(value) is not None
        return None if ok else "a class's import path, 'package.module:Class'"
    if kind == "float_or_floats":
        ok = is_float(value) or (isinstance(value, (list, tuple)) and all(
            is_float(x) for x in value))
        return None if ok else "a number or a list of numbers"
    return None
