"""Operator precedence: the parentheses the plain source needs, and where long chains split.

Two tables: Python's binding strength decides which sub-expressions must be parenthesized to
read back as the same tree; the splitting precedence (ruff's, which differs from Python's:
attribute access and unary `~` count, comparisons and boolean operators rank apart) decides
at which operators a long binary chain breaks first, and whether optional parentheses around
a statement's value can be left out.
"""

from __future__ import annotations

import ast

from nnspec.language.expr import walk
from nnspec.language.operators import symbol


def operator(op: ast.AST) -> str:
    return symbol(op)


# Python's binding strength, for the parentheses the unformatted source needs.
_TUPLE, _TEST, _OR, _AND, _NOT, _CMP = 1, 2, 3, 4, 5, 6
_BOR, _BXOR, _BAND, _SHIFT, _ARITH, _TERM, _FACTOR, _POWER, _ATOM = range(7, 16)
_BINDING = {
    ast.BitOr: _BOR, ast.BitXor: _BXOR, ast.BitAnd: _BAND, ast.LShift: _SHIFT,
    ast.RShift: _SHIFT, ast.Add: _ARITH, ast.Sub: _ARITH, ast.Mult: _TERM, ast.Div: _TERM,
    ast.FloorDiv: _TERM, ast.Mod: _TERM, ast.MatMult: _TERM, ast.Pow: _POWER,
}

# Splitting precedence, as ruff ranks operators (higher splits first).
SPLIT_NONE, SPLIT_ATTRIBUTE, SPLIT_POWER, SPLIT_INVERT, SPLIT_TERM, SPLIT_ARITH = range(6)
SPLIT_SHIFT, SPLIT_BAND, SPLIT_BXOR, SPLIT_BOR, SPLIT_COMPARE, SPLIT_BOOL = range(6, 12)
SPLIT_CONDITIONAL = 12
SPLIT = {
    ast.Add: SPLIT_ARITH, ast.Sub: SPLIT_ARITH, ast.Mult: SPLIT_TERM, ast.MatMult: SPLIT_TERM,
    ast.Div: SPLIT_TERM, ast.Mod: SPLIT_TERM, ast.FloorDiv: SPLIT_TERM, ast.Pow: SPLIT_POWER,
    ast.LShift: SPLIT_SHIFT, ast.RShift: SPLIT_SHIFT, ast.BitOr: SPLIT_BOR,
    ast.BitXor: SPLIT_BXOR, ast.BitAnd: SPLIT_BAND,
}


def _binding(node: ast.AST, bare_tuples: set[int]) -> int:
    if isinstance(node, ast.IfExp):
        return _TEST
    if isinstance(node, ast.BoolOp):
        return _OR if isinstance(node.op, ast.Or) else _AND
    if isinstance(node, ast.UnaryOp):
        return _NOT if isinstance(node.op, ast.Not) else _FACTOR
    if isinstance(node, ast.Compare):
        return _CMP
    if isinstance(node, ast.BinOp):
        return _BINDING[type(node.op)]
    if isinstance(node, ast.Tuple) and id(node) in bare_tuples:
        return _TUPLE
    return _ATOM


def must_parenthesize(node: ast.AST, bare_tuples: set[int]) -> set[int]:
    """Ids of the sub-expressions the plain source must parenthesize (as ast.unparse would,
    but with `x ** -y` unparenthesized and `-(x**2)` parenthesized, as ruff writes them)."""
    marked: set[int] = set()

    def need(child: ast.AST, required: int) -> None:
        if _binding(child, bare_tuples) < required:
            marked.add(id(child))

    for sub in walk(node):
        if isinstance(sub, ast.BinOp):
            p = _BINDING[type(sub.op)]
            if isinstance(sub.op, ast.Pow):
                need(sub.left, _POWER + 1)
                need(sub.right, _FACTOR)
            else:
                need(sub.left, p)
                need(sub.right, p + 1)
        elif isinstance(sub, ast.UnaryOp):
            operand = sub.operand
            if isinstance(operand, ast.BinOp) and isinstance(operand.op, ast.Pow):
                marked.add(id(operand))
            else:
                need(operand, _binding(sub, bare_tuples))
        elif isinstance(sub, ast.BoolOp):
            for value in sub.values:
                need(value, _binding(sub, bare_tuples) + 1)
        elif isinstance(sub, ast.Compare):
            for value in [sub.left, *sub.comparators]:
                need(value, _CMP + 1)
        elif isinstance(sub, ast.IfExp):
            need(sub.body, _TEST + 1)
            need(sub.test, _TEST + 1)
            need(sub.orelse, _TEST)
        elif isinstance(sub, ast.Attribute):
            need(sub.value, _ATOM)
            if is_base_ten_number(sub.value):  # `(1).real`, not `1.real`
                marked.add(id(sub.value))
        elif isinstance(sub, ast.Call):
            if not isinstance(sub.func, (ast.Constant, ast.Name)):
                need(sub.func, _ATOM)
            for arg in sub.args:
                need(arg, _TEST)
            for kw in sub.keywords:
                need(kw.value, _TEST)
        elif isinstance(sub, ast.Subscript):
            if not isinstance(sub.value, ast.Constant):
                need(sub.value, _ATOM)
            if not isinstance(sub.slice, (ast.Tuple, ast.Slice)):
                need(sub.slice, _TEST)
        elif isinstance(sub, (ast.List, ast.Tuple)):
            for elt in sub.elts:
                if not isinstance(elt, ast.Slice):
                    need(elt, _TEST)
        elif isinstance(sub, ast.Slice):
            for part in (sub.lower, sub.upper, sub.step):
                if part is not None:
                    need(part, _TEST)
    return marked


def is_base_ten_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and \
        not isinstance(node.value, bool)


def own_brackets(node: ast.expr, bare: set[int]) -> str | None:
    """'non-empty' or 'empty' for a node that brings its own brackets (calls, subscripts,
    lists, parenthesized tuples), None for the rest."""
    if isinstance(node, ast.Subscript):
        return "non-empty"
    if isinstance(node, ast.List) or (isinstance(node, ast.Tuple) and id(node) not in bare):
        return "non-empty" if node.elts else "empty"
    if isinstance(node, ast.Call):
        return "non-empty" if node.args or node.keywords else "empty"
    return None


def children_in_order(expr: ast.expr) -> list[ast.expr]:
    """The operands of an operator expression (or a tuple's items), left to right."""
    if isinstance(expr, ast.BinOp):
        return [expr.left, expr.right]
    if isinstance(expr, ast.BoolOp):
        return list(expr.values)
    if isinstance(expr, ast.Compare):
        return [expr.left, *expr.comparators]
    if isinstance(expr, ast.IfExp):
        return [expr.body, expr.test, expr.orelse]
    if isinstance(expr, (ast.UnaryOp, ast.Starred)):
        return [expr.operand] if isinstance(expr, ast.UnaryOp) else [expr.value]
    if isinstance(expr, ast.Tuple):
        return list(expr.elts)
    return []
