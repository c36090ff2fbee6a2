"""Backend: the IR as standalone, readable PyTorch source, rendered through Jinja templates.

Python here decides *what* each line says (calls with only non-default arguments, forward
statements with children as `self.<name>`), already formatted as ruff formats it; the templates
in `templates/` decide the file's layout, header and self-check, and a user can override them.
Only validated identifiers and the reprs of validated literals reach the output.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from nnspec import pysrc
from nnspec.catalog import LAYERS, REQUIRED
from nnspec.expr import FUNCTIONS, Expr, make_divisible
from nnspec.initrules import InitRule
from nnspec.ir import Call, Child, If, ModuleClass, Program, Repeat, Seq, Stmt

TEMPLATE_NAME = "module.py.jinja"


def template_dirs(override: str | Path | None = None) -> list[str]:
    """User templates first (they replace ours by name), then the packaged ones."""
    packaged = Path(__file__).parent / "templates"
    if not packaged.is_dir():  # running from a source checkout: the top-level folder
        packaged = Path(__file__).parent.parent / "templates"
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
    """One generated class, as the templates see it: lines already indented."""

    name: str
    base: str
    doc: str | None
    init: list[str]
    forward: list[str]


@dataclass
class ModuleSource:
    spec: str
    digest: str
    root: str
    classes: list[ClassSource]
    imports: list[str]
    helpers: list[str]
    example_inputs: list[str]
    call_args: str
    extra: dict = field(default_factory=dict)


def generate(program: Program, spec_label: str | None = None,
             templates: str | Path | None = None) -> str:
    """The generated module's full text."""
    source = describe(program, spec_label)
    text = environment(templates).get_template(TEMPLATE_NAME).render(m=source)
    return text


def describe(program: Program, spec_label: str | None = None) -> ModuleSource:
    """Everything the templates need, as plain strings and lists."""
    classes = [_ClassWriter(cls, program).write() for cls in program.classes.values()]
    body = "\n".join(line for c in classes for line in c.init + c.forward)
    imports = ["import torch"]
    if "OrderedDict(" in body:
        imports.insert(0, "from collections import OrderedDict")
        imports.insert(1, "")
    imports.append("from torch import nn")
    if "F." in body:
        imports.append("import torch.nn.functional as F")
    helpers = [_MAKE_DIVISIBLE] if "make_divisible(" in body else []
    examples = [f"{i.name} = {_example(i)}" for i in program.inputs]
    return ModuleSource(
        spec=_comment_safe(spec_label or program.source),
        digest=program.digest,
        root=program.root,
        classes=classes,
        imports=imports,
        helpers=helpers,
        example_inputs=examples,
        call_args=", ".join(i.name for i in program.inputs),
    )


def _comment_safe(text: str) -> str:
    """The spec's path for a comment line: a newline (or any control or bidi character) in a
    file name must not end the comment and start code."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _example(inp) -> str:
    shape = pysrc.literal((2, *inp.shape))
    if inp.dtype.startswith(("int", "uint")):
        low, high = inp.range or (0, 2)
        return f"torch.randint({low}, {high}, {shape}, dtype=torch.{inp.dtype})"
    if inp.dtype == "bool":
        return f"torch.rand({shape}) > 0.5"
    if inp.dtype == "float32":
        return f"torch.randn({shape})"
    return f"torch.randn({shape}, dtype=torch.{inp.dtype})"


# The generated file carries the same helper the evaluator uses, so both round alike.
_MAKE_DIVISIBLE = inspect.getsource(make_divisible).rstrip()

_PY_TYPES = {"int": "int", "float": "float", "bool": "bool", "str": "str", "list": "list"}


def _safe_doc(text: str | None) -> str | None:
    """A docstring only when it cannot break out of its quotes: printable ASCII, one line."""
    if not text:
        return None
    text = " ".join(text.split())
    ok = text.isascii() and text.isprintable() and '"' not in text and "\\" not in text
    return text if ok and len(text) <= 80 else None


class _ClassWriter:
    def __init__(self, cls: ModuleClass, program: Program):
        self.cls, self.program = cls, program
        self.param_names = {p.name for p in cls.params}
        self.locals: set[str] = set(self.param_names)

    def write(self) -> ClassSource:
        cls = self.cls
        base = {"Sequential": "nn.Sequential", "ModuleList": "nn.ModuleList"}.get(cls.base,
                                                                                 "nn.Module")
        init = pysrc.call_lines("def __init__", ["self", *self.signature()], 1, " -> None:")
        if cls.base != "Module":
            init += self.sequential_body()
        else:
            init.append(f"{pysrc.INDENT * 2}super().__init__()")
            init += [f"{pysrc.INDENT * 2}self.{p} = {p}" for p in cls.forward_params]
            for child in cls.children:
                init += self.child(child, 2)
        init += self.init_rules(cls.init)
        forward: list[str] = []
        if cls.forward_unknown:
            forward = _unknown_forward(cls.name)
        elif cls.base == "Module":
            forward = pysrc.call_lines("def forward", ["self", *cls.inputs], 1, ":")
            forward += self.steps(cls.forward, 2)
        return ClassSource(cls.name, base, _safe_doc(cls.doc), init, forward)

    def signature(self) -> list[str]:
        out = []
        for p in self.cls.params:
            hint = p.type if p.type in _PY_TYPES or p.type.startswith("list[") else "object"
            out.append(f"{p.name}: {hint}" if p.default is REQUIRED
                       else f"{p.name}: {hint} = {pysrc.literal(p.default)}")
        return out

    # --- __init__ ---------------------------------------------------------------------------

    def init_rules(self, rules: list[InitRule]) -> list[str]:
        """Each rule one loop over `self.modules()`, as torchvision writes its init."""
        lines: list[str] = []
        m = self.fresh("m")
        for rule in rules:
            indent = 2
            if rule.cond is not None:
                lines.append(f"{pysrc.INDENT * indent}if {self.expr(rule.cond)}:")
                indent += 1
            pad = pysrc.INDENT * indent
            types = [f"{LAYERS[n].module}.{n}" if kind == "layer" else n
                     for n, kind in rule.types]
            kinds = types[0] if len(types) == 1 else f"({', '.join(types)})"
            lines += [f"{pad}for {m} in self.modules():",
                      f"{pad}{pysrc.INDENT}if isinstance({m}, {kinds}):"]
            owner = f"{m}.{rule.child}" if rule.child else m
            for tensor, fn, args in rule.tensors:
                inner = indent + 2
                target = f"{owner}.{tensor}"
                # a norm layer without affine, or a layer built with bias=False, has None here
                if tensor == "bias" or any("Norm" in n for n, _ in rule.types):
                    lines.append(f"{pysrc.INDENT * inner}if {target} is not None:")
                    inner += 1
                call_args = [target] + [pysrc.literal(v) if a == "val" else
                                        f"{a}={pysrc.literal(v)}" for a, v in args.items()]
                lines += pysrc.call_lines(f"nn.init.{fn}_", call_args, inner)
        return lines

    def sequential_body(self) -> list[str]:
        children = self.cls.children
        if self.cls.base == "ModuleList":
            name = self.fresh("layers")
            return self.collect(name, children, False, 2) + [
                f"{pysrc.INDENT * 2}super().__init__({name})"]
        named = bool(children) and not children[0].name.isdigit()
        if _needs_list(children):
            name = self.fresh("layers")
            lines = self.collect(name, children, named, 2)
            arg = f"OrderedDict({name})" if named else f"*{name}"
            return lines + [f"{pysrc.INDENT * 2}super().__init__({arg})"]
        return pysrc.call_lines("super().__init__", self.items(children, named), 2,
                                explode=True)

    def child(self, child: Child, indent: int) -> list[str]:
        pad = pysrc.INDENT * indent
        if isinstance(child.value, Seq) and _needs_list(child.value.items):
            name = self.fresh(f"{child.name}_layers")
            lines = self.collect(name, child.value.items, child.value.named, indent)
            arg = f"OrderedDict({name})" if child.value.named else f"*{name}"
            lines.append(f"{pad}self.{child.name} = nn.Sequential({arg})")
        else:
            value = self.value(child.value)
            if isinstance(value, pysrc.Wrapped):
                lines = pysrc.call_lines(f"self.{child.name} = {value.prefix}", value.args,
                                         indent, explode=value.explode)
            else:
                lines = [f"{pad}self.{child.name} = {value}"]
        if child.cond is None:
            return lines
        lines = [f"{pad}if {self.expr(child.cond)}:", *[pysrc.INDENT + line for line in lines]]
        if child.orelse is not None:
            lines += [f"{pad}else:", *self.child(child.orelse, indent + 1)]
        return lines

    def collect(self, name: str, items: list[Child], named: bool, indent: int) -> list[str]:
        """Build a list of layers where some are conditional (the numbering shifts), in tree
        order; a nested Sequential with conditional layers gets its own list, built in place."""
        return [f"{pysrc.INDENT * indent}{name} = []"] + self.append(name, items, named, indent)

    def append(self, name: str, items: list[Child], named: bool, indent: int) -> list[str]:
        """The lines appending `items` to the list `name`; a repeat is a `for` loop."""
        pad = pysrc.INDENT * indent
        lines: list[str] = []
        for item in items:
            inner = indent + (1 if item.cond else 0)
            if item.cond is not None:
                lines.append(f"{pad}if {self.expr(item.cond)}:")
            if isinstance(item.value, Repeat):
                rep = item.value
                var = rep.var or "_"
                self.locals.add(var)
                count = self.expr(rep.count)
                lines.append(f"{pysrc.INDENT * inner}for {var} in range({count}):")
                lines += self.append(name, rep.items, False, inner + 1)
                continue
            lines += self.append_one(name, item, named, inner)
            if item.orelse is not None:
                lines.append(f"{pad}else:")
                lines += self.append_one(name, item.orelse, named, inner)
        return lines

    def append_one(self, name: str, item: Child, named: bool, indent: int) -> list[str]:
        lines: list[str] = []
        if isinstance(item.value, Seq) and _needs_list(item.value.items):
            sub = self.fresh(f"{name}_{item.name}")
            lines += self.collect(sub, item.value.items, item.value.named, indent)
            arg = f"OrderedDict({sub})" if item.value.named else f"*{sub}"
            value = f"nn.Sequential({arg})"
        else:
            value = self.value(item.value)
        entry = pysrc.Wrapped("", [pysrc.literal(item.name), value]) if named else value
        return lines + pysrc.call_lines(f"{name}.append", [entry], indent)

    def fresh(self, name: str) -> str:
        candidate, n = name, 2
        while candidate in self.locals:
            candidate, n = f"{name}{n}", n + 1
        self.locals.add(candidate)
        return candidate

    def items(self, items: list[Child], named: bool) -> list[str]:
        values = [self.value(item.value) for item in items]
        if not named:
            return values
        pairs = [pysrc.Wrapped(f"{i.name}={v.prefix}", v.args, v.explode)
                 if isinstance(v, pysrc.Wrapped) else f"{i.name}={v}"
                 for i, v in zip(items, values)]
        return [pysrc.Wrapped("OrderedDict", pairs, explode=True)]

    def value(self, value: Call | Seq) -> str:
        if isinstance(value, Seq):
            return pysrc.Wrapped("nn.Sequential", self.items(value.items, value.named),
                                 explode=True)
        return self.call(value)

    def call(self, call: Call) -> str:
        if call.kind == "layer":
            layer = LAYERS[call.target]
            sig = [(a.name, a.required, a.default) for a in layer.args]
            prefix = f"{layer.module}.{call.target}"
        else:
            cls = self.program.classes[call.target]
            sig = [(p.name, p.default is REQUIRED, p.default) for p in cls.params]
            prefix = call.target
        args = []
        for name, required, default in sig:
            if name not in call.args:
                continue
            text = self.expr(call.args[name])
            if required:
                args.append(text)
            elif not _is_default(call.args[name], default):
                args.append(f"{name}={text}")
        return pysrc.Wrapped(prefix, args)

    def expr(self, expr: Expr) -> str:
        return pysrc.expr(expr.node)

    # --- forward ----------------------------------------------------------------------------

    def rename(self, name: str) -> str:
        children = {c.name for c in self.cls.children}
        return f"self.{name}" if name in children or name in self.param_names else name

    def steps(self, steps: list, indent: int) -> list[str]:
        pad = pysrc.INDENT * indent
        lines: list[str] = []
        for step in steps:
            if isinstance(step, If):
                cond = pysrc.expr(step.cond.node, lambda n: n if n in FUNCTIONS else f"self.{n}")
                lines.append(f"{pad}if {cond}:")
                lines += self.steps(step.then, indent + 1) or [f"{pad}    pass"]
                if step.orelse:
                    lines.append(f"{pad}else:")
                    lines += self.steps(step.orelse, indent + 1)
            else:
                lines += self.statement(step, indent)
        return lines

    def statement(self, stmt: Stmt, indent: int) -> list[str]:
        node, pad = stmt.node, pysrc.INDENT * indent
        value = pysrc.expr(node.value, self.rename)
        if isinstance(node, ast.Return):
            return [f"{pad}return {value}"]
        if isinstance(node, ast.AugAssign):
            op = pysrc._OPS[type(node.op)]
            return [f"{pad}{pysrc.expr(node.target, self.rename)} {op}= {value}"]
        targets = " = ".join(_target(t) for t in node.targets)
        return [f"{pad}{targets} = {value}"]


def _needs_list(items: list[Child]) -> bool:
    """A Sequential is built as a list when a layer in it, at any depth, is conditional."""
    return any(item.cond is not None or isinstance(item.value, Repeat)
               or (isinstance(item.value, Seq) and _needs_list(item.value.items))
               for item in items)


def _unknown_forward(name: str) -> list[str]:
    """`forward: unknown` (a printed tree does not show forward): raise, naming the class."""
    pad = pysrc.INDENT
    first = f"{name}: forward is unknown (imported from a printed tree); "
    rest = "write it in the spec"
    lines = [f"{pad}def forward(self, *args, **kwargs):"]
    call = pysrc.call_lines("raise NotImplementedError", [pysrc.literal(first + rest)], 2)
    if max(map(len, call)) <= pysrc.LINE_LENGTH:
        return lines + call
    # too long for one string: split it, as ruff format leaves implicit concatenation
    return lines + [f"{pad * 2}raise NotImplementedError(", pad * 3 + pysrc.literal(first),
                    pad * 3 + pysrc.literal(rest), f"{pad * 2})"]


def _target(node: ast.expr) -> str:
    if isinstance(node, (ast.Tuple, ast.List)):
        inner = ", ".join(_target(e) if not isinstance(e, (ast.Tuple, ast.List))
                          else f"({_target(e)})" for e in node.elts)
        return inner
    return node.id  # type: ignore[attr-defined]


def _is_default(expr: Expr, default: object) -> bool:
    """True when the argument is a constant equal (same type too) to the default."""
    if default is REQUIRED:
        return False
    try:
        constant, value = expr.constant()
    except Exception:  # an expression error is reported elsewhere; keep the argument
        return False
    return constant and type(value) is type(default) and value == default
