"""Stage 3, elaborate: validated spec models to the IR.

Parses every call, expression and forward step; binds call arguments to the catalog's (or the
block's) signature; checks names, block cycles and forward dataflow; then instantiates the tree
for the root parameters, so values (channels <= 0, groups not dividing) are checked at compile
time, with the position of the expression that produced them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import Any

from nnspec.catalog import LAYERS, REQUIRED, LayerDef, check_kind, ops
from nnspec.diagnostics import Collector, Pos, did_you_mean
from nnspec.elaborate import initrules, unused
from nnspec.elaborate import user_layers as extend
from nnspec.frontend.document import Document, PathKey
from nnspec.frontend.validate import BlockSpec, ChildSpec, IfStep, InputSpec, SpecFile
from nnspec.ir.program import (
    Call,
    Child,
    If,
    Input,
    Instance,
    ModuleClass,
    Param,
    Program,
    RawTensor,
    Repeat,
    Seq,
    Stmt,
    Tie,
)
from nnspec.language.expr import RESERVED, Expr, ExprError, check, evaluate, parse, parse_statement
from nnspec.language.names import TEMPLATE_FIELD, identifier_problem
from nnspec.language.types import TYPE_NAMES, infer_type, param_type_problem

MAX_INSTANCES = 200_000


def elaborate(doc: Document, spec: SpecFile, source: str,
              allow_import: Sequence[str] = ()) -> tuple[Program, Instance]:
    """The IR for a validated spec, and its instance tree for the root's default parameters.

    Errors in one class do not hide errors elsewhere: the instance tree is still built (and its
    values checked) around the children that failed, unless blocks form a cycle. Warnings are
    reported only for a spec without errors, in `doc.warnings`. User layers (`layers:`) are
    usable when declared by the user's code or from a package in `allow_import`.
    """
    errors = Collector(doc.origins)
    ctx = _Context(doc, spec, errors, allow_import)
    classes: dict[str, ModuleClass] = {}
    root_name = spec.model.name
    _name_ok(root_name, "model name", doc.where(("model", "name")), errors)
    for name, block in spec.blocks.items():
        if _name_ok(name, "block name", doc.where(("blocks", name), key=True), errors):
            if name == root_name:
                errors.error("name-clash", f"block '{name}' has the model's name",
                             doc.where(("blocks", name), key=True))
            elif name in LAYERS:
                errors.error("name-clash", f"block '{name}' hides the torch layer of that name",
                             doc.where(("blocks", name), key=True),
                             f"rename the block, e.g. '{name}Block'")
            classes[name] = ctx.module_class(name, block, ("blocks", name))
    classes[root_name] = ctx.module_class(root_name, spec.model, ("model",))
    child_names = {n: {c.name for c in cls.children} for n, cls in classes.items()}
    for name, cls in classes.items():
        path: PathKey = ("model",) if name == root_name else ("blocks", name)
        block = spec.model if name == root_name else spec.blocks[name]
        cls.init = initrules.check_rules(block.init, path, doc, errors, name, child_names,
                                         ctx.parser({p.name for p in cls.params}),
                                         ctx.user_layers)
    inputs = ctx.inputs(classes[root_name])
    before_cycles = len(errors.errors)
    order = _dependency_order(classes, root_name, errors)
    program = Program(root=root_name, classes={n: classes[n] for n in order}, inputs=inputs,
                      source=source, digest=doc.digest(), resolved=doc.data,
                      user_layers={path: ctx.where(("layers", name))
                                   for name, path in ctx.user_layers.items()},
                      allow_import=extend.effective_allow(ctx.user_layers.values(),
                                                          allow_import))
    tree = Instance("", root_name, "block", {}, [], classes[root_name].pos)
    if len(errors.errors) == before_cycles and root_name not in ctx.tainted:
        tree = instantiate(program, errors, ctx.tainted)
    errors.check()
    doc.warnings = unused.warnings(doc, spec, program, ctx.unused_children, ctx.input_reads)
    return program, tree


def _name_ok(name: str, what: str, pos: Pos, errors: Collector) -> bool:
    problem = identifier_problem(name)
    if problem:
        errors.error("bad-name", f"invalid {what}: {problem}", pos)
    return problem is None


class _Context:
    """Per-spec state shared while building the classes."""

    def __init__(self, doc: Document, spec: SpecFile, errors: Collector,
                 allow_import: Sequence[str] = ()):
        self.doc, self.spec, self.errors = doc, spec, errors
        self.blocks = set(spec.blocks)
        taken = {spec.model.name: "the model"} | {b: f"block '{b}'" for b in spec.blocks}
        # call name -> 'module:Class', and the names whose entry failed (already reported)
        self.user_layers, self.broken_layers = extend.resolve(spec.layers, doc, errors,
                                                              allow_import, taken)
        self.tainted: set[str] = set()  # classes whose parameters are in error: not built
        self.unused_children: list[tuple[str, str, Pos]] = []  # (class, child, position)
        self.input_reads: set[str] = set()  # root parameters read by input sizes and ranges

    def where(self, path: PathKey, key: bool = False) -> Pos:
        return self.doc.where(path, key)

    def parser(self, names: set[str]):
        """Parses an expression over `names` (a class's parameters), at a spec path."""
        return lambda text, path: self.expr(text, path, names)

    # --- inputs and parameters ----------------------------------------------------------

    def inputs(self, root: ModuleClass) -> list[Input]:
        out = []
        for name, decl in self.spec.inputs.items():
            pos = self.where(("inputs", name), key=True)
            _name_ok(name, "input name", pos, self.errors)
            spec = decl if isinstance(decl, InputSpec) else InputSpec(shape=decl)
            path = ("inputs", name) if not isinstance(decl, InputSpec) else (
                "inputs", name, "shape")
            shape = [self.input_size(d, path + (i,), root) for i, d in enumerate(spec.shape)]
            if any(d <= 0 for d in shape):
                self.errors.error("bad-value", f"input '{name}' has a non-positive dimension "
                                  f"{shape}", self.where(("inputs", name)))
            bounds = tuple(self.input_size(v, ("inputs", name, "range", i), root, "a range bound")
                           for i, v in enumerate(spec.range or ()))
            if bounds and bounds[0] >= bounds[1]:
                self.errors.error("bad-value", f"input '{name}': range {list(bounds)} is empty",
                                  self.where(("inputs", name, "range")))
            out.append(Input(name, tuple(shape), spec.dtype, bounds or None))
        return out

    def input_size(self, size: int | str, path: PathKey, root: ModuleClass,
                   what: str = "an input size") -> int:
        """A declared input size or range bound: an int, or an expression over the root's
        parameters (with their defaults, after overrides), so `x: [3, image_size, image_size]`
        follows `--set image_size=32`. 1 where it cannot be evaluated (the error is reported)."""
        if isinstance(size, int):
            return size
        expr = self.expr(size, path, {p.name for p in root.params})
        if expr is None:
            return 1
        self.input_reads |= expr.names()
        try:
            value = evaluate(expr.node, {p.name: p.default for p in root.params})
        except ExprError as err:
            self.errors.error(err.code, err.message, expr.error_pos(err))
            return 1
        if isinstance(value, bool) or not isinstance(value, int):
            self.errors.error("wrong-type", f"{what} is an int, got {value!r}",
                              self.where(path))
            return 1
        return value

    def params(self, block: BlockSpec, path: PathKey) -> list[Param]:
        out = []
        for name, decl in block.params.items():
            pos = self.where(path + ("params", name), key=True)
            if _name_ok(name, "parameter name", pos, self.errors) and name in RESERVED:
                self.errors.error("bad-name", f"invalid parameter name: '{name}' is a function "
                                  "in expressions", pos, "choose another name")
            if isinstance(decl, str) and decl in TYPE_NAMES:
                type_name, default = decl, REQUIRED
            elif hasattr(decl, "type"):
                type_name = decl.type
                default = REQUIRED if decl.default is None else decl.default
            else:
                type_name, default = infer_type(decl), decl
            if default is not REQUIRED:
                problem = param_type_problem(type_name, default)
                if problem:
                    self.errors.error("wrong-type", f"default of '{name}' should be {problem}",
                                      self.where(path + ("params", name, "default")))
            if default is REQUIRED and any(p.default is not REQUIRED for p in out):
                self.errors.error("param-order", f"required parameter '{name}' follows a "
                                  "parameter with a default", pos,
                                  "declare required parameters first, as Python does")
            out.append(Param(name, type_name, default, pos))
        return out

    # --- classes ------------------------------------------------------------------------

    def module_class(self, name: str, block: BlockSpec, path: PathKey) -> ModuleClass:
        before = len(self.errors.errors)
        params = self.params(block, path)
        if len(self.errors.errors) > before:
            self.tainted.add(name)
        param_names = {p.name for p in params}
        is_root = path == ("model",)
        inputs = list(self.spec.inputs) if is_root else list(block.inputs)
        if not is_root:
            for i, input_name in enumerate(inputs):
                _name_ok(input_name, "input name", self.where(path + ("inputs", i)), self.errors)
        children = self.children(block.children, path + ("children",), param_names,
                                 numbered=isinstance(block.children, list))
        if block.base == "Module" and isinstance(block.children, list) and block.children:
            self.errors.error("wrong-type", "a Module's children are a mapping of names; a "
                              "list of children needs `base: Sequential`",
                              self.where(path + ("children",)))
        if block.base == "ModuleList" and isinstance(block.children, dict) and block.children:
            self.errors.error("wrong-type", "a ModuleList's children are a list",
                              self.where(path + ("children",)))
        child_names = {c.name for c in children}
        for clash in sorted(child_names & param_names):
            self.errors.error("name-clash", f"'{clash}' is both a child and a parameter",
                              self.where(path + ("children", clash), key=True))
        if block.base == "Module":  # forward code would read `self.<name>` for the input
            for i, input_name in enumerate(inputs):
                if input_name in child_names or input_name in param_names:
                    what = "child" if input_name in child_names else "parameter"
                    if is_root:
                        pos = self.where(("inputs", input_name), key=True)
                    elif path + ("inputs", i) in self.doc.pos:
                        pos = self.where(path + ("inputs", i))
                    else:  # the default input 'x': point at the clashing declaration
                        section = "children" if what == "child" else "params"
                        pos = self.where(path + (section, input_name), key=True)
                    self.errors.error("name-clash", f"input '{input_name}' has the name of a "
                                      f"{what} of '{name}'", pos, "rename one of them")
        cls = ModuleClass(name, block.base, params, inputs, children, [], self.where(path),
                          block.doc)
        taken = {**{p: "a parameter of the class" for p in param_names},
                 **{c: "a child" for c in child_names},
                 **({i: "an input" for i in inputs} if block.base == "Module" else {})}
        cls.tensors = self.tensors(block, path, param_names, taken)
        cls.ties = self.ties(block, path)
        declared = set(block.parameters) | set(block.buffers)  # failed ones too: no cascade
        if block.forward == "unknown":
            cls.forward_unknown = True
            return cls
        if block.base == "Sequential":
            if block.forward is not None:
                self.errors.error("bad-forward", "a Sequential block runs its children in "
                                  "order; it cannot have a forward",
                                  self.where(path + ("forward",), key=True))
            return cls
        if block.base == "ModuleList":
            if block.forward is not None:
                self.errors.error("bad-forward", "a ModuleList block has no forward",
                                  self.where(path + ("forward",), key=True))
            return cls
        scope = _Scope(self, path, param_names, child_names, inputs, declared)
        if block.forward is None:
            cls.forward = self.default_forward(cls, path)
        else:
            cls.forward = scope.steps(block.forward, path + ("forward",))
            if not block.forward or not _returns(block.forward[-1]):
                self.errors.error("missing-return", f"forward of '{name}' does not end with a "
                                  "'return'", self.where(path + ("forward",), key=True),
                                  "add a last step such as 'return x'")
            self.unused_children += [
                (name, c.name, self.where(path + ("children", c.name), key=True))
                for c in children if c.name not in scope.called]
        # the default forward's `if` steps read parameters too (conditional children)
        cond_params = {n for step in _ifs(cls.forward) for n in step.cond.names()}
        cls.forward_params = sorted(scope.used_params | cond_params)
        return cls

    def tensors(self, block: BlockSpec, path: PathKey, params: set[str],
                taken: dict[str, str]) -> list[RawTensor]:
        """The parameters and buffers the class creates itself, parameters first."""
        out = []
        for kind, section in (("parameter", block.parameters), ("buffer", block.buffers)):
            for name, decl in section.items():
                at = (*path, f"{kind}s", name)
                pos = self.where(at, key=True)
                if not _name_ok(name, f"{kind} name", pos, self.errors):
                    continue
                if name in taken:
                    self.errors.error("name-clash", f"{kind} '{name}' has the name of "
                                      f"{taken[name]}", pos, "rename one of them")
                    continue
                taken[name] = f"a {kind}"
                if block.base != "Module":
                    self.errors.error("bad-tensor", f"a {block.base} block cannot create "
                                      f"{kind}s: nothing would read them",
                                      self.where((*path, "base")), "use `base: Module`")
                    continue
                tensor = self.tensor(name, kind, decl, at, params)
                if tensor is not None:
                    out.append(tensor)
        return out

    def tensor(self, name: str, kind: str, decl: Any, at: PathKey,
               params: set[str]) -> RawTensor | None:
        shape = [self.expr(str(d), (*at, "shape", i), params) for i, d in enumerate(decl.shape)]
        fn = initrules.function(decl.init, (*at, "init"), self.doc, self.errors,
                                self.parser(params),
                                (initrules.TRIL,) if kind == "buffer" else ())
        dtype = decl.dtype
        floating = dtype is None or dtype.startswith(("float", "bfloat"))
        if not floating and kind == "parameter":
            self.errors.error("wrong-type", f"parameter '{name}' has dtype {dtype}: only "
                              "floating point tensors can require gradients",
                              self.where((*at, "dtype")))
            return None
        if fn is None or None in shape:
            return None
        if fn[0] == initrules.TRIL and len(shape) < 2:
            self.errors.error("bad-value", f"'tril' needs at least 2 dimensions; buffer "
                              f"'{name}' has {len(shape)}", self.where((*at, "shape")))
            return None
        if not floating and fn[0] not in ("zeros", "ones", "constant", initrules.TRIL):
            self.errors.error("wrong-type", f"init '{fn[0]}' draws random floats; buffer "
                              f"'{name}' has dtype {dtype}", self.where((*at, "init")))
            return None
        return RawTensor(name, kind, shape, fn[0], fn[1], self.where(at, key=True), dtype,
                         getattr(decl, "persistent", True))

    def ties(self, block: BlockSpec, path: PathKey) -> list[Tie]:
        """`tie: {target: source}`: paths checked here, against the tree when instantiated."""
        out: list[Tie] = []
        for target, source in block.tie.items():
            tie = Tie(target, source, self.where((*path, "tie", target), key=True),
                      self.where((*path, "tie", target)))
            problems = [(text, pos, initrules.child_path_problem(text)) for text, pos in (
                (target, tie.pos), (source, tie.source_pos))]
            bad = next(((text, pos, p) for text, pos, p in problems if p), None)
            if bad:
                self.errors.error("bad-tie", f"'{bad[0]}' is not a path like "
                                  f"'lm_head.weight': {bad[2]}", bad[1])
            elif target == source:
                self.errors.error("bad-tie", f"'{target}' is tied to itself", tie.pos)
            elif any(target == t.source or source == t.target for t in out):
                self.errors.error("bad-tie", "a tie's target cannot be another tie's source",
                                  tie.pos, "tie every target to the one source")
            else:
                out.append(tie)
        return out

    def default_forward(self, cls: ModuleClass, path: PathKey) -> list:
        """Children in order, for a Module without an explicit forward."""
        if len(cls.inputs) != 1:
            self.errors.error("bad-forward", f"'{cls.name}' takes {len(cls.inputs)} inputs, so "
                              "it needs an explicit forward", self.where(path, key=True))
            return []
        x = cls.inputs[0]
        steps: list = []
        for child in cls.children:
            stmt = Stmt(_statement("x = f(x)", x=x, f=child.name), child.pos)
            optional = child.cond and not child.orelse
            steps.append(If(child.cond, [stmt], [], child.pos) if optional else stmt)
        steps.append(Stmt(_statement("return x", x=x), cls.pos))
        return steps

    # --- children -----------------------------------------------------------------------

    def children(self, raw: Any, path: PathKey, params: set[str], numbered: bool) -> list[Child]:
        items = list(enumerate(raw)) if numbered else list(raw.items())
        out = []
        for key, value in items:
            name = str(key)
            if not numbered and not (isinstance(value, ChildSpec) and value.repeat is not None):
                _name_ok(name, "child name", self.where(path + (key,), key=True), self.errors)
            child = self.child(name, value, path + (key,), params, numbered)
            if child is not None:
                out.append(child)
        return out

    def child(self, name: str, value: Any, path: PathKey, params: set[str],
              numbered: bool = False) -> Child | None:
        pos = self.where(path)
        cond = orelse = None
        if isinstance(value, ChildSpec):
            if value.repeat is not None or value.as_ is not None or value.do is not None:
                return self.repeat(name, value, path, params, numbered)
            if (value.call is None) == (value.seq is None):
                self.errors.error("bad-child", "a child mapping needs exactly one of 'call' and "
                                  "'seq'", pos)
                return None
            if value.if_ is not None:
                cond = self.expr(value.if_, path + ("if",), params)
            if value.else_ is not None:
                if value.if_ is None:
                    self.errors.error("bad-child", "'else' needs 'if'",
                                      self.where(path + ("else",), key=True))
                    return None
                orelse = self.child(name, value.else_, path + ("else",), params)
                if orelse is None:
                    return None
                if orelse.cond is not None:
                    self.errors.error("bad-child", "an 'else' child cannot have its own 'if'",
                                      self.where(path + ("else", "if"), key=True),
                                      "nest the choice in a block, or use 'if' on the outer child")
                    return None
            if value.call is not None:
                path, value = path + ("call",), value.call
            else:
                path, value = path + ("seq",), value.seq
        if isinstance(value, str):
            call = self.call(value, path, params)
            return Child(name, call, cond, pos, orelse) if call else None
        named = isinstance(value, dict)
        seq = Seq(self.children(value, path, params, numbered=not named), named, self.where(path))
        return Child(name, seq, cond, pos, orelse)

    def repeat(self, name: str, value: ChildSpec, path: PathKey, params: set[str],
               numbered: bool) -> Child | None:
        """`{repeat: N, as: i, call|seq|do: ...}`: a loop inside a numbered Sequential."""
        pos = self.where(path)
        if not numbered and not self.name_template(name, value, path):
            return None
        if value.repeat is None:
            self.errors.error("bad-child", f"'{'as' if value.as_ is not None else 'do'}' needs "
                              "'repeat'", pos)
            return None
        bodies = [key for key in ("call", "seq", "do") if getattr(value, key) is not None]
        if value.else_ is not None:
            self.errors.error("bad-child", "a repeat has no 'else'",
                              self.where(path + ("else",), key=True))
            return None
        if len(bodies) != 1:
            self.errors.error("bad-child", "a repeat needs exactly one of 'call', 'seq' and "
                              "'do'", pos)
            return None
        count_text = str(value.repeat)
        count = self.expr(count_text, path + ("repeat",), params)
        cond = self.expr(value.if_, path + ("if",), params) if value.if_ is not None else None
        var = value.as_
        if var is not None:
            var_pos = self.where(path + ("as",))
            if not _name_ok(var, "loop variable", var_pos, self.errors):
                return None
            if var in params or var in RESERVED:
                self.errors.error("name-clash", f"loop variable '{var}' hides a "
                                  f"{'parameter' if var in params else 'function'}", var_pos,
                                  "choose another name")
                return None
            params = params | {var}
        if value.do is not None:
            items = self.children(value.do, path + ("do",), params, numbered=True)
        else:
            key = bodies[0]
            inner = ChildSpec.model_construct(**{key: getattr(value, key)})
            one = self.child(name if not numbered else "0", inner, path, params)
            items = [one] if one is not None else []
        if count is None:
            return None
        return Child(name, Repeat(count, var, items, pos), cond, pos)

    def name_template(self, name: str, value: ChildSpec, path: PathKey) -> bool:
        """A repeat among named children names each instance from a template with its loop
        variable, as torchvision's `layers[f"encoder_layer_{i}"]`: one item, no `do`."""
        where = self.where(path, key=True)
        if not _is_name_template(name, value):
            self.errors.error("bad-child", "'repeat' among named children needs a name template "
                              "with its loop variable, like 'layer_{i}' with 'as: i'", where,
                              "or write the children as a list, numbered 0, 1, ...")
            return False
        if value.do is not None:
            self.errors.error("bad-child", "a named repeat makes one child per round: use "
                              "'call' or 'seq', not 'do'", self.where(path + ("do",), key=True))
            return False
        if identifier_problem(name.replace("{" + str(value.as_) + "}", "x")):
            self.errors.error("bad-name", f"invalid child name template '{name}': with its "
                              "loop variable filled in it must be a Python identifier", where)
            return False
        return True

    def expr(self, text: str, path: PathKey, names: set[str]) -> Expr | None:
        pos = self.where(path)
        try:
            node = parse(text)
            check(node, names)
        except ExprError as err:
            self.errors.error(err.code, err.message, pos.shifted(err.offset, err.length),
                              err.hint)
            return None
        return Expr(node, pos)

    def call(self, text: str, path: PathKey, params: set[str]) -> Call | None:
        pos = self.where(path)
        try:
            node = parse(text, "layer call")
        except ExprError as err:
            self.errors.error(err.code, err.message, pos.shifted(err.offset, err.length))
            return None
        if isinstance(node, ast.Name):
            node = ast.Call(node, [], [], col_offset=0, end_col_offset=len(node.id),
                            lineno=1, end_lineno=1)
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            self.errors.error("bad-call", f"expected a layer call such as 'Conv2d(3, 8, 3)', "
                              f"got '{text}'", pos)
            return None
        target = node.func.id
        whole = Expr(node, pos)
        if target in self.blocks:
            block = self.spec.blocks[target]
            sig = [(p, isinstance(d, str) and d in TYPE_NAMES or (
                hasattr(d, "type") and d.default is None), False) for p, d in block.params.items()]
            kind = "block"
        elif target in LAYERS or target in self.user_layers:
            sig = [(a.name, a.required, a.kwonly)
                   for a in LAYERS[self.user_layers.get(target, target)].args]
            kind = "layer"
        elif target in self.broken_layers:
            return None
        else:
            known = set(LAYERS) | self.blocks | set(self.user_layers)
            self.errors.error("unknown-layer", f"unknown layer or block '{target}'",
                              whole.at(node.func), did_you_mean(target, sorted(known)))
            return None
        args = self.bind(node, whole, target, sig, params)
        if args is None:
            return None
        return Call(self.user_layers.get(target, target), kind, args, pos,
                    frozenset(k.arg for k in node.keywords if k.arg))

    def bind(self, node: ast.Call, whole: Expr, target: str, sig: list[tuple[str, bool, bool]],
             params: set[str]) -> dict[str, Expr] | None:
        """Arguments by name, in signature order, each a checked expression."""
        ok = True
        given: dict[str, ast.expr] = {}
        positional = [name for name, _, kwonly in sig if not kwonly]
        for i, arg in enumerate(node.args):
            if isinstance(arg, ast.Starred) or i >= len(positional):
                self.errors.error("too-many-arguments", f"{target}() takes at most "
                                  f"{len(positional)} positional arguments", whole.at(arg))
                ok = False
                continue
            given[positional[i]] = arg
        names = [name for name, _, _ in sig]
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in names:
                shown = kw.arg or "**"
                self.errors.error("unknown-argument", f"{target}() has no argument '{shown}'",
                                  whole.at(kw), did_you_mean(shown, names)
                                  or f"arguments: {', '.join(names) or 'none'}")
                ok = False
            elif kw.arg in given:
                self.errors.error("duplicate-argument", f"{target}() got '{kw.arg}' twice",
                                  whole.at(kw))
                ok = False
            else:
                given[kw.arg] = kw.value
        inferable = LAYERS[target].infer if target in LAYERS else {}
        for name, required, _ in sig:
            if required and name not in given and name not in inferable:
                self.errors.error("missing-argument", f"{target}() is missing required "
                                  f"argument '{name}'", whole.at(node),
                                  f"{target}({', '.join(n for n, r, _ in sig if r)})")
                ok = False
        bound: dict[str, Expr] = {}
        for name in names:
            if name in given:
                try:
                    check(given[name], params)
                except ExprError as err:
                    self.errors.error(err.code, err.message, whole.pos.shifted(
                        err.offset, err.length), err.hint)
                    ok = False
                bound[name] = Expr(given[name], whole.pos)
        return bound if ok else None


def _is_name_template(name: str, value: Any) -> bool:
    """`name` holds `{var}` for the loop variable of the repeat `value`, and nothing else in
    braces."""
    if not isinstance(value, ChildSpec) or value.repeat is None or not value.as_:
        return False
    return re.fullmatch(r"[^{}]*\{" + re.escape(value.as_) + r"\}[^{}]*", name) is not None


def child_name(name: str, env: dict[str, Any], count: int) -> str:
    """An instance's name: its own, its number in a list, or a named repeat's template filled
    in with the loop variable."""
    if name.isdigit():
        return str(count)
    if "{" in name:
        return TEMPLATE_FIELD.sub(lambda m: str(env[m.group(1)]), name)
    return name


def _statement(template: str, **names: str) -> ast.stmt:
    """A statement with names put in as AST nodes, never as text (a bad name cannot parse)."""
    node = ast.parse(template).body[0]
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            sub.id = names[sub.id]
    return node


def _returns(step: Any) -> bool:
    """Whether a raw forward step is a `return` (judged on the text, so that a return with an
    error of its own is not also reported as missing)."""
    return isinstance(step, str) and re.match(r"\s*return\b", step) is not None


class _Scope:
    """Checks forward steps: which names are values, children and parameters at each point."""

    def __init__(self, ctx: _Context, path: PathKey, params: set[str], children: set[str],
                 inputs: list[str], tensors: set[str]):
        self.ctx, self.path = ctx, path
        self.params, self.children, self.tensors = params, children, tensors
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
            cond = self.ctx.expr(raw.if_, path + ("if",), self.params)
            if cond is None:
                return None
            self.used_params |= cond.names()
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
                                                                ast.Return)):
            self.ctx.errors.error("bad-forward", "a forward step is one assignment "
                                  "('y = conv(x)') or a 'return'", pos)
            return None
        node = tree.body[0]
        expr = Expr(node, pos)  # type: ignore[arg-type]  # only used for sub-positions
        try:
            self.check_value(node.value, expr)
            if isinstance(node, ast.AugAssign):
                self.check_value(node.target, expr)
                if isinstance(node.target, ast.Name) and node.target.id in self.tensors:
                    raise ExprError("bad-forward", f"'{node.target.id}' is a parameter or "
                                    "buffer of the module; it cannot be updated in place",
                                    node.target)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    self.bind_target(target, expr)
        except ExprError as err:
            self.ctx.errors.error(err.code, err.message, pos.shifted(err.offset, err.length),
                                  err.hint)
            if isinstance(node, ast.Assign):  # later steps may use the names: no cascade
                self.values |= {n.id for t in node.targets for n in ast.walk(t)
                                if isinstance(n, ast.Name)}
            return None
        return Stmt(node, pos)

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
            if node.id in self.values or node.id in self.tensors:
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
                if node.attr in ops.DTYPES:  # `torch.long`: only dtype names are values
                    return
                raise ExprError("unknown-op", f"'torch.{node.attr}' is not a dtype; the only "
                                "torch attributes a forward may read are dtypes", node,
                                did_you_mean(f"torch.{node.attr}",
                                             [f"torch.{n}" for n in sorted(ops.DTYPES)]))
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
        if isinstance(func, ast.Name):
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


def _dependency_order(classes: dict[str, ModuleClass], root: str,
                      errors: Collector) -> list[str]:
    """Blocks before the classes that use them, root last; a cycle is an error."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "active"
        for call in _calls(classes[name].children):
            if call.kind != "block" or call.target not in classes:
                continue
            if state.get(call.target) == "active":
                cycle = " -> ".join(trail[trail.index(call.target):] + [call.target]) \
                    if call.target in trail else f"{name} -> {call.target}"
                errors.error("block-cycle", f"block '{call.target}' contains itself: {cycle}",
                             call.pos, "a block cannot be its own descendant")
            elif call.target not in state:
                visit(call.target, trail + [call.target])
        state[name] = "done"
        order.append(name)

    visit(root, [root])
    return order


def _calls(children: list[Child]):
    for child in children:
        if isinstance(child.value, (Seq, Repeat)):
            yield from _calls(child.value.items)
        else:
            yield child.value
        if child.orelse is not None:
            yield from _calls([child.orelse])


# --- instantiation ---------------------------------------------------------------------------


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
        for step in _ifs(cls.forward):
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
            dims = []
            for dim in tensor.shape:
                ok, value = self.value(dim, env, path)
                if ok and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                    self.error("bad-value", f"{tensor.kind} '{tensor.name}': a dimension is "
                               f"an int >= 0, got {value!r}", dim.where, path,
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
                if ok and check_kind("float", value):
                    self.error("wrong-type", f"{fn}() argument '{name}' should be a number, "
                               f"got {value!r}", arg.where, path)

    def absent_calls(self, steps: list, absent: dict[str, Expr], env: dict[str, Any],
                     path: str) -> None:
        """A forward step that runs must not call a conditional child that was left out."""
        for step in steps:
            if isinstance(step, If):
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
                out.append(Instance(sub, "Sequential", "seq", {},
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
            for param in cls.params:
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
            expected = check_kind(arg.kind, value)
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


def _ifs(steps: list):
    for step in steps:
        if isinstance(step, If):
            yield step
            yield from _ifs(step.then)
            yield from _ifs(step.orelse)

