"""Guarded evaluation of Python operations on plain values: every operator, subscript and
helper call a spec expression or a forward step performs goes through here, under one set of
resource bounds. A bound is checked before the work is done where the work could run away, and
breaking one is an `ExprError` at the offending sub-expression, never a hang.

Bounds: integer results below `MAX_INT` (so `**` and `<<` are decided from the operands' sizes),
sequences of at most `MAX_LIST` elements (nested ones counted, however shared), `round` to at
most `MAX_ROUND_DIGITS` digits either way, and a work budget: `MAX_WORK` steps per expression,
`MAX_SPEC_WORK` per spec (`spec_work`), where a step is a node evaluated or an element touched.
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import math
from collections.abc import Callable, Iterator
from typing import Any

from nnspec.language import operators
from nnspec.language.errors import ExprError

MAX_INT = 2**63  # integer results: int64, as torch stores them
MAX_LIST = 100_000  # elements in a sequence, those of nested sequences included
MAX_ROUND_DIGITS = 308  # round(x, n): 10 ** |n| stays a float's range
MAX_WORK = 1_000_000  # steps of one expression or forward step
MAX_SPEC_WORK = 5_000_000  # steps of all expressions of one spec

_SEQUENCES = (list, tuple, str)


class _Spent:
    def __init__(self, limit: int):
        self.limit, self.spent = limit, 0


_SPEC: contextvars.ContextVar[_Spent | None] = contextvars.ContextVar("spec_work", default=None)


@contextlib.contextmanager
def spec_work(limit: int | None = None) -> Iterator[None]:
    """Count the work of every expression evaluated inside, against one spec's budget
    (`MAX_SPEC_WORK` unless `limit` is given)."""
    token = _SPEC.set(_Spent(MAX_SPEC_WORK if limit is None else limit))
    try:
        yield
    finally:
        _SPEC.reset(token)


class Work:
    """The budget of one expression (and of its spec, while `spec_work` is active)."""

    def __init__(self, limit: int = MAX_WORK):
        self.own = _Spent(limit)
        self.spec = _SPEC.get()

    def charge(self, steps: int, node: ast.AST) -> None:
        own = self.own
        own.spent += steps
        if own.spent > own.limit:
            raise ExprError("too-complex", f"expression needs more than {own.limit:,} steps "
                            "of work", node)
        if self.spec is not None and self.spec.spent > self.spec.limit:
            self.settle(node)  # spent already: the spec's next expressions stop at once

    def settle(self, node: ast.AST) -> None:
        """Add the finished expression's work (`node`, the whole of it) to its spec's."""
        spec, spent = self.spec, self.own.spent
        self.own.spent = 0
        if spec is not None:
            spec.spent += spent
            if spec.spent > spec.limit:
                raise ExprError("too-complex", f"the spec's expressions need more than "
                                f"{spec.limit:,} steps of work in all", node)


def size(value: Any) -> int:
    """Elements in `value`: a sequence's items, nested sequences' too, each time they occur
    (a string's characters count); 0 for a scalar. Shared parts are measured once."""
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, (list, tuple)):
        return 0
    memo: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        seq, ready = stack.pop()
        if id(seq) in memo:
            continue
        if not ready:
            stack.append((seq, True))
            stack.extend((e, False) for e in seq
                         if isinstance(e, (list, tuple)) and id(e) not in memo)
            continue
        total = len(seq)
        for e in seq:
            if isinstance(e, (list, tuple)):
                total += memo[id(e)]
            elif isinstance(e, str):
                total += len(e)
        memo[id(seq)] = total
    return memo[id(value)]


def _too_long(count: int, node: ast.AST) -> None:
    if count > MAX_LIST:
        raise ExprError("out-of-range", f"list is too long ({count:,} elements; the limit is "
                        f"{MAX_LIST:,})", node)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def tname(value: Any) -> str:
    return type(value).__name__


def result(value: Any, node: ast.AST) -> Any:
    """`value`, checked against the bounds on results."""
    if _int(value) and abs(value) >= MAX_INT:
        raise ExprError("out-of-range", "integer result is too large", node)
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError("out-of-range", f"result is {value}", node)
    if isinstance(value, _SEQUENCES) and len(value) > MAX_LIST:
        raise ExprError("out-of-range", "result is too long", node)
    if isinstance(value, complex):
        raise ExprError("type-error", f"result is a complex number {value!r}", node)
    return value


def sequence(items: list[Any], node: ast.expr, work: Work) -> Any:
    """A list or tuple display, as `node` writes it."""
    value = items if isinstance(node, ast.List) else tuple(items)
    if any(isinstance(v, _SEQUENCES) for v in items):
        count = size(value)
        work.charge(count, node)
        _too_long(count, node)
    return value


def binary(node: ast.AST, op: ast.operator, left: Any, right: Any, work: Work) -> Any:
    """`left <op> right` with Python's semantics; `node` is where errors point."""
    kind = type(op)
    entry = operators.BINARY[kind]
    right_node = getattr(node, "right", None) or getattr(node, "value", node)
    if kind in (ast.Div, ast.FloorDiv, ast.Mod) and isinstance(right, (int, float)) and \
            right == 0:
        raise ExprError("division-by-zero", "division by zero", right_node)
    if kind is ast.Pow and _int(left) and _int(right) and abs(left) >= 2 and \
            (abs(left).bit_length() - 1) * right >= 63:  # decided before computing it
        raise ExprError("out-of-range", "integer result is too large", node)
    if kind is ast.LShift and _int(left) and _int(right) and left and right >= 0 and \
            abs(left).bit_length() + right > 64:  # decided before computing it
        raise ExprError("out-of-range", f"shift by {right:,} makes the integer too large",
                        node)
    if kind is ast.Mult:
        seq, count = (left, right) if isinstance(left, _SEQUENCES) else (right, left)
        if isinstance(seq, _SEQUENCES) and isinstance(count, int):
            total = max(1, size(seq)) * max(0, count)
            _too_long(total, node)
            work.charge(total, node)
    if kind is ast.Add and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        total = size(left) + size(right)
        _too_long(total, node)
        work.charge(total, node)
    try:
        value = entry.function(left, right)
    except TypeError:
        raise ExprError("type-error", f"unsupported operand types for {entry.symbol}: "
                        f"{tname(left)} and {tname(right)}", node) from None
    except OverflowError:
        raise ExprError("out-of-range", "result is too large", node) from None
    except ZeroDivisionError:  # 0 ** -1
        raise ExprError("division-by-zero", f"{left!r} ** {right!r}: division by zero",
                        node) from None
    except ValueError as exc:  # a negative shift count
        raise ExprError("out-of-range", f"{entry.symbol}: {exc}", node) from None
    return result(value, node)


def unary(node: ast.UnaryOp, operand: Any, work: Work) -> Any:
    """`<op> operand`: `not` takes anything, the others a number (`~` an integer)."""
    if isinstance(node.op, ast.Not):
        return not operand
    if not isinstance(operand, (int, float)) or \
            isinstance(node.op, ast.Invert) and not isinstance(operand, int):
        raise ExprError("type-error", f"expected a number, got {tname(operand)} {operand!r}",
                        node.operand)
    return result(operators.UNARY[type(node.op)].function(operand), node)


def compare(node: ast.Compare, op: ast.cmpop, left: Any, right: Any, work: Work) -> Any:
    """One link of a comparison chain; comparing sequences costs their elements."""
    if isinstance(left, _SEQUENCES) or isinstance(right, _SEQUENCES):
        work.charge(size(left) + size(right), node)
    if isinstance(op, (ast.Is, ast.IsNot)) and left is not None and right is not None:
        raise ExprError("unsupported", "'is' compares identity, which is known statically only "
                        "against None", node, "use '==' or '!='")
    try:
        return operators.COMPARE[type(op)].function(left, right)
    except TypeError:
        raise ExprError("type-error", f"cannot compare {tname(left)} with {tname(right)}",
                        node) from None


def subscript(node: ast.Subscript, value: Any, index: Any, work: Work) -> Any:
    """`value[index]`, an int index or a slice of ints."""
    if not isinstance(value, _SEQUENCES):
        raise ExprError("type-error", f"{tname(value)} cannot be indexed", node.value)
    if isinstance(index, slice):
        parts = (index.start, index.stop, index.step)
        if any(p is not None and not _int(p) for p in parts):
            raise ExprError("type-error", "slice bounds must be ints", node.slice)
        if index.step == 0:
            raise ExprError("out-of-range", "slice step cannot be zero", node.slice)
        out = value[index]
        work.charge(len(out), node)
        return out
    if not _int(index):
        raise ExprError("type-error", f"index must be an int, got {tname(index)}", node.slice)
    if not -len(value) <= index < len(value):
        raise ExprError("index-error", f"index {index} is out of range for a list of "
                        f"{len(value)}", node.slice)
    return value[index]


def call(node: ast.Call, name: str, function: Callable[..., Any], args: list[Any],
         kwargs: dict[str, Any], work: Work) -> Any:
    """A helper call (`min`, `round`, `math.sqrt`, ...): sequence arguments cost their
    elements, `round`'s digits are bounded."""
    work.charge(sum(size(a) for a in (*args, *kwargs.values())), node)
    if name == "round":
        digits = args[1] if len(args) > 1 else kwargs.get("ndigits")
        if _int(digits) and abs(digits) > MAX_ROUND_DIGITS:
            raise ExprError("out-of-range", f"round(): {digits:,} digits is out of range "
                            f"(at most {MAX_ROUND_DIGITS} either way)", node)
    try:
        value = function(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ExprError("type-error", f"{name}(): {exc}", node) from None
    except OverflowError as exc:
        raise ExprError("out-of-range", f"{name}(): {exc}", node) from None
    except ZeroDivisionError:
        raise ExprError("division-by-zero", f"{name}(): division by zero", node) from None
    return result(value, node)
