"""Spec expressions: parsed with `ast`, checked against a whitelist, evaluated by our own walker.

Nothing here calls `eval`. An expression is a Python expression over parameters, literals and a
few pure helpers (`min`, `max`, `int`, `round`, `sum`, `make_divisible`, ...). Evaluation follows
Python's semantics exactly, because code generation emits the same expression as Python source.
Every error carries the offset of the offending sub-expression, so diagnostics point inside it.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nnspec.diagnostics import Pos, did_you_mean
from nnspec.language import guards, operators
from nnspec.language.errors import ExprError
from nnspec.language.guards import Work


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
    "sum": sum,
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

MAX_TEXT = 2_000  # characters in one expression or forward step
MAX_NESTING = 64  # levels of syntax tree: evaluation and rendering recurse once per level


# Along any path down a syntax tree, each node's source span strictly contains its child's,
# except for the wrappers (the root Expression or Module, an Expr statement), a last node that
# spans no text (a context such as Load, an operator), and a node sharing its parent's span (a
# lambda's lone argument, an f-string format spec's lone part, each costing characters
# around it). So a tree is at most its text's length plus a few levels deep; this leaves twice
# the slack needed, and shorter texts skip the depth walk.
_WRAPPERS = 8


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
    if len(text) + _WRAPPERS < MAX_NESTING:
        return tree  # too short to nest too deeply (see _WRAPPERS)
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
    subs = walk(node)
    math_callees = {id(part) for sub in subs if isinstance(sub, ast.Call)
                    and _math_name(sub.func) for part in (sub.func, sub.func.value)}
    for sub in subs:
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
        elif _refused_operator(sub) is not None:
            entry = operators.of(_refused_operator(sub))
            raise ExprError("bad-expression", f"operator '{entry.symbol}' is not supported in "
                            "an expression", sub, entry.refused or None)
        elif not isinstance(sub, _ALLOWED):
            raise ExprError("bad-expression",
                            f"{type(sub).__name__} is not allowed in an expression", sub)


def walk(node: ast.AST) -> list[ast.AST]:
    """Every node of the tree, in `ast.walk`'s order (breadth first, `node` first), as a list:
    several times faster than `ast.walk` on the small trees of spec expressions."""
    out = [node]
    i = 0
    while i < len(out):
        current = out[i]
        i += 1
        for field in current._fields:
            value = getattr(current, field, None)
            if isinstance(value, ast.AST):
                out.append(value)
            elif isinstance(value, list):
                out.extend(v for v in value if isinstance(v, ast.AST))
    return out


def _refused_operator(node: ast.AST) -> ast.AST | None:
    """The operator of `node` that spec expressions refuse (see `operators`), if any."""
    ops = [node.op] if hasattr(node, "op") else getattr(node, "ops", [])
    return next((op for op in ops if operators.refused(op)), None)


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


def evaluate(node: ast.expr, env: dict[str, Any], work: Work | None = None) -> Any:
    """Evaluate a checked expression with Python's semantics, under the guards' bounds."""
    work = work or Work()
    value = guards.result(_eval(node, env, work), node)
    work.settle(node)
    return value


def _eval(node: ast.expr, env: dict[str, Any], work: Work) -> Any:
    work.charge(1, node)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise unknown_name(node, env)
        return env[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env, work), _eval(node.right, env, work)
        # checked every step, so `((2**60)**60)**60` stops before it explodes
        return guards.binary(node, node.op, left, right, work)
    if isinstance(node, ast.UnaryOp):
        return guards.unary(node, _eval(node.operand, env, work), work)
    if isinstance(node, ast.BoolOp):
        is_and = isinstance(node.op, ast.And)
        value: Any = None
        for sub in node.values:
            value = _eval(sub, env, work)
            if bool(value) != is_and:
                return value
        return value
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env, work)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env, work)
            if not guards.compare(node, op, left, right, work):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, env, work) else node.orelse, env, work)
    if isinstance(node, (ast.List, ast.Tuple)):
        return guards.sequence([_eval(e, env, work) for e in node.elts], node, work)
    if isinstance(node, ast.Subscript):
        value = _eval(node.value, env, work)
        if isinstance(node.slice, ast.Slice):
            index: Any = slice(*(None if p is None else _eval(p, env, work) for p in (
                node.slice.lower, node.slice.upper, node.slice.step)))
        else:
            index = _eval(node.slice, env, work)
        return guards.subscript(node, value, index, work)
    if isinstance(node, ast.Call):
        attr = _math_name(node.func)
        # check() allowed only plain function names and math.<name>
        name = f"math.{attr}" if attr else node.func.id  # type: ignore[attr-defined]
        function = MATH_FUNCTIONS[attr] if attr else FUNCTIONS[name]
        args = [_eval(a, env, work) for a in node.args]
        kwargs = {k.arg: _eval(k.value, env, work) for k in node.keywords}
        return guards.call(node, name, function, args, kwargs, work)  # type: ignore[arg-type]
    raise ExprError("bad-expression", f"{type(node).__name__} is not allowed", node)


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
        return {n.id for n in walk(self.node) if isinstance(n, ast.Name)} - FUNCTION_NAMES

    def constant(self) -> tuple[bool, Any]:
        """(True, value) when the expression needs no parameters."""
        if self.names():
            return False, None
        return True, evaluate(self.node, {})
