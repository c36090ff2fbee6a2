"""Static shape inference: every module's output shape, parameters and MACs, without torch.

The pass runs each class's forward over concrete shapes (batch included), the way torch would
run it: child calls go to the catalog's shape rules, Sequentials run in order, functional ops
and tensor methods use the rules in `nnspec.catalog.ops` (one statement at a time, in
`nnspec.elaborate.shapes.steps`). Where torch would raise (a channel count that does not match, a
kernel larger than its input, an add of shapes that do not broadcast) the pass reports a
positioned compile-time error instead, naming the producer of the operand too.

It also infers the arguments a spec may omit (`in_channels`, `num_features`, `in_features`,
declared by the catalog's `LayerDef.infer`), and records them in its result, `Analysis.inferred`,
without touching the IR: each becomes one expression in its class (see
`nnspec.elaborate.shapes.symbolic`), which the inference pass (`nnspec.elaborate.infer`) writes into
the IR for code generation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

from nnspec.catalog import LAYERS, ops, values
from nnspec.catalog.library import Unmeasured
from nnspec.catalog.types import SpatialCollapse
from nnspec.catalog.values import OpError, Tensor
from nnspec.diagnostics import Collector, Pos
from nnspec.elaborate.shapes import buffers
from nnspec.elaborate.shapes import steps as forward
from nnspec.elaborate.shapes.steps import NO_RETURN, Abort, Frame, has_unknown
from nnspec.elaborate.shapes.symbolic import Seen, common_expr, layer_sym, rescoped, unscoped
from nnspec.elaborate.shapes.ties import TieCounting, numel
from nnspec.elaborate.user_layers import UserRuleError, rule_error
from nnspec.ir.analysis import UNKNOWN, Analysis, Inferred, ModuleInfo, Node, Shape, tensors_in
from nnspec.ir.program import Call, If, Instance, Program, RawTensor, Stmt
from nnspec.language.expr import Expr
from nnspec.language.names import TRAINING


def analyze(program: Program, tree: Instance,
            input_shapes: dict[str, Shape] | None = None) -> Analysis:
    """Run the static pass for a batch of 1; raise SpecError with every shape error found.

    The arguments it inferred are in the result (`Analysis.inferred`); the IR is unchanged
    until `nnspec.elaborate.infer.apply` writes them in."""
    errors = Collector()
    walker = _Walker(program, errors)
    try:
        analysis = walker.run(tree, input_shapes or {})
        errors.check()
        analysis.inferred = walker.settle_inferred()
    except UserRuleError as exc:  # at the spec's `layers:` entry for the faulty layer
        raise rule_error(exc, program.user_layers.get(
            exc.path, program.classes[program.root].pos)) from None
    errors.check()
    return analysis


class _Walker(TieCounting):
    def __init__(self, program: Program, errors: Collector):
        self.program, self.errors = program, errors
        self.seen: set[tuple[Pos, str]] = set()
        self.modules: dict[str, ModuleInfo] = {}
        self.nodes: list[Node] = []
        self.inferred: dict[tuple[int, str], list[Seen]] = {}
        self.filled: dict[int, dict[str, Any]] = {}  # id(layer instance) -> args, inferred too
        self.calls: dict[int, Call] = {}
        self.shared: dict[str, int | None] = {}  # module path -> tied parameters counted twice
        self.rescoped: dict[tuple[int, int], Any] = {}  # see symbolic.rescoped
        self.buffers: dict[tuple[str, str], Tensor] = {}  # (path, name) -> a computed buffer

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
        except Abort:
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
        if inst.kind == "layer" or self.layer_of(inst):
            self.count_params(inst)
        elif inst.kind == "block":
            self.computed_buffers(inst)
        if inst.kind == "block" and inst.tensors:  # own tensors come before its children's
            tensors = self.program.classes[inst.type].tensors
            info.state = {t.name: (inst.tensors[t.name], t.is_param) for t in tensors
                          if t.persistent and t.name in inst.tensors}
            info.params = info.own_params = sum(numel(inst.tensors[t.name]) for t in tensors
                                                if t.is_param and t.name in inst.tensors)
        for child in inst.children:
            self.register(child)

    def computed_buffers(self, inst: Instance) -> None:
        """The block's computed buffers, as its `__init__` computes them."""
        for name, value in buffers.compute(self, inst).items():
            inst.tensors[name] = value.shape
            self.buffers[(inst.path, name)] = value

    def args(self, inst: Instance) -> dict[str, Any]:
        """A layer's arguments: the instance's own, and those inferred so far."""
        return self.filled.get(id(inst), inst.args)

    def layer_of(self, inst: Instance) -> str | None:
        """The torch layer a block instance subclasses (`base: LayerNorm`), or None."""
        return self.program.classes[inst.type].layer if inst.kind == "block" else None

    def count_params(self, inst: Instance) -> None:
        """A layer's parameters and checkpoint layout, once all its arguments are known (a
        block on a layer: the layer's)."""
        name = self.layer_of(inst) or inst.type
        layer, info = LAYERS[name], self.modules[inst.path]
        if _missing(name, self.args(inst)):
            return
        bound = layer.bind_defaults(self.args(inst))
        info.params = info.own_params = layer.params(bound) if layer.params else None
        info.state = layer.state(bound) if layer.state else None

    def total_params(self, inst: Instance, complete: bool) -> int | None:
        """Containers hold the sum of their children's parameters (None if one is unknown).
        After a `complete` walk, a layer still missing arguments was never called."""
        info = self.modules[inst.path]
        if inst.kind == "layer":
            if complete and _missing(inst.type, self.args(inst)):
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

    def node(self, role: str, label: str, chain: tuple[str, ...], inputs: list[int],
             output: Any) -> Node:
        node = Node(len(self.nodes), role, label, chain, inputs, output)
        self.nodes.append(node)
        return node

    def module(self, inst: Instance, args: list[Any], kwargs: dict[str, Any],
               frame: Frame | None = None) -> Any:
        info = self.modules[inst.path]
        if inst.kind == "layer":
            out = self.layer(inst, args, kwargs, frame)
        elif inst.kind == "seq":
            out = self.sequence(inst, args, frame)
        else:
            out = self.block(inst, args, kwargs)
        info.outputs.append(out)
        return out

    def sequence(self, inst: Instance, args: list[Any], frame: Frame | None) -> Any:
        """nn.Sequential: children in order, in the scope of the class that holds them."""
        if inst.type == "ModuleList":
            self.error("bad-call", "an nn.ModuleList has no forward: call its items", inst.pos,
                       inst.path)
            raise Abort
        if len(args) != 1:
            self.error("bad-call", f"a Sequential takes one input, got {len(args)}", inst.pos,
                       inst.path)
            raise Abort
        value = args[0]
        for child in inst.children:
            value = self.module(child, [value], {}, frame)
        return value

    def block(self, inst: Instance, args: list[Any], kwargs: dict[str, Any]) -> Any:
        cls = self.program.classes[inst.type]
        if cls.forward_unknown:  # `forward: unknown`: what it gives is unknown, not an error
            return UNKNOWN
        frame = Frame(inst, inst.args, {c.path.rsplit(".", 1)[-1]: c
                                              for c in inst.children})
        scoped = [unscoped(a) for a in args]
        if cls.base == "Sequential" and not cls.forward:
            if kwargs:
                self.error("bad-call", f"a Sequential takes no keyword arguments, got "
                           f"{', '.join(kwargs)}", inst.pos, inst.path)
                raise Abort
            out = self.sequence(inst, scoped, frame)
        else:
            bound = self.bind(inst, cls.name, cls.inputs, scoped,
                              {k: unscoped(v) for k, v in kwargs.items()})
            frame.values = {TRAINING: False, **bound}
            frame.values.update({t.name: self.own_tensor(inst, t) for t in cls.tensors
                                 if t.name in inst.tensors})
            if cls.layer is not None:  # the layer's tensors; None where its arguments drop one
                state = self.modules[inst.path].state or {}
                frame.values.update({name: Tensor(state[name][0], inst.pos) if name in state
                                     else None for name in LAYERS[cls.layer].state_names()})
            out = self.steps(cls.forward, frame)
        return rescoped(out, inst.call, cls, self.rescoped)

    def bind(self, inst: Instance, name: str, inputs: list[str], args: list[Any],
             kwargs: dict[str, Any]) -> dict[str, Any]:
        """A block's inputs from a call's arguments, as Python binds them: positional first,
        then by keyword; every input given exactly once."""
        takes = f"{name} takes {len(inputs)} inputs ({', '.join(inputs)})"
        if len(args) > len(inputs):
            self.error("bad-call", f"{takes}, got {len(args)}", inst.pos, inst.path)
            raise Abort
        bound = dict(zip(inputs, args))
        for key, value in kwargs.items():
            if key not in inputs or key in bound:
                why = "twice" if key in bound else "no such input"
                self.error("bad-call", f"{takes}; keyword argument '{key}': {why}", inst.pos,
                           inst.path)
                raise Abort
            bound[key] = value
        if len(bound) != len(inputs):
            missing = ", ".join(i for i in inputs if i not in bound)
            self.error("bad-call", f"{takes}, got {len(bound)} (missing {missing})", inst.pos,
                       inst.path)
            raise Abort
        return bound

    def own_tensor(self, inst: Instance, tensor: RawTensor) -> Tensor:
        """A block's own parameter or buffer, as its forward reads it."""
        computed = self.buffers.get((inst.path, tensor.name))
        if computed is not None:
            return Tensor(computed.shape, tensor.pos, dtype=computed.dtype,
                          bounds=computed.bounds)
        return Tensor(inst.tensors[tensor.name], tensor.pos,
                      dtype=tensor.dtype or values.DEFAULT_FLOAT)

    def steps(self, steps: list, frame: Frame) -> Any:
        for step in steps:
            if isinstance(step, If):
                taken = self.condition(step.cond, frame)
                result = self.steps(step.then if taken else step.orelse, frame)
            else:
                result = self.statement(step, frame)
            if result is not NO_RETURN:
                return result
        return NO_RETURN

    def condition(self, cond: Expr, frame: Frame) -> bool:
        return forward.condition(self, cond, frame)

    def statement(self, stmt: Stmt, frame: Frame) -> Any:
        return forward.statement(self, stmt, frame)

    # --- layers -----------------------------------------------------------------------------

    def layer(self, inst: Instance, args: list[Any], kwargs: dict[str, Any],
              frame: Frame | None) -> Any:
        layer = LAYERS[inst.type]
        call = inst.call
        if any(a is UNKNOWN or has_unknown(a) for a in [*args, *kwargs.values()]):
            return UNKNOWN
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not tensors:
            self.error("bad-call", f"{inst.type} is called without a tensor", inst.pos,
                       inst.path)
            raise Abort
        x = tensors[0]
        if layer.ranks and len(x.shape) not in layer.ranks:
            ranks = " or ".join(f"{r}-d" for r in layer.ranks)
            self.error("shape-mismatch", f"{inst.type} takes a {ranks} input (batch included), "
                       f"got {list(x.shape)}", inst.pos, inst.path, x)
            raise Abort
        try:
            dtype = ops.layer_output_dtype(layer, x, self.source(x))
        except OpError as err:
            self.error(err.code, err.message, inst.pos, inst.path, x, hint=(
                "convert them with .long()" if layer.index_input else
                "embed the tokens first (Embedding) or convert them with .float()"))
            raise Abort from None
        inferred = False
        for name, index in layer.infer.items():
            if not -len(x.shape) <= index < len(x.shape):
                continue
            size = x.shape[index]
            if call is not None and name in call.args:
                if self.args(inst).get(name) != size:
                    self.error("shape-mismatch", f"{inst.type}() expects {name}="
                               f"{self.args(inst).get(name)!r}, but its input {list(x.shape)} has "
                               f"{size} in dim {index % len(x.shape)}",
                               call.args[name].where, inst.path, x,
                               hint=f"the previous layer produces {size}; pass {name}={size} "
                               f"or omit {name} to infer it")
                    raise Abort
            elif call is not None:
                self.filled.setdefault(id(inst), dict(inst.args))[name] = size
                inferred = True
                sym = x.sym[index] if x.sym else None
                self.calls[id(call)] = call
                self.inferred.setdefault((id(call), name), []).append(
                    Seen(inst, frame.env if frame else {}, size, sym))
        given = self.args(inst)
        missing = _missing(inst.type, given)
        if missing:  # an inferable argument whose input dimension does not exist
            self.error("cannot-infer", f"{inst.type}() cannot infer '{missing[0]}' from an "
                       f"input of shape {list(x.shape)}", inst.pos, inst.path, x,
                       hint=f"pass {missing[0]} explicitly")
            raise Abort
        bound = layer.bind_defaults(given)
        if inferred and layer.checks:
            for name, message in layer.checks(bound):
                self.error("bad-value", f"{layer.name}(): {message} (with {name} inferred)"
                           if name in layer.infer else f"{layer.name}(): {message}",
                           inst.pos, inst.path, x)
                raise Abort
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
            except Unmeasured:  # torch could not measure it on the meta device: unknown
                return UNKNOWN
            except UserRuleError:
                raise  # the user's package's bug, not this input's
            except Exception as exc:  # a rule that cannot take this input: torch would raise
                self.error("shape-mismatch", f"{inst.type} cannot take an input of shape "
                           f"{list(x.shape)} ({type(exc).__name__}: {exc})", inst.pos,
                           inst.path, x)
                raise Abort from None
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
            out.sym = layer_sym(layer, call, x, out)
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
        raise Abort

    def source(self, t: Tensor) -> str:
        """" from input 'idx'" when a model input produced `t`, for messages."""
        node = self.nodes[t.node] if t.node is not None else None
        return f" from input '{node.label}'" if node is not None and node.role == "input" else ""

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
        raise Abort

    def collapse(self, inst: Instance, x: Tensor, out: tuple[int, ...] | None) -> NoReturn:
        """An output size of 0 or less, found by the layer's rule or in what it returned."""
        message = (f"{inst.type} turns its input {list(x.shape)} into {list(out)}: the input "
                   "is too small for the kernel" if out is not None else
                   f"{inst.type}'s input {list(x.shape)} is smaller than its kernel")
        self.error("spatial-collapse", message, inst.pos, inst.path, x,
                   hint="use a larger input, more padding, or a smaller kernel/stride")
        raise Abort

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

    def settle_inferred(self) -> list[Inferred]:
        """Give each inferred argument one expression, valid in every instance of its class."""
        settled = []
        for (call_id, name), records in self.inferred.items():
            call = self.calls[call_id]
            expr = common_expr(records)
            if expr is None:
                shown = ", ".join(f"{r.value} in '{r.inst.path}'" for r in records[:3])
                self.error("cannot-infer", f"{call.target}() argument '{name}' differs between "
                           f"instances of this class ({shown}), and no parameter expression "
                           "gives it", call.pos, "",
                           hint=f"pass {name} explicitly, as an expression of the block's "
                           "parameters")
                continue
            settled.append(Inferred(call, name, expr, [(r.inst, r.value) for r in records]))
        return settled


_REQUIRED: dict[str, tuple[str, ...]] = {}


def _missing(layer: str, args: dict[str, Any]) -> list[str]:
    """The layer's required arguments that are not (yet) known."""
    required = _REQUIRED.get(layer)
    if required is None:
        required = _REQUIRED[layer] = tuple(a.name for a in LAYERS[layer].args if a.required)
    return [name for name in required if name not in args]


def _ancestors(path: str) -> Iterator[str]:
    """The enclosing modules of `path`, innermost first, the root ("") last."""
    if not path:
        return
    parts = path.split(".")
    for n in range(len(parts) - 1, -1, -1):
        yield ".".join(parts[:n])
