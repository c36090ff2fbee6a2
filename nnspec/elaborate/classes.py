"""Module classes: a block (or the model) from its spec model to an IR `ModuleClass`, with the
passes for declarations, children and forward steps."""

from __future__ import annotations

from nnspec.catalog import LAYERS, LayerDef
from nnspec.diagnostics import did_you_mean
from nnspec.elaborate.children import Children
from nnspec.elaborate.context import name_ok
from nnspec.elaborate.declarations import Declarations
from nnspec.elaborate.forward import Scope, returns, statement
from nnspec.frontend.document import PathKey
from nnspec.frontend.validate import BlockSpec
from nnspec.ir.program import (
    If,
    ModuleClass,
    Param,
    Stmt,
    if_steps,
)
from nnspec.language.names import CONTAINER_BASES, TEMPLATE_FIELD


class ClassBuilder(Declarations, Children):
    """Builds every class of one spec."""

    # --- classes ------------------------------------------------------------------------

    def module_class(self, name: str, block: BlockSpec, path: PathKey) -> ModuleClass:
        if block.base not in CONTAINER_BASES:
            # torch layers only (user layers' keys hold a ':'), and only for blocks
            if block.base in LAYERS and path != ("model",):
                return self.layer_class(name, block, path, LAYERS[block.base])
            self.errors.error("unknown-layer", f"base '{block.base}' is not Module, Sequential, "
                              "ModuleList or a torch layer (a block's)",
                              self.where(path + ("base",)),
                              did_you_mean(block.base, [*CONTAINER_BASES, *LAYERS]))
            self.tainted.add(name)  # its forward and its calls would only cascade
            return ModuleClass(name, "Module", [], [], [], [], self.where(path), block.doc)
        before = len(self.errors.errors)
        params = self.params(block, path)
        if len(self.errors.errors) > before:
            self.tainted.add(name)
        param_names = {p.name for p in params}
        is_root = path == ("model",)
        inputs = list(self.spec.inputs) if is_root else list(block.inputs)
        if not is_root:
            for i, input_name in enumerate(inputs):
                name_ok(input_name, "input name", self.where(path + ("inputs", i)), self.errors)
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
        cls.print_name = self.print_name(block, path)
        taken = {**{p: "a parameter of the class" for p in param_names},
                 **{c: "a child" for c in child_names},
                 **({i: "an input" for i in inputs} if block.base == "Module" else {})}
        cls.tensors = self.tensors(block, path, param_names, taken)
        cls.ties = self.ties(block, path, param_names)
        declared = set(block.parameters) | set(block.buffers)  # failed ones too: no cascade
        repr_params = self.extra_repr(cls, block, path, param_names)
        if block.forward == "unknown":
            cls.forward_unknown = True
            cls.forward_params = sorted(repr_params)
            return cls
        if block.base == "Sequential" and block.forward is None:
            return cls  # torch's own forward: the children in order
        if block.base == "ModuleList":
            if block.forward is not None:
                self.errors.error("bad-forward", "a ModuleList block has no forward",
                                  self.where(path + ("forward",), key=True))
            return cls
        scope = Scope(self, path, param_names, child_names, inputs, declared,
                      container=block.base == "Sequential")
        if block.forward is None:
            cls.forward = self.default_forward(cls, path)
        else:
            cls.forward = self.forward_steps(name, scope, block, path)
            self.unused_children += [] if block.base == "Sequential" else [
                (name, c.name, self.where(path + ("children", c.name), key=True))
                for c in children if c.name not in scope.called]
        # the default forward's `if` steps read parameters too (conditional children)
        cond_params = {n for step in if_steps(cls.forward) for n in step.cond.names()
                       if n in param_names}
        cls.forward_params = sorted(scope.used_params | cond_params | repr_params)
        return cls

    def forward_steps(self, name: str, scope: Scope, block: BlockSpec, path: PathKey) -> list:
        steps = scope.steps(block.forward, path + ("forward",))
        if not block.forward or not returns(block.forward[-1]):
            self.errors.error("missing-return", f"forward of '{name}' does not end with a "
                              "'return'", self.where(path + ("forward",), key=True),
                              "add a last step such as 'return x'")
        return steps

    def layer_class(self, name: str, block: BlockSpec, path: PathKey,
                    layer: LayerDef) -> ModuleClass:
        """A block that subclasses a torch layer (`base: LayerNorm`): it takes the layer's
        arguments, holds its tensors and prints as it does, and has a forward of its own, which
        reads the layer's attributes (`eps`, `normalized_shape`) and tensors (`weight`)."""
        for key in ("params", "children", "parameters", "buffers", "tie", "init", "extra_repr"):
            if getattr(block, key):
                self.errors.error("wrong-type", f"a block on {layer.name} has the layer's "
                                  f"arguments, tensors and printing; it cannot have '{key}'",
                                  self.where(path + (key,), key=True))
        where = self.where(path + ("base",))
        params = [Param(a.name, a.accepts, a.default, where) for a in layer.args]
        inputs = list(block.inputs)
        for i, input_name in enumerate(inputs):
            name_ok(input_name, "input name", self.where(path + ("inputs", i)), self.errors)
        cls = ModuleClass(name, layer.name, params, inputs, [], [], self.where(path), block.doc)
        cls.print_name = self.print_name(block, path)
        if not isinstance(block.forward, list):
            self.errors.error("bad-forward", f"a block on {layer.name} has a forward of its own "
                              f"(without one, call {layer.name} itself)",
                              self.where(path, key=True))
            return cls
        scope = Scope(self, path, {p.name for p in params}, set(), inputs,
                      set(layer.state_names()))
        cls.forward = self.forward_steps(name, scope, block, path)
        return cls

    def print_name(self, block: BlockSpec, path: PathKey) -> str | None:
        """`print_name: DlaTree`: the class name print() shows. Any identifier, a torch
        layer's included: it is only printed (imported classes whose instances differ are
        several blocks printing as one class)."""
        if block.print_name is not None and not block.print_name.isidentifier():
            self.errors.error("bad-name", f"invalid print_name: '{block.print_name}' is not a "
                              "Python identifier", self.where(path + ("print_name",)))
            return None
        return block.print_name

    def extra_repr(self, cls: ModuleClass, block: BlockSpec, path: PathKey,
                   param_names: set[str]) -> set[str]:
        """`extra_repr: "p={p}, mode={mode}"`: what print() shows inside the parentheses of a
        Module block; the parameters its fields name, which the class keeps as attributes."""
        if block.extra_repr is None:
            return set()
        where = self.where(path + ("extra_repr",))
        if block.base != "Module":
            self.errors.error("wrong-type", f"only a Module block prints an extra_repr; a "
                              f"{block.base} prints its children", where)
            return set()
        fields = set(TEMPLATE_FIELD.findall(block.extra_repr))
        for match in TEMPLATE_FIELD.finditer(block.extra_repr):
            if match.group(1) not in param_names:
                self.errors.error("unknown-name", f"extra_repr field '{match.group(0)}' is not "
                                  f"a parameter of '{cls.name}'",
                                  where.shifted(match.start(), len(match.group(0))),
                                  did_you_mean(match.group(1), sorted(param_names)))
        cls.extra_repr = block.extra_repr
        return fields & param_names

    def default_forward(self, cls: ModuleClass, path: PathKey) -> list:
        """Children in order, for a Module without an explicit forward."""
        if len(cls.inputs) != 1:
            self.errors.error("bad-forward", f"'{cls.name}' takes {len(cls.inputs)} inputs, so "
                              "it needs an explicit forward", self.where(path, key=True))
            return []
        x = cls.inputs[0]
        steps: list = []
        for child in cls.children:
            stmt = Stmt(statement("x = f(x)", x=x, f=child.name), child.pos)
            optional = child.cond and not child.orelse
            steps.append(If(child.cond, [stmt], [], child.pos) if optional else stmt)
        steps.append(Stmt(statement("return x", x=x), cls.pos))
        return steps
