"""The static value domain: what a forward step's values are when nnspec runs it without torch.

Tensors known by shape and dtype, dtypes and devices as values, torch's type promotion reduced to
the real dtypes a spec can declare (`result_type`), and `OpError`, which a rule raises where torch
would. Shared by the layer catalog's forward rules and the functional ops. Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]


FLOATING = ("float16", "bfloat16", "float32", "float64")
INTEGRAL = ("uint8", "int8", "int16", "int32", "int64")
DEFAULT_FLOAT = "float32"  # torch's default dtype: parameters, float literals, int / int


@dataclass(eq=False)
class Tensor:
    """A tensor known by its shape and dtype. The static pass fills in where it was produced."""

    shape: Shape
    origin: Any = None  # Pos of the step or layer that produced it
    node: int | None = None  # graph node that produced it
    sym: tuple | None = None  # per dim: an expression (ast) over the class's params, or None
    dtype: str = DEFAULT_FLOAT  # torch's name, without the `torch.` prefix
    bounds: tuple[int, int] | None = None  # [low, high) of an integer tensor's values, if known


@dataclass(frozen=True)
class DType:
    """A dtype as a forward value: `torch.long`, `x.dtype`."""

    name: str

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class Device:
    """`x.device` as a forward value: the pass does not track devices, it only passes them."""

    def __repr__(self) -> str:
        return "device"


DEVICE = Device()

# `torch.<name>` dtypes a forward may spell, aliases included
DTYPES: dict[str, DType] = {
    **{name: DType(name) for name in (*FLOATING, *INTEGRAL, "bool")},
    **{alias: DType(name) for alias, name in (("float", "float32"), ("double", "float64"),
                                              ("half", "float16"), ("long", "int64"),
                                              ("int", "int32"), ("short", "int16"))},
}


def like(t: Tensor, shape: Shape) -> Tensor:
    """A tensor holding `t`'s values rearranged: same dtype, same value bounds."""
    return Tensor(shape, dtype=t.dtype, bounds=t.bounds)


def is_floating(dtype: str) -> bool:
    return dtype in FLOATING


def _rank(dtype: str) -> int:
    return ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
            "float64").index("float16" if dtype == "bfloat16" else dtype)


def promote_types(a: str, b: str) -> str:
    """torch.promote_types over the real dtypes."""
    if a == b:
        return a
    if {a, b} == {"uint8", "int8"}:
        return "int16"
    if {a, b} == {"float16", "bfloat16"}:
        return "float32"
    return max(a, b, key=_rank)


def _promote(a: str | None, b: str) -> str:
    return b if a is None else promote_types(a, b)


def _combine(higher: str | None, lower: str | None) -> str | None:
    """torch's combine_categories: a lower-priority operand counts only when its category
    (bool < integer < floating) is higher."""
    if higher is None or lower is None:
        return higher or lower
    if is_floating(higher):
        return higher
    if higher == "bool" or is_floating(lower):
        return promote_types(higher, lower)
    return higher


def result_type(*operands: Any) -> str:
    """torch.result_type: tensors with dims first, then 0-d tensors, then Python numbers."""
    dims = zero = wrapped = None
    for v in operands:
        if isinstance(v, Tensor):
            if v.shape:
                dims = _promote(dims, v.dtype)
            else:
                zero = _promote(zero, v.dtype)
        elif isinstance(v, bool):
            wrapped = _promote(wrapped, "bool")
        elif isinstance(v, int):
            wrapped = _promote(wrapped, "int64")
        elif isinstance(v, float):
            wrapped = _promote(wrapped, DEFAULT_FLOAT)
    return _combine(dims, _combine(zero, wrapped)) or DEFAULT_FLOAT


def dtype_arg(value: Any, op: str) -> str | None:
    """A `dtype=` argument: None, or a `torch.<dtype>` value."""
    if value is None or isinstance(value, DType):
        return None if value is None else value.name
    raise OpError(f"{op}() takes dtype=torch.<dtype>, got {value!r}", code="bad-op-argument")


def require_floating(t: Tensor, what: str, hint_int: str = "") -> None:
    if not is_floating(t.dtype):
        raise OpError(f"{what} expects a floating-point tensor, got {t.dtype}{hint_int}", t,
                      code="dtype-mismatch")


def same_dtypes(op: str, *tensors: Tensor) -> str:
    """matmul-like ops: torch does not promote, the operands must agree."""
    dtypes = list(dict.fromkeys(t.dtype for t in tensors if isinstance(t, Tensor)))
    if len(dtypes) > 1:
        raise OpError(f"{op} of {' and '.join(dtypes)} tensors: torch needs one dtype",
                      *tensors, code="dtype-mismatch")
    return dtypes[0]


@dataclass
class Counted:
    """An op's result together with its multiply-accumulates (matmul, conv-like ops)."""

    value: Any
    macs: int


class OpError(Exception):
    """Torch would raise here. `tensors` are the operands to point at."""

    def __init__(self, message: str, *tensors: Tensor, code: str = "shape-mismatch"):
        super().__init__(message)
        self.message, self.tensors, self.code = message, tensors, code
