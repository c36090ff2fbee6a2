"""Forward steps to IR: each statement parsed and checked against the whitelist of what a
spec's forward may say, its names resolved against inputs, children and earlier values.

Besides assignments and `return`, a step may be a loop over the items of a container child
(`for layer in layers: x = layer(x)`), an item of one may be called (`layers[0](x)`,
`heads["aux"](x)`, `self[0](x)` in a container block), and `return` may give a mapping with
string keys (`return {"out": x, "aux": a}`)."""

from __future__ import annotations

import ast
import re
from typing import Any

from nnspec.catalog import ops, values
from nnspec.diagnostics import did_you_mean
from nnspec.elaborate.context import Context
from nnspec.frontend.document import PathKey
from nnspec.frontend.validate import IfStep
from nnspec.ir.program import (
    If,
    Stmt,
)
from nnspec.language.expr import Expr, ExprError, parse_statement
from nnspec.language.names import TRAINING, identifier_problem


def statement(template: str, **names: str) -> ast.stmt:
    """A statement with names put in as AST nodes, never as text (a bad name cannot parse)."""
    node = ast.parse(template).body[0]
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            sub.id = names[sub.id]
    return node


def returns(step: Any) -> bool:
    """Whether a raw forward step is a `return` (judged on the text, so that a return with an
    error of its own is not also reported as missing)."""
    return isinstance(step, str) and re.match(r"\s*return\b", step) is not None


class Scope:
    """Checks forward steps: which names are values, children and parameters at each point."""

    def __init__(self, ctx: Context, path: PathKey, params: set[str], children: set[str],
                 inputs: list[str], tensors: set[str], container: bool = False,
                 training: bool = True):
        self.ctx, self.path = ctx, path
        # `training` (self.training) is a forward's; steps run while building have none
        self.flags = {TRAINING} if training else set()
        self.params, self.children, self.tensors = params, children, tensors
        self.container = container  # a Sequential block: `self[i]` and `for m in self`
        self.loop_vars: set[str] = set()  # modules bound by an enclosing `for`
        self.values = set(inputs)
        self.used_params: set[str] = set()
        self.called: set[str] = set()

    def steps(self, raw: list, path: PathKey) -> list:
        out = []
        for i, step in enumerate(raw):
            result = self.step(step, path + (i,))
            if result is not None:
                out.append(result)
        return out

    def step(self, raw: Any, path: PathKey) -> Any:
        if isinstance(raw, IfStep):
            # over parameters, `training` and plain values of earlier steps (sizes from shapes)
            cond = self.ctx.expr(raw.if_, path + ("if",), self.params | self.values | self.flags)
            if cond is None:
                return None
            self.used_params |= cond.names() & self.params
            before = set(self.values)
            then = self._branch(raw.then, path + ("then",))
            then_values, self.values = self.values, set(before)
            orelse = self._branch(raw.else_, path + ("else",)) if raw.else_ is not None else []
            self.values = before | (then_values & self.values)
            return If(cond, then, orelse, self.ctx.where(path))
        return self.statement(raw, path)

    def _branch(self, raw: Any, path: PathKey) -> list:
        if isinstance(raw, str):
            stmt = self.statement(raw, path)
            return [stmt] if stmt else []
        return self.steps(raw, path)

    def statement(self, text: str, path: PathKey) -> Stmt | None:
        pos = self.ctx.where(path)
        try:
            tree = parse_statement(text)
        except ExprError as err:
            self.ctx.errors.error(err.code, err.message, pos.shifted(err.offset, err.length))
            return None
        if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.Assign, ast.AugAssign,
                                                                ast.Return, ast.For)):
            self.ctx.errors.error("bad-forward", "a forward step is one assignment "
                                  "('y = conv(x)'), a 'return' or a loop over a container "
                                  "child ('for layer in layers: x = layer(x)')", pos)
            return None
        node = tree.body[0]
        expr = Expr(node, pos)  # type: ignore[arg-type]  # only used for sub-positions
        try:
            self.check_statement(node, expr)
        except ExprError as err:
            self.ctx.errors.error(err.code, err.message, pos.shifted(err.offset, err.length),
                                  err.hint)
            if isinstance(node, ast.Assign):  # later steps may use the names: no cascade
                self.values |= {n.id for t in node.targets for n in ast.walk(t)
                                if isinstance(n, ast.Name)}
            return None
        return Stmt(node, pos)

    def check_statement(self, node: ast.stmt, expr: Expr) -> None:
        if isinstance(node, ast.For):
            self.check_loop(node, expr)
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            self.check_mapping(node.value, expr)
        else:
            self.check_value(node.value, expr)  # type: ignore[attr-defined]
            if isinstance(node, ast.AugAssign):
                self.check_value(node.target, expr)
                base = node.target
                while isinstance(base, ast.Subscript):  # `x[:, 0] += 1` updates x
                    base = base.value
                if isinstance(base, ast.Name) and base.id in self.tensors:
                    raise ExprError("bad-forward", f"'{base.id}' is a parameter or "
                                    "buffer of the module; it cannot be updated in place",
                                    node.target)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    self.bind_target(target, expr)

    def check_loop(self, node: ast.For, expr: Expr) -> None:
        """`for layer in layers: <assignments>`: one turn per item of a container child."""
        if not isinstance(node.target, ast.Name):
            raise ExprError("bad-forward", "a loop binds one name, the item", node.target)
        if not self.is_container(node.iter):
            raise ExprError("bad-forward", "a loop runs over a child (a ModuleList, "
                            "Sequential or ModuleDict) or, in a Sequential block, 'self'",
                            node.iter)
        if node.orelse:
            raise ExprError("bad-forward", "a loop has no 'else'", node.orelse[0])
        var = node.target.id
        problem = identifier_problem(var)
        if problem or var in self.children | self.params | self.values | self.tensors \
                | self.loop_vars:
            raise ExprError("name-clash", problem or f"'{var}' is already a name here; "
                            "choose another name for the item", node.target)
        self.called.add(node.iter.id)  # type: ignore[attr-defined]
        self.loop_vars.add(var)
        try:
            for sub in node.body:
                if not isinstance(sub, (ast.Assign, ast.AugAssign)):
                    raise ExprError("bad-forward", "a loop's body is assignments", sub)
                self.check_statement(sub, expr)
        finally:
            self.loop_vars.discard(var)

    def is_container(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and (
            node.id in self.children or (node.id == "self" and self.container))

    def check_mapping(self, node: ast.Dict, expr: Expr) -> None:
        """`return {"out": x, "aux": a}`: string keys, each once."""
        seen: set[str] = set()
        for key, value in zip(node.keys, node.values):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise ExprError("bad-forward", "a returned mapping's keys are strings",
                                key or value)
            if key.value in seen:
                raise ExprError("bad-forward", f"key '{key.value}' is returned twice", key)
            seen.add(key.value)
            self.check_value(value, expr)

    def bind_target(self, node: ast.expr, expr: Expr) -> None:
        if isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                self.bind_target(elt, expr)
            return
        if not isinstance(node, ast.Name):
            raise ExprError("bad-forward", "assign only to plain names", node)
        problem = identifier_problem(node.id)
        if node.id in self.tensors:
            raise ExprError("name-clash", f"'{node.id}' is a parameter or buffer of the module; "
                            "choose another name for the value", node)
        if problem or node.id in self.children or node.id in self.params:
            raise ExprError("name-clash", problem or f"'{node.id}' is a child or parameter; "
                            "choose another name for the value", node)
        self.values.add(node.id)

    def check_value(self, node: ast.AST, expr: Expr) -> None:
        """Refuse everything outside the forward whitelist; check names are defined."""
        if isinstance(node, ast.Name):
            if node.id in self.values or node.id in self.tensors or node.id in self.flags:
                return
            if node.id in self.params:
                self.used_params.add(node.id)
                return
            if node.id in self.children:
                raise ExprError("bad-forward", f"child '{node.id}' must be called, like "
                                f"'{node.id}(x)'", node)
            raise ExprError("undefined-value", f"'{node.id}' is not defined at this step",
                            node, did_you_mean(node.id, sorted(self.values | self.params
                                                               | self.tensors))
                            or f"defined here: {', '.join(sorted(self.values))}")
        if isinstance(node, ast.Call):
            self.check_callee(node.func, expr)
            for arg in node.args:
                self.check_value(arg, expr)
            for kw in node.keywords:
                if kw.arg is None:
                    raise ExprError("bad-forward", "'**' is not allowed", kw)
                self.check_value(kw.value, expr)
            return
        if isinstance(node, ast.Attribute):
            base = node.value
            if isinstance(base, ast.Name) and base.id == "torch" and base.id not in self.values:
                if node.attr in values.DTYPES:  # `torch.long`: only dtype names are values
                    return
                raise ExprError("unknown-op", f"'torch.{node.attr}' is not a dtype; the only "
                                "torch attributes a forward may read are dtypes", node,
                                did_you_mean(f"torch.{node.attr}",
                                             [f"torch.{n}" for n in sorted(values.DTYPES)]))
            if node.attr not in ops.ATTRIBUTES:
                raise ExprError("unknown-op", f"attribute '{node.attr}' is not allowed", node,
                                did_you_mean(node.attr, sorted(ops.ATTRIBUTES)))
            self.check_value(node.value, expr)
            return
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float, str, bool, type(None), type(...))):
                raise ExprError("bad-forward", f"literal {node.value!r} is not allowed", node)
            return
        if isinstance(node, ast.Starred):
            raise ExprError("bad-forward", "'*' is not allowed", node)
        if not isinstance(node, _FORWARD_NODES):
            raise ExprError("bad-forward", f"{type(node).__name__} is not allowed in forward",
                            node)
        for sub in ast.iter_child_nodes(node):
            self.check_value(sub, expr)

    def check_callee(self, func: ast.expr, expr: Expr) -> None:
        root = func
        while isinstance(root, ast.Subscript):  # `fuse_layers[0][1]`: an item of an item
            root = root.value
        if isinstance(func, ast.Subscript) and self.is_container(root):
            while isinstance(func, ast.Subscript):
                key = func.slice
                if isinstance(key, ast.UnaryOp) and isinstance(key.op, ast.USub):  # `[-1]`
                    key = key.operand
                if not (isinstance(key, ast.Constant) and type(key.value) in (int, str)):
                    raise ExprError("bad-forward", "an item of a container child is picked by "
                                    "an int or a string: 'layers[0](x)', 'heads[\"aux\"](x)'",
                                    key)
                func = func.value
            if root.id in self.children:  # type: ignore[attr-defined]
                self.called.add(root.id)  # type: ignore[attr-defined]
            return
        if isinstance(func, ast.Name):
            if func.id in self.loop_vars:
                return
            if func.id in self.children:
                self.called.add(func.id)
                return
            raise ExprError("unknown-op", f"'{func.id}' is not a child of this module", func,
                            did_you_mean(func.id, sorted(self.children) + ops.all_names()))
        if isinstance(func, ast.Attribute):
            base = func.value
            if isinstance(base, ast.Name) and base.id in ops.NAMESPACES and \
                    base.id not in self.values:
                if func.attr in ops.NAMESPACES[base.id]:
                    return
                spelled = f"{base.id}.{func.attr}"
                raise ExprError("unknown-op", f"'{spelled}' is not a supported op", func,
                                did_you_mean(spelled, ops.all_names()))
            if func.attr in ops.METHODS:
                self.check_value(base, expr)
                return
            raise ExprError("unknown-op", f"method '{func.attr}' is not a supported op", func,
                            did_you_mean(func.attr, sorted(ops.METHODS)))
        raise ExprError("bad-forward", "only children, torch./F. functions and tensor methods "
                        "can be called", func)


_FORWARD_NODES = (
    ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice,
    ast.Tuple, ast.List, ast.Load, ast.Store, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)
