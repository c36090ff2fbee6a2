"""Children to IR: each child's call parsed and bound to the catalog's or the block's
signature, Sequentials, conditions and `else:` alternatives, repeats and named repeats."""

from __future__ import annotations

import ast
import re
from typing import Any

from nnspec.catalog import LAYERS, check_accepts
from nnspec.diagnostics import did_you_mean
from nnspec.elaborate import reuse
from nnspec.elaborate.context import Context
from nnspec.frontend.document import PathKey
from nnspec.frontend.validate import ChildSpec
from nnspec.ir.program import (
    Call,
    Child,
    Repeat,
    Seq,
)
from nnspec.language.expr import Expr, ExprError, check, parse
from nnspec.language.names import (
    CONTAINER_BASES,
    TEMPLATE_FIELD,
    child_name_problem,
    identifier_problem,
)
from nnspec.language.types import TYPE_NAMES


class Children(Context):
    """A class's children, their calls bound by name."""

    # --- children -----------------------------------------------------------------------

    def children(self, raw: Any, path: PathKey, params: set[str], numbered: bool) -> list[Child]:
        items = list(enumerate(raw)) if numbered else list(raw.items())
        out = []
        for key, value in items:
            name = str(key)
            if not numbered and not (isinstance(value, ChildSpec) and value.repeat is not None):
                problem = child_name_problem(name)
                if problem:
                    self.errors.error("bad-name", f"invalid child name: {problem}",
                                      self.where(path + (key,), key=True))
            child = self.child(name, value, path + (key,), params, numbered)
            if child is not None:
                out.append(child)
        return out

    def child(self, name: str, value: Any, path: PathKey, params: set[str],
              numbered: bool = False) -> Child | None:
        pos = self.where(path)
        cond = orelse = None
        container = "Sequential"
        if isinstance(value, ChildSpec):
            if value.repeat is not None or value.as_ is not None or value.do is not None:
                if value.modules is not None:
                    self.errors.error("bad-child", "a repeat takes 'call', 'seq' or 'do', not "
                                      "'modules'", pos)
                    return None
                return self.repeat(name, value, path, params, numbered)
            if [value.call, value.seq, value.modules].count(None) != 2:
                self.errors.error("bad-child", "a child mapping needs exactly one of 'call', "
                                  "'seq' and 'modules'", pos)
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
            elif value.modules is not None:
                path, value, container = path + ("modules",), value.modules, "ModuleList"
            else:
                path, value = path + ("seq",), value.seq
        if isinstance(value, str):
            call = self.call(value, path, params)
            return Child(name, call, cond, pos, orelse) if call else None
        named = isinstance(value, dict)
        seq = Seq(self.children(value, path, params, numbered=not named), named, self.where(path),
                  container)
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
            if not self.local_name_ok(var, "loop variable", var_pos):
                return None
            if var in params:
                self.errors.error("name-clash", f"loop variable '{var}' hides a parameter",
                                  var_pos, "choose another name")
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
        if not is_name_template(name, value):
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

    def call(self, text: str, path: PathKey, params: set[str]) -> Call | None:
        memo = reuse.active()
        if memo is None:
            return self.bound_call(text, path, params)
        key = (text, frozenset(params))
        hit = memo.calls.get(key)
        if hit is not None and self.catalog_layer(hit[0]):
            pos = self.where(path)
            return Call(hit[0], "layer", {k: Expr(node, pos) for k, node in hit[1].items()},
                        pos, hit[2])
        before = len(self.errors.items)
        call = self.bound_call(text, path, params)
        if call is not None and len(self.errors.items) == before and \
                self.catalog_layer(call.target):
            reuse.bounded(memo.calls)[key] = (call.target, {k: e.node for k, e in
                                                            call.args.items()}, call.keywords)
        return call

    def catalog_layer(self, target: str) -> bool:
        """Whether `target` names a catalog layer here (not a block or a user layer)."""
        return target in LAYERS and target not in self.blocks and \
            target not in self.user_layers and target not in self.broken_layers

    def bound_call(self, text: str, path: PathKey, params: set[str]) -> Call | None:
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
        base = self.spec.blocks[target].base if target in self.blocks else "Module"
        if base in LAYERS:  # a block on a torch layer (`base: LayerNorm`) takes its arguments
            sig = [(a.name, a.required, a.kwonly) for a in LAYERS[base].args]
            kind = "block"
        elif base not in CONTAINER_BASES:  # an unknown base, reported with its block, which is
            return Call(target, "block", {}, pos)  # left out of the tree: nothing to bind
        elif target in self.blocks:
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
        if kind == "layer":
            self.class_arguments(LAYERS[self.user_layers.get(target, target)], args)
        return Call(self.user_layers.get(target, target), kind, args, pos,
                    frozenset(k.arg for k in node.keywords if k.arg))

    def class_arguments(self, layer: Any, args: dict[str, Expr]) -> None:
        """Note the classes a call passes by import path (an argument of kind `class`), for
        a build to import; such an argument is a constant path, not an expression."""
        for arg in layer.args:
            expr = args.get(arg.name)
            if arg.accepts != "class" or expr is None:
                continue
            value = expr.node.value if isinstance(expr.node, ast.Constant) else None
            if isinstance(value, str) and check_accepts("class", value) is None:
                self.class_args.setdefault(value, expr.pos)
            elif not isinstance(expr.node, ast.Constant):  # (a constant: checked when built)
                self.errors.error("bad-value", f"argument '{arg.name}' takes a class: a "
                                  "constant import path such as 'torch.nn:GELU'", expr.pos)

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


def is_name_template(name: str, value: Any) -> bool:
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
