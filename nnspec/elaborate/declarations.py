"""Declarations to IR values: the model's inputs, a class's parameters, the parameters and
buffers it holds itself, and its ties."""

from __future__ import annotations

import ast
import math
from typing import Any

from nnspec.catalog import REQUIRED
from nnspec.catalog.init_functions import TRIL
from nnspec.elaborate import initrules
from nnspec.elaborate.context import Context, name_ok
from nnspec.elaborate.forward import Scope, returns
from nnspec.frontend.document import PathKey
from nnspec.frontend.validate import BlockSpec, InputSpec
from nnspec.ir.program import (
    COMPUTED,
    Input,
    ModuleClass,
    Param,
    RawTensor,
    Stmt,
    Tie,
    step_nodes,
)
from nnspec.language.expr import ExprError, evaluate
from nnspec.language.types import TYPE_NAMES, infer_type, param_type_problem

# elements in one sample of a declared input: building makes an example of it (and runs the
# forward on it), so a larger one would exhaust memory rather than say why
MAX_INPUT_ELEMENTS = 10**9
# [low, high) of the values each input dtype holds: a declared range must lie within
DTYPE_BOUNDS: dict[str, tuple[float, float]] = {
    "bool": (0, 2), "uint8": (0, 2**8), "int8": (-2**7, 2**7), "int16": (-2**15, 2**15),
    "int32": (-2**31, 2**31), "int64": (-2**63, 2**63), "float16": (-65504, 65504),
    "bfloat16": (-3.3895e38, 3.3895e38), "float32": (-3.4028e38, 3.4028e38),
    "float64": (-1.7976e308, 1.7976e308),
}


# levels of lists in a parameter's value (its default, or a `--set` value): generated code
# writes the value as a literal, and formatting and compiling a literal recurse once per level
MAX_VALUE_NESTING = 32


def _nesting(value: Any) -> int:
    """Levels of lists and tuples in `value` (0 for a scalar), counted without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend((v, level + 1) for v in item)
            deepest = max(deepest, level + 1)
    return deepest


def _fits(bounds: tuple[int, ...], dtype: str) -> bool:
    low, high = DTYPE_BOUNDS.get(dtype, (-math.inf, math.inf))
    return low <= bounds[0] and bounds[1] <= high


class Declarations(Context):
    """Inputs, parameters, own tensors and ties, checked."""

    # --- inputs and parameters ----------------------------------------------------------

    def inputs(self, root: ModuleClass) -> list[Input]:
        out = []
        for name, decl in self.spec.inputs.items():
            pos = self.where(("inputs", name), key=True)
            name_ok(name, "input name", pos, self.errors)
            spec = decl if isinstance(decl, InputSpec) else InputSpec(shape=decl)
            path = ("inputs", name) if not isinstance(decl, InputSpec) else (
                "inputs", name, "shape")
            shape = [self.input_size(d, path + (i,), root) for i, d in enumerate(spec.shape)]
            if any(d <= 0 for d in shape):
                self.errors.error("bad-value", f"input '{name}' has a non-positive dimension "
                                  f"{shape}", self.where(("inputs", name)))
            elif math.prod(shape) > MAX_INPUT_ELEMENTS:
                self.errors.error("out-of-range", f"input '{name}' has {math.prod(shape):,} "
                                  f"elements per sample; the limit is {MAX_INPUT_ELEMENTS:,}",
                                  self.where(("inputs", name)),
                                  "building runs the forward on an example of this shape")
            bounds = tuple(self.input_size(v, ("inputs", name, "range", i), root, "a range bound")
                           for i, v in enumerate(spec.range or ()))
            if bounds and bounds[0] >= bounds[1]:
                self.errors.error("bad-value", f"input '{name}': range {list(bounds)} is empty",
                                  self.where(("inputs", name, "range")))
            elif bounds and not _fits(bounds, spec.dtype):
                low, high = DTYPE_BOUNDS[spec.dtype]
                self.errors.error("out-of-range", f"input '{name}': range {list(bounds)} does "
                                  f"not fit {spec.dtype}, whose values lie in [{low}, {high})",
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
            self.local_name_ok(name, "parameter name", pos)
            if isinstance(decl, str) and decl in TYPE_NAMES:
                type_name, default = decl, REQUIRED
            elif hasattr(decl, "type"):
                type_name = decl.type
                default = REQUIRED if decl.default is None else decl.default
            else:
                type_name, default = infer_type(decl), decl
            if default is not REQUIRED and _nesting(default) > MAX_VALUE_NESTING:
                self.errors.error("too-complex", f"the value of '{name}' nests "
                                  f"{_nesting(default)} levels of lists deep; the limit is "
                                  f"{MAX_VALUE_NESTING}", self.where(path + ("params", name)))
            elif default is not REQUIRED:
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

    def tensors(self, block: BlockSpec, path: PathKey, params: set[str],
                taken: dict[str, str]) -> list[RawTensor]:
        """The parameters and buffers the class creates itself, parameters first."""
        out = []
        for registered_as, section in (("parameter", block.parameters), ("buffer", block.buffers)):
            for name, decl in section.items():
                at = (*path, f"{registered_as}s", name)
                pos = self.where(at, key=True)
                if not name_ok(name, f"{registered_as} name", pos, self.errors):
                    continue
                if name in taken:
                    self.errors.error("name-clash", f"{registered_as} '{name}' has the name of "
                                      f"{taken[name]}", pos, "rename one of them")
                    continue
                taken[name] = f"a {registered_as}"
                if block.base != "Module":
                    self.errors.error("bad-tensor", f"a {block.base} block cannot create "
                                      f"{registered_as}s: nothing would read them",
                                      self.where((*path, "base")), "use `base: Module`")
                    continue
                tensor = self.tensor(name, registered_as, decl, at, params)
                if tensor is not None:
                    tensor.after_children = decl.after_children
                    out.append(tensor)
        return out

    def tensor(self, name: str, registered_as: str, decl: Any, at: PathKey,
               params: set[str]) -> RawTensor | None:
        compute = getattr(decl, "compute", None)
        if compute is not None or decl.shape is None or decl.init is None:
            return self.computed(name, decl, at, params)
        shape = [self.expr(str(d), (*at, "shape", i), params) for i, d in enumerate(decl.shape)]
        fn = initrules.function(decl.init, (*at, "init"), self.doc, self.errors,
                                self.parser(params),
                                (TRIL,) if registered_as == "buffer" else ())
        dtype = decl.dtype
        floating = dtype is None or dtype.startswith(("float", "bfloat"))
        if not floating and registered_as == "parameter":
            self.errors.error("wrong-type", f"parameter '{name}' has dtype {dtype}: only "
                              "floating point tensors can require gradients",
                              self.where((*at, "dtype")))
            return None
        if fn is None or None in shape:
            return None
        if fn[0] == TRIL and len(shape) < 2:
            self.errors.error("bad-value", f"'tril' needs at least 2 dimensions; buffer "
                              f"'{name}' has {len(shape)}", self.where((*at, "shape")))
            return None
        if not floating and fn[0] not in ("zeros", "ones", "constant", TRIL):
            self.errors.error("wrong-type", f"init '{fn[0]}' draws random floats; buffer "
                              f"'{name}' has dtype {dtype}", self.where((*at, "init")))
            return None
        return RawTensor(name, registered_as, shape, fn[0], fn[1], self.where(at, key=True), dtype,
                         getattr(decl, "persistent", True))

    def computed(self, name: str, decl: Any, at: PathKey, params: set[str]) -> RawTensor | None:
        """A buffer computed by forward-style steps over the class's parameters, as torch code
        computes one in `__init__`; its shape and dtype are the static pass's to find."""
        if decl.compute is None or decl.shape is not None or decl.init is not None:
            self.errors.error("bad-tensor", f"buffer '{name}' takes either 'shape' and 'init', "
                              "or 'compute'", self.where(at, key=True),
                              "compute: [..., 'return torch.arange(n)'] computes the value")
            return None
        if decl.dtype is not None:
            self.errors.error("bad-tensor", f"buffer '{name}' is computed: its dtype is its "
                              "value's", self.where((*at, "dtype")),
                              "cast the returned value instead, as in '.float()'")
            return None
        scope = Scope(self, at, params, set(), [], set(), training=False)
        steps = scope.steps(decl.compute, (*at, "compute"))
        if not decl.compute or not returns(decl.compute[-1]):
            self.errors.error("missing-return", f"the steps computing buffer '{name}' do not "
                              "end with a 'return'", self.where((*at, "compute"), key=True),
                              "add a last step such as 'return torch.arange(n)'")
            return None
        if len(steps) != len(decl.compute):  # a step had an error, reported
            return None
        early = [node for node in step_nodes(steps[:-1]) if isinstance(node, ast.Return)]
        if early or not isinstance(steps[-1], Stmt):
            self.errors.error("bad-forward", f"the steps computing buffer '{name}' return only "
                              "at their end", self.where((*at, "compute"), key=True),
                              "compute other values into names, and return the last")
            return None
        return RawTensor(name, "buffer", [], COMPUTED, {}, self.where(at, key=True), None,
                         decl.persistent, steps)

    def ties(self, block: BlockSpec, path: PathKey, params: set[str]) -> list[Tie]:
        """`tie: {target: source}` (or `{target: {source, if}}`): paths checked here, against
        the tree when instantiated."""
        out: list[Tie] = []
        for target, decl in block.tie.items():
            at = (*path, "tie", target)
            source = decl if isinstance(decl, str) else decl.source
            cond = None if isinstance(decl, str) else self.expr(decl.if_, (*at, "if"), params)
            if not isinstance(decl, str) and cond is None:
                continue
            tie = Tie(target, source, self.where(at, key=True),
                      self.where(at if isinstance(decl, str) else (*at, "source")), cond)
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
