"""Deferred initialisation: each generated class's `init_weights()`, which replays what its
`__init__` does to parameters and buffers, in the same order, so that a model built on the meta
device, moved with `to_empty()` and initialised under a seed equals one built under that seed.

The replay, class by class: its own tensors (parameters, then buffers, computed ones
recomputed), then every child in construction order (`replay_init`: a generated class replays
itself; a torch layer its own children, then its own reset, as `MultiheadAttention` resets after
building `out_proj`), then the ties again (`to_empty` gives each end its own tensor), then the
class's init rules. The statements that create own tensors in `__init__` live here too, beside
the ones that replay them.
"""

from __future__ import annotations

import ast
import copy
from typing import Any, Protocol

from nnspec.catalog.init_functions import TRIL
from nnspec.codegen.docstrings import docstring
from nnspec.codegen.statements import Renamer, assign, init_arg, init_call, self_attr
from nnspec.formatter import format_statement, nodes
from nnspec.ir.program import COMPUTED, InitRule, ModuleClass, RawTensor, Stmt
from nnspec.language.expr import Expr


class ClassWriter(Protocol):
    """What the replay needs of `nnspec.codegen.classes.ClassWriter`, which writes
    `__init__` and `forward` the same way."""

    cls: ModuleClass
    rename: Renamer | None

    def emit(self, node: ast.stmt, indent: int) -> list[str]: ...

    def steps(self, steps: list, indent: int, renamer: Renamer | None = None) -> list[str]: ...

    def fresh(self, name: str) -> str: ...

    def init_rules(self, rules: list[InitRule]) -> list[str]: ...

    def ties(self) -> list[str]: ...


# the one helper every generated module carries: init_weights() calls it on each child
REPLAY_INIT = '''def replay_init(module: nn.Module) -> None:
    """Initialise `module` again as building it did, drawing the same random numbers: a class
    with `init_weights` replays its constructor; a torch layer its children, then its reset."""
    if hasattr(module, "init_weights"):
        module.init_weights()
        return
    if isinstance(module, (nn.TransformerEncoder, nn.TransformerDecoder)):
        # built from one layer deep-copied num_layers times: that layer drew, the copies did not
        replay_init(module.layers[0])
        for layer in module.layers[1:]:
            layer.load_state_dict(module.layers[0].state_dict())
        if module.norm is not None:
            replay_init(module.norm)
        return
    for child in module.children():
        replay_init(child)
    if hasattr(module, "_reset_parameters"):
        module._reset_parameters()
    elif hasattr(module, "reset_parameters"):
        module.reset_parameters()'''

DOC = ("Initialise parameters and buffers again as __init__ does, in its order, drawing the same "
       "random numbers: for a model built on the meta device and moved with to_empty().")


def init_reads(cls: ModuleClass) -> set[str]:
    """The class's parameters that `init_weights()` reads, so the class keeps them as
    attributes: init arguments, rule conditions, and what computed buffers read."""
    names: set[str] = set()
    for tensor in cls.tensors:
        names |= tensor.reads()
        names |= {n for a in tensor.args.values() if isinstance(a, Expr) for n in a.names()}
    for tie in cls.ties:
        if tie.cond is not None:
            names |= tie.cond.names()
    for rule in cls.init:
        if rule.cond is not None:
            names |= rule.cond.names()
        names |= {n for _, _, args in rule.tensors for a in args.values()
                  if isinstance(a, Expr) for n in a.names()}
    return names & {p.name for p in cls.params}


def init_weights(writer: ClassWriter) -> list[str]:
    """The `init_weights(self)` method, formatted at class indent."""
    cls = writer.cls
    lines = format_statement(nodes.function_def("init_weights", [("self", None, None)],
                                                ast.Constant(None)), 1)
    lines += docstring(DOC, 2)
    renamer = Renamer({p.name for p in cls.params}, set(), {})
    for tensor in (t for t in cls.tensors if not t.after_children):
        lines += _replay_own(writer, tensor, renamer)
    if cls.children:
        module = writer.fresh("module")
        lines += writer.emit(ast.For(ast.Name(module), nodes.call("self.children"), [], []), 2)
        lines += writer.emit(ast.Expr(nodes.call("replay_init", ast.Name(module))), 3)
    for tensor in (t for t in cls.tensors if t.after_children):
        lines += _replay_own(writer, tensor, renamer)
    writer.rename = renamer
    lines += writer.ties()
    lines += writer.init_rules(cls.init)
    writer.rename = None
    return lines


def _replay_own(writer: ClassWriter, tensor: RawTensor, renamer: Renamer) -> list[str]:
    if tensor.compute:
        return computed(writer, tensor, renamer, lambda value: ast.Expr(
            nodes.call(ast.Attribute(self_attr(tensor.name), "copy_"), value)))
    return writer.emit(_replay_tensor(tensor, renamer), 2)


def computed(writer: ClassWriter, tensor: RawTensor, renamer: Renamer,
             final: Any) -> list[str]:
    """The steps computing a buffer, then `final(value)` of the value they return."""
    *steps, last = tensor.compute
    lines = writer.steps(steps, 2, renamer)
    assert isinstance(last, Stmt) and isinstance(last.node, ast.Return)
    value = renamer.visit(copy.deepcopy(last.node.value))
    return lines + writer.emit(final(value), 2)


def own_tensor(tensor: RawTensor) -> ast.stmt:
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
                               **{a: init_arg(v) for a, v in args.items()})
        else:
            value = init_call(fn, empty, args)
    if tensor.is_param:
        return assign(self_attr(tensor.name), nodes.call("nn.Parameter", value))
    return register(tensor, value)


def register(tensor: RawTensor, value: ast.expr) -> ast.stmt:
    """`self.register_buffer("inv_freq", <value>, persistent=False)`."""
    persistent = {} if tensor.persistent else {"persistent": ast.Constant(False)}
    return ast.Expr(nodes.call("self.register_buffer", ast.Constant(tensor.name), value,
                               **persistent))


def _replay_tensor(tensor: RawTensor, renamer: ast.NodeTransformer) -> ast.stmt:
    """An own tensor initialised in place, drawing what its construction drew:
    `nn.init.normal_(self.pos_embedding, std=0.02)`, or a mask copied in again."""
    target = self_attr(tensor.name)
    assert tensor.init != COMPUTED
    if tensor.init == TRIL:
        ones = nodes.call("torch.ones_like", target)
        return ast.Expr(nodes.call(ast.Attribute(target, "copy_"),
                                   nodes.call("torch.tril", ones)))
    args = {name: Expr(renamer.visit(copy.deepcopy(a.node)), a.pos) if isinstance(a, Expr)
            else a for name, a in tensor.args.items()}
    return ast.Expr(init_call(tensor.init, target, args))
