"""What the nodes and arguments of a torch.export graph are, in the importer's terms: the
children a forward may call, module paths as `named_modules` spells them, and the tensor and
size leaves of an argument (export flattens arguments with torch's pytree)."""

from __future__ import annotations

from typing import Any


def callables(module: Any) -> list[str]:
    """The children and the items of container children (at any depth): what the forward may
    call."""
    from torch import nn

    kinds = (nn.ModuleList, nn.ModuleDict, nn.Sequential)
    out = []
    for name, child in module.named_children():
        out.append(name)
        if isinstance(child, kinds):  # its items, and theirs where they are containers too
            out += [f"{name}.{path}" for path in callables(child)]
    return out


def has_no_forward(module: Any) -> bool:
    """A ModuleList or ModuleDict: a container whose items are called, never itself."""
    from torch import nn

    return isinstance(module, (nn.ModuleList, nn.ModuleDict))


def fqn(path: str) -> str:
    """A module path from `nn_module_stack`, as `named_modules` spells it (export writes
    items of containers as `L['self'].layers[0]` or `layers.0`, by torch version)."""
    import re

    path = re.sub(r"^L\['self'\]\.?", "", path)
    return re.sub(r"\[['\"]?([^\]'\"]+)['\"]?\]", r".\1", path).lstrip(".")


def live(leaf: Any, node: Any) -> bool:
    """An argument leaf the graph reads as a value: a tensor, or an int (a size) that export
    kept symbolic."""
    import torch

    return bool(leaves(leaf)) or (isinstance(leaf, int) and not isinstance(leaf, bool) and
                                   isinstance(node.meta.get("val"), torch.SymInt))


def leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """The index paths of the tensors in an argument (a tensor, or tuples of them)."""
    import torch

    if isinstance(value, torch.Tensor):
        return [path]
    if isinstance(value, (tuple, list)):
        return [p for i, v in enumerate(value) for p in leaves(v, path + (i,))]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaves(v, path + (k,))]
    return []


def flat(value: Any) -> list[tuple[tuple, Any]]:
    """(index path, leaf) for each leaf of an argument, as torch.export flattens it."""
    from torch.utils import _pytree

    out = []
    for keys, leaf in _pytree.tree_flatten_with_path(value)[0]:
        out.append((tuple(getattr(k, "idx", getattr(k, "key", None)) for k in keys), leaf))
    return out


def pytree_leaves(tree: Any) -> list:
    if isinstance(tree, (tuple, list)):
        return [leaf for sub in tree for leaf in pytree_leaves(sub)]
    if isinstance(tree, dict):
        return [leaf for sub in tree.values() for leaf in pytree_leaves(sub)]
    return [tree]
