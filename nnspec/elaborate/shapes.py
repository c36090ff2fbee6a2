"""Static shape inference: every module's output shape, parameters and MACs, without torch.

The pass runs each class's forward over concrete shapes (batch included), the way torch would
run it: child calls go to the catalog's shape rules, Sequentials run in order, functional ops
and tensor methods use the rules in `nnspec.ops`. Where torch would raise (a channel count that
does not match, a kernel larger than its input, an add of shapes that do not broadcast) the pass
reports a positioned compile-time error instead, naming the producer of the operand too.

It also fills in the arguments a spec may omit (`in_channels`, `num_features`, `in_features`,
declared by the catalog's `LayerDef.infer`). The IR must stay complete for code generation, so
each inferred argument becomes an expression in its class: the expression that produced that
dimension upstream in the same class (tracked per dimension as `Tensor.sym`), when it gives the
right value in every instance of the class; else the constant, when every instance agrees.
"""

from __future__ import annotations

import ast
import itertools
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from nnspec.catalog import LAYERS, ops
from nnspec.catalog.types import SpatialCollapse
from nnspec.catalog.values import Counted, OpError, Tensor
from nnspec.diagnostics import Collector, Pos
from nnspec.ir.program import Call, If, Instance, ModuleClass, Program, Stmt, Tie
from nnspec.language.expr import Expr, ExprError, evaluate

Shape = tuple[int, ...]


class _Unknown:
    """A value the pass cannot know (the output of a layer without a shape rule)."""

    def __repr__(self) -> str:
        return "?"


UNKNOWN: Any = _Unknown()


@dataclass
class ModuleInfo:
    """One module of the tree: static results summed over every call of it."""

    path: str
    type: str
    kind: str  # "layer", "block" or "seq"
    params: int | None  # None: the catalog has no parameter rule for this layer
    macs: int = 0
    outputs: list[Any] = field(default_factory=list)  # one per call: Tensor, tuple, UNKNOWN
    state: dict[str, tuple[Shape, bool]] | None = field(default_factory=dict)


@dataclass
class Node:
    """A step of the dataflow graph: an input, a layer call, an op, or the output."""

    id: int
    kind: str  # "input", "layer", "op", "output"
    label: str
    chain: tuple[str, ...]  # module path parts, then the op's own name for ops
    inputs: list[int]
    output: Any


@dataclass
class Analysis:
    inputs: dict[str, Shape]
    output: Any
    modules: dict[str, ModuleInfo]  # every module, pre-order, the root first (path "")
    nodes: list[Node]

    @property
    def input_dtypes(self) -> dict[str, str]:
        return {n.label: n.output.dtype for n in self.nodes if n.kind == "input"}

    @property
    def root(self) -> ModuleInfo:
        return self.modules[""]

    @property
    def macs(self) -> int:
        return self.root.macs

    @property
    def params(self) -> int | None:
        return self.root.params


def analyze(program: Program, tree: Instance,
            input_shapes: dict[str, Shape] | None = None) -> Analysis:
    """Run the static pass for a batch of 1; raise SpecError with every shape error found.

    Fills in omitted inferable arguments, in the instances and in the IR's calls."""
    errors = Collector()
    walker = _Walker(program, errors)
    analysis = walker.run(tree, input_shapes or {})
    errors.check()
    walker.settle_inferred()
    errors.check()
    return analysis


def shape_of(value: Any) -> Any:
    """A plain-data view of a value: a shape list for a tensor, lists for tuples, None else."""
    if isinstance(value, Tensor):
        return list(value.shape)
    if isinstance(value, (tuple, list)):
        return [shape_of(v) for v in value]
    return None


def tensors_in(value: Any) -> Iterator[Tensor]:
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from tensors_in(v)


class _Abort(Exception):
    """Stops the walk of one forward after an error has been reported."""


@dataclass
class _Inferred:
    inst: Instance
    env: dict[str, Any]
    value: int
    sym: Expr | None


@dataclass
class _Frame:
    """One running forward: its module, parameter values, children, and named values."""

    inst: Instance
    env: dict[str, Any]  # the class's parameter values
    children: dict[str, Instance]
    values: dict[str, Any] = field(default_factory=dict)


class _Walker:
    def __init__(self, program: Program, errors: Collector):
        self.program, self.errors = program, errors
        self.seen: set[tuple[Pos, str]] = set()
        self.modules: dict[str, ModuleInfo] = {}
        self.nodes: list[Node] = []
        self.inferred: dict[tuple[int, str], list[_Inferred]] = {}
        self.calls: dict[int, Call] = {}
        self.shared: dict[str, int | None] = {}  # module path -> tied parameters counted twice

    # --- reporting --------------------------------------------------------------------------

    def error(self, code: str, message: str, pos: Pos, path: str, *operands: Tensor,
              hint: str | None = None) -> None:
        if (pos, message) in self.seen:
            return
        self.seen.add((pos, message))
        notes = [f"{t.origin}: {list(t.shape)} is produced here" for t in operands
                 if isinstance(t, Tensor) and t.origin is not None and t.origin != pos]
        notes = list(dict.fromkeys(notes))
        if path:
            notes.append(f"in module '{path}'")
        self.errors.error(code, message, pos, hint, notes)

    # --- the tree ---------------------------------------------------------------------------

    def run(self, tree: Instance, overrides: dict[str, Shape]) -> Analysis:
        self.register(tree)
        inputs = {}
        values = []
        for inp in self.program.inputs:
            shape = (1, *overrides.get(inp.name, inp.shape))
            inputs[inp.name] = shape
            node = self.node("input", f"{inp.name}", ("<input>", inp.name), [], None)
            tensor = Tensor(shape, tree.pos, node.id, dtype=inp.dtype, bounds=inp.range)
            node.output = tensor
            values.append(tensor)
        try:
            output = self.module(tree, values, {})
        except _Abort:
            output = UNKNOWN
        complete = output is not UNKNOWN
        if complete:
            self.tied_twice(tree)
        self.total_params(tree, complete)
        self.node("output", "output", ("<output>",), [t.node for t in tensors_in(output)
                                                      if t.node is not None], output)
        return Analysis(inputs, output, self.modules, self.nodes)

    def register(self, inst: Instance) -> None:
        """Add the module and its subtree, pre-order, with the parameters of complete layers."""
        info = ModuleInfo(inst.path, inst.type, inst.kind, 0)
        self.modules[inst.path] = info
        if inst.kind == "layer":
            self.count_params(inst)
        elif inst.tensors:  # a block's own parameters and buffers come before its children's
            tensors = self.program.classes[inst.type].tensors
            info.state = {t.name: (inst.tensors[t.name], t.is_param) for t in tensors
                          if t.persistent and t.name in inst.tensors}
            info.params = sum(_numel(inst.tensors[t.name]) for t in tensors
                              if t.is_param and t.name in inst.tensors)
        for child in inst.children:
            self.register(child)

    def count_params(self, inst: Instance) -> None:
        """A layer's parameters and checkpoint layout, once all its arguments are known."""
        layer, info = LAYERS[inst.type], self.modules[inst.path]
        if _missing(inst):
            return
        bound = layer.bind_defaults(inst.args)
        info.params = layer.params(bound) if layer.params else None
        info.state = layer.state(bound) if layer.state else None

    def total_params(self, inst: Instance, complete: bool) -> int | None:
        """Containers hold the sum of their children's parameters (None if one is unknown).
        After a `complete` walk, a layer still missing arguments was never called."""
        info = self.modules[inst.path]
        if inst.kind == "layer":
            if complete and _missing(inst):
                self.error("cannot-infer", f"{inst.type}() is never called in forward, so its "
                           f"omitted arguments cannot be inferred", inst.pos, inst.path,
                           hint="pass them explicitly")
            return info.params
        total: int | None = info.params  # its own parameters
        for child in inst.children:
            sub = self.total_params(child, complete)
            total = None if total is None or sub is None else total + sub
        twice = self.shared.get(inst.path, 0)
        total = None if total is None or twice is None else total - twice
        info.params = total
        return total

    def tied_twice(self, tree: Instance) -> None:
        """Per module, the size of the tied parameters its subtree would count twice: at the
        deepest module holding both ends, as its `parameters()` yields a shared tensor once
        (None where a tie's shape is unknown)."""
        stack = [tree]
        while stack:
            inst = stack.pop()
            stack.extend(inst.children)
            if inst.kind != "block":
                continue
            for tie in self.program.classes[inst.type].ties:
                shape = self.tie(inst, tie)
                a, b = (text.rpartition(".")[0].split(".") for text in (tie.target, tie.source))
                common = [x for x, _ in itertools.takewhile(lambda p: p[0] == p[1], zip(a, b))]
                path = ".".join(p for p in (inst.path, *common) if p)
                before = self.shared.get(path, 0)
                self.shared[path] = None if shape is None or before is None \
                    else before + _numel(shape)

    def tie(self, inst: Instance, tie: Tie) -> Shape | None:
        """The shape of a tied parameter, once: torch's `parameters()` yields it once. Errors
        when either end is not a parameter or their shapes differ; None where unknown."""
        shapes = []
        for text, pos in ((tie.target, tie.pos), (tie.source, tie.source_pos)):
            owner, _, attr = text.rpartition(".")
            path = ".".join(p for p in (inst.path, owner) if p)
            info = self.modules.get(path)
            if info is None or info.state is None:  # absent (reported) or no layout rule
                return None
            found = info.state.get(attr)
            if found is None or not found[1]:
                self.error("bad-tie", f"'{path or inst.type}' ({info.type}) has no parameter "
                           f"'{attr}'", pos, inst.path)
                return None
            shapes.append(tuple(found[0]))
        if shapes[0] != shapes[1]:
            self.error("shape-mismatch", f"cannot tie {tie.target} {list(shapes[0])} to "
                       f"{tie.source} {list(shapes[1])}: the shapes differ", tie.pos,
                       inst.path)
            return None
        return shapes[0]

    def node(self, kind: str, label: str, chain: tuple[str, ...], inputs: list[int],
             output: Any) -> Node:
        node = Node(len(self.nodes), kind, label, chain, inputs, output)
        self.nodes.append(node)
        return node

    def module(self, inst: Instance, args: list[Any], kwargs: dict[str, Any],
               frame: _Frame | None = None) -> Any:
        info = self.modules[inst.path]
        if inst.kind == "layer":
            out = self.layer(inst, args, kwargs, frame)
        elif inst.kind == "seq":
            out = self.sequence(inst, args, frame)
        else:
            out = self.block(inst, args)
        info.outputs.append(out)
        return out

    def sequence(self, inst: Instance, args: list[Any], frame: _Frame | None) -> Any:
        """nn.Sequential: children in order, in the scope of the class that holds them."""
        if len(args) != 1:
            self.error("bad-call", f"a Sequential takes one input, got {len(args)}", inst.pos,
                       inst.path)
            raise _Abort
        value = args[0]
        for child in inst.children:
            value = self.module(child, [value], {}, frame)
        return value

    def block(self, inst: Instance, args: list[Any]) -> Any:
        cls = self.program.classes[inst.type]
        frame = _Frame(inst, inst.args, {c.path.rsplit(".", 1)[-1]: c
                                              for c in inst.children})
        scoped = [_unscoped(a) for a in args]
        if cls.base == "Sequential":
            out = self.sequence(inst, scoped, frame)
        else:
            if len(args) != len(cls.inputs):
                self.error("bad-call", f"{cls.name} takes {len(cls.inputs)} inputs "
                           f"({', '.join(cls.inputs)}), got {len(args)}", inst.pos, inst.path)
                raise _Abort
            frame.values = dict(zip(cls.inputs, scoped))
            frame.values.update({t.name: Tensor(inst.tensors[t.name], t.pos,
                                        dtype=t.dtype or ops.DEFAULT_FLOAT)
                                 for t in cls.tensors if t.name in inst.tensors})
            out = self.steps(cls.forward, frame)
        return _rescoped(out, inst.call, cls)

    def steps(self, steps: list, frame: _Frame) -> Any:
        for step in steps:
            if isinstance(step, If):
                taken = self.condition(step.cond, frame)
                result = self.steps(step.then if taken else step.orelse, frame)
            else:
                result = self.statement(step, frame)
            if result is not _NO_RETURN:
                return result
        return _NO_RETURN

    def condition(self, cond: Expr, frame: _Frame) -> bool:
        try:
            return bool(evaluate(cond.node, frame.env))
        except ExprError as err:  # elaboration evaluated it already: this cannot fail
            self.error(err.code, err.message, cond.error_pos(err), frame.inst.path)
            raise _Abort from None

    def statement(self, stmt: Stmt, frame: _Frame) -> Any:
        evaluator = _Eval(self, frame, stmt)
        node = stmt.node
        if isinstance(node, ast.Return):
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
            frame.values[node.target.id] = value  # type: ignore[attr-defined]
            return _NO_RETURN
        value = evaluator.value(node.value)
        for target in node.targets:
            evaluator.bind(target, value)
        return _NO_RETURN

    # --- layers -----------------------------------------------------------------------------

    def layer(self, inst: Instance, args: list[Any], kwargs: dict[str, Any],
              frame: _Frame | None) -> Any:
        layer = LAYERS[inst.type]
        call = inst.call
        if any(a is UNKNOWN or _has_unknown(a) for a in [*args, *kwargs.values()]):
            return UNKNOWN
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not tensors:
            self.error("bad-call", f"{inst.type} is called without a tensor", inst.pos,
                       inst.path)
            raise _Abort
        x = tensors[0]
        if layer.ranks and len(x.shape) not in layer.ranks:
            ranks = " or ".join(f"{r}-d" for r in layer.ranks)
            self.error("shape-mismatch", f"{inst.type} takes a {ranks} input (batch included), "
                       f"got {list(x.shape)}", inst.pos, inst.path, x)
            raise _Abort
        try:
            dtype = ops.layer_output_dtype(layer, x, self.source(x))
        except OpError as err:
            self.error(err.code, err.message, inst.pos, inst.path, x, hint=(
                "convert them with .long()" if layer.index_input else
                "embed the tokens first (Embedding) or convert them with .float()"))
            raise _Abort from None
        inferred = False
        for name, index in layer.infer.items():
            if not -len(x.shape) <= index < len(x.shape):
                continue
            size = x.shape[index]
            if call is not None and name in call.args:
                if inst.args.get(name) != size:
                    self.error("shape-mismatch", f"{inst.type}() expects {name}="
                               f"{inst.args.get(name)!r}, but its input {list(x.shape)} has "
                               f"{size} in dim {index % len(x.shape)}",
                               call.args[name].where, inst.path, x,
                               hint=f"the previous layer produces {size}; pass {name}={size} "
                               f"or omit {name} to infer it")
                    raise _Abort
            elif call is not None:
                inst.args[name] = size
                inferred = True
                sym = x.sym[index] if x.sym else None
                self.calls[id(call)] = call
                self.inferred.setdefault((id(call), name), []).append(
                    _Inferred(inst, frame.env if frame else {}, size, sym))
        missing = _missing(inst)
        if missing:  # an inferable argument whose input dimension does not exist
            self.error("cannot-infer", f"{inst.type}() cannot infer '{missing[0]}' from an "
                       f"input of shape {list(x.shape)}", inst.pos, inst.path, x,
                       hint=f"pass {missing[0]} explicitly")
            raise _Abort
        bound = layer.bind_defaults(inst.args)
        if inferred and layer.checks:
            for name, message in layer.checks(bound):
                self.error("bad-value", f"{layer.name}(): {message} (with {name} inferred)"
                           if name in layer.infer else f"{layer.name}(): {message}",
                           inst.pos, inst.path, x)
                raise _Abort
        if inferred:
            self.count_params(inst)
        if layer.index_input and x.bounds:
            self.check_indices(inst, layer.index_input, bound, x)
        if layer.forward is not None:
            raw, macs = self.call_forward(inst, layer, bound, args, kwargs)
        elif layer.shape is None:
            return UNKNOWN
        else:
            shapes = [t.shape for t in tensors]
            try:
                raw = layer.shape(bound, shapes)
            except SpatialCollapse as exc:
                self.collapse(inst, x, exc.shape)
            except Exception as exc:  # a rule that cannot take this input: torch would raise
                self.error("shape-mismatch", f"{inst.type} cannot take an input of shape "
                           f"{list(x.shape)} ({type(exc).__name__}: {exc})", inst.pos,
                           inst.path, x)
                raise _Abort from None
        out = self.wrap(raw, inst.pos)
        for t in tensors_in(out):
            t.dtype = dtype
            if any(s <= 0 for s in t.shape):
                self.collapse(inst, x, t.shape)
        if layer.forward is not None:
            self.add_macs(inst.path, macs)
        elif layer.macs is not None and isinstance(out, Tensor):
            self.add_macs(inst.path, layer.macs(bound, shapes, out.shape))
        tensors = list(tensors_in([*args, *kwargs.values()]))
        node = self.node("layer", inst.type, tuple(inst.path.split(".")),
                         [t.node for t in tensors], out)
        for t in tensors_in(out):
            t.node = node.id
        if isinstance(out, Tensor):
            out.sym = _layer_sym(layer, call, x, out)
        return out

    def call_forward(self, inst: Instance, layer, bound: dict[str, Any], args: list[Any],
                     kwargs: dict[str, Any]) -> tuple[Any, int]:
        """A layer with a `forward` rule: its call bound the way torch's forward binds it."""
        try:
            return layer.forward(bound, *args, **kwargs)
        except TypeError as exc:  # Python's binding of the call: torch's own forward signature
            message = str(exc).split("() ", 1)[-1]
            self.error("bad-call", f"{inst.type}(): {message}", inst.pos, inst.path)
        except ValueError as exc:
            self.error("shape-mismatch", f"{inst.type}: {exc}", inst.pos, inst.path,
                       *tensors_in(args))
        raise _Abort

    def source(self, t: Tensor) -> str:
        """" from input 'idx'" when a model input produced `t`, for messages."""
        node = self.nodes[t.node] if t.node is not None else None
        return f" from input '{node.label}'" if node is not None and node.kind == "input" else ""

    def check_indices(self, inst: Instance, size_arg: str, bound: dict[str, Any],
                      x: Tensor) -> None:
        """Integer indices with known bounds (a declared input range, an arange) must fit
        the table: torch raises 'index out of range' at run time."""
        size, (low, high) = bound.get(size_arg), x.bounds
        if not isinstance(size, int) or (0 <= low and high <= size):
            return
        reach = f"down to {low}" if low < 0 else f"up to {high - 1}"
        self.error("index-out-of-range", f"{inst.type}({size_arg}={size}) is indexed with "
                   f"values {reach}{self.source(x)}", inst.pos, inst.path, x,
                   hint=f"indices must lie in [0, {size}): raise {size_arg} to {high} or "
                   "narrow the input's range" if low >= 0 else
                   "indices must not be negative")
        raise _Abort

    def collapse(self, inst: Instance, x: Tensor, out: tuple[int, ...] | None) -> NoReturn:
        """An output size of 0 or less, found by the layer's rule or in what it returned."""
        message = (f"{inst.type} turns its input {list(x.shape)} into {list(out)}: the input "
                   "is too small for the kernel" if out is not None else
                   f"{inst.type}'s input {list(x.shape)} is smaller than its kernel")
        self.error("spatial-collapse", message, inst.pos, inst.path, x,
                   hint="use a larger input, more padding, or a smaller kernel/stride")
        raise _Abort

    def add_macs(self, path: str, macs: int) -> None:
        if not macs:
            return
        self.modules[path].macs += macs
        for ancestor in _ancestors(path):
            self.modules[ancestor].macs += macs

    def wrap(self, raw: Any, origin: Pos) -> Any:
        """A rule's raw result (a shape, or nested tuples of shapes) as Tensors."""
        if raw is None:
            return None
        if isinstance(raw, tuple) and all(isinstance(s, int) for s in raw):
            return Tensor(tuple(raw), origin)
        return tuple(self.wrap(r, origin) for r in raw)

    # --- inference --------------------------------------------------------------------------

    def settle_inferred(self) -> None:
        """Give each inferred argument one expression, valid in every instance of its class."""
        for (call_id, name), records in self.inferred.items():
            call = self.calls[call_id]
            expr = _common_expr(records)
            if expr is None:
                shown = ", ".join(f"{r.value} in '{r.inst.path}'" for r in records[:3])
                self.error("cannot-infer", f"{call.target}() argument '{name}' differs between "
                           f"instances of this class ({shown}), and no parameter expression "
                           "gives it", call.pos, "",
                           hint=f"pass {name} explicitly, as an expression of the block's "
                           "parameters")
                continue
            call.args[name] = expr
            order = [a.name for a in LAYERS[call.target].args]
            call.args = dict(sorted(call.args.items(), key=lambda kv: order.index(kv[0])))


_NO_RETURN: Any = object()


_REQUIRED: dict[str, tuple[str, ...]] = {}


def _missing(inst: Instance) -> list[str]:
    """The layer's required arguments that are not (yet) known."""
    required = _REQUIRED.get(inst.type)
    if required is None:
        required = _REQUIRED[inst.type] = tuple(a.name for a in LAYERS[inst.type].args
                                                if a.required)
    return [name for name in required if name not in inst.args]


def _ancestors(path: str) -> Iterator[str]:
    """The enclosing modules of `path`, innermost first, the root ("") last."""
    if not path:
        return
    parts = path.split(".")
    for n in range(len(parts) - 1, -1, -1):
        yield ".".join(parts[:n])


def _common_expr(records: list[_Inferred]) -> Expr | None:
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


def _layer_sym(layer, call: Call | None, x: Tensor, out: Tensor) -> tuple | None:
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


def _category(dtype: str) -> int:
    """bool < integer < floating: torch casts a result back in place only downwards."""
    return 2 if ops.is_floating(dtype) else 0 if dtype == "bool" else 1


def _unscoped(value: Any) -> Any:
    """A value entering a block: its expressions belong to the caller's scope, so drop them."""
    if isinstance(value, Tensor):
        return Tensor(value.shape, value.origin, value.node, dtype=value.dtype,
                      bounds=value.bounds)
    if isinstance(value, (tuple, list)):
        return type(value)(_unscoped(v) for v in value)
    return value


def _rescoped(value: Any, call: Call | None, cls: ModuleClass) -> Any:
    """A block's result, its expressions rewritten from the block's parameters to the call's
    arguments, so the caller can copy them."""
    if isinstance(value, (tuple, list)):
        return type(value)(_rescoped(v, call, cls) for v in value)
    if not isinstance(value, Tensor):
        return value
    out = Tensor(value.shape, value.origin, value.node, dtype=value.dtype, bounds=value.bounds)
    if call is not None and value.sym:
        out.sym = tuple(_substitute(s, call, cls) if s is not None else None
                        for s in value.sym)
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

    class Rewrite(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            return args.get(node.id, node)

    node = Rewrite().visit(_copy(expr.node))
    return Expr(node, call.pos)


def _copy(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


# --- forward expressions ---------------------------------------------------------------------

_ARITH = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.BitOr: operator.or_, ast.BitAnd: operator.and_,
    ast.BitXor: operator.xor, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


class _Eval:
    """Evaluates one forward statement over shapes."""

    def __init__(self, walker: _Walker, frame: _Frame, stmt: Stmt):
        self.walker, self.frame, self.stmt = walker, frame, stmt
        self.expr = Expr(stmt.node, stmt.pos)  # type: ignore[arg-type]  # for sub-positions

    def fail(self, err: OpError, node: ast.AST) -> None:
        self.walker.error(err.code, err.message, self.expr.at(node), self.frame.inst.path,
                          *err.tensors)
        raise _Abort

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
        if isinstance(node, ast.Name):
            if node.id in self.frame.values:
                return self.frame.values[node.id]
            return self.frame.env[node.id]
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [self.value(e) for e in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            if _is_namespace(node.value, "torch", self.frame.values):
                return ops.DTYPES[node.attr]  # elaboration allowed only dtype names here
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
            if isinstance(operand, Tensor) or operand is UNKNOWN:
                return operand
            return self.python(node, lambda: {ast.USub: operator.neg, ast.UAdd: operator.pos,
                                              ast.Not: operator.not_,
                                              ast.Invert: operator.invert}[type(node.op)](
                                                  operand))
        if isinstance(node, ast.BoolOp):
            values = [self.value(v) for v in node.values]
            if any(isinstance(v, Tensor) or v is UNKNOWN for v in values):
                return UNKNOWN
            out = values[0]
            for v in values[1:]:
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

    def python(self, node: ast.AST, fn) -> Any:
        try:
            return fn()
        except (TypeError, ValueError, ZeroDivisionError, IndexError) as exc:
            self.fail(OpError(str(exc), code="type-error"), node)

    def compare(self, node: ast.Compare) -> Any:
        left = self.value(node.left)
        result: Any = True
        for op, comp in zip(node.ops, node.comparators):
            right = self.value(comp)
            if any(isinstance(v, Tensor) or v is UNKNOWN for v in (left, right)):
                return self.op("compare", ops.compare, [left, right], {}, node)
            ok = self.python(node, lambda: _COMPARE[type(op)](left, right))
            if not ok:
                return False
            result, left = ok, right
        return result

    def binop(self, node: ast.AST, op: ast.operator, left: Any, right: Any) -> Any:
        if isinstance(op, ast.MatMult):
            return self.op("matmul", ops.TORCH_FUNCTIONS["matmul"], [left, right], {}, node)
        if isinstance(left, Tensor) or isinstance(right, Tensor):
            name = _OP_NAMES.get(type(op), "binary")
            rule = ops.true_divide if name == "div" else ops.elementwise
            return self.op(name, rule, [left, right], {}, node)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        return self.python(node, lambda: _ARITH[type(op)](left, right))

    def subscript(self, node: ast.Subscript) -> Any:
        base = self.value(node.value)
        index = self.value(node.slice)
        if base is UNKNOWN or index is UNKNOWN:
            return UNKNOWN
        if isinstance(base, Tensor):
            return self.op("index", _index, [base, index], {}, node)
        return self.python(node, lambda: base[index])

    def call(self, node: ast.Call) -> Any:
        args = [self.value(a) for a in node.args]
        kwargs = {k.arg: self.value(k.value) for k in node.keywords}
        func = node.func
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

    def op(self, name: str, rule, args: list[Any], kwargs: dict[str, Any], node: ast.AST
           ) -> Any:
        """Apply an op's shape rule, then record its graph node and MACs."""
        flat = [*args, *kwargs.values()]
        if any(v is UNKNOWN or _has_unknown(v) for v in flat):
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
            result.sym = _op_sym(name, args, kwargs, result)
        return result


def _is_namespace(node: ast.AST, name: str, values: dict[str, Any]) -> bool:
    """`node` is the bare name of an op namespace (`torch`), not a value of that name."""
    return isinstance(node, ast.Name) and node.id == name and name not in values


_OP_NAMES = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div",
             ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow"}


def _numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _has_unknown(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(v is UNKNOWN or _has_unknown(v) for v in value)
    return False


def _op_sym(name: str, args: list[Any], kwargs: dict[str, Any], out: Tensor) -> tuple | None:
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


def _index(input: Tensor, index: Any) -> Tensor:
    """Basic indexing: ints drop a dim, slices shrink it, None adds one, ... skips."""
    items = list(index) if isinstance(index, tuple) else [index]
    if any(isinstance(i, (Tensor, list)) for i in items):
        raise OpError("indexing with tensors or lists is not supported statically",
                      input, code="unsupported")
    if items.count(...) > 1:
        raise OpError("an index can have only one '...'", input, code="bad-op-argument")
    used = sum(1 for i in items if i is not None and i is not ...)
    if used > len(input.shape):
        raise OpError(f"too many indices for {list(input.shape)}", input, code="bad-dim")
    if ... in items:
        at = items.index(...)
        items[at:at + 1] = [slice(None)] * (len(input.shape) - used)
    out: list[int] = []
    dims = iter(input.shape)
    for item in items:
        if item is None:
            out.append(1)
            continue
        size = next(dims)
        if isinstance(item, bool) or not isinstance(item, (int, slice)):
            raise OpError(f"cannot index with {item!r}", input, code="type-error")
        if isinstance(item, int):
            if not -size <= item < size:
                raise OpError(f"index {item} is out of range for size {size}", input,
                              code="bad-dim")
            continue
        out.append(len(range(*item.indices(size))))
    out.extend(dims)
    return ops.like(input, tuple(out))

