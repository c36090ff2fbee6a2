"""One generated class: its constructor (children, own tensors, ties, init rules) and its forward,
as statements the formatter lays out."""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from functools import partial

from nnspec.catalog import LAYERS, REQUIRED
from nnspec.codegen import deferred
from nnspec.codegen.docstrings import docstring
from nnspec.codegen.imports import ANNOTATIONS, Usage, loop_variables
from nnspec.codegen.statements import (
    Renamer,
    assign,
    init_call,
    member,
    self_attr,
    store,
    unused_unpacked,
)
from nnspec.formatter import INDENT, format_statement, nodes
from nnspec.ir.program import (
    Call,
    Child,
    If,
    InitRule,
    ModuleClass,
    Program,
    RawTensor,
    Repeat,
    Seq,
    names_in,
    step_nodes,
)
from nnspec.language.expr import Expr, walk
from nnspec.language.names import RESERVED, TEMPLATE_FIELD, TRAINING, Namespace


@dataclass
class ClassSource:
    """One generated class, as the templates see it: lines already indented and formatted."""

    name: str
    header: list[str]
    doc: list[str]
    init: list[str]
    init_weights: list[str]
    forward: list[str]



def _method_call(obj: str, method: str, *args: ast.expr) -> ast.Expr:
    return ast.Expr(nodes.call(f"{obj}.{method}", *args))


def module_names(program: Program, usage: Usage) -> frozenset[str]:
    """The names every class's locals must avoid: classes, imported user layers, reserved
    names. Computed once per module, so writing N classes stays linear."""
    return frozenset(program.classes) | frozenset(usage.user_names.values()) | RESERVED


class ClassWriter:
    def __init__(self, cls: ModuleClass, program: Program, usage: Usage,
                 taken: frozenset[str]):
        self.cls, self.program, self.usage = cls, program, usage
        self.param_names = {p.name for p in cls.params}
        computed_locals = {n.id for t in cls.tensors for node in step_nodes(t.compute)
                           for n in walk(node) if isinstance(n, ast.Name)
                           and isinstance(n.ctx, ast.Store)}
        self.locals = Namespace(self.param_names | loop_variables(cls.children)
                                | computed_locals, separator="_", refused=taken)
        self.loop_var: str | None = None  # the init rules' loop variable, once chosen
        # how parameters are read in the method being written: locals in __init__, members
        # (`self.<name>`) in init_weights
        self.rename: Renamer | None = None

    def emit(self, node: ast.stmt, indent: int) -> list[str]:
        self.usage.note(node)
        return format_statement(node, indent)

    def write(self) -> ClassSource:
        cls = self.cls
        base = {"Sequential": "nn.Sequential", "ModuleList": "nn.ModuleList"}.get(
            cls.base, "nn.Module")
        if cls.layer is not None:
            base = f"{LAYERS[cls.layer].module}.{cls.layer}"
        header = format_statement(nodes.class_def(cls.name, [nodes.name(base)]), 0)
        if cls.layer is not None:  # `base: LayerNorm`: torch's __init__ and reset, a forward
            return ClassSource(cls.name, header, docstring(cls.doc, 1), [], [],
                               self.named(self.forward()))
        signature = self.signature()
        init = format_statement(nodes.function_def(
            "__init__", [("self", None, None), *signature], ast.Constant(None)), 1)
        if cls.base != "Module":
            init += self.sequential_body()
            for name in self.forward_params():
                init += self.emit(assign(self_attr(name), ast.Name(name)), 2)
        else:
            init += self.emit(ast.Expr(nodes.call(ast.Attribute(nodes.call("super"),
                                                                 "__init__"))), 2)
            for name in self.forward_params():
                init += self.emit(assign(self_attr(name), ast.Name(name)), 2)
            for tensor in (t for t in cls.tensors if not t.after_children):
                init += self.own_tensor(tensor)
            for child in cls.children:
                init += self.child(child, 2)
            for tensor in (t for t in cls.tensors if t.after_children):
                init += self.own_tensor(tensor)
        init += self.ties()
        init += self.init_rules(cls.init)
        forward: list[str] = []
        if cls.forward_unknown:  # imported from a printed tree, which cannot show forward
            forward = format_statement(nodes.function_def("forward", [
                ("self", None, None), ("*args", None, None), ("**kwargs", None, None)], None), 1)
            message = f"{cls.name}: forward is unknown (imported from a printed tree); " \
                "write it in the spec"
            forward += self.emit(ast.Raise(nodes.call("NotImplementedError",
                                                      ast.Constant(message))), 2)
        elif cls.base == "Module" or cls.forward:
            forward = self.forward()
        if cls.extra_repr is not None:
            forward = self.extra_repr(cls.extra_repr) + ([""] + forward if forward else [])
        return ClassSource(cls.name, header, docstring(cls.doc, 1), init,
                           deferred.init_weights(self), self.named(forward))

    def signature(self) -> list[tuple[str, ast.expr, ast.expr | None]]:
        out = []
        for p in self.cls.params:
            if p.type in ANNOTATIONS:
                hint: ast.expr = ast.Name(p.type)
            elif p.type.startswith("list[") and p.type[5:-1] in ANNOTATIONS:
                hint = ast.Subscript(ast.Name("list"), ast.Name(p.type[5:-1]))
            else:
                hint = ast.Name("object")
            default = None if p.default is REQUIRED else nodes.literal_node(p.default)
            if isinstance(p.default, list):  # a list default would be shared between calls
                default = nodes.literal_node(tuple(p.default))
                hint = ast.Subscript(ast.Name("tuple"), ast.Tuple([hint.slice, ast.Constant(...)])
                                     ) if isinstance(hint, ast.Subscript) else ast.Name("tuple")
            out.append((p.name, hint, default))
        return out

    def own_tensor(self, tensor: RawTensor) -> list[str]:
        if tensor.compute:
            return deferred.computed(self, tensor, Renamer(set(), set(), {}),
                                     partial(deferred.register, tensor))
        return self.emit(deferred.own_tensor(tensor), 2)

    def forward(self) -> list[str]:
        return format_statement(nodes.function_def("forward", [("self", None, None)] + [
            (i, None, None) for i in self.cls.inputs], None), 1) + self.steps(self.cls.forward, 2)

    def extra_repr(self, template: str) -> list[str]:
        """`def extra_repr(self) -> str: return f"p={self.p}, mode={self.mode}"`."""
        parts = TEMPLATE_FIELD.split(template)
        return self.str_method("extra_repr", ast.JoinedStr([
            ast.FormattedValue(self_attr(part), -1, None) if i % 2 else ast.Constant(part)
            for i, part in enumerate(parts) if part]))

    def named(self, methods: list[str]) -> list[str]:
        """With `print_name`, `def _get_name(self) -> str: return "DlaTree"` first: the
        class name torch's print() shows."""
        if self.cls.print_name is None:
            return methods
        return self.str_method("_get_name", ast.Constant(self.cls.print_name)) + \
            ([""] + methods if methods else [])

    def str_method(self, name: str, value: ast.expr) -> list[str]:
        return format_statement(nodes.function_def(name, [("self", None, None)],
                                                   ast.Name("str")), 1) + \
            self.emit(ast.Return(value), 2)

    def ties(self) -> list[str]:
        """`self.lm_head.weight = self.tok_emb.weight`, under its condition if it has one."""
        lines: list[str] = []
        for tie in self.cls.ties:
            if tie.cond is not None:
                lines += self.condition(tie.cond, 2)
            lines += self.emit(store(member(tie.target), member(tie.source)),
                               2 if tie.cond is None else 3)
        return lines

    def forward_params(self) -> list[str]:
        """Parameters the forward (elaboration found them) or init_weights reads: kept as
        attributes, in declaration order."""
        used = set(self.cls.forward_params) | deferred.init_reads(self.cls)
        return [p.name for p in self.cls.params if p.name in used]

    # --- __init__ ---------------------------------------------------------------------------

    def init_rules(self, rules: list[InitRule]) -> list[str]:
        """Each rule with types one loop over `self.modules()`, as torchvision writes its init;
        a rule without, statements on the one child it names."""
        lines: list[str] = []
        if self.loop_var is None and any(rule.types for rule in rules):
            self.loop_var = self.fresh("m")
        m = self.loop_var or "m"
        for i, rule in enumerate(rules):
            chained = rule.group is not None and i > 0 and rules[i - 1].group == rule.group
            indent = 2
            if rule.cond is not None:
                lines += self.condition(rule.cond, indent)
                indent += 1
            if not rule.types:
                lines += self.init_tensors(rule, member(rule.child or ""), indent)
                continue
            types = [self.class_name(n, kind) for n, kind in rule.types]
            kinds = types[0] if len(types) == 1 else ast.Tuple(types)
            if not chained:
                lines += format_statement(ast.For(ast.Name(m), nodes.call("self.modules"), [],
                                                  []), indent)
            test = nodes.call("isinstance", ast.Name(m), kinds)
            self.usage.note(test)
            lines += format_statement(ast.If(test, [], []), indent + 1, elif_=chained)
            owner = ast.Attribute(ast.Name(m), rule.child) if rule.child else ast.Name(m)
            lines += self.init_tensors(rule, owner, indent + 2)
        return lines

    def class_name(self, name: str, kind: str) -> ast.expr:
        """`nn.Conv2d`, a block's class, or a user layer's class as the file imports it."""
        if kind == "user":
            self.usage.user_layers.add(name)
            return ast.Name(self.usage.user_names[name])
        return nodes.name(f"{LAYERS[name].module}.{name}" if kind == "layer" else name)

    def init_tensors(self, rule: InitRule, owner: ast.expr, indent: int) -> list[str]:
        lines: list[str] = []
        for tensor, fn, args in rule.tensors:
            inner = indent
            target = ast.Attribute(owner, tensor)
            # a norm layer without affine, or a layer built with bias=False, has None here
            if tensor == "bias" or any("Norm" in n for n, _ in rule.types):
                lines += format_statement(ast.If(ast.Compare(target, [ast.IsNot()],
                                                             [ast.Constant(None)]), [], []), inner)
                inner += 1
            if self.rename is not None:
                args = {k: Expr(self.rename.visit(copy.deepcopy(v.node)), v.pos)
                        if isinstance(v, Expr) else v for k, v in args.items()}
            lines += self.emit(ast.Expr(init_call(fn, target, args)), inner)
        return lines

    def sequential_body(self) -> list[str]:
        children = self.cls.children
        named = bool(children) and not children[0].name.isdigit()
        init = ast.Attribute(nodes.call("super"), "__init__")
        if self.cls.base == "ModuleList":  # nn.ModuleList takes one iterable
            name = self.fresh("layers")
            lines = self.collect(name, children, False, 2)
            return lines + self.emit(ast.Expr(nodes.call(init, ast.Name(name))), 2)
        if _has_conditions(children):
            name = self.fresh("layers")
            lines = self.collect(name, children, named, 2)
            arg = ast.Name(name) if named else ast.Starred(ast.Name(name))
            return lines + self.emit(ast.Expr(nodes.call(init, arg)), 2)
        return self.emit(ast.Expr(nodes.call(init, *self.items(children, named))), 2)

    def child(self, child: Child, indent: int) -> list[str]:
        target = self_attr(child.name)
        lines: list[str] = []
        body = indent + (1 if child.cond is not None else 0)
        if isinstance(child.value, Seq) and _has_conditions(child.value.items):
            name = self.fresh(child.name)
            lines = self.collect(name, child.value.items, child.value.named, body)
            lines += self.emit(store(target, _container(child.value, name)), body)
        else:
            lines = self.emit(store(target, self.value(child.value)), body)
        if child.cond is None:
            return lines
        lines = self.condition(child.cond, indent) + lines
        if child.orelse is not None:  # `else:` in the spec
            lines += [INDENT * indent + "else:", *self.child(child.orelse, indent + 1)]
        return lines

    def condition(self, cond: Expr, indent: int) -> list[str]:
        node = self.rename.visit(copy.deepcopy(cond.node)) if self.rename else cond.node
        self.usage.note(node)
        return format_statement(ast.If(node, [], []), indent)

    def collect(self, name: str, items: list[Child], named: bool, indent: int) -> list[str]:
        """Build a list (or OrderedDict) of layers where some are conditional; the numbering
        of what is present shifts, as in the spec. Layers are built in tree order."""
        empty = nodes.call("OrderedDict") if named else ast.List([])
        return self.emit(assign(ast.Name(name), empty), indent) + self.append(
            name, items, named, indent)

    def append(self, name: str, items: list[Child], named: bool, indent: int) -> list[str]:
        """The lines adding `items` to the list `name`; a repeat is a `for` loop."""
        lines: list[str] = []
        for item in items:
            body = indent + (1 if item.cond is not None else 0)
            if item.cond is not None:
                lines += self.condition(item.cond, indent)
            if isinstance(item.value, Repeat):
                rep = item.value
                used = names_in(rep.items) | {
                    m for item in rep.items for m in TEMPLATE_FIELD.findall(item.name)}
                var = rep.var if rep.var in used else "_"
                self.locals.take(var)
                self.usage.note(rep.count.node)
                lines += format_statement(ast.For(ast.Name(var), nodes.call(
                    "range", rep.count.node), [], []), body)
                lines += self.append(name, rep.items, named, body + 1)
                continue
            lines += self.append_one(name, item, named, body)
            if item.orelse is not None:
                lines.append(INDENT * indent + "else:")
                lines += self.append_one(name, item.orelse, named, body)
        return lines

    def append_one(self, name: str, item: Child, named: bool, indent: int) -> list[str]:
        lines: list[str] = []
        value = item.value
        if isinstance(value, Seq) and _has_conditions(value.items):
            inner = self.fresh(f"{name}_{item.name}")
            lines += self.collect(inner, value.items, value.named, indent)
            built: ast.expr = _container(value, inner)
        else:
            built = self.value(value)
        if named:
            key = ast.Subscript(ast.Name(name), _name_key(item.name))
            return lines + self.emit(assign(key, built), indent)
        return lines + self.emit(_method_call(name, "append", built), indent)

    def fresh(self, name: str) -> str:
        return self.locals.fresh(name)

    def items(self, items: list[Child], named: bool) -> list[ast.expr]:
        values = [self.value(item.value) for item in items]
        if not named:
            return values
        return [nodes.call("OrderedDict", **{i.name: v for i, v in zip(items, values)})]

    def value(self, value: Call | Seq) -> ast.expr:
        if isinstance(value, Seq):
            items = self.items(value.items, value.named)
            if value.container == "ModuleList":
                return nodes.call("nn.ModuleList", ast.List(items))
            return nodes.call("nn.Sequential", *items)
        return self.call(value)

    def class_argument(self, call: Call, name: str, node: ast.expr) -> ast.expr:
        """A layer's argument of kind `class` ('torch.nn:GELU') as the class, imported."""
        if call.kind != "layer" or not isinstance(node, ast.Constant) or not isinstance(
                node.value, str):
            return node
        if next((a.accepts for a in LAYERS[call.target].args if a.name == name),
                None) != "class" or node.value not in self.usage.user_names:
            return node
        self.usage.user_layers.add(node.value)
        return ast.Name(self.usage.user_names[node.value], ast.Load())

    def call(self, call: Call) -> ast.Call:
        """A layer or block call: required arguments positionally (unless the spec named
        them), others by keyword, and only where they differ from the default."""
        if call.kind == "layer":
            layer = LAYERS[call.target]
            sig = [(a.name, a.required and not a.kwonly, a.default) for a in layer.args]
            missing = [a.name for a in layer.args if a.required and a.name not in call.args]
            if missing and call.inferred is None:  # a defect: elaborate.infer did not run
                raise AssertionError(f"{call.target}() at {call.pos} lacks the required "
                                     f"argument(s) {', '.join(missing)}: inference was skipped")
            func = f"{layer.module}.{call.target}"
            if call.target in self.usage.user_names:  # from the user's module, by name
                func = self.usage.user_names[call.target]
                self.usage.user_layers.add(call.target)
            elif layer.module != "nn":
                self.usage.modules.add(layer.module)
        else:
            cls = self.program.classes[call.target]
            sig = [(p.name, p.default is REQUIRED, p.default) for p in cls.params]
            func = call.target
        args: list[ast.expr] = []
        keywords: dict[str, ast.expr] = {}
        in_order = True  # positional only while no argument before was left out or named
        for name, positional, default in sig:
            if name not in call.args:
                in_order = False
                continue
            expr = call.args[name]
            node = self.class_argument(call, name, expr.node)
            if positional and in_order and name not in call.keywords:
                args.append(node)
                continue
            in_order = False
            if positional or not _is_default(expr, default):
                keywords[name] = node
        return nodes.call(func, *args, **keywords)

    # --- forward ----------------------------------------------------------------------------

    def steps(self, steps: list, indent: int, renamer: Renamer | None = None) -> list[str]:
        if renamer is None:
            renamer = Renamer({c.name for c in self.cls.children} | self.param_names
                              | {t.name for t in self.cls.tensors} | {TRAINING}
                              | set(LAYERS[self.cls.layer].state_names() if self.cls.layer
                                    else ()), set(self.cls.inputs),
                              unused_unpacked(steps))
        lines: list[str] = []
        for step in steps:
            if isinstance(step, If):
                lines += self.condition(Expr(renamer.visit(copy.deepcopy(step.cond.node)),
                                             step.cond.pos), indent)
                lines += self.steps(step.then, indent + 1, renamer) or self.emit(
                    ast.Pass(), indent + 1)
                if step.orelse:
                    lines.append(INDENT * indent + "else:")
                    lines += self.steps(step.orelse, indent + 1, renamer)
            else:
                lines += self.statement(renamer.visit(copy.deepcopy(step.node)), indent)
        return lines

    def statement(self, node: ast.stmt, indent: int) -> list[str]:
        """One step; a loop's header, then its body one level deeper. An item picked by name
        is an attribute (`self.heads.aux`); a loop over a block of named children runs over
        its `children()`."""
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Subscript):
                key = call.func.slice
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    call.func = ast.Attribute(call.func.value, key.value) \
                        if key.value.isidentifier() else nodes.call("getattr", call.func.value,
                                                                    key)
        if not isinstance(node, ast.For):
            return self.emit(node, indent)
        if self.named_container(node.iter):
            node.iter = nodes.call(ast.Attribute(node.iter, "children"))
        lines = self.emit(ast.For(node.target, node.iter, [], []), indent)
        for sub in node.body:
            lines += self.emit(sub, indent + 1)
        return lines

    def named_container(self, node: ast.expr) -> bool:
        """Whether a loop's container is a block of named children (not iterable itself)."""
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
            return False
        child = next((c for c in self.cls.children if c.name == node.attr), None)
        value = child.value if child is not None else None
        return isinstance(value, Call) and value.kind == "block" and \
            self.program.classes[value.target].base == "Module"


def _name_key(name: str) -> ast.expr:
    """A child's key in an OrderedDict: its name, or an f-string for a named repeat's
    template (`f"encoder_layer_{i}"`)."""
    parts = TEMPLATE_FIELD.split(name)
    if len(parts) == 1:
        return nodes.literal_node(name)
    values: list[ast.expr] = [
        ast.FormattedValue(ast.Name(part), -1, None) if i % 2 else ast.Constant(part)
        for i, part in enumerate(parts) if part]
    return ast.JoinedStr(values)


def _container(seq: Seq, name: str) -> ast.expr:
    """The container of the items collected in the local `name`: `nn.Sequential(*name)` (or
    of an OrderedDict), `nn.ModuleList(name)`."""
    if seq.container == "ModuleList":
        return nodes.call("nn.ModuleList", ast.Name(name))
    return nodes.call("nn.Sequential", ast.Name(name) if seq.named else
                      ast.Starred(ast.Name(name)))


def _has_conditions(items: list[Child]) -> bool:
    return any(item.cond is not None or isinstance(item.value, Repeat)
               or (isinstance(item.value, Seq) and _has_conditions(item.value.items))
               for item in items)


def _is_default(expr: Expr, default: object) -> bool:
    """True when the argument is a constant equal (same type too) to the default."""
    if default is REQUIRED:
        return False
    try:
        constant, value = expr.constant()
    except Exception:  # an expression error is reported elsewhere; keep the argument
        return False
    return constant and type(value) is type(default) and value == default
