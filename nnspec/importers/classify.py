"""A parsed tree, classified: catalog layers read through the catalog, nn.Sequential containers,
and instances of user classes (collected by class, to be folded). Problems are collected with
their lines, so every class that cannot be rebuilt is reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from nnspec.catalog import LAYERS
from nnspec.diagnostics import Collector
from nnspec.importers.layers import LayerCall, LayerProblem, Unprinted, read_attention, read_layer
from nnspec.importers.tree import Node
from nnspec.importers.variants import NO_FORWARD, free_name, split_nested
from nnspec.language.names import child_name_problem, identifier_problem


@dataclass(eq=False)
class Layer:
    call: LayerCall
    node: Node


@dataclass(eq=False)
class Instance:
    """One printed module of a user class (or the root)."""

    cls: str
    node: Node
    items: list[tuple[str, Item]]
    numbered: bool
    listed: bool = False  # an nn.ModuleList, or a subclass of it
    sequential: bool = False  # a subclass of nn.Sequential (known from a live module only)
    # tensors it holds itself, as a recorded state_dict or the live module shows them:
    # (name, state.Key)
    own: list[tuple[str, Any]] = field(default_factory=list)
    # (target, source) paths below it of a module or parameter registered in both places
    ties: list[tuple[str, str]] = field(default_factory=list)


@dataclass(eq=False)
class Use:
    """A child that is an instance of a user class."""

    instance: Instance


@dataclass(eq=False)
class Seq:
    items: list[tuple[str, Item]]
    named: bool
    node: Node
    container: str = "Sequential"  # or "ModuleList": torch's own, inside another ModuleList


Item = Union[Layer, Use, Seq]

CONTAINERS = ("Sequential",)
# torch's own classes that print and load like a block of that name (ModuleList as a block with
# `base: ModuleList`, which prints `(0-2): 3 x ...` as torch does)
REBUILT_AS_BLOCKS = ("Module", *NO_FORWARD)
# torch containers the spec language cannot express: they hold parameters themselves
UNSUPPORTED_CONTAINERS = ("ParameterList", "ParameterDict")


class Classifier:
    """Walks the tree once: layers are read through the catalog, user classes collected."""

    def __init__(self, errors: Collector, is_torch_layer, live: dict[int, Any] | None = None,
                 references: Any = None):
        self.errors = errors
        self.references = references  # importers.reference.References, for `import module`
        self.is_torch_layer = is_torch_layer
        self.live = live or {}  # id(node) -> the module it was printed from
        self.instances: dict[str, list[Instance]] = {}
        self.memo: dict[int, Instance] = {}
        self.notes: list[str] = []
        self.unprinted: list[int] = []  # lines of layers with an argument no repr shows
        self.inline: set[int] = set()  # torch's ModuleLists nested in one another: children
        self.renamed: dict[str, str] = {}  # a class named like a torch layer -> its block name

    def torch_layer(self, node: Node) -> bool:
        """A layer of torch's own (not a user's class): by its module when it is at hand."""
        if node.cls in REBUILT_AS_BLOCKS:
            return False
        module = self.live.get(id(node))
        if module is None:
            return self.is_torch_layer(node.cls)
        return type(module).__module__.startswith("torch.")

    def impostor(self, node: Node) -> str | None:
        """The class printed under a catalog layer's name when it is not torch's own class of
        that name (timm's `GELU`, DistilBERT's `Transformer`): known only from a live module."""
        module = self.live.get(id(node))
        if node.cls not in LAYERS or module is None:
            return None
        cls = type(module)
        if cls.__module__.startswith("torch.nn.") and cls.__name__ == node.cls:
            return None
        sub = any(c.__name__ == node.cls and c.__module__.startswith("torch.nn.")
                  for c in cls.__mro__[1:])
        return f"{cls.__module__}.{cls.__qualname__}" + (
            f" (a subclass of torch's {node.cls})" if sub else "")

    def root(self, node: Node) -> Instance | None:
        if node.cls in LAYERS or node.args not in (None, ""):
            self.errors.error("bad-tree", f"the tree's root '{node.cls}' is a layer, not a "
                              "model", node.pos, "import the printed tree of a whole model")
            return None
        self.inline = self.nested_lists(node)
        root = self.instance(node)
        split_nested(self.instances, Seq, Use)
        return root

    def nested_lists(self, root: Node) -> set[int]:
        """The torch ModuleLists (below the root) with another in their subtree or above them:
        they are children (`modules:`), as one block named ModuleList cannot hold itself."""
        nested: set[int] = set()
        stack: list[tuple[Node, tuple[int, ...]]] = [(root, ())]
        seen: set[tuple[int, tuple[int, ...]]] = set()
        while stack:
            node, above = stack.pop()
            here = above
            if node is not root and node.cls == "ModuleList" and node.args is None and (
                    id(node) not in self.live or _exactly(self.live[id(node)], "ModuleList")):
                if above:
                    nested.update((*above, id(node)))
                here = (*above, id(node))
            if (id(node), here) in seen:
                continue
            seen.add((id(node), here))
            stack.extend((child, here) for _, child in node.children)
        return nested

    def instance(self, node: Node, name: str | None = None) -> Instance:
        """The instance printed at `node`, of class `name` (by default the printed one)."""
        if id(node) in self.memo:
            return self.memo[id(node)]
        keys = [k for k, _ in node.children]
        numbered = bool(keys) and all(k.isdigit() for k in keys)
        if keys and not numbered and any(k.isdigit() for k in keys):
            self.errors.error("not-rebuildable", f"'{node.cls}' mixes numbered and named "
                              "children", node.pos)
        problem = identifier_problem(node.cls)
        if problem:
            self.errors.error("not-rebuildable", f"class '{node.cls}' cannot be a spec block: "
                              f"{problem}", node.pos)
        module = self.live.get(id(node))
        layer = _torch_layer_base(module)
        if layer is not None:
            self.errors.error("not-rebuildable", f"'{node.cls}' is a subclass of torch's "
                              f"{layer} with children of its own; a spec block cannot be a "
                              "layer", node.pos, "reference the class as a layer")
        elif node.extra:
            self.errors.error("not-rebuildable", f"'{node.cls}' prints its own arguments "
                              f"('{node.extra[0]}') besides its children; a spec block cannot "
                              "hold those", node.pos)
        if node.args == "" and module is None:
            self.notes.append(f"{node.cls} printed as '{node.cls}()' (line {node.pos.line}): "
                              "rebuilt as a module without children; parameters it holds "
                              "itself, if any, do not show in a printed tree")
        listed = node.cls == "ModuleList" or node.collapsed or _subclass(module, "ModuleList")
        inst = Instance(name or node.cls, node, self.items(node), numbered, listed,
                        sequential=_subclass(module, "Sequential"))
        self.memo[id(node)] = inst
        self.instances.setdefault(inst.cls, []).append(inst)
        return inst

    def items(self, node: Node) -> list[tuple[str, Item]]:
        out = []
        for key, child in node.children:
            problem = None if key.isdigit() else child_name_problem(key)
            if problem:
                self.errors.error("not-rebuildable", f"child '{key}' of '{node.cls}' cannot be "
                                  f"named in a spec: {problem}", child.pos)
            item = self.item(child)
            if item is not None:
                out.append((key, item))
        return out

    def item(self, node: Node) -> Item | None:
        if node.cls in CONTAINERS and node.args in (None, ""):
            keys = [k for k, _ in node.children]
            return Seq(self.items(node), not all(k.isdigit() for k in keys), node)
        if id(node) in self.inline:
            return Seq(self.items(node), False, node, "ModuleList")
        if node.cls in UNSUPPORTED_CONTAINERS:
            self.errors.error("not-rebuildable", f"'{node.cls}' is not in the spec language",
                              node.pos, "a spec block holds parameters only through layers")
            return None
        module = self.live.get(id(node))
        why = self.references.why(node, module) if self.references else None
        if why is not None:  # a class written as a layer reference
            call = self.references.call(node, module, why)
            return None if call is None else Layer(call, node)
        impostor = self.impostor(node)
        if impostor and node.args in (None, ""):  # a block under another name, printing as it
            if impostor not in self.renamed:  # named as a reference would be (name_all)
                top = impostor.split(".")[0]
                self.renamed[impostor] = free_name(f"{top.capitalize()}{node.cls}",
                                                   self.instances)
            return Use(self.instance(node, self.renamed[impostor]))
        if impostor:
            self.errors.error("not-rebuildable", f"'{node.cls}' here is {impostor}, not torch's "
                              f"{node.cls}; a spec block cannot take a torch layer's name",
                              node.pos, "rename the class, or reference it as a layer")
            return None
        if node.cls in LAYERS:
            try:
                if node.args is None:
                    return self.layer_with_children(node)
                return Layer(read_layer(node.cls, node.args, node.pos,
                                        self.live.get(id(node))), node)
            except LayerProblem as problem:
                self.errors.extend([problem.diagnostic])
                return None
        torch_layer = self.torch_layer(node)
        if not torch_layer and node.args in (None, ""):
            return Use(self.instance(node))
        what = "torch layer" if torch_layer else "layer"
        self.errors.error("unknown-layer", f"{what} '{node.cls}' is not in nnspec's layer "
                          "catalog, so this line cannot be rebuilt", node.pos,
                          "add it to nnspec/catalog/layers/, or replace it in the tree")
        return None

    def layer_with_children(self, node: Node) -> Layer | None:
        """A catalog layer printed with children: only MultiheadAttention's exact form."""
        if node.cls != "MultiheadAttention" or node.extra or node.collapsed:
            self.errors.error("not-rebuildable", f"the torch layer '{node.cls}' is printed "
                              "with children", node.pos)
            return None
        live = self.live.get(id(node))
        call = read_attention(node, live)
        if call is None:
            self.errors.error("not-rebuildable", "MultiheadAttention is printed with children "
                              "other than torch's one '(out_proj): "
                              "NonDynamicallyQuantizableLinear(...)'", node.pos)
            return None
        if any(isinstance(v, Unprinted) for v in call.args.values()):
            self.unprinted.append(node.pos.line)
        return Layer(call, node)


def _subclass(module: Any, torch_class: str) -> bool:
    """Whether a live module is torch's `torch_class` or a subclass of it."""
    return any(c.__name__ == torch_class and c.__module__.startswith("torch.")
               for c in type(module).__mro__)


def _torch_layer_base(module: Any) -> str | None:
    """The torch layer a user's class derives from (timm's BatchNormAct2d: BatchNorm2d), or
    None: torch's containers and Module are not layers."""
    for cls in type(module).__mro__[1:]:
        if cls.__module__.startswith("torch.nn.modules.") and cls.__name__ not in (
                *CONTAINERS, *REBUILT_AS_BLOCKS, *UNSUPPORTED_CONTAINERS):
            return cls.__name__
    return None


def _exactly(module: Any, torch_class: str) -> bool:
    """Whether a live module is of torch's class itself, not a subclass."""
    cls = type(module)
    return cls.__name__ == torch_class and cls.__module__.startswith("torch.")
