"""The one table of Python operators: for each `ast` operator, its symbol, its Python function,
the name of the graph op it becomes on tensors, and whether spec expressions may use it.

Spec expressions (`nnspec.language.expr`) and forward steps (the static pass) both read this
table; neither spells an operator's semantics on its own.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Operator:
    symbol: str
    function: Callable[..., Any]
    graph: str  # the static graph's op name when an operand is a tensor
    # None: spec expressions may use it; else why not (a hint, "" for none): the evaluator
    # and the generated code must never disagree, so Python's other operators are refused
    refused: str | None = None


BINARY: dict[type, Operator] = {
    ast.Add: Operator("+", operator.add, "add"),
    ast.Sub: Operator("-", operator.sub, "sub"),
    ast.Mult: Operator("*", operator.mul, "mul"),
    ast.Div: Operator("/", operator.truediv, "div"),
    ast.FloorDiv: Operator("//", operator.floordiv, "floordiv"),
    ast.Mod: Operator("%", operator.mod, "mod"),
    ast.Pow: Operator("**", operator.pow, "pow"),
    ast.MatMult: Operator("@", operator.matmul, "matmul", ""),
    ast.BitOr: Operator("|", operator.or_, "binary", "use 'or' for conditions"),
    ast.BitAnd: Operator("&", operator.and_, "binary", "use 'and' for conditions"),
    ast.BitXor: Operator("^", operator.xor, "binary", "use '**' for powers"),
    ast.LShift: Operator("<<", operator.lshift, "binary", "use '* 2 ** n'"),
    ast.RShift: Operator(">>", operator.rshift, "binary", "use '// 2 ** n'"),
}

UNARY: dict[type, Operator] = {
    ast.USub: Operator("-", operator.neg, "neg"),
    ast.UAdd: Operator("+", operator.pos, "pos"),
    ast.Not: Operator("not", operator.not_, "not"),
    ast.Invert: Operator("~", operator.invert, "invert", "use 'not' for conditions"),
}

COMPARE: dict[type, Operator] = {
    ast.Eq: Operator("==", operator.eq, "compare"),
    ast.NotEq: Operator("!=", operator.ne, "compare"),
    ast.Lt: Operator("<", operator.lt, "compare"),
    ast.LtE: Operator("<=", operator.le, "compare"),
    ast.Gt: Operator(">", operator.gt, "compare"),
    ast.GtE: Operator(">=", operator.ge, "compare"),
    ast.In: Operator("in", lambda a, b: a in b, "compare"),
    ast.NotIn: Operator("not in", lambda a, b: a not in b, "compare"),
    ast.Is: Operator("is", operator.is_, "compare", "use '=='"),
    ast.IsNot: Operator("is not", operator.is_not, "compare", "use '!='"),
}


def of(op: ast.AST) -> Operator:
    """The table's entry for a binary, unary or comparison operator node."""
    return BINARY.get(type(op)) or UNARY.get(type(op)) or COMPARE[type(op)]


def refused(op: ast.AST) -> bool:
    """Whether spec expressions refuse this operator."""
    entry = BINARY.get(type(op)) or UNARY.get(type(op)) or COMPARE.get(type(op))
    return entry is not None and entry.refused is not None


_BOOLEAN = {ast.And: "and", ast.Or: "or"}


def symbol(op: ast.AST) -> str:
    """How Python spells an operator node, boolean `and`/`or` included."""
    return _BOOLEAN.get(type(op)) or of(op).symbol
