"""Builders for the syntax-tree nodes that `format_statement` lays out.

These make no layout decisions; they spell the statement subset code generation emits as
`ast` nodes: dotted names, calls, literal values (negative numbers as a unary minus, the shape
parsing gives them, which decides their parentheses), and `class` and `def` headers whose body
is left empty for the caller to fill statement by statement.
"""

from __future__ import annotations

import ast
import math

from nnspec.formatter._literals import literal

# (name, annotation, default): "*args" and "**kwargs" name the variadic parameters
Parameter = tuple[str, "ast.expr | None", "ast.expr | None"]


def literal_node(value: object) -> ast.expr:
    """An expression node for a literal value (negative numbers as unary minus, as parsed)."""
    if isinstance(value, (list, tuple)):
        elts = [literal_node(v) for v in value]
        return ast.List(elts) if isinstance(value, list) else ast.Tuple(elts)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (
            value < 0 or (isinstance(value, float) and math.copysign(1, value) < 0)):
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    literal(value)  # refuse anything that is not a literal
    return ast.Constant(value)


def name(dotted: str) -> ast.expr:
    """`a.b.c` as Name/Attribute nodes."""
    first, *rest = dotted.split(".")
    node: ast.expr = ast.Name(first)
    for attr in rest:
        node = ast.Attribute(node, attr)
    return node


def call(func: str | ast.expr, *args: ast.expr, **keywords: ast.expr) -> ast.Call:
    """`func(*args, **keywords)`, with `func` a dotted name or an expression."""
    target = name(func) if isinstance(func, str) else func
    return ast.Call(target, list(args), [ast.keyword(k, v) for k, v in keywords.items()])


def class_def(cls: str, bases: list[ast.expr]) -> ast.ClassDef:
    """`class cls(bases):` with an empty body."""
    return ast.ClassDef(name=cls, bases=list(bases), keywords=[], body=[], decorator_list=[])


def function_def(fn: str, params: list[Parameter], returns: ast.expr | None) -> ast.FunctionDef:
    """`def fn(name: annotation = default, ..., *args, **kwargs) -> returns:` with an empty
    body; parameters with defaults come after those without, as Python requires."""
    positional: list[ast.arg] = []
    defaults: list[ast.expr] = []
    vararg = kwarg = None
    for pname, annotation, default in params:
        if pname.startswith("**"):
            kwarg = ast.arg(pname[2:], annotation)
        elif pname.startswith("*"):
            vararg = ast.arg(pname[1:], annotation)
        elif vararg is not None or kwarg is not None:
            raise ValueError(f"{pname}: keyword-only parameters are not supported")
        else:
            if default is None and defaults:
                raise ValueError(f"{pname}: a parameter without a default follows one with")
            positional.append(ast.arg(pname, annotation))
            if default is not None:
                defaults.append(default)
    arguments = ast.arguments(posonlyargs=[], args=positional, vararg=vararg, kwonlyargs=[],
                              kw_defaults=[], kwarg=kwarg, defaults=defaults)
    return ast.FunctionDef(name=fn, args=arguments, body=[], decorator_list=[], returns=returns)
