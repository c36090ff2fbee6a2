"""Statements shared by a generated class's methods, as syntax trees: attribute paths below
`self`, init-function calls, and the renaming of names that are members in a method."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from nnspec.formatter import nodes
from nnspec.ir.program import If
from nnspec.language.expr import Expr, walk
from nnspec.language.names import DASHED


def assign(target: ast.expr, value: ast.expr) -> ast.Assign:
    return ast.Assign([target], value)


def self_attr(attr: str) -> ast.expr:
    return attribute(ast.Name("self"), attr)


def attribute(node: ast.expr, attr: str) -> ast.expr:
    """`node.attr`; a child named with `-` (`block1-0`) as `node.get_submodule("block1-0")`."""
    if DASHED.fullmatch(attr):
        return ast.Call(ast.Attribute(node, "get_submodule"), [ast.Constant(attr)], [])
    return ast.Attribute(node, attr)


def store(target: ast.expr, value: ast.expr) -> ast.stmt:
    """`target = value`; a child named with `-` as `parent.add_module("block1-0", value)`."""
    if isinstance(target, ast.Call):  # attribute's get_submodule
        assert isinstance(target.func, ast.Attribute)
        return ast.Expr(ast.Call(ast.Attribute(target.func.value, "add_module"),
                                 [target.args[0], value], []))
    return assign(target, value)


def member(path: str) -> ast.expr:
    """`self.heads.head`, `self.features[0]`: a dotted path of children (and a tensor)."""
    node: ast.expr = ast.Name("self")
    for part in path.split("."):
        node = ast.Subscript(node, ast.Constant(int(part))) if part.isdigit() \
            else attribute(node, part)
    return node


def init_arg(value: Any) -> ast.expr:
    """An init function's argument: a checked expression over the parameters, or a literal."""
    return value.node if isinstance(value, Expr) else nodes.literal_node(value)


def init_call(fn: str, tensor: ast.expr, args: dict[str, Any]) -> ast.Call:
    """`nn.init.<fn>_(tensor, ...)`, `constant`'s value positional as torch's docs write it."""
    positional = [init_arg(args["val"])] if "val" in args else []
    keywords = {a: init_arg(v) for a, v in args.items() if a != "val"}
    return nodes.call(f"nn.init.{fn}_", tensor, *positional, **keywords)


class Renamer(ast.NodeTransformer):
    """Children and parameters become `self.<name>` in forward (inputs shadow parameters)."""

    def __init__(self, members: set[str], inputs: set[str], dummies: dict[str, str]):
        self.members = members - inputs
        self.dummies = dummies

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Store) and node.id in self.dummies:
            return ast.Name(self.dummies[node.id], ast.Store())
        return self_attr(node.id) if node.id in self.members else node


def _nodes(steps: list) -> Iterator[ast.AST]:
    """Every AST node of the forward steps, conditions included."""
    for step in steps:
        if isinstance(step, If):
            yield from walk(step.cond.node)
            yield from _nodes(step.then)
            yield from _nodes(step.orelse)
        else:
            yield from walk(step.node)


def unused_unpacked(steps: list) -> dict[str, str]:
    """Names unpacked from a tuple and never read (`out, (h, c) = lstm(x)` reading only `h`),
    to their dummy names: `_`, as ruff expects of unused unpacked values (RUF059)."""
    nodes = list(_nodes(steps))
    loaded = {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    unpacked = {n.id for t in nodes if isinstance(t, ast.Tuple) and isinstance(t.ctx, ast.Store)
                for n in walk(t) if isinstance(n, ast.Name)}
    return {name: "_" if "_" not in loaded else f"_{name}"
            for name in unpacked - loaded if not name.startswith("_")}
