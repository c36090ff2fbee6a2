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

from nnspec.importers import export_paths as paths
from nnspec.importers.calls import UNREAD, baked_out, is_default, unread_keywords
from nnspec.importers.export_run import export_program
from nnspec.importers.trace import Untraceable, functions, write_steps

TRACED_BUT = "torch.export traced it, but "  # how a graph that is no spec forward is reported
_BIG = 2 ** 62  # ATen writes an open slice end as a huge int

# ATen overload packet names spelled as operators, tensor methods or torch / F functions
_OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
              "div": operator.truediv, "pow": operator.pow, "matmul": operator.matmul,
              "neg": operator.neg, "bitwise_not": operator.invert, "__and__": operator.and_,
              "bitwise_and": operator.and_, "__or__": operator.or_,
              "bitwise_or": operator.or_, "eq": operator.eq,
              "ne": operator.ne, "lt": operator.lt,
              "le": operator.le, "gt": operator.gt, "ge": operator.ge}
_PYTHON_OPERATORS = {operator.add, operator.sub, operator.mul, operator.truediv,
                     operator.floordiv, operator.mod, operator.pow, operator.neg,
                     operator.eq, operator.ne, operator.lt, operator.le, operator.gt,
                     operator.ge}
_METHODS = {"view", "reshape", "reshape_as", "view_as", "expand_as", "transpose", "permute",
            "unsqueeze", "squeeze", "expand",
            "contiguous", "flatten", "chunk", "split", "mean", "sum", "softmax", "to",
            "masked_fill", "type_as", "narrow", "unbind", "repeat", "tril", "triu", "float",
            "swapaxes", "swapdims", "cumsum", "sin", "cos", "new_ones", "new_zeros"}
_FUNCTIONS = {"cat": "torch.cat", "stack": "torch.stack", "exp": "torch.exp",
              "sqrt": "torch.sqrt", "rsqrt": "torch.rsqrt", "cos": "torch.cos", "sin": "torch.sin",
              "gather": "torch.gather", "diff": "torch.diff", "abs": "torch.abs",
              "log": "torch.log", "minimum": "torch.minimum", "maximum": "torch.maximum",
              "full_like": "torch.full_like",
              "relu": "torch.relu", "sigmoid": "torch.sigmoid",
              "tanh": "torch.tanh", "where": "torch.where", "bmm": "torch.bmm",
              "einsum": "torch.einsum", "arange": "torch.arange", "zeros": "torch.zeros",
              "ones": "torch.ones", "gelu": "F.gelu", "silu": "F.silu",
              "scaled_dot_product_attention": "F.scaled_dot_product_attention",
              "layer_norm": "F.layer_norm", "interpolate": "F.interpolate",
              "adaptive_avg_pool2d": "F.adaptive_avg_pool2d", "pad": "F.pad"}
# aten's upsampling ops, as F.interpolate's mode and whether it takes align_corners
_UPSAMPLE = {"upsample_nearest1d": ("nearest", False), "upsample_nearest2d": ("nearest", False),
             "upsample_nearest3d": ("nearest", False), "upsample_linear1d": ("linear", True),
             "upsample_bilinear2d": ("bilinear", True), "upsample_bicubic2d": ("bicubic", True),
             "upsample_trilinear3d": ("trilinear", True)}
_IDENTITY = {"alias", "clone", "detach", "lift_fresh_copy", "contiguous"}
_CHECKS = {"_assert_tensor_metadata", "_assert_scalar", "sym_constrain_range_for_size",
           "_assert_async", "sym_constrain_range"}


def export_steps(module: Any, args: tuple, kwargs: dict, fixed: Any = None,
                 plain: set[int] | None = None, opaque: set[int] = frozenset()
                 ) -> tuple[list[str], list[str]]:
    """(forward argument names, steps) for one module, exported on the arguments it was
    called with, its children left opaque. `fixed(child)`: for a child whose steps torch.export
    recovered, the non-tensor arguments it was recovered with (by parameter name), which its
    steps hold fixed rather than take; None for any other child. `plain`: the ids of the
    modules size-oblivious reasoning failed on, kept from one export to the next; `opaque`:
    the ids of the modules exported as one op each (export_run)."""
    rebuilder = _Rebuilder(module, args, kwargs, fixed, plain, opaque)
    try:
        graph = rebuilder.graph()
    except (KeyError, StopIteration, TypeError, ValueError) as exc:
        raise Untraceable(f"{TRACED_BUT}its graph does not map back onto "
                          f"this module's own forward ({type(exc).__name__}: {exc})") from None
    return write_steps(module, graph)


class _Rebuilder:
    """The exported graph as the fx graph of this module alone: children's nodes folded into
    calls, its own ATen ops spelled as torch calls."""

    def __init__(self, module: Any, args: tuple, kwargs: dict, fixed: Any = None,
                 plain: set[int] | None = None, opaque: set[int] = frozenset()):
        from torch import fx

        self.module, self.fixed = module, fixed or (lambda child: None)
        self.program = export_program(module, args, kwargs, plain, opaque)
        self.out = fx.Graph()
        self.env: dict[Any, Any] = {}  # exported node -> its value in the new graph
        self.args, self.kwargs = args, kwargs
        self.children = {name for name, _ in module.named_children()}
        self.own_tensors = {name for name, _ in [*module.named_parameters(recurse=False),
                                                 *module.named_buffers(recurse=False)]}
        self.calls = {entry.fqn: entry.signature for entry in self.program.module_call_graph
                      if entry.signature is not None}

    def graph(self) -> Any:
        nodes = list(self.program.graph.nodes)
        self.order = {node: i for i, node in enumerate(nodes)}
        self.inputs(nodes)
        keys: dict[str, set[str]] = {}  # child -> its calls (nn_module_stack keys)
        for node in nodes:
            found = self.owner(node)
            if found is not None:
                keys.setdefault(found[0], set()).add(found[1])
        done: set[str] = set()
        for node in nodes:
            if node.op == "placeholder":
                continue
            if node.op == "output":
                self.output(node)
                continue
            found = self.owner(node)
            if found is None:
                self.own(node)
            elif found[1] not in done:
                done.add(found[1])
                if len(keys[found[0]]) == 1 and found[0] in self.calls:
                    self.call_child(found[0], found[1], nodes)
                else:  # called more than once: export keeps no signature for it
                    self.call_on_one_input(found[0], found[1], nodes)
        return self.out

    # --- inputs and outputs --------------------------------------------------------------------

    def inputs(self, nodes: list) -> None:
        """Placeholders for the forward's arguments that carry tensors, in the forward's
        order, unflattened as it takes them; `**kwargs` tensors and the module's own
        parameters and buffers are read only at a cost (see `value`)."""
        from torch.export.graph_signature import InputKind

        by_name = {n.name: n for n in nodes if n.op == "placeholder"}
        user = []
        for spec in self.program.graph_signature.input_specs:
            node = by_name[spec.arg.name]
            if spec.kind == InputKind.USER_INPUT:
                user.append(node)
                _check_batch_free(node)
            else:  # a parameter, buffer or constant: by the attribute it is read from
                self.env[node] = _Lazy(spec.target or node.name)
        parameters = inspect.signature(self.module.forward).parameters
        named = [p for p in parameters.values()
                 if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        values = {p.name: a for p, a in zip(named, self.args)}
        calls = [(p.name, a) for p, a in zip(named, self.args)]
        for key, value in self.kwargs.items():  # export flattens keywords in the call's order
            calls.append((key if key in parameters else f"**{key}", value))
            values.setdefault(key, value)
        flat = iter(user)
        leaves = [(name, path, leaf, next(flat)) for name, value in calls
                  for path, leaf in paths.flat(value)]
        live = {name for name, _, leaf, node in leaves if paths.live(leaf, node)}
        placeholders = {p.name: self.out.placeholder(p.name) for p in named if p.name in live}
        for name, path, leaf, node in leaves:
            _check_size_free(name, leaf, node, parameters.get(name))
            if not paths.live(leaf, node):  # None, a flag, a size at its default: its value
                self.env[node] = leaf
                continue
            if name not in placeholders:
                self.env[node] = _Lazy(name)
                continue
            value_node = placeholders[name]
            for index in path:
                value_node = self.out.call_function(operator.getitem, (value_node, index))
            self.env[node] = value_node

    def output(self, node: Any) -> None:
        from torch.utils import _pytree

        flat = [self.value(v) for v in node.args[0]]
        result = _pytree.tree_unflatten(flat, self.program.call_spec.out_spec)
        self.out.output(result)

    # --- children ------------------------------------------------------------------------------

    def owner(self, node: Any) -> tuple[str, str] | None:
        """The child (or item of a container child) whose forward this node ran in, with
        the key of that call in `nn_module_stack`; None for the module's own."""
        if node.op in ("placeholder", "output"):
            return None
        stack = node.meta.get("nn_module_stack") or {}
        for key, (path, _) in stack.items():
            parts = paths.fqn(path).split(".")
            if parts[0] in self.children:
                for n in range(len(parts), 1, -1):  # an item, or an item of an item
                    if ".".join(parts[:n]) in self.calls:
                        return ".".join(parts[:n]), key
                item = ".".join(parts[:2])
                if len(parts) > 2 and paths.has_no_forward(self.module.get_submodule(item)):
                    raise Untraceable(f"forward calls '{paths.fqn(path)}', an item of the "
                                      f"container '{item}' inside a container; a spec forward "
                                      "calls the items of a child container, not their items")
                return parts[0], key
        return None

    def call_child(self, child: str, key: str, nodes: list) -> None:
        """All nodes that ran in `child`, as one call: its arguments as its signature takes
        them, its results where they are used."""
        from torch.utils import _pytree

        signature = self.calls[child]
        by_name = {n.name: n for n in nodes}
        callee = self.module.get_submodule(child)
        unread = unread_keywords(callee, signature, self.fixed(callee) is not None)
        constant = [hasattr(a, "value") or i in unread  # ConstantArgument, or not read
                    for i, a in enumerate(signature.inputs)]
        named = [None if c else by_name.get(getattr(a, "name", None))
                 for a, c in zip(signature.inputs, constant)]
        if any(not c and (n is None or self.lifted(self.env.get(n)))
               for c, n in zip(constant, named)):
            self.call_on_one_input(child, key, nodes)  # the signature names constants
            return
        flat_in = [self.value(n) if n is not None else getattr(a, "value", UNREAD)
                   for a, n in zip(signature.inputs, named)]
        call_args, call_kwargs = _pytree.tree_unflatten(flat_in, signature.in_spec)
        call_kwargs = {k: v for k, v in call_kwargs.items() if v is not UNREAD}
        call_args, call_kwargs = baked_out(callee, call_args, call_kwargs, self.fixed(callee))
        result = self.out.call_module(child, tuple(call_args), dict(call_kwargs))
        outs = [by_name.get(getattr(a, "name", None)) for a in signature.outputs]
        tree = _pytree.tree_unflatten(list(range(len(outs))), signature.out_spec)
        for index, node in enumerate(outs):
            if node is not None:
                self.env[node] = self.pick(result, tree, index)

    def lifted(self, value: Any) -> bool:
        """A tensor export lifted that is not this module's own parameter or buffer (which
        a call may take: Swin V2's `cpb_mlp(self.relative_coords_table)`)."""
        return isinstance(value, _Lazy) and value.name not in self.own_tensors

    def call_on_one_input(self, child: str, key: str, nodes: list) -> None:
        """A call of a child without a signature that resolves (a child called twice, or a
        signature naming lifted constants) is still plain when its nodes read one value from
        outside and give one value back."""
        from torch import fx

        group = [n for n in nodes if n.op == "call_function" and self.owner(n) == (child, key)]
        members = set(group)
        external = list(dict.fromkeys(
            i for n in group for i in n.all_input_nodes
            if i not in members and isinstance(self.env.get(i), fx.Node)))
        results = [n for n in group if any(u not in members for u in n.users)]
        if len(external) != 1 or len(results) != 1:
            raise Untraceable(f"{TRACED_BUT}the call of '{child}' cannot be "
                              f"told apart ({len(external)} inputs, {len(results)} results)")
        self.env[results[0]] = self.out.call_module(child, (self.value(external[0]),))

    def pick(self, result: Any, tree: Any, index: int) -> Any:
        """The part of a child's result that is flat output `index`."""
        if isinstance(tree, int) and tree == index:
            return result
        items = list(tree.items()) if isinstance(tree, dict) else \
            list(enumerate(tree)) if isinstance(tree, (tuple, list)) else []
        if items:
            for i, sub in items:
                if index in paths.pytree_leaves(sub):
                    return self.pick(self.out.call_function(operator.getitem, (result, i)),
                                     sub, index)
        raise Untraceable("a child returns a structure the spec cannot unpack")

    # --- the module's own ops ------------------------------------------------------------------

    def value(self, arg: Any) -> Any:
        from torch import fx

        if isinstance(arg, fx.Node):
            if arg not in self.env and _same_tensor(arg):  # a child's `.to(float32)` of a
                return self.value(arg.args[0])  # float32 value, which the caller reads too
            value = self.env[arg]
            if isinstance(value, _Lazy) and value.name.startswith("**"):
                raise Untraceable(f"forward reads '{value.name[2:]}' from its **kwargs, "
                                  "which a spec forward cannot take")
            if isinstance(value, _Lazy):  # the fx writer says what it says of a get_attr
                return self.out.get_attr(value.name)
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
        if target in _PYTHON_OPERATORS or functions().get(target, "").startswith("math."):
            self.env[node] = self.out.call_function(  # arithmetic on sizes (`H // 2`,
                target, tuple(self.value(a) for a in node.args))  # `math.ceil(H / p)`)
            return
        packet = getattr(target, "_overloadpacket", None)
        name = getattr(packet, "__name__", str(target)).split(".")[-1]
        overload = getattr(target, "_overloadname", "")
        if name in _CHECKS:
            return
        if name in ("min", "max") and overload == "other":  # torch.min(a, b): elementwise
            name = f"{name}imum"
        if name.endswith("_") and not name.startswith("_"):  # `x += y` as aten.add_
            later = [u for u in node.args[0].users if u is not node and
                     self.order[u] > self.order[node]] if hasattr(node.args[0], "users") \
                else []
            if later:
                raise Untraceable(f"{TRACED_BUT}aten.{name} updates a value "
                                  "that is read again afterwards")
            name = name[:-1]
        args = [self.value(a) for a in node.args]
        kwargs = {k: self.value(v) for k, v in node.kwargs.items()
                  if k not in ("device", "pin_memory", "layout")}
        if name in _IDENTITY and len(args) == 1 and not kwargs:
            self.env[node] = args[0]
        elif name == "dropout" and len(args) == 3 and args[2] is False:  # eval: the identity
            self.env[node] = args[0]
        elif name == "split_with_sizes":  # `x.split([2, 3], dim)`
            self.env[node] = self.out.call_method("split", tuple(args), kwargs)
        elif name == "sym_size":
            self.env[node] = self.out.call_method("size", tuple(args))
        elif name in ("slice", "select"):
            self.env[node] = self.index(name, args)
        elif name == "index" and overload == "Tensor" and len(args) == 2:
            # `aten.index(x, [None, idx])` is `x[:, idx]`: None takes a whole dim
            key = tuple(slice(None) if i is None else i for i in args[1])
            self.env[node] = self.out.call_function(operator.getitem,
                                                    (args[0], key[0] if len(key) == 1 else key))
        elif name in _UPSAMPLE:
            self.env[node] = self.upsample(name, overload, args, kwargs)
        elif name in _OPERATORS and not kwargs:
            self.env[node] = self.out.call_function(_OPERATORS[name], tuple(args))
        elif name == "to" and overload.startswith("dtype"):
            self.env[node] = self.out.call_method("to", (args[0], kwargs.get("dtype", args[-1])))
        elif name == "to" and overload.startswith("device") and len(args) >= 3:
            # `.to(device, dtype)`: the device is where the model runs, not the spec's to say
            self.env[node] = self.out.call_method("to", (args[0], args[2]))
        elif name == "div" and overload == "Tensor_mode":
            self.env[node] = self.out.call_function(torch.div, tuple(args), kwargs)
        elif name in _FUNCTIONS:
            namespace, fn = _FUNCTIONS[name].split(".")
            owner = torch if namespace == "torch" else torch.nn.functional
            self.env[node] = self.out.call_function(getattr(owner, fn), tuple(args), kwargs)
        elif name in _METHODS:
            self.env[node] = self.out.call_method(name, tuple(args), kwargs)
        else:
            raise Untraceable(f"{TRACED_BUT}aten.{name} has no spelling among "
                              "nnspec's ops")

    def upsample(self, name: str, overload: str, args: list, kwargs: dict) -> Any:
        """`aten.upsample_<mode><n>d` as the `F.interpolate` call that gives it: by size, or
        by scale factor (which torch passes on as given, so the sampling is the same)."""
        from torch.nn import functional

        mode, aligned = _UPSAMPLE[name]
        names = ["input", "output_size", *(["align_corners"] if aligned else []),
                 *(["scale_factors"] if overload == "vec" else ["scales"])]
        bound = dict(zip(names, args)) | kwargs
        scales = bound.get("scale_factors") if overload == "vec" else None
        extra = args[len(names):] if overload != "vec" else []
        if overload != "vec" and (bound.get("scales") is not None or
                                  any(a is not None for a in extra) or
                                  any(k.startswith("scales") and v is not None
                                      for k, v in kwargs.items())):
            raise Untraceable(f"{TRACED_BUT}aten.{name}.{overload} has scales "
                              "that F.interpolate cannot pass with a size")
        size = bound.get("output_size")
        if (size is None) == (scales is None):
            raise Untraceable(f"{TRACED_BUT}aten.{name} has "
                              f"{'neither' if size is None else 'both'} an output size and "
                              "scale factors")
        call: dict[str, Any] = {"size": list(size)} if size is not None else \
            {"scale_factor": list(scales)}
        call["mode"] = mode
        if aligned:
            call["align_corners"] = bool(bound.get("align_corners"))
        return self.out.call_function(functional.interpolate, (bound["input"],), call)

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


def _same_tensor(node: Any) -> bool:
    """An ATen node that returns its input itself: a cast to the dtype it has, or an alias."""
    from torch import fx

    packet = getattr(node.target, "_overloadpacket", None)
    name = getattr(packet, "__name__", "").split(".")[-1]
    if node.op != "call_function" or not node.args or not isinstance(node.args[0], fx.Node):
        return False
    if name == "alias":
        return True
    before, after = node.args[0].meta.get("val"), node.meta.get("val")
    return name == "to" and len(node.args) == 2 and not node.kwargs and \
        getattr(before, "dtype", None) is not None and before.dtype == after.dtype


def _check_batch_free(node: Any) -> None:
    """Export fixes a size the forward branches on; a fixed batch size would bake the
    example's batch into the steps (a size of 1 is broadcasting, and stays)."""
    from torch.fx.experimental.symbolic_shapes import is_concrete_int

    shape = getattr(node.meta.get("val"), "shape", None)
    if shape and is_concrete_int(shape[0]) and int(shape[0]) > 1:
        raise Untraceable(f"torch.export fixed the batch size of '{node.name}' to "
                          f"{int(shape[0])}; the steps would hold that number")


def _check_size_free(name: str, leaf: Any, node: Any, parameter: Any) -> None:
    """Export fixes an int argument the forward loops or branches on (`range(n)`): the steps
    would hold the example's number where the forward takes another (0 and 1, which export
    always fixes, are broadcasting and flags; an int at its default stays fixed)."""
    from torch.fx.experimental.symbolic_shapes import is_concrete_int

    if not isinstance(leaf, int) or isinstance(leaf, bool) or leaf in (0, 1) or \
            is_default(leaf, getattr(parameter, "default", None)):
        return
    value = node.meta.get("val")
    if isinstance(value, int) or is_concrete_int(value):
        raise Untraceable(f"torch.export fixed the argument '{name}' to {leaf} (the forward "
                          "loops or branches on it); the steps would hold that number")


class _Lazy:
    """A parameter or buffer placeholder: an error only if the module's own ops read it."""

    def __init__(self, name: str):
        self.name = name
