"""Backend: the IR as standalone, readable PyTorch source, rendered through Jinja templates.

Python here decides what each statement says, as syntax trees built from validated identifiers,
the spec's checked expressions and literal values: calls name only arguments that differ from
the defaults, keyword arguments where the spec used them, children as `self.<name>` in
`forward`. `nnspec.formatter` lays each statement out exactly as `ruff format` would. The
templates in `templates/` decide the file's layout, header and self-check, and a user can
override any of them by name (`--templates DIR`). Nothing from a spec reaches the output
except through `nnspec.formatter`, which writes identifiers and literal reprs only.
"""

from __future__ import annotations

import ast
import copy
import inspect
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import jinja2

from nnspec.catalog import LAYERS, REQUIRED
from nnspec.catalog.init_functions import TRIL
from nnspec.formatter import INDENT, INDENT_WIDTH, LINE_WIDTH, format_statement, literal, nodes
from nnspec.ir.program import (
    Call,
    Child,
    If,
    InitRule,
    Input,
    ModuleClass,
    Program,
    RawTensor,
    Repeat,
    Seq,
    Stmt,
    names_in,
)
from nnspec.language.expr import Expr, make_divisible
from nnspec.language.names import RESERVED, TEMPLATE_FIELD, Namespace
from nnspec.output import write

TEMPLATE_NAME = "module.py.jinja"


class TemplateError(Exception):
    """A template (usually a user's override) failed to render, or dropped the markers."""


def template_dirs(override: str | Path | None = None) -> list[str]:
    """User templates first (they replace ours by name), then the packaged ones."""
    package = Path(__file__).resolve().parent.parent  # nnspec/
    packaged = package / "templates"
    if not packaged.is_dir():  # running from a source checkout: the top-level folder
        packaged = package.parent / "templates"
    return ([str(override)] if override else []) + [str(packaged)]


def environment(override: str | Path | None = None) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dirs(override)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


@dataclass
class ClassSource:
    """One generated class, as the templates see it: lines already indented and formatted."""

    name: str
    header: list[str]
    doc: list[str]
    init: list[str]
    forward: list[str]


@dataclass
class ModuleSource:
    """Everything the templates see. Every string is already safe Python or comment text."""

    spec: str  # the spec's path, relative to the output file, safe inside a comment
    command: str  # the arguments that regenerate the file, shell-quoted
    spec_sha256: str
    body_sha256: str  # a placeholder until `write.seal` fills in the real digest
    root: str
    imports: list[str]
    helpers: list[str]
    classes: list[ClassSource]
    self_check: list[str]


def generate(program: Program, spec_label: str | None = None,
             templates: str | Path | None = None,
             overrides: dict[str, Any] | None = None) -> str:
    """The generated module's full text, sealed with its body digest."""
    source = describe(program, spec_label, overrides)
    try:
        text = environment(templates).get_template(TEMPLATE_NAME).render(m=source)
        text = write.seal(text)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template not found: {exc.name}") from None
    except jinja2.TemplateError as exc:
        where = f" ({exc.filename}:{exc.lineno})" if getattr(exc, "filename", None) else ""
        raise TemplateError(f"template error{where}: {exc.message}") from None
    except ValueError as exc:
        raise TemplateError(str(exc)) from None
    try:
        ast.parse(text)
    except SyntaxError as exc:
        raise TemplateError(f"the templates produced invalid Python (line {exc.lineno}): "
                            f"{exc.msg}") from None
    return text


def describe(program: Program, spec_label: str | None = None,
             overrides: dict[str, Any] | None = None) -> ModuleSource:
    """Everything the templates need, as plain strings and lists."""
    usage = _Usage(_user_names(program))
    classes = [_ClassWriter(cls, program, usage).write() for cls in program.classes.values()]
    self_check = _self_check(program, usage)
    label = spec_label if spec_label is not None else program.source
    sets = [f"{name}={literal(value)}" for name, value in (overrides or {}).items()]
    allow = [a for p in program.allow_import for a in ("--allow-import", p)]
    command = " ".join(shlex.quote(arg) for arg in [label, *(a for s in sets
                                                              for a in ("--set", s)), *allow])
    return ModuleSource(
        spec=comment_safe(label),
        command=comment_safe(command),
        spec_sha256=program.digest,
        body_sha256="0" * 64,
        root=program.root,
        imports=usage.imports(),
        helpers=[_MAKE_DIVISIBLE] if usage.make_divisible else [],
        classes=classes,
        self_check=self_check,
    )


def spec_label(spec: str | os.PathLike[str], output: str | None = None) -> str:
    """How the header names the spec: its path relative to the output file's directory (or
    to the working directory), with POSIX separators, never absolute."""
    start = os.path.dirname(os.path.abspath(output)) if output not in (None, "-") else "."
    try:
        relative = os.path.relpath(os.path.abspath(spec), os.path.abspath(start))
    except ValueError:  # another drive (Windows): no relative path exists
        relative = os.path.basename(spec)
    return PurePath(relative).as_posix()


def comment_safe(text: str) -> str:
    """Text that cannot end a comment line or hide characters: escaped unless printable."""
    return text if text.isprintable() else ascii(text)[1:-1]


# The generated file carries the same helper the evaluator uses, so both round alike.
_MAKE_DIVISIBLE = inspect.getsource(make_divisible).rstrip()

_ANNOTATIONS = {"int", "float", "bool", "str", "list"}


class _Usage:
    """What the generated body uses, so the module imports exactly that."""

    def __init__(self, user_names: dict[str, str] | None = None) -> None:
        self.names: set[str] = set()
        self.modules: set[str] = set()
        self.make_divisible = False
        self.user_names = user_names or {}  # user layer 'module:Class' -> name in the file
        self.user_layers: set[str] = set()  # the user layers called

    def note(self, node: ast.AST) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                self.names.add(sub.id)
                if sub.id == "make_divisible":
                    self.make_divisible = True

    def imports(self) -> list[str]:
        """Sorted as isort sorts them: the standard library, then the rest."""
        stdlib = (["import math"] if "math" in self.names else []) + (
            ["from collections import OrderedDict"] if "OrderedDict" in self.names else [])
        modules = {"torch", *self.modules} | ({"torch.nn.functional as F"}
                                             if "F" in self.names else set())
        froms: list[tuple[str, list[tuple[str, str]]]] = []
        plain: dict[str, list[tuple[str, str]]] = {"torch": [("nn", "nn")]}
        for path in self.user_layers:
            module, cls = path.split(":")
            name = self.user_names[path]
            if name == cls:
                plain.setdefault(module, []).append((cls, name))
            else:  # isort keeps each `import X as Y` on its own line
                froms.append((module, [(cls, name)]))
        froms += plain.items()
        third = [f"import {m}" for m in sorted(modules)] + [
            _from_import(m, names) for m, names in sorted(
                froms, key=lambda f: (f[0].lower(), _member_key(min(f[1], key=_member_key))))]
        return stdlib + ([""] if stdlib else []) + third


def _member_key(member: tuple[str, str]) -> tuple[int, str, str]:
    """isort's order for imported names: CONSTANTS, then Classes, then the rest."""
    name = member[0]
    kind = 0 if len(name) > 1 and name.isupper() else 1 if name[0].isupper() else 2
    return kind, name.lower(), name


def _from_import(module: str, members: list[tuple[str, str]]) -> str:
    """`from module import a, b`, wrapped as ruff's isort wraps a line that is too long."""
    names = [m if m == alias else f"{m} as {alias}" for m, alias in sorted(members,
                                                                          key=_member_key)]
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= LINE_WIDTH:
        return line
    return "\n".join([f"from {module} import (", *(f"    {n}," for n in names), ")"])


def _user_names(program: Program) -> dict[str, str]:
    """The name each user layer's class has in the generated file: its own, unless another
    class, a parameter or a name the file uses has it (then `Class as Class_2`)."""
    names = Namespace(set(program.classes) | {p.name for cls in program.classes.values()
                                              for p in cls.params},
                      separator="_", refused=RESERVED)
    return {path: names.fresh(path.split(":")[1]) for path in sorted(program.user_layers)}


# --- statements -------------------------------------------------------------------------------


def _assign(target: ast.expr, value: ast.expr) -> ast.Assign:
    return ast.Assign([target], value)


def _self(attr: str) -> ast.expr:
    return ast.Attribute(ast.Name("self"), attr)


def _method_call(obj: str, method: str, *args: ast.expr) -> ast.Expr:
    return ast.Expr(nodes.call(f"{obj}.{method}", *args))


class _ClassWriter:
    def __init__(self, cls: ModuleClass, program: Program, usage: _Usage):
        self.cls, self.program, self.usage = cls, program, usage
        self.param_names = {p.name for p in cls.params}
        self.locals = Namespace(self.param_names | set(program.classes) | set(
            usage.user_names.values()), separator="_", refused=RESERVED)

    def emit(self, node: ast.stmt, indent: int) -> list[str]:
        self.usage.note(node)
        return format_statement(node, indent)

    def write(self) -> ClassSource:
        cls = self.cls
        base = {"Sequential": "nn.Sequential", "ModuleList": "nn.ModuleList"}.get(
            cls.base, "nn.Module")
        header = format_statement(nodes.class_def(cls.name, [nodes.name(base)]), 0)
        signature = self.signature()
        init = format_statement(nodes.function_def(
            "__init__", [("self", None, None), *signature], ast.Constant(None)), 1)
        if cls.base != "Module":
            init += self.sequential_body()
        else:
            init += self.emit(ast.Expr(nodes.call(ast.Attribute(nodes.call("super"),
                                                                 "__init__"))), 2)
            for name in self.forward_params():
                init += self.emit(_assign(_self(name), ast.Name(name)), 2)
            for tensor in cls.tensors:
                init += self.emit(_own_tensor(tensor), 2)
            for child in cls.children:
                init += self.child(child, 2)
        for tie in cls.ties:
            init += self.emit(_assign(_member(tie.target), _member(tie.source)), 2)
        init += self.init_rules(cls.init)
        forward: list[str] = []
        if cls.forward_unknown:  # imported from a printed tree, which cannot show forward
            forward = format_statement(nodes.function_def("forward", [
                ("self", None, None), ("*args", None, None), ("**kwargs", None, None)], None), 1)
            message = f"{cls.name}: forward is unknown (imported from a printed tree); " \
                "write it in the spec"
            forward += self.emit(ast.Raise(nodes.call("NotImplementedError",
                                                      ast.Constant(message))), 2)
        elif cls.base == "Module":
            forward = format_statement(nodes.function_def("forward", [("self", None, None)]
                                       + [(i, None, None) for i in cls.inputs], None), 1)
            forward += self.steps(cls.forward, 2)
        return ClassSource(cls.name, header, docstring(cls.doc, 1), init, forward)

    def signature(self) -> list[tuple[str, ast.expr, ast.expr | None]]:
        out = []
        for p in self.cls.params:
            if p.type in _ANNOTATIONS:
                hint: ast.expr = ast.Name(p.type)
            elif p.type.startswith("list[") and p.type[5:-1] in _ANNOTATIONS:
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

    def forward_params(self) -> list[str]:
        """Parameters the forward reads (elaboration found them): kept as attributes, in
        declaration order."""
        used = set(self.cls.forward_params)
        return [p.name for p in self.cls.params if p.name in used]

    # --- __init__ ---------------------------------------------------------------------------

    def init_rules(self, rules: list[InitRule]) -> list[str]:
        """Each rule with types one loop over `self.modules()`, as torchvision writes its init;
        a rule without, statements on the one child it names."""
        lines: list[str] = []
        m = self.fresh("m") if any(rule.types for rule in rules) else "m"
        for i, rule in enumerate(rules):
            chained = rule.group is not None and i > 0 and rules[i - 1].group == rule.group
            indent = 2
            if rule.cond is not None:
                lines += self.condition(rule.cond, indent)
                indent += 1
            if not rule.types:
                lines += self.init_tensors(rule, _member(rule.child or ""), indent)
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
            lines += self.emit(ast.Expr(_init_call(fn, target, args)), inner)
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
        target = _self(child.name)
        lines: list[str] = []
        body = indent + (1 if child.cond is not None else 0)
        if isinstance(child.value, Seq) and _has_conditions(child.value.items):
            name = self.fresh(child.name)
            lines = self.collect(name, child.value.items, child.value.named, body)
            arg = ast.Name(name) if child.value.named else ast.Starred(ast.Name(name))
            lines += self.emit(_assign(target, nodes.call("nn.Sequential", arg)), body)
        else:
            lines = self.emit(_assign(target, self.value(child.value)), body)
        if child.cond is None:
            return lines
        lines = self.condition(child.cond, indent) + lines
        if child.orelse is not None:  # `else:` in the spec
            lines += [INDENT * indent + "else:", *self.child(child.orelse, indent + 1)]
        return lines

    def condition(self, cond: Expr, indent: int) -> list[str]:
        self.usage.note(cond.node)
        return format_statement(ast.If(cond.node, [], []), indent)

    def collect(self, name: str, items: list[Child], named: bool, indent: int) -> list[str]:
        """Build a list (or OrderedDict) of layers where some are conditional; the numbering
        of what is present shifts, as in the spec. Layers are built in tree order."""
        empty = nodes.call("OrderedDict") if named else ast.List([])
        return self.emit(_assign(ast.Name(name), empty), indent) + self.append(
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
            arg = ast.Name(inner) if value.named else ast.Starred(ast.Name(inner))
            built: ast.expr = nodes.call("nn.Sequential", arg)
        else:
            built = self.value(value)
        if named:
            key = ast.Subscript(ast.Name(name), _name_key(item.name))
            return lines + self.emit(_assign(key, built), indent)
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
            return nodes.call("nn.Sequential", *self.items(value.items, value.named))
        return self.call(value)

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
            if positional and in_order and name not in call.keywords:
                args.append(expr.node)
                continue
            in_order = False
            if positional or not _is_default(expr, default):
                keywords[name] = expr.node
        return nodes.call(func, *args, **keywords)

    # --- forward ----------------------------------------------------------------------------

    def steps(self, steps: list, indent: int, renamer: _Renamer | None = None) -> list[str]:
        if renamer is None:
            renamer = _Renamer({c.name for c in self.cls.children} | self.param_names
                               | {t.name for t in self.cls.tensors}, set(self.cls.inputs),
                               _unused_unpacked(steps))
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
                lines += self.emit(renamer.visit(copy.deepcopy(step.node)), indent)
        return lines


def _nodes(steps: list) -> Iterator[ast.AST]:
    """Every AST node of the forward steps, conditions included."""
    for step in steps:
        if isinstance(step, If):
            yield from ast.walk(step.cond.node)
            yield from _nodes(step.then)
            yield from _nodes(step.orelse)
        else:
            yield from ast.walk(step.node)


def _unused_unpacked(steps: list) -> dict[str, str]:
    """Names unpacked from a tuple and never read (`out, (h, c) = lstm(x)` reading only `h`),
    to their dummy names: `_`, as ruff expects of unused unpacked values (RUF059)."""
    nodes = list(_nodes(steps))
    loaded = {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    unpacked = {n.id for t in nodes if isinstance(t, ast.Tuple) and isinstance(t.ctx, ast.Store)
                for n in ast.walk(t) if isinstance(n, ast.Name)}
    return {name: "_" if "_" not in loaded else f"_{name}"
            for name in unpacked - loaded if not name.startswith("_")}


def _member(path: str) -> ast.expr:
    """`self.heads.head`, `self.features[0]`: a dotted path of children (and a tensor)."""
    node: ast.expr = ast.Name("self")
    for part in path.split("."):
        node = ast.Subscript(node, ast.Constant(int(part))) if part.isdigit() \
            else ast.Attribute(node, part)
    return node


def _arg(value: Any) -> ast.expr:
    """An init function's argument: a checked expression over the parameters, or a literal."""
    return value.node if isinstance(value, Expr) else nodes.literal_node(value)


def _init_call(fn: str, tensor: ast.expr, args: dict[str, Any]) -> ast.Call:
    """`nn.init.<fn>_(tensor, ...)`, `constant`'s value positional as torch's docs write it."""
    positional = [_arg(args["val"])] if "val" in args else []
    keywords = {a: _arg(v) for a, v in args.items() if a != "val"}
    return nodes.call(f"nn.init.{fn}_", tensor, *positional, **keywords)


def _own_tensor(tensor: RawTensor) -> ast.stmt:
    """`self.pos_embedding = nn.Parameter(torch.empty(1, n, d).normal_(std=0.02))`, as
    torchvision writes it (so a seeded build draws the same numbers), or
    `self.register_buffer("mask", torch.tril(torch.ones(1, 1, n, n)), persistent=False)`."""
    dims = [dim.node for dim in tensor.shape] or [ast.Tuple([])]  # a scalar: torch.ones(())
    dtype = {"dtype": nodes.name(f"torch.{tensor.dtype}")} if tensor.dtype else {}
    fn, args = tensor.init, tensor.args
    if fn in ("zeros", "ones"):
        value: ast.expr = nodes.call(f"torch.{fn}", *dims, **dtype)
    elif fn == TRIL:
        value = nodes.call("torch.tril", nodes.call("torch.ones", *dims, **dtype))
    else:
        empty = nodes.call("torch.empty", *dims, **dtype)
        if fn == "normal":
            value = nodes.call(ast.Attribute(empty, "normal_"),
                               **{a: _arg(v) for a, v in args.items()})
        else:
            value = _init_call(fn, empty, args)
    if tensor.is_param:
        return _assign(_self(tensor.name), nodes.call("nn.Parameter", value))
    persistent = {} if tensor.persistent else {"persistent": ast.Constant(False)}
    return ast.Expr(nodes.call("self.register_buffer", ast.Constant(tensor.name), value,
                               **persistent))


class _Renamer(ast.NodeTransformer):
    """Children and parameters become `self.<name>` in forward (inputs shadow parameters)."""

    def __init__(self, members: set[str], inputs: set[str], dummies: dict[str, str]):
        self.members = members - inputs
        self.dummies = dummies

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Store) and node.id in self.dummies:
            return ast.Name(self.dummies[node.id], ast.Store())
        return _self(node.id) if node.id in self.members else node


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


def _has_conditions(items: list[Child]) -> bool:
    return any(item.cond is not None or isinstance(item.value, Repeat)
               or (isinstance(item.value, Seq) and _has_conditions(item.value.items))
               for item in items)


# Locals the generated __init__ must not take: module globals and the builtins it calls.


def _is_default(expr: Expr, default: object) -> bool:
    """True when the argument is a constant equal (same type too) to the default."""
    if default is REQUIRED:
        return False
    try:
        constant, value = expr.constant()
    except Exception:  # an expression error is reported elsewhere; keep the argument
        return False
    return constant and type(value) is type(default) and value == default


# --- docstrings -------------------------------------------------------------------------------


def docstring(text: str | None, indent: int) -> list[str]:
    """A class docstring from spec text, wrapped to the line width, that cannot end early.

    Whitespace is collapsed. Backslashes are doubled; a quote is escaped where it would start
    the docstring with four quotes, make three in a row, or touch the closing quotes;
    characters that are not printable (line breaks, bidirectional controls) become escapes.
    """
    words = (text or "").split()
    if not words:
        return []
    body = _docstring_body(" ".join(words))
    pad = INDENT * indent
    if len(pad) + 6 + len(body) <= LINE_WIDTH:  # ruff counts characters here, not columns
        return [f'{pad}"""{body}"""']
    lines, current = [], '"""'
    limit = LINE_WIDTH - INDENT_WIDTH * indent
    for word in body.split(" "):
        candidate = f"{current} {word}" if current != '"""' else current + word
        if len(candidate) <= limit or current in ('"""', ""):
            current = candidate
        else:
            lines.append(current)
            current = word
    lines.append(current)
    if len(lines) == 1:  # one unbreakable line: ruff keeps the closing quotes on it
        return [f'{pad}{lines[0]}"""']
    return [pad + line for line in lines] + [pad + '"""']


def _docstring_body(text: str) -> str:
    tokens: list[str] = []
    run = 0  # unescaped quotes in a row
    for i, c in enumerate(text):
        if c == '"':
            escape = i == 0 or run == 2 or i == len(text) - 1
            tokens.append('\\"' if escape else '"')
            run = 0 if escape else run + 1
            continue
        run = 0
        tokens.append("\\\\" if c == "\\" else c if c.isprintable() else ascii(c)[1:-1])
    return "".join(tokens)


# --- the self-check ---------------------------------------------------------------------------


def _self_check(program: Program, usage: _Usage) -> list[str]:
    """`python FILE.py`: build the model, run the declared inputs, print the output shape."""
    taken = {"model", "output", "torch", "print", "tuple", *program.classes}
    names: list[str] = []
    for inp in program.inputs:
        name = inp.name
        while name in taken:
            name += "_input"
        taken.add(name)
        names.append(name)
    float_dtypes = {i.dtype for i in program.inputs if i.dtype.startswith(("float", "bfloat"))}
    model: ast.expr = nodes.call(program.root)
    if len(float_dtypes) == 1 and float_dtypes != {"float32"}:
        model = nodes.call(ast.Attribute(model, "to"), nodes.name(f"torch.{float_dtypes.pop()}"))
    stmts: list[ast.stmt] = [_assign(ast.Name("model"),
                                     nodes.call(ast.Attribute(model, "eval")))]
    stmts += [_assign(ast.Name(name), _example(inp)) for name, inp in zip(names, program.inputs)]
    output = nodes.call("model", *[ast.Name(n) for n in names])
    root = program.classes[program.root]
    returned = root.forward[-1].node.value if root.forward and isinstance(
        root.forward[-1], Stmt) and isinstance(root.forward[-1].node, ast.Return) else None
    if isinstance(returned, ast.Tuple):
        stmts.append(_assign(ast.Name("output"), output))
        shapes = [_shape(ast.Subscript(ast.Name("output"), ast.Constant(i)))
                  for i in range(len(returned.elts))]
        stmts.append(ast.Expr(nodes.call("print", *shapes)))
    else:
        stmts.append(ast.Expr(nodes.call("print", _shape(output))))
    lines: list[str] = []
    for stmt in stmts:
        usage.note(stmt)
        lines += format_statement(stmt, 1)
    return lines


def _shape(tensor: ast.expr) -> ast.expr:
    return nodes.call("tuple", ast.Attribute(tensor, "shape"))


def _example(inp: Input) -> ast.expr:
    """A batch of two random inputs of the declared shape and dtype."""
    dims = [ast.Constant(d) for d in (2, *inp.shape)]
    dtype = nodes.name(f"torch.{inp.dtype}")
    if inp.dtype == "bool":
        return ast.Compare(nodes.call("torch.rand", *dims), [ast.Gt()], [ast.Constant(0.5)])
    if inp.dtype.startswith(("int", "uint")):
        low, high = inp.range or (0, 2)
        kw = {} if inp.dtype == "int64" else {"dtype": dtype}
        return nodes.call("torch.randint", nodes.literal_node(low), nodes.literal_node(high),
                          ast.Tuple(dims), **kw)
    kw = {} if inp.dtype == "float32" else {"dtype": dtype}
    return nodes.call("torch.randn", *dims, **kw)
