"""One module's forward, recovered by torch.fx and written as spec forward steps.

Each module is traced on its own with all of its children as leaves, so the graph holds exactly
what a spec forward can say: calls of children (or of the items of a container child,
`layers[0](x)`, `heads['aux'](x)`), and torch / F functions, tensor methods and operators
between them. A loop over a container, which the trace unrolls, is folded back into one
`for` step when its turns differ only in the item. A returned dict (or dataclass) becomes a
returned mapping, a namedtuple a tuple. Everything else (a parameter read directly, a
grandchild called, a function outside nnspec's ops whitelist) is reported with the reason,
never approximated.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import operator
from collections.abc import Iterator
from typing import Any

from nnspec.catalog import ops
from nnspec.importers.calls import baked_out, bound_call
from nnspec.importers.loops import containers_of, fold_loops, item, item_of
from nnspec.language import operators
from nnspec.language.names import Namespace

# torch.fx call targets back to the `ast` operators of the one operator table
_BINARY = {entry.function: op for op, entry in operators.BINARY.items()} | {
    operator.iadd: ast.Add, operator.isub: ast.Sub, operator.imul: ast.Mult,
    operator.itruediv: ast.Div}
_UNARY = {entry.function: op for op, entry in operators.UNARY.items()}
_COMPARE = {entry.function: op for op, entry in operators.COMPARE.items()
            if op not in (ast.Is, ast.IsNot)}


class Untraceable(Exception):
    """Why a module's forward cannot become spec steps."""


def trace_steps(module: Any, fixed: dict[str, Any] | None = None, held: Any = None,
                calls: dict[int, Any] | None = None) -> tuple[list[str], list[str]]:
    """(forward argument names, steps) for one module, its children left opaque. A value
    used once is written where it is used, unless that hides a loop: then every value gets
    its own step, so that the loop's turns look alike. `fixed`: forward arguments held at
    these values (their defaults), which the steps then do not take. `held(child)`: the
    arguments a child's own steps hold fixed (None if none), which its calls leave out.
    `calls`: the recorded calls by id(module), which the traced child calls must match."""
    graph = _trace(module, fixed)
    if fixed and calls:
        _check_same_path(module, graph, calls)
    return write_steps(module, graph, held)


def _check_same_path(module: Any, graph: Any, calls: dict[int, Any]) -> None:
    """Traced with arguments fixed, a forward must call its children as the model's run did:
    a child given a tensor there and None here (Hugging Face builds masks only when
    exported, as the recording run is) means fx took another path."""
    for node in graph.nodes:
        child = module.get_submodule(node.target) if node.op == "call_module" else None
        if child is None or calls.get(id(child)) is None:
            continue
        traced = bound_call(child, node.args, node.kwargs)
        ran = bound_call(child, *calls[id(child)])
        if traced is None or ran is None:
            continue
        for name in traced[0].parameters:
            if (traced[1].get(name) is None) != (ran[1].get(name) is None):
                raise Untraceable(f"torch.fx, with its defaults fixed, calls '{node.target}' "
                                  f"with another '{name}' than the model's run did")


def write_steps(module: Any, graph: Any, held: Any = None) -> tuple[list[str], list[str]]:
    """(forward argument names, steps) from an fx graph of `module`'s own forward."""
    containers = containers_of(module)
    inputs, steps = _Writer(module, graph, held=held).write()
    taken = {name for name, _ in module.named_children()}
    folded = fold_loops(steps, containers, taken)
    if containers and len(folded) == len(steps):
        plain = fold_loops(_Writer(module, graph, inline=False, held=held).write()[1],
                           containers, taken)
        if any(step.startswith("for ") for step in plain):
            return inputs, plain
    return inputs, folded


def input_names(module: Any) -> dict[str, str]:
    """Each forward parameter's name as the module's spec input: itself, unless it cannot name
    one (`children` shadows nn.Module's, or a child is called so), then numbered (DLA's
    `children` is `children2`). A block's steps name their inputs so, and a parent passing an
    argument by keyword passes it under that name."""
    names = Namespace(dict(module.named_children()), identifiers=True)
    try:
        parameters = inspect.signature(module.forward).parameters
    except (TypeError, ValueError):
        return {}
    return {p.name: names.fresh(p.name) for p in parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def runs_children_in_order(module: Any) -> bool:
    """Whether forward is `nn.Sequential`'s: each child in turn, on the previous output."""
    nodes = list(_trace(module).nodes)
    children = [name for name, _ in module.named_children()]
    if [n.op for n in nodes] != ["placeholder"] + ["call_module"] * len(children) + ["output"]:
        return False
    chain = nodes[1:-1]
    return [n.target for n in chain] == children and all(
        n.args == (prev,) and not n.kwargs for prev, n in zip(nodes, chain)) and \
        nodes[-1].args == (nodes[-2],)


def _trace(module: Any, fixed: dict[str, Any] | None = None) -> Any:
    from torch import fx

    class ChildrenAsLeaves(fx.Tracer):
        # a buffer read in forward is the class's own tensor, as a parameter is: not the
        # value it held when traced, frozen into a constant
        proxy_buffer_attributes = True

        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return m is not module

    try:
        with _through_library_leaves():
            graph = ChildrenAsLeaves().trace(module, concrete_args=fixed)
    except Exception as exc:  # fx says why: data-dependent control flow, unsupported calls
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Untraceable(f"torch.fx cannot trace it: {message}") from None
    for node in [n for n in graph.nodes if n.op == "placeholder" and n.args and fixed]:
        for user in list(node.users):  # an argument held at its default: that constant
            user.args, user.kwargs = fx.node.map_arg(
                (user.args, user.kwargs), lambda n, node=node: node.args[0] if n is node else n)
    drop_asserts(graph)
    for node in [n for n in graph.nodes if n.op == "placeholder" and n.args and fixed]:
        graph.erase_node(node)
    return graph


@contextlib.contextmanager
def _through_library_leaves() -> Iterator[None]:
    """fx traces into the functions a library marks as fx leaves (`torch.fx.wrap`:
    torchvision's `_patch_merging_pad` in Swin), which no spec step could call: their steps
    are the class's own. torch's own leaves stay leaves. (fx keeps the marks in a private
    table; without it, nothing changes.)"""
    from torch.fx import _symbolic_trace

    table = getattr(_symbolic_trace, "_wrapped_fns_to_patch", None)
    if not isinstance(table, dict):
        yield
        return
    kept = {key: frame for key, frame in table.items()
            if not str(frame.get("__name__", "torch")).split(".")[0] == "torch"}
    for key in kept:
        del table[key]
    try:
        yield
    finally:
        table.update(kept)


def drop_asserts(graph: Any) -> None:
    """Remove `torch._assert` checks (timm's input-size checks) and what only they used:
    they return nothing, and for the inputs the model accepts they change nothing."""
    import torch
    from torch import fx

    dead = [n for n in graph.nodes if n.op == "call_function" and n.target in (
        torch._assert, getattr(torch, "_assert_async", None),
        fx._symbolic_trace._assert_is_none)]  # (a None argument fx was given as fixed)
    while dead:
        node = dead.pop()
        inputs = node.all_input_nodes
        if node.users:
            continue
        graph.erase_node(node)
        dead += [i for i in inputs if not i.users and i.op in ("call_function", "call_method")]


class _Writer:
    def __init__(self, module: Any, graph: Any, inline: bool = True, held: Any = None):
        self.module, self.graph, self.inline = module, graph, inline
        self.held = held or (lambda child: None)
        self.children = dict(module.named_children())
        self.exprs: dict[Any, ast.expr] = {}  # fx node -> its value as an expression
        self.names: dict[Any, str] = {}
        self.pending: list[Any] = []  # values kept as expressions, not yet used
        self.names_taken = Namespace(self.children, identifiers=True)
        self.input_names = input_names(module)
        self.uses = {node: len(node.users) for node in graph.nodes}
        self.last_use: dict[Any, Any] = {}
        for node in graph.nodes:
            for arg in node.all_input_nodes:
                self.last_use[arg] = node

    def write(self) -> tuple[list[str], list[str]]:
        inputs: list[str] = []
        steps: list[str] = []
        for node in self.graph.nodes:
            if node.op == "placeholder":
                if node.args:
                    raise Untraceable(f"forward argument '{node.target}' has a default")
                if node.target.startswith("*") and not node.users:  # `**kwargs` unread:
                    continue  # what a parent passes there is left out (calls.unread_keywords)
                if node.target.startswith("*"):
                    raise Untraceable(f"forward reads its '{node.target}'; a spec forward's "
                                      "inputs are named")
                name = self.fresh(self.input_names.get(node.target, node.target))
                inputs.append(name)
                self.bind(node, name)
            elif node.op == "output":
                steps.append(f"return {ast.unparse(self.value(node.args[0]))}")
            elif _is_dataclass_type(node.target):  # a dataclass output: its fields, by name
                self.exprs[node] = self.mapping(node.kwargs)
                self.pending.append(node)
            elif node.op == "get_attr":  # a name: nothing to keep in order
                self.exprs[node] = self.expression(node)
            elif not node.users and node.op == "call_function" and node.target in (
                    operator.getitem, getattr):  # `out, _ = mha(x)`: `_`'s item, unread
                continue
            else:
                value = self.expression(node)
                if node.op == "call_module":
                    # a child may work in place: what was computed before it stays before it
                    for early in self.pending:
                        steps.append(self.statement(early, self.exprs[early]))
                    self.pending = []
                if node.op == "call_module" or self.uses[node] != 1 or not self.inline:
                    steps.append(self.statement(node, value))
                else:
                    self.exprs[node] = value  # used once: written where it is used
                    self.pending.append(node)
        return inputs, steps

    def statement(self, node: Any, value: ast.expr) -> str:
        name = self.name_for(node)
        self.bind(node, name)
        return f"{name} = {ast.unparse(value)}"

    # --- names ---------------------------------------------------------------------------------

    def bind(self, node: Any, name: str) -> None:
        self.names[node] = name
        self.exprs[node] = ast.Name(name, ast.Load())

    def name_for(self, node: Any) -> str:
        """The name of the first input value that dies here (`x = conv(x)`), else a new one.
        Not a name that an expression still waiting to be written reads."""
        inner = self.pending_of(node)
        waiting = {arg for p in self.pending if p not in inner for arg in self.named_inputs(p)}
        for arg in self.named_inputs(node):
            if arg in waiting:
                continue
            if self.last_use.get(arg) is node or self.last_use.get(arg) in inner:
                return self.names[arg]
        return self.fresh("out")

    def named_inputs(self, node: Any) -> list[Any]:
        """The named values `node` reads, through the expressions written into it."""
        out = []
        for arg in node.all_input_nodes:
            out += [arg] if arg in self.names else self.named_inputs(arg)
        return out

    def pending_of(self, node: Any) -> list[Any]:
        """The unnamed expressions written into `node`."""
        out = []
        for arg in node.all_input_nodes:
            if arg not in self.names:
                out += [arg] + self.pending_of(arg)
        return out

    def fresh(self, base: str) -> str:
        return self.names_taken.fresh(base)

    # --- expressions ---------------------------------------------------------------------------

    def value(self, arg: Any) -> ast.expr:
        from torch import fx

        if isinstance(arg, fx.Node):
            if arg in self.pending:
                self.pending.remove(arg)
            return self.exprs[arg]
        if isinstance(arg, (tuple, list)):
            elts = [self.value(a) for a in arg]
            return ast.Tuple(elts, ast.Load()) if isinstance(arg, tuple) else \
                ast.List(elts, ast.Load())
        if isinstance(arg, dict):
            return self.mapping(arg)
        if isinstance(arg, slice):
            return ast.Slice(*(None if v is None else self.value(v)
                               for v in (arg.start, arg.stop, arg.step)))
        if arg is None or arg is ... or isinstance(arg, (bool, int, float, str)):
            return ast.Constant(arg)
        dtype = _dtype_name(arg)
        if dtype is not None:  # `torch.bool`, as `x.to(torch.bool)` writes it
            return ast.Attribute(ast.Name("torch", ast.Load()), dtype, ast.Load())
        raise Untraceable(f"forward uses the constant {arg!r}, which a spec cannot write")

    def mapping(self, items: dict) -> ast.expr:
        if not all(isinstance(k, str) for k in items):
            raise Untraceable("forward returns a dict whose keys are not all strings")
        return ast.Dict([ast.Constant(k) for k in items], [self.value(v) for v in items.values()])

    def call_args(self, node: Any, skip: int = 0) -> tuple[list[ast.expr], list[ast.keyword]]:
        args = [self.value(a) for a in node.args[skip:]]
        keywords = [ast.keyword(k, self.value(v)) for k, v in node.kwargs.items()]
        return args, keywords

    def expression(self, node: Any) -> ast.expr:
        if node.op == "call_module":  # constants at the child's defaults left out
            child = self.module.get_submodule(node.target)
            held = self.held(child)
            args, kwargs = baked_out(child, node.args, node.kwargs, held)
            names = {} if held is None else input_names(child)  # None: a layer, by its names
            return ast.Call(self.callee(node.target), [self.value(a) for a in args],
                            [ast.keyword(names.get(k, k), self.value(v))
                             for k, v in kwargs.items()])
        if node.op == "call_method":
            if node.target not in ops.METHODS:
                raise Untraceable(f"forward calls the tensor method '{node.target}', which is "
                                  "not among nnspec's ops")
            args, keywords = self.call_args(node, skip=1)
            return ast.Call(ast.Attribute(self.value(node.args[0]), node.target, ast.Load()),
                            args, keywords)
        if node.op == "call_function":
            return self.function(node)
        if node.op == "get_attr" and node.target in self.own_tensors():
            return ast.Name(node.target, ast.Load())  # the class's `parameters:`/`buffers:`
        raise Untraceable(f"forward reads '{node.target}' directly; a spec reaches parameters "
                          "only through its children and the class's own tensors")

    def own_tensors(self) -> set[str]:
        """The parameters and buffers the module holds itself: a spec class's own tensors."""
        return {name for name, _ in [*self.module.named_parameters(recurse=False),
                                     *self.module.named_buffers(recurse=False)]}

    def callee(self, target: str) -> ast.expr:
        """A child by name, an item of a container child, or one of this container's own."""
        from torch import nn

        if target in self.children:
            if target.isidentifier():
                return ast.Name(target, ast.Load())
            return item("self", target, self.module)  # this Sequential's numbered child
        kinds = (nn.ModuleList, nn.ModuleDict, nn.Sequential)
        head, *keys = target.split(".")
        container = self.children.get(head)
        node: ast.expr = ast.Name(head, ast.Load())
        for i, key in enumerate(keys):  # `layers[0]`, `fuse_layers[0][1]`
            items = dict(container.named_children()) if isinstance(container, kinds) else {}
            if key not in items:
                break
            node = item_of(node, key, container)
            container = items[key]
            if i == len(keys) - 1:
                return node
        raise Untraceable(f"forward calls '{target}', which is neither a child of this module "
                          "nor an item of a container child")

    def function(self, node: Any) -> ast.expr:
        target, args = node.target, node.args
        if target in _BINARY and len(args) == 2 and not node.kwargs:
            return ast.BinOp(self.value(args[0]), _BINARY[target](), self.value(args[1]))
        if target in _UNARY and len(args) == 1:
            return ast.UnaryOp(_UNARY[target](), self.value(args[0]))
        if target in _COMPARE and len(args) == 2:
            return ast.Compare(self.value(args[0]), [_COMPARE[target]()], [self.value(args[1])])
        if target is operator.getitem and len(args) == 2:
            return ast.Subscript(self.value(args[0]), self.value(args[1]), ast.Load())
        if isinstance(target, type) and issubclass(target, tuple) and \
                hasattr(target, "_fields"):  # a namedtuple: its fields in order, as a tuple
            fields = list(args) + [node.kwargs[f] for f in target._fields[len(args):]
                                   if f in node.kwargs]
            return ast.Tuple([self.value(a) for a in fields], ast.Load())
        if target is getattr and len(args) == 2 and args[1] in ops.ATTRIBUTES:
            return ast.Attribute(self.value(args[0]), args[1], ast.Load())
        spelled = functions().get(target)
        if spelled is None:
            raise Untraceable(f"forward calls {_spelling(target)}, which is not among "
                              "nnspec's ops")
        namespace, fn = spelled.split(".")
        positional, keywords = self.call_args(node)
        return ast.Call(ast.Attribute(ast.Name(namespace, ast.Load()), fn, ast.Load()),
                        positional, keywords)


def _dtype_name(value: Any) -> str | None:
    """`bool` for torch.bool: the name a step writes a dtype constant by; None for what is not
    a dtype."""
    import torch

    if not isinstance(value, torch.dtype):
        return None
    name = str(value).removeprefix("torch.")
    return name if getattr(torch, name, None) is value else None


@functools.cache
def functions() -> dict[Any, str]:
    """torch, torch.nn.functional and math callables a forward step may use, by identity,
    with their spelling (`torch.cumsum`, `F.glu`, `math.ceil`); built once, as both tracers
    look up every call node in it."""
    import math

    import torch
    from torch.nn import functional

    out: dict[Any, str] = {}
    for prefix, namespace, names in (("torch", torch, ops.TORCH_FUNCTIONS),
                                     ("F", functional, ops.F_FUNCTIONS),
                                     ("math", math, ops.NAMESPACES["math"])):
        for name in sorted(names):
            fn = getattr(namespace, name, None)
            if fn is not None:
                out.setdefault(fn, f"{prefix}.{name}")
    return out


def _spelling(fn: Any) -> str:
    """How a user would write this function: `torch.cumsum`, `F.glu`, `math.floor`."""
    import torch
    from torch.nn import functional

    name = getattr(fn, "__name__", None)
    for prefix, namespace in (("torch", torch), ("F", functional)):
        if name and getattr(namespace, name, None) is fn:
            return f"{prefix}.{name}"
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or name or repr(fn)
    return f"{module}.{qualname}" if module else qualname


def _is_dataclass_type(target: Any) -> bool:
    import dataclasses

    return isinstance(target, type) and dataclasses.is_dataclass(target)
