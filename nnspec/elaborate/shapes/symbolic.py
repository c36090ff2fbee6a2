"""Symbolic dimensions: per tensor dimension, the expression (in the running class) that gives
its size, carried through layers, ops and block boundaries; and the choice, per inferred
argument, of one expression valid in every instance of its class.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from nnspec.catalog.values import Tensor
from nnspec.ir.analysis import tensors_in
from nnspec.ir.program import Call, Instance, ModuleClass
from nnspec.language.expr import Expr, ExprError, evaluate


@dataclass
class Seen:
    """One inference of an omitted argument, in one instance (`env`: its class's parameters)."""

    inst: Instance
    env: dict[str, Any]
    value: int
    sym: Expr | None


def common_expr(records: list[Seen]) -> Expr | None:
    """The first tracked expression that gives the right value everywhere, else a constant."""
    tried: set[int] = set()
    for record in records:
        sym = record.sym
        if sym is None or id(sym) in tried:
            continue
        tried.add(id(sym))
        if all(_evaluates_to(sym, r.env, r.value) for r in records):
            return sym
    values = {r.value for r in records}
    if len(values) == 1:
        return Expr(ast.Constant(values.pop()), records[0].inst.pos)
    return None


def _evaluates_to(expr: Expr, env: dict[str, Any], value: int) -> bool:
    try:
        return evaluate(expr.node, env) == value
    except ExprError:
        return False



def layer_sym(layer, call: Call | None, x: Tensor, out: Tensor) -> tuple | None:
    """Per output dim, the expression (in the calling class) that gives its size, if known."""
    if call is None:
        return None
    sym: list[Expr | None] = [None] * len(out.shape)
    if len(out.shape) == len(x.shape):
        for i, (a, b) in enumerate(zip(x.shape, out.shape)):
            if a == b and x.sym:
                sym[i] = x.sym[i]
        for name, index in layer.infer.items():
            if name in call.args and -len(sym) <= index < len(sym) and sym[index] is None \
                    and out.shape[index] == x.shape[index]:
                sym[index] = call.args[name]
    for index, name in layer.out_dims.items():
        if name in call.args and -len(sym) <= index < len(sym):
            sym[index] = call.args[name]
    return tuple(sym)



def unscoped(value: Any) -> Any:
    """A value entering a block: its expressions belong to the caller's scope, so drop them."""
    if isinstance(value, Tensor):
        return Tensor(value.shape, value.origin, value.node, dtype=value.dtype,
                      bounds=value.bounds)
    if isinstance(value, (tuple, list)):
        return type(value)(unscoped(v) for v in value)
    if isinstance(value, dict):
        return {k: unscoped(v) for k, v in value.items()}
    return value


def rescoped(value: Any, call: Call | None, cls: ModuleClass,
             memo: dict[tuple[int, int], tuple[Expr, Call, Expr | None]] | None = None) -> Any:
    """A block's result, its expressions rewritten from the block's parameters to the call's
    arguments, so the caller can copy them. `memo` (by the ids of the expression and the call,
    which it keeps alive) spares rewriting the same pair again: every instance of a repeated
    call returns the same expressions."""
    if isinstance(value, (tuple, list)):
        return type(value)(rescoped(v, call, cls, memo) for v in value)
    if isinstance(value, dict):
        return {k: rescoped(v, call, cls, memo) for k, v in value.items()}
    if not isinstance(value, Tensor):
        return value
    out = Tensor(value.shape, value.origin, value.node, dtype=value.dtype, bounds=value.bounds)
    if call is not None and value.sym:
        memo = {} if memo is None else memo
        syms = []
        for s in value.sym:
            key = (id(s), id(call))
            if s is not None and key not in memo:  # the pair is kept: its ids stay unique
                memo[key] = (s, call, _substitute(s, call, cls))
            syms.append(memo[key][2] if s is not None else None)
        out.sym = tuple(syms)
    return out


def _substitute(expr: Expr, call: Call, cls: ModuleClass) -> Expr | None:
    args: dict[str, ast.expr] = {}
    for param in cls.params:
        if param.name in call.args:
            args[param.name] = call.args[param.name].node
        elif isinstance(param.default, (int, float, str, bool)):
            args[param.name] = ast.Constant(param.default)
    if not expr.names() <= set(args):
        return None
    node = _Rewrite(args).visit(_copy(expr.node))
    return Expr(node, call.pos)


class _Rewrite(ast.NodeTransformer):
    """Names replaced by the expressions `args` gives for them."""

    def __init__(self, args: dict[str, ast.expr]):
        self.args = args

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self.args.get(node.id, node)


def _copy(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


def op_sym(name: str, args: list[Any], kwargs: dict[str, Any], out: Tensor) -> tuple | None:
    """Expressions for an op's output dims: kept through shape-preserving ops, summed by cat."""
    tensors = list(tensors_in(args))
    if name == "torch.cat" and tensors and all(t.sym for t in tensors):
        dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
        d = dim % len(out.shape)
        sym = list(tensors[0].sym)
        parts = [t.sym[d] for t in tensors]
        sym[d] = None if None in parts else Expr(_sum_node([p.node for p in parts]),
                                                 parts[0].pos)
        return tuple(sym)
    first = tensors[0] if tensors else None
    if first is not None and first.sym and first.shape == out.shape:
        return first.sym
    return None


def _sum_node(nodes: list[ast.expr]) -> ast.expr:
    out = _copy(nodes[0])
    for node in nodes[1:]:
        out = ast.BinOp(out, ast.Add(), _copy(node))
    return ast.parse(ast.unparse(out), mode="eval").body
