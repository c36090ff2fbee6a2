"""The second tracer: one module's forward recovered by `torch.export`, where torch.fx fails.

torch.fx traces with proxies, so a forward that iterates over an input tuple, takes
`**kwargs` or branches on a shape stops it. `torch.export.export(..., strict=False)` runs the
forward on real example arguments (those the module received when the whole model ran once),
with every tensor dimension dynamic, so sizes stay `x.size(0)` rather than numbers. Its graph
is flat ATen; the module hierarchy survives in each node's `nn_module_stack`. The nodes that
ran inside a child become one call of that child (its arguments in the order its own
signature takes them, which export records when asked to preserve it), and the module's own
ATen ops are spelled back as the torch functions, tensor methods and operators a spec forward
uses. The result is an ordinary fx graph, written as spec steps by the fx writer, so both
tracers say the same things the same way. What has no spelling is reported, never guessed.
"""

from __future__ import annotations

import inspect
import operator
from typing import Any

from nnspec.importers.trace import Untraceable, write_steps

_BIG = 2 ** 62  # ATen writes an open slice end as a huge int

# ATen overload packet names spelled as operators, tensor methods or torch / F functions
_OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
              "div": operator.truediv, "pow": operator.pow, "matmul": operator.matmul,
              "neg": operator.neg, "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
              "le": operator.le, "gt": operator.gt, "ge": operator.ge}
_METHODS = {"view", "reshape", "transpose", "permute", "unsqueeze", "squeeze", "expand",
            "contiguous", "flatten", "chunk", "split", "mean", "sum", "softmax", "to",
            "masked_fill", "type_as", "narrow", "unbind", "repeat", "tril", "triu", "float"}
_FUNCTIONS = {"cat": "torch.cat", "stack": "torch.stack", "exp": "torch.exp",
              "sqrt": "torch.sqrt", "relu": "torch.relu", "sigmoid": "torch.sigmoid",
              "tanh": "torch.tanh", "where": "torch.where", "bmm": "torch.bmm",
              "einsum": "torch.einsum", "arange": "torch.arange", "zeros": "torch.zeros",
              "ones": "torch.ones", "gelu": "F.gelu", "silu": "F.silu",
              "scaled_dot_product_attention": "F.scaled_dot_product_attention",
              "layer_norm": "F.layer_norm", "interpolate": "F.interpolate",
              "adaptive_avg_pool2d": "F.adaptive_avg_pool2d", "pad": "F.pad"}
_IDENTITY = {"alias", "clone", "detach", "lift_fresh_copy", "contiguous"}
_CHECKS = {"_assert_tensor_metadata", "_assert_scalar", "sym_constrain_range_for_size",
           "_assert_async", "sym_constrain_range"}


def export_steps(module: Any, args: tuple, kwargs: dict) -> tuple[list[str], list[str]]:
    """(forward argument names, steps) for one module, exported on the arguments it was
    called with, its children left opaque."""
    return write_steps(module, _Rebuilder(module, args, kwargs).graph())


def _export(module: Any, args: tuple, kwargs: dict) -> Any:
    import torch
    from torch.export import Dim

    def dynamic(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return {d: Dim.AUTO for d in range(value.dim())}
        if isinstance(value, (tuple, list)):
            return type(value)(dynamic(v) for v in value)
        if isinstance(value, dict):
            return {k: dynamic(v) for k, v in value.items()}
        return None

    children = tuple(name for name, _ in module.named_children())
    bound = inspect.signature(module.forward).bind(*args, **kwargs).arguments
    try:
        return torch.export.export(module, args, kwargs, strict=False,
                                   dynamic_shapes={k: dynamic(v) for k, v in bound.items()},
                                   preserve_module_call_signature=children)
    except Exception as exc:  # export says why: data-dependent shapes, unsupported code
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Untraceable(f"torch.export cannot trace it either: {message[:200]}") from None


class _Rebuilder:
    """The exported graph as the fx graph of this module alone: children's nodes folded into
    calls, its own ATen ops spelled as torch calls."""

    def __init__(self, module: Any, args: tuple, kwargs: dict):
        from torch import fx

        self.module = module
        self.program = _export(module, args, kwargs)
        self.out = fx.Graph()
        self.env: dict[Any, Any] = {}  # exported node -> its value in the new graph
        self.bound = inspect.signature(module.forward).bind(*args, **kwargs)
        self.children = {name for name, _ in module.named_children()}
        self.calls = {entry.fqn: entry.signature for entry in self.program.module_call_graph
                      if entry.fqn in self.children and entry.signature is not None}

    def graph(self) -> Any:
        nodes = list(self.program.graph.nodes)
        user = self.inputs(nodes)
        done: set[str] = set()
        for node in nodes:
            if node.op == "placeholder":
                if node.name not in user:
                    self.env[node] = _Lazy(node.name)  # a parameter or buffer, by its name
                continue
            if node.op == "output":
                self.output(node)
                continue
            child = self.owner(node)
            if child is not None:
                if child not in done:
                    done.add(child)
                    self.call_child(child, nodes)
                continue
            self.own(node)
        return self.out

    # --- inputs and outputs --------------------------------------------------------------------

    def inputs(self, nodes: list) -> set[str]:
        """Placeholders for the forward's arguments, unflattened as the forward takes them."""
        from torch.export.graph_signature import InputKind

        specs = [s for s in self.program.graph_signature.input_specs
                 if s.kind == InputKind.USER_INPUT]
        by_name = {n.name: n for n in nodes if n.op == "placeholder"}
        flat = iter(specs)
        names: set[str] = set()
        for name, value in self.bound.arguments.items():
            leaves = _leaves(value)
            if not leaves:
                continue  # None, a flag: export took its value; the spec forward never sees it
            arg = self.out.placeholder(name)
            for path in leaves:
                spec = next(flat)
                node = by_name[spec.arg.name]
                names.add(node.name)
                value_node = arg
                for index in path:
                    value_node = self.out.call_function(operator.getitem, (value_node, index))
                self.env[node] = value_node
        return names

    def output(self, node: Any) -> None:
        from torch.utils import _pytree

        flat = [self.value(v) for v in node.args[0]]
        result = _pytree.tree_unflatten(flat, self.program.call_spec.out_spec)
        self.out.output(result)

    # --- children ------------------------------------------------------------------------------

    def owner(self, node: Any) -> str | None:
        """The child whose forward this node ran in, or None for the module's own."""
        stack = node.meta.get("nn_module_stack") or {}
        for path, _ in stack.values():
            head = path.split(".")[0] if path else ""
            if head in self.children:
                return head
        return None

    def call_child(self, child: str, nodes: list) -> None:
        """All nodes that ran in `child`, as one call: its arguments as its signature takes
        them, its results where they are used."""
        from torch.utils import _pytree

        signature = self.calls.get(child)
        if signature is None:
            raise Untraceable(f"torch.export did not keep the call signature of '{child}' "
                              "(called more than once, or not at all)")
        by_name = {n.name: n for n in nodes}
        flat_in = [self.value(by_name[a.name]) if hasattr(a, "name") and a.name in by_name
                   else getattr(a, "value", None) for a in signature.inputs]
        call_args, call_kwargs = _pytree.tree_unflatten(flat_in, signature.in_spec)
        result = self.out.call_module(child, tuple(call_args), dict(call_kwargs))
        outs = [by_name.get(getattr(a, "name", None)) for a in signature.outputs]
        tree = _pytree.tree_unflatten(list(range(len(outs))), signature.out_spec)
        for index, node in enumerate(outs):
            if node is not None:
                self.env[node] = self.pick(result, tree, index)

    def pick(self, result: Any, tree: Any, index: int) -> Any:
        """The part of a child's result that is flat output `index`."""
        if tree == index:
            return result
        if isinstance(tree, (tuple, list)):
            for i, sub in enumerate(tree):
                if index in _pytree_leaves(sub):
                    return self.pick(self.out.call_function(operator.getitem, (result, i)),
                                     sub, index)
        raise Untraceable("a child returns a structure the spec cannot unpack")

    # --- the module's own ops ------------------------------------------------------------------

    def value(self, arg: Any) -> Any:
        from torch import fx

        if isinstance(arg, fx.Node):
            value = self.env[arg]
            if isinstance(value, _Lazy):
                raise Untraceable(f"forward reads '{value.name}' directly; a spec reaches "
                                  "parameters only through its children")
            return value
        if isinstance(arg, (tuple, list)):
            return type(arg)(self.value(a) for a in arg)
        return arg

    def own(self, node: Any) -> None:
        import torch

        target = node.target
        if node.op != "call_function":
            raise Untraceable(f"torch.export gave a '{node.op}' node, which a spec cannot "
                              "write")
        if target is operator.getitem:
            self.env[node] = self.out.call_function(operator.getitem,
                                                    (self.value(node.args[0]), node.args[1]))
            return
        packet = getattr(target, "_overloadpacket", None)
        name = getattr(packet, "__name__", str(target)).split(".")[-1]
        overload = getattr(target, "_overloadname", "")
        if name in _CHECKS:
            return
        args = [self.value(a) for a in node.args]
        kwargs = {k: self.value(v) for k, v in node.kwargs.items()
                  if k not in ("device", "pin_memory", "layout")}
        if name in _IDENTITY and len(args) == 1 and not kwargs:
            self.env[node] = args[0]
        elif name == "sym_size":
            self.env[node] = self.out.call_method("size", tuple(args))
        elif name in ("slice", "select"):
            self.env[node] = self.index(name, args)
        elif name in _OPERATORS and not kwargs:
            self.env[node] = self.out.call_function(_OPERATORS[name], tuple(args))
        elif name == "to" and overload.startswith("dtype"):
            self.env[node] = self.out.call_method("to", (args[0], kwargs.get("dtype", args[-1])))
        elif name in _FUNCTIONS:
            namespace, fn = _FUNCTIONS[name].split(".")
            owner = torch if namespace == "torch" else torch.nn.functional
            self.env[node] = self.out.call_function(getattr(owner, fn), tuple(args), kwargs)
        elif name in _METHODS:
            self.env[node] = self.out.call_method(name, tuple(args), kwargs)
        else:
            raise Untraceable(f"torch.export traced it, but aten.{name} has no spelling among "
                              "nnspec's ops")

    def index(self, name: str, args: list) -> Any:
        """`aten.slice(x, dim, start, end, step)` and `aten.select(x, dim, i)` as `x[...]`."""
        x, dim = args[0], args[1] if len(args) > 1 else 0
        if name == "select":
            key: Any = args[2]
        else:
            start, end = (args[2] if len(args) > 2 else None), (args[3] if len(args) > 3
                                                                else None)
            step = args[4] if len(args) > 4 else 1
            key = slice(None if start == 0 else start,
                        None if isinstance(end, int) and end >= _BIG else end,
                        None if step == 1 else step)
        if not isinstance(dim, int) or dim < 0:
            raise Untraceable("torch.export gave an index along a negative dimension")
        if key == slice(None):
            return x
        return self.out.call_function(operator.getitem, (x, (slice(None),) * dim + (key,)))


class _Lazy:
    """A parameter or buffer placeholder: an error only if the module's own ops read it."""

    def __init__(self, name: str):
        self.name = name


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """The index paths of the tensors in an argument (a tensor, or tuples of them)."""
    import torch

    if isinstance(value, torch.Tensor):
        return [path]
    if isinstance(value, (tuple, list)):
        return [p for i, v in enumerate(value) for p in _leaves(v, path + (i,))]
    return []


def _pytree_leaves(tree: Any) -> list:
    if isinstance(tree, (tuple, list)):
        return [leaf for sub in tree for leaf in _pytree_leaves(sub)]
    if isinstance(tree, dict):
        return [leaf for sub in tree.values() for leaf in _pytree_leaves(sub)]
    return [tree]
