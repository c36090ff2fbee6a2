"""Spec expressions: parsed with `ast`, checked against a whitelist, evaluated by our own walker.

Nothing here calls `eval`. An expression is a Python expression over parameters, literals and a
few pure helpers (`min`, `max`, `int`, `round`, `make_divisible`, ...). Evaluation follows
Python's semantics exactly, because code generation emits the same expression as Python source.
Every error carries the offset of the offending sub-expression, so diagnostics point inside it.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nnspec.diagnostics import Pos, did_you_mean

MAX_INT = 2**63
MAX_LIST = 100_000


class ExprError(Exception):
    """An error at `offset` (length `length`) inside the expression text."""

    def __init__(self, code: str, message: str, node: ast.AST | None = None,
                 hint: str | None = None):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint
        self.offset = getattr(node, "col_offset", 0) if node is not None else 0
        end = getattr(node, "end_col_offset", None) if node is not None else None
        same_line = node is not None and getattr(node, "end_lineno", 1) == getattr(
            node, "lineno", 1)
        self.length = (end - self.offset) if end is not None and same_line else 1


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """Round `v` to a multiple of `divisor`, never below 90% of `v` (MobileNet's rule)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "int": int,
    "float": float,
    "round": round,
    "abs": abs,
    "len": len,
    "make_divisible": make_divisible,
}
# `math.<name>(...)`, as torchvision writes init scales (`math.sqrt(1 / fan_in)`)
MATH_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "ceil": math.ceil,
    "floor": math.floor,
}
# names an expression reads as functions, never as parameters (all of them reserved names)
FUNCTION_NAMES = frozenset(FUNCTIONS) | {"math"}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_UNARY = (ast.Not, ast.USub, ast.UAdd)
_OPSYM = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
          ast.Mod: "%", ast.Pow: "**", ast.MatMult: "@", ast.BitOr: "|", ast.BitXor: "^",
          ast.BitAnd: "&", ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~", ast.Is: "is",
          ast.IsNot: "is not"}


MAX_TEXT = 2_000  # characters in one expression or forward step
MAX_NESTING = 64  # levels of syntax tree: evaluation and rendering recurse once per level


def parse(text: str, what: str = "expression") -> ast.expr:
    """Parse `text` as one Python expression, or raise ExprError at the syntax error."""
    return _parse(text.replace("\n", " "), what, "eval").body  # type: ignore[attr-defined]


def parse_statement(text: str) -> ast.Module:
    """Parse a forward step (one statement, checked by the caller)."""
    return _parse(text, "forward step", "exec")  # type: ignore[return-value]


def _parse(text: str, what: str, mode: str) -> ast.AST:
    """`ast.parse`, bounded: CPython's parser recurses, so size and depth are limited first."""
    if len(text) > MAX_TEXT:
        raise ExprError("too-complex", f"{what} is {len(text):,} characters long; the limit is "
                        f"{MAX_TEXT:,}")
    try:
        tree = ast.parse(text, mode=mode)
    except SyntaxError as exc:
        err = ExprError("syntax", f"invalid {what}: {exc.msg}")
        err.offset = max(0, (exc.offset or 1) - 1)
        raise err from None
    except (RecursionError, MemoryError):
        raise ExprError("too-complex", f"{what} nests too deeply") from None
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            whole = tree.body if mode == "eval" else tree.body[0]  # type: ignore[attr-defined]
            raise ExprError("too-complex", f"{what} nests deeper than {MAX_NESTING} levels",
                            whole)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


def check(node: ast.expr, names: set[str] | None = None) -> None:
    """Refuse every construct outside the whitelist, and unknown names if `names` is given."""
    math_callees = {id(part) for sub in ast.walk(node) if isinstance(sub, ast.Call)
                    and _math_name(sub.func) for part in (sub.func, sub.func.value)}
    for sub in ast.walk(node):
        if id(sub) in math_callees:
            continue
        if isinstance(sub, ast.Call):
            if not (isinstance(sub.func, ast.Name) and sub.func.id in FUNCTIONS
                    or _math_name(sub.func)):
                fname = sub.func.id if isinstance(sub.func, ast.Name) else ast.unparse(sub.func)
                raise ExprError("bad-expression", f"'{fname}' cannot be called in an expression",
                                sub.func, did_you_mean(fname, list(FUNCTIONS))
                                or f"allowed: {', '.join(FUNCTIONS)}, "
                                + ", ".join(f"math.{m}" for m in MATH_FUNCTIONS))
            if any(isinstance(a, ast.Starred) for a in sub.args) or any(
                    k.arg is None for k in sub.keywords):
                raise ExprError("bad-expression", "'*' and '**' are not allowed here", sub)
        elif isinstance(sub, ast.Constant):
            if not isinstance(sub.value, (int, float, str, bool, type(None))):
                raise ExprError("bad-expression", f"literal {sub.value!r} is not allowed", sub)
        elif isinstance(sub, ast.Name):
            if names is not None and sub.id not in names and sub.id not in FUNCTIONS:
                raise unknown_name(sub, names)
        elif type(getattr(sub, "op", None)) in _UNSUPPORTED or isinstance(sub, ast.Compare) \
                and any(type(op) in _UNSUPPORTED for op in sub.ops):
            op = getattr(sub, "op", None) or next(o for o in sub.ops if type(o) in _UNSUPPORTED)
            symbol, hint = _UNSUPPORTED[type(op)]
            raise ExprError("bad-expression", f"operator '{symbol}' is not supported in an "
                            "expression", sub, hint)
        elif not isinstance(sub, _ALLOWED):
            raise ExprError("bad-expression",
                            f"{type(sub).__name__} is not allowed in an expression", sub)


# Operators Python has but the evaluator does not: refused, so that evaluation and the
# generated code can never disagree.
_UNSUPPORTED: dict[type, tuple[str, str | None]] = {
    ast.BitAnd: ("&", "use 'and' for conditions"), ast.BitOr: ("|", "use 'or' for conditions"),
    ast.BitXor: ("^", "use '**' for powers"), ast.LShift: ("<<", "use '* 2 ** n'"),
    ast.RShift: (">>", "use '// 2 ** n'"), ast.MatMult: ("@", None),
    ast.Invert: ("~", "use 'not' for conditions"), ast.Is: ("is", "use '=='"),
    ast.IsNot: ("is not", "use '!='"),
}


def _math_name(func: ast.expr) -> str | None:
    """`sqrt` for the callee `math.sqrt`; None for anything else."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
            func.value.id == "math" and func.attr in MATH_FUNCTIONS:
        return func.attr
    return None


def unknown_name(node: ast.Name, names: set[str] | list[str]) -> ExprError:
    return ExprError("unknown-name", f"unknown name '{node.id}'", node,
                     did_you_mean(node.id, sorted(names)))


_ALLOWED = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
    ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Load, ast.operator, ast.unaryop,
    ast.boolop, ast.cmpop, ast.keyword,
)


def evaluate(node: ast.expr, env: dict[str, Any]) -> Any:
    """Evaluate a checked expression with Python's semantics and a few size guards."""
    value = _eval(node, env)
    _guard(value, node)
    return value


def _guard(value: Any, node: ast.AST) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_INT:
        raise ExprError("out-of-range", "integer result is too large", node)
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError("out-of-range", f"result is {value}", node)
    if isinstance(value, (list, tuple, str)) and len(value) > MAX_LIST:
        raise ExprError("out-of-range", "result is too long", node)
    if isinstance(value, complex):
        raise ExprError("type-error", f"result is a complex number {value!r}", node)


def _eval(node: ast.expr, env: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise unknown_name(node, env)
        return env[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env), _eval(node.right, env)
        value = _binop(node, left, right)
        _guard(value, node)  # every step, so `((2**60)**60)**60` stops before it explodes
        return value
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not operand
        _need_number(operand, node.operand)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BoolOp):
        is_and = isinstance(node.op, ast.And)
        value: Any = None
        for sub in node.values:
            value = _eval(sub, env)
            if bool(value) != is_and:
                return value
        return value
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            try:
                ok = _CMPOPS[type(op)](left, right)
            except TypeError:
                raise ExprError("type-error", f"cannot compare {_tname(left)} with "
                                f"{_tname(right)}", node) from None
            if not ok:
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, env) else node.orelse, env)
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_eval(e, env) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Subscript):
        return _subscript(node, env)
    if isinstance(node, ast.Call):
        value = _call(node, env)
        _guard(value, node)
        return value
    raise ExprError("bad-expression", f"{type(node).__name__} is not allowed", node)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _tname(value: Any) -> str:
    return type(value).__name__


def _need_number(value: Any, node: ast.AST) -> None:
    if not isinstance(value, (int, float)):
        raise ExprError("type-error", f"expected a number, got {_tname(value)} {value!r}", node)


def _binop(node: ast.BinOp, left: Any, right: Any) -> Any:
    op = type(node.op)
    if op in (ast.Div, ast.FloorDiv, ast.Mod) and isinstance(right, (int, float)) and right == 0:
        raise ExprError("division-by-zero", "division by zero", node.right)
    if op is ast.Pow and _int(left) and _int(right) and abs(left) >= 2 and \
            (abs(left).bit_length() - 1) * right >= 63:  # decided before computing it
        raise ExprError("out-of-range", "integer result is too large", node)
    if op is ast.Mult:
        seq, count = (left, right) if isinstance(left, (list, tuple, str)) else (right, left)
        if isinstance(seq, (list, tuple, str)) and isinstance(count, int) and \
                count * max(1, len(seq)) > MAX_LIST:
            raise ExprError("out-of-range", "list is too long", node)
    try:
        return _BINOPS[op](left, right)
    except TypeError:
        raise ExprError("type-error", f"unsupported operand types for "
                        f"{_OPSYM.get(op, '?')}: {_tname(left)} and {_tname(right)}",
                        node) from None
    except OverflowError:
        raise ExprError("out-of-range", "result is too large", node) from None
    except ZeroDivisionError:  # 0 ** -1
        raise ExprError("division-by-zero", f"{left!r} ** {right!r}: division by zero",
                        node) from None




def _subscript(node: ast.Subscript, env: dict[str, Any]) -> Any:
    value = _eval(node.value, env)
    if not isinstance(value, (list, tuple, str)):
        raise ExprError("type-error", f"{_tname(value)} cannot be indexed", node.value)
    if isinstance(node.slice, ast.Slice):
        parts = [None if p is None else _eval(p, env)
                 for p in (node.slice.lower, node.slice.upper, node.slice.step)]
        if any(p is not None and (not isinstance(p, int) or isinstance(p, bool))
               for p in parts):
            raise ExprError("type-error", "slice bounds must be ints", node.slice)
        if parts[2] == 0:
            raise ExprError("out-of-range", "slice step cannot be zero", node.slice)
        return value[slice(*parts)]
    index = _eval(node.slice, env)
    if not isinstance(index, int) or isinstance(index, bool):
        raise ExprError("type-error", f"index must be an int, got {_tname(index)}", node.slice)
    if not -len(value) <= index < len(value):
        raise ExprError("index-error", f"index {index} is out of range for a list of "
                        f"{len(value)}", node.slice)
    return value[index]


def _call(node: ast.Call, env: dict[str, Any]) -> Any:
    attr = _math_name(node.func)
    # check() allowed only plain function names and math.<name>
    name = f"math.{attr}" if attr else node.func.id  # type: ignore[attr-defined]
    function = MATH_FUNCTIONS[attr] if attr else FUNCTIONS[name]
    args = [_eval(a, env) for a in node.args]
    kwargs = {k.arg: _eval(k.value, env) for k in node.keywords}
    try:
        return function(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ExprError("type-error", f"{name}(): {exc}", node) from None
    except OverflowError as exc:
        raise ExprError("out-of-range", f"{name}(): {exc}", node) from None
    except ZeroDivisionError:
        raise ExprError("division-by-zero", f"{name}(): division by zero", node) from None


@dataclass(frozen=True)
class Expr:
    """A checked expression, with where its text starts in the spec."""

    node: ast.expr
    pos: Pos

    @property
    def text(self) -> str:
        return ast.unparse(self.node)

    def at(self, node: ast.AST, length: int | None = None) -> Pos:
        """The position of a sub-node, for diagnostics."""
        offset = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", offset + 1)
        return self.pos.shifted(offset, length or end - offset)

    @property
    def where(self) -> Pos:
        """The span of this expression itself."""
        return self.at(self.node)

    def error_pos(self, err: ExprError) -> Pos:
        return self.pos.shifted(err.offset, err.length)

    def names(self) -> set[str]:
        return {n.id for n in ast.walk(self.node) if isinstance(n, ast.Name)} - FUNCTION_NAMES

    def constant(self) -> tuple[bool, Any]:
        """(True, value) when the expression needs no parameters."""
        if self.names():
            return False, None
        return True, evaluate(self.node, {})
