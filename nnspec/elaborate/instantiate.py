"""Instantiation: the concrete module tree for one set of root parameters, every argument
evaluated and checked (channels <= 0, groups not dividing) at the expression that produced it."""

from __future__ import annotations

import ast
from typing import Any

from nnspec.catalog import LAYERS, REQUIRED, LayerDef, check_accepts
from nnspec.diagnostics import Collector, Pos, did_you_mean
from nnspec.elaborate.children import child_name
from nnspec.ir.program import (
    Call,
    Child,
    If,
    Instance,
    ModuleClass,
    Program,
    Repeat,
    Seq,
    if_steps,
)
from nnspec.language.expr import Expr, ExprError, evaluate
from nnspec.language.types import param_type_problem

# modules in one model: every verb walks the tree at least once, and building allocates each;
# real networks have a few thousand, so a spec over this is refused before anything is built
MAX_INSTANCES = 50_000


def instantiate(program: Program, errors: Collector, skip: set[str] = frozenset()) -> Instance:
    """The concrete module tree for the root's defaults, checking every value on the way.

    Calls to blocks in `skip` (whose own parameters are in error) are left out.
    """
    root = program.classes[program.root]
    required = [p for p in root.params if p.default is REQUIRED]
    for param in required:
        errors.error("missing-argument", f"root parameter '{param.name}' has no default",
                     param.pos, f"give it a default or pass --set {param.name}=VALUE")
    env = {param.name: param.default for param in root.params}
    builder = _Instantiator(program, errors, skip)
    if required:
        return Instance("", root.name, "block", {}, [], root.pos)
    return builder.block(root, env, "", root.pos)


class _Instantiator:
    def __init__(self, program: Program, errors: Collector, skip: set[str]):
        self.program, self.errors, self.skip = program, errors, skip
        self.seen: set[tuple[Pos, str]] = set()
        self.count = 0
        self.calls: list[tuple[str, Call]] = []  # the block calls being built, innermost last

    def error(self, code: str, message: str, pos: Pos, path: str, hint: str | None = None):
        if (pos, message) in self.seen:
            return
        self.seen.add((pos, message))
        where = [f"in module '{path}'"] if path else []
        if self.calls:  # the values came from this call's arguments
            block_path, call = self.calls[-1]
            where.append(f"'{block_path}' is {call.target}(...), called at {call.pos}")
        self.errors.error(code, message, pos, hint, where)

    def value(self, expr: Expr, env: dict[str, Any], path: str) -> tuple[bool, Any]:
        try:
            return True, evaluate(expr.node, env)
        except ExprError as err:
            self.error(err.code, err.message, expr.error_pos(err), path, err.hint)
            return False, None

    def block(self, cls: ModuleClass, env: dict[str, Any], path: str, pos: Pos) -> Instance:
        for step in if_steps(cls.forward):
            if step.cond.names() <= env.keys():  # a condition on values waits for the shapes
                self.value(step.cond, env, path)
        absent = {c.name: c.cond for c in cls.children if c.cond is not None
                  and c.orelse is None and not self.value(c.cond, env, path)[1]}
        if absent:
            self.absent_calls(cls.forward, absent, env, path)
        kind = "block"
        inst = Instance(path, cls.name, kind, dict(env), self.children(cls.children, env, path),
                        pos)
        self.own(cls, inst, env)
        return inst

    def own(self, cls: ModuleClass, inst: Instance, env: dict[str, Any]) -> None:
        """The class's own tensors' shapes, init arguments and the paths its init rules and
        ties name, checked against this instance."""
        path = inst.path
        for tensor in cls.tensors:
            if tensor.compute:  # its shape is the static pass's: it runs the steps
                continue
            dims = []
            for dim in tensor.shape:
                ok, value = self.value(dim, env, path)
                if ok and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                    self.error("bad-value", f"{tensor.registered_as} '{tensor.name}': a "
                               f"dimension is an int >= 0, got {value!r}", dim.where, path,
                               _division_hint(value, "an int"))
                    ok = False
                if not ok:
                    break
                dims.append(value)
            else:
                inst.tensors[tensor.name] = tuple(dims)
            self.numbers(tensor.init, tensor.args, env, path)
        for rule in cls.init:
            if rule.cond is not None and not self.value(rule.cond, env, path)[1]:
                continue
            for _, fn, args in rule.tensors:
                self.numbers(fn, args, env, path)
            if not rule.types and _find(inst, rule.child) is None:
                self.error("unknown-child", f"'{cls.name}' has no child '{rule.child}' here",
                           rule.child_pos or rule.pos, path)
        params = {t.name for t in cls.tensors if t.is_param}
        for tie in cls.ties:
            if tie.cond is not None and not self.value(tie.cond, env, path)[1]:
                continue
            modules = [_find(inst, text) is not None for text in (tie.target, tie.source)]
            if modules[0] != modules[1]:
                self.error("bad-tie", "a tie joins two parameters or two modules, not one of "
                           "each", tie.pos, path)
                continue
            if modules[0]:  # a module registered at both paths, as `self.b = self.a` does
                continue
            for text, pos in ((tie.target, tie.pos), (tie.source, tie.source_pos)):
                owner, _, attr = text.rpartition(".")
                if not owner and attr not in params:
                    self.error("bad-tie", f"'{cls.name}' has no parameter '{attr}'", pos, path,
                               did_you_mean(attr, sorted(params)))
                elif owner and _find(inst, owner) is None:
                    self.error("unknown-child", f"'{cls.name}' has no child '{owner}' here",
                               pos, path)

    def numbers(self, fn: str, args: dict[str, Any], env: dict[str, Any], path: str) -> None:
        """An init function's arguments given as expressions must give numbers."""
        for name, arg in args.items():
            if isinstance(arg, Expr):
                ok, value = self.value(arg, env, path)
                if ok and check_accepts("float", value):
                    self.error("wrong-type", f"{fn}() argument '{name}' should be a number, "
                               f"got {value!r}", arg.where, path)

    def absent_calls(self, steps: list, absent: dict[str, Expr], env: dict[str, Any],
                     path: str) -> None:
        """A forward step that runs must not call a conditional child that was left out."""
        for step in steps:
            if isinstance(step, If):
                if not step.cond.names() <= env.keys():  # on values: either branch may run
                    self.absent_calls(step.then + step.orelse, absent, env, path)
                    continue
                ok, taken = self.value(step.cond, env, path)
                if ok:
                    self.absent_calls(step.then if taken else step.orelse, absent, env, path)
                continue
            for node in ast.walk(step.node):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                        node.func.id in absent:
                    name = node.func.id
                    self.error("absent-child", f"forward calls '{name}', but that child is "
                               f"left out: its condition '{absent[name].text}' is false",
                               step.pos.shifted(node.func.col_offset, len(name)), path,
                               f"put the step under 'if: {absent[name].text}'")

    def children(self, children: list[Child], env: dict[str, Any], path: str) -> list[Instance]:
        out: list[Instance] = []
        self.expand(children, env, path, out)
        return out

    def expand(self, children: list[Child], env: dict[str, Any], path: str,
               out: list[Instance]) -> bool:
        """Append the instances of `children` to `out`, numbering on from its length (repeats
        flatten into the enclosing list); False once the module limit is hit."""
        for child in children:
            if child.cond is not None:
                ok, present = self.value(child.cond, env, path)
                if not ok or not (present or child.orelse):
                    continue
                if not present:
                    child = child.orelse
            if isinstance(child.value, Repeat):
                if not self.repeat(child.value, env, path, out):
                    return False
                continue
            name = child_name(child.name, env, len(out))
            sub = f"{path}.{name}" if path else name
            self.count += 1
            if self.count > MAX_INSTANCES:
                if self.count == MAX_INSTANCES + 1:  # once: the rest of the tree is not built
                    self.error("too-large", f"model has over {MAX_INSTANCES:,} modules",
                               child.pos, path)
                return False
            if isinstance(child.value, Seq):
                out.append(Instance(sub, child.value.container, "seq", {},
                                    self.children(child.value.items, env, sub), child.pos))
            else:
                inst = self.call(child.value, env, sub)
                if inst is not None:
                    out.append(inst)
        return True

    def repeat(self, rep: Repeat, env: dict[str, Any], path: str, out: list[Instance]) -> bool:
        ok, count = self.value(rep.count, env, path)
        if not ok:
            return True
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            self.error("bad-value", f"a repeat count is an int >= 0, got {count!r}",
                       rep.count.where, path)
            return True
        if count > MAX_INSTANCES:
            self.error("too-large", f"repeat count {count:,} is over the limit of "
                       f"{MAX_INSTANCES:,} modules", rep.count.where, path)
            return False
        for i in range(count):
            inner = {**env, rep.var: i} if rep.var else env
            if not self.expand(rep.items, inner, path, out):
                return False
        return True

    def call(self, call: Call, env: dict[str, Any], path: str) -> Instance | None:
        values: dict[str, Any] = {}
        for name, expr in call.args.items():
            ok, value = self.value(expr, env, path)
            if not ok:
                return None
            values[name] = value
        if call.kind == "block":
            if call.target in self.skip or call.target not in self.program.classes:
                return None  # its own errors are reported already
            cls = self.program.classes[call.target]
            if cls.layer is not None:  # `base: LayerNorm`: the layer's arguments and checks
                if not self.layer_values(LAYERS[cls.layer], call, values, path):
                    return None
                values = LAYERS[cls.layer].bind_defaults(values)
            for param in cls.params if cls.layer is None else ():
                if param.name not in values:
                    values[param.name] = param.default
                    continue
                problem = param_type_problem(param.type, values[param.name])
                if problem:
                    self.error("wrong-type", f"{call.target}() argument '{param.name}' should "
                               f"be {problem}", call.args[param.name].where, path,
                               _division_hint(values[param.name], problem))
                    return None
            self.calls.append((path, call))
            try:
                inst = self.block(cls, values, path, call.pos)
            finally:
                self.calls.pop()
            inst.call = call
            return inst
        layer = LAYERS[call.target]
        if not self.layer_values(layer, call, values, path):
            return None
        return Instance(path, call.target, "layer", values, [], call.pos, call)

    def layer_values(self, layer: LayerDef, call: Call, values: dict[str, Any],
                     path: str) -> bool:
        ok = True
        for name, value in values.items():
            arg = layer.arg(name)
            if value is None and arg.nullable:
                continue
            expected = check_accepts(arg.accepts, value)
            if expected is None and arg.choices and value not in arg.choices:
                expected = "one of " + ", ".join(map(repr, arg.choices))
            if expected:
                self.error("wrong-type", f"{layer.name}() argument '{name}' should be "
                           f"{expected}, got {value!r}", call.args[name].where, path,
                           _division_hint(value, expected))
                ok = False
        if ok and layer.checks:
            bound = layer.bind_defaults(values)
            for name, message in layer.checks(bound):
                pos = call.args[name].where if name in call.args else call.pos
                self.error("bad-value", f"{layer.name}(): {message}", pos, path)
                ok = False
        return ok


def _find(inst: Instance, path: str) -> Instance | None:
    """The instance at a dotted path below `inst` (child names, Sequential indexes)."""
    for part in path.split("."):
        inst = next((c for c in inst.children if c.path.rsplit(".", 1)[-1] == part), None)
        if inst is None:
            return None
    return inst


def _division_hint(value: Any, expected: str) -> str | None:
    """The usual cause of a float where an int belongs."""
    if isinstance(value, float) and expected.startswith("an int"):
        return "'/' always gives a float: use '//' or int(...)"
    return None
