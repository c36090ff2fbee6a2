"""Forward steps over shapes: one statement of a class's forward evaluated the way torch would
run it. Tensor operations go to the ops' shape rules and become graph nodes; every operation on
plain values goes through the guarded evaluator (`nnspec.language.guards`), under the same
bounds as spec expressions.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, NoReturn

from nnspec.catalog import ops, values
from nnspec.catalog.values import Counted, OpError, Tensor
from nnspec.elaborate.shapes.indexing import index_shape
from nnspec.elaborate.shapes.symbolic import op_sym
from nnspec.ir.analysis import UNKNOWN, tensors_in
from nnspec.ir.program import Instance, Stmt
from nnspec.language import guards, operators
from nnspec.language.errors import ExprError
from nnspec.language.expr import Expr, evaluate
from nnspec.language.guards import Work


class Abort(Exception):
    """Stops the walk of one forward after an error has been reported."""


@dataclass
class Frame:
    """One running forward: its module, parameter values, children, and named values."""

    inst: Instance
    env: dict[str, Any]  # the class's parameter values
    children: dict[str, Instance]
    values: dict[str, Any] = field(default_factory=dict)


NO_RETURN: Any = object()  # a step's result when it is not a `return`


def statement(walker: Any, stmt: Stmt, frame: Frame) -> Any:
    """Run one forward statement for `walker` (the shape pass, which runs child calls and
    keeps the graph); its result, or NO_RETURN."""
    evaluator = Step(walker, frame, stmt)
    result = _run(evaluator, stmt, frame)
    evaluator.guarded(lambda: evaluator.work.settle(stmt.node))
    return result


def condition(walker: Any, cond: Expr, frame: Frame) -> bool:
    """An `if` step's condition, over parameters and the plain values of earlier steps (sizes
    read from shapes, `training`); a tensor there is an error, as torch's truth value of a
    tensor is data the static pass does not have."""
    env = dict(frame.env)
    for name in cond.names() & frame.values.keys():
        value = frame.values[name]
        if value is UNKNOWN:  # a size past an unknown forward: no branch to take
            raise Abort
        if next(tensors_in(value), None) is not None:
            walker.error("type-error", f"an `if` condition is over plain values; '{name}' is a "
                         "tensor", cond.pos, frame.inst.path,
                         hint="choose with an expression instead: `y = a if cond else b`")
            raise Abort
        env[name] = value
    try:
        return bool(evaluate(cond.node, env))
    except ExprError as err:
        walker.error(err.code, err.message, cond.error_pos(err), frame.inst.path)
        raise Abort from None


def _run(evaluator: Step, stmt: Stmt, frame: Frame) -> Any:
    return _run_node(evaluator, stmt.node, frame)


def _run_node(evaluator: Step, node: ast.stmt, frame: Frame) -> Any:
    if isinstance(node, ast.For):  # one turn per item of a container, the item bound
        var = node.target.id  # type: ignore[attr-defined]
        for item in evaluator.container(node.iter).children:
            frame.children[var] = item
            for sub in node.body:
                _run_node(evaluator, sub, frame)
        frame.children.pop(var, None)
        return NO_RETURN
    if isinstance(node, ast.Return):
        if isinstance(node.value, ast.Dict):  # a mapping with string keys (checked)
            return {key.value: evaluator.value(value)  # type: ignore[union-attr]
                    for key, value in zip(node.value.keys, node.value.values)}
        return evaluator.value(node.value)
    if isinstance(node, ast.AugAssign):
        target = evaluator.value(node.target)
        value = evaluator.binop(node, node.op, target, evaluator.value(node.value))
        if isinstance(target, Tensor) and isinstance(value, Tensor) and \
                value.shape != target.shape:
            evaluator.fail(OpError(f"in-place update of {list(target.shape)} would make "
                                   f"it {list(value.shape)}", target), node)
        if isinstance(target, Tensor) and isinstance(value, Tensor):
            if _category(value.dtype) > _category(target.dtype):
                evaluator.fail(OpError(f"in-place update of an {target.dtype} tensor with "
                                       f"a {value.dtype} result: torch cannot cast it back"
                                       if target.dtype != "bool" else
                                       f"in-place update of a bool tensor with a "
                                       f"{value.dtype} result: torch cannot cast it back",
                                       target, code="dtype-mismatch"), node)
            value.dtype = target.dtype
        if isinstance(node.target, ast.Subscript):  # `x[:, 0] += 1` updates part of x in place
            return NO_RETURN
        frame.values[node.target.id] = value  # type: ignore[attr-defined]
        return NO_RETURN
    value = evaluator.value(node.value)  # type: ignore[attr-defined]
    for target in node.targets:
        evaluator.bind(target, value)
    return NO_RETURN


def _category(dtype: str) -> int:
    """bool < integer < floating: torch casts a result back in place only downwards."""
    return 2 if values.is_floating(dtype) else 0 if dtype == "bool" else 1


class Step:
    """Evaluates one forward statement over shapes."""

    def __init__(self, walker: Any, frame: Frame, stmt: Stmt):
        self.walker, self.frame, self.stmt = walker, frame, stmt
        self.expr = Expr(stmt.node, stmt.pos)  # type: ignore[arg-type]  # for sub-positions
        self.work = Work()

    def fail(self, err: OpError, node: ast.AST) -> None:
        self.walker.error(err.code, err.message, self.expr.at(node), self.frame.inst.path,
                          *err.tensors)
        raise Abort

    def bind(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.frame.values[target.id] = value
            return
        elts = target.elts  # type: ignore[attr-defined]
        if value is UNKNOWN:
            for elt in elts:
                self.bind(elt, UNKNOWN)
            return
        if not isinstance(value, (tuple, list)) or len(value) != len(elts):
            count = len(value) if isinstance(value, (tuple, list)) else "1"
            self.fail(OpError(f"cannot unpack {count} value(s) into {len(elts)} names",
                              code="bad-unpack"), target)
        for elt, v in zip(elts, value):
            self.bind(elt, v)

    def value(self, node: ast.AST) -> Any:
        try:
            self.work.charge(1, node)
        except ExprError as err:
            self.report(err)
        if isinstance(node, ast.Name):
            if node.id in self.frame.values:
                return self.frame.values[node.id]
            return self.frame.env[node.id]
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [self.value(e) for e in node.elts]
            return self.guarded(lambda: guards.sequence(items, node, self.work))
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            if _is_namespace(node.value, "torch", self.frame.values):
                return values.DTYPES[node.attr]  # elaboration allowed only dtype names here
            base = self.value(node.value)
            if base is UNKNOWN:
                return UNKNOWN
            if not isinstance(base, Tensor):
                self.fail(OpError(f"'.{node.attr}' needs a tensor, got "
                                  f"{type(base).__name__}", code="type-error"), node)
            return self.op(f".{node.attr}", ops.ATTRIBUTES[node.attr], [base], {}, node)
        if isinstance(node, ast.BinOp):
            return self.binop(node, node.op, self.value(node.left), self.value(node.right))
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand)
            if isinstance(operand, Tensor):
                try:
                    ops.unary_operator(operators.of(node.op).symbol, operand)
                except OpError as err:
                    self.fail(err, node)
            if isinstance(operand, Tensor) or operand is UNKNOWN:
                return operand
            return self.guarded(lambda: guards.unary(node, operand, self.work))
        if isinstance(node, ast.BoolOp):
            operands = [self.value(v) for v in node.values]
            if any(isinstance(v, Tensor) or v is UNKNOWN for v in operands):
                return UNKNOWN
            out = operands[0]
            for v in operands[1:]:
                out = (out and v) if isinstance(node.op, ast.And) else (out or v)
            return out
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.IfExp):
            test = self.value(node.test)
            if isinstance(test, Tensor) or test is UNKNOWN:
                return UNKNOWN
            return self.value(node.body if test else node.orelse)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Slice):
            parts = [None if p is None else self.value(p)
                     for p in (node.lower, node.upper, node.step)]
            return slice(*parts)
        raise AssertionError(f"unchecked forward node {type(node).__name__}")

    def guarded(self, fn) -> Any:
        """A guarded operation on plain values; its error reported where it points."""
        try:
            return fn()
        except ExprError as err:
            self.report(err)

    def report(self, err: ExprError) -> NoReturn:
        self.walker.error(err.code, err.message, self.expr.error_pos(err),
                          self.frame.inst.path, hint=err.hint)
        raise Abort from None

    def compare(self, node: ast.Compare) -> Any:
        left = self.value(node.left)
        result: Any = True
        for op, comp in zip(node.ops, node.comparators):
            right = self.value(comp)
            if any(isinstance(v, Tensor) or v is UNKNOWN for v in (left, right)):
                return self.op("compare", ops.compare, [left, right], {}, node)
            ok = self.guarded(lambda: guards.compare(node, op, left, right, self.work))
            if not ok:
                return False
            result, left = ok, right
        return result

    def binop(self, node: ast.AST, op: ast.operator, left: Any, right: Any) -> Any:
        if isinstance(op, ast.MatMult):
            return self.op("matmul", ops.TORCH_FUNCTIONS["matmul"], [left, right], {}, node)
        if isinstance(left, Tensor) or isinstance(right, Tensor):
            name = operators.BINARY[type(op)].graph
            rule = ops.true_divide if name == "div" else ops.bitwise if isinstance(
                op, (ast.BitAnd, ast.BitOr, ast.BitXor)) else ops.elementwise
            return self.op(name, rule, [left, right], {}, node)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        return self.guarded(lambda: guards.binary(node, op, left, right, self.work))

    def subscript(self, node: ast.Subscript) -> Any:
        base = self.value(node.value)
        index = self.value(node.slice)
        if base is UNKNOWN or index is UNKNOWN:
            return UNKNOWN
        if isinstance(base, Tensor):
            return self.op("index", index_shape, [base, index], {}, node)
        if isinstance(base, dict):  # a mapping a child returned: an item by its key
            if not isinstance(index, str) or index not in base:
                self.fail(OpError(f"the mapping has no key {index!r} (its keys: "
                                  f"{', '.join(map(repr, base))})", code="bad-op-argument"),
                          node)
            return base[index]
        return self.guarded(lambda: guards.subscript(node, base, index, self.work))

    def call(self, node: ast.Call) -> Any:
        args = [self.value(a) for a in node.args]
        kwargs = {k.arg: self.value(k.value) for k in node.keywords}
        func = node.func
        if isinstance(func, ast.Subscript):  # an item of a container: `layers[0](x)`
            return self.walker.module(self.item(func), args, kwargs, self.frame)
        if isinstance(func, ast.Name):
            child = self.frame.children.get(func.id)
            if child is None:
                self.fail(OpError(f"child '{func.id}' is absent here (its 'if' is false)",
                                  code="absent-child"), func)
            return self.walker.module(child, args, kwargs, self.frame)
        assert isinstance(func, ast.Attribute)
        base = func.value
        if isinstance(base, ast.Name) and base.id in ops.NAMESPACES and \
                base.id not in self.frame.values:
            return self.op(f"{base.id}.{func.attr}", ops.NAMESPACES[base.id][func.attr], args,
                           kwargs, node)
        this = self.value(base)
        return self.op(f".{func.attr}", ops.METHODS[func.attr], [this, *args], kwargs, node)

    def container(self, node: ast.expr) -> Instance:
        """The container a loop runs over or an item is picked from: a child, `self`, or an
        item of a container that is a container itself (`fuse_layers[0]`)."""
        if isinstance(node, ast.Subscript):
            inst = self.item(node)
            if inst.kind == "layer" or inst.type not in ("ModuleList", "ModuleDict", "Sequential"):
                self.fail(OpError(f"'{ast.unparse(node)}' is a {inst.type}, not a container of "
                                  "modules", code="bad-forward"), node)
            return inst
        name = node.id  # type: ignore[attr-defined]
        inst = self.frame.children.get(name)
        if inst is None and name == "self":
            return self.frame.inst
        if inst is None:
            self.fail(OpError(f"child '{name}' is absent here (its 'if' is false)",
                              code="absent-child"), node)
        assert inst is not None
        if inst.kind == "layer":
            self.fail(OpError(f"'{name}' is a {inst.type}, not a container of modules",
                              code="bad-forward"), node)
        return inst

    def item(self, func: ast.Subscript) -> Instance:
        """`layers[0]`, `heads["aux"]`: the item of a container by position or by name."""
        inst = self.container(func.value)
        key = ast.literal_eval(func.slice)  # an int or a str (checked)
        items = {c.path.rsplit(".", 1)[-1]: c for c in inst.children}
        count = len(inst.children)
        found = items.get(key) if isinstance(key, str) else \
            inst.children[key] if -count <= key < count else None  # by position, as torch
        if found is None:
            self.fail(OpError(f"'{ast.unparse(func)}': {inst.type} has no item {key!r}",
                              code="bad-forward"), func)
        assert found is not None
        return found

    def op(self, name: str, rule, args: list[Any], kwargs: dict[str, Any], node: ast.AST
           ) -> Any:
        """Apply an op's shape rule, then record its graph node and MACs."""
        flat = [*args, *kwargs.values()]
        if any(v is UNKNOWN or has_unknown(v) for v in flat):
            return UNKNOWN
        shown = name.lstrip(".")
        try:
            result = rule(*args, **kwargs)
        except OpError as err:
            self.fail(err, node)
        except TypeError as exc:  # Python's binding of the call: torch's own signature
            message = str(exc).replace(f"{rule.__name__}() ", "")
            self.fail(OpError(f"{shown}(): {message}", code="bad-op-argument"), node)
        except (ValueError, IndexError, AttributeError, ZeroDivisionError) as exc:
            self.fail(OpError(f"{shown}() cannot take these arguments ({exc})",
                              code="bad-op-argument"), node)
        macs = 0
        if isinstance(result, Counted):
            result, macs = result.value, result.macs
        created = [t for t in tensors_in(result) if t.origin is None]
        if not created:
            return result
        origin = self.expr.at(node)
        inputs = [t.node for t in tensors_in(flat) if t.node is not None]
        path = self.frame.inst.path
        chain = (*path.split("."), name) if path else (name,)
        graph_node = self.walker.node("op", shown, chain, inputs, result)
        for t in created:
            t.origin, t.node = origin, graph_node.id
        if macs:
            self.walker.add_macs(path, macs)
        if isinstance(result, Tensor):
            result.sym = op_sym(name, args, kwargs, result)
        return result



def _is_namespace(node: ast.AST, name: str, values: dict[str, Any]) -> bool:
    """`node` is the bare name of an op namespace (`torch`), not a value of that name."""
    return isinstance(node, ast.Name) and node.id == name and name not in values



def has_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return has_unknown(list(value.values()))
    if isinstance(value, (list, tuple)):
        return any(v is UNKNOWN or has_unknown(v) for v in value)
    return False
