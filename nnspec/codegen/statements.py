"""Statements shared by a generated class's methods, as syntax trees: attribute paths below
`self`, init-function calls, and the renaming of names that are members in a method."""

from __future__ import annotations

import ast
from typing import Any

from nnspec.formatter import nodes
from nnspec.language.expr import Expr


def assign(target: ast.expr, value: ast.expr) -> ast.Assign:
    return ast.Assign([target], value)


def self_attr(attr: str) -> ast.expr:
    return ast.Attribute(ast.Name("self"), attr)


def member(path: str) -> ast.expr:
    """`self.heads.head`, `self.features[0]`: a dotted path of children (and a tensor)."""
    node: ast.expr = ast.Name("self")
    for part in path.split("."):
        node = ast.Subscript(node, ast.Constant(int(part))) if part.isdigit() \
            else ast.Attribute(node, part)
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
