"""Modules and parameters a live model registers in more than one place, as spec ties.

torch prints a shared submodule at each place it is registered, and its state_dict holds its
keys under each path, while `parameters()` yields its tensors once. Rebuilt from the printed
tree alone it would be two modules with twice the parameters. So each later registration
becomes a tie to the first, held by the deepest class whose subtree holds both: a module
(`tie: {decoder.embed: encoder.embed}`, `self.decoder.embed = self.encoder.embed`) or a
parameter (`lm_head.weight: wte.weight`).
"""

from __future__ import annotations

from typing import Any

from nnspec.diagnostics import Collector
from nnspec.importers.classify import Instance, Item, Seq, Use


def assign_ties(model: Any, root: Instance, errors: Collector) -> None:
    """Set `ties` on the instances that hold both ends of a shared module or parameter."""
    holders: dict[str, Instance] = {}
    _walk(root, "", holders)
    first: dict[int, str] = {}
    tied: list[str] = []  # module paths that are ties' targets: what is under them is theirs
    pairs: list[tuple[str, str]] = []
    for path, module in model.named_modules(remove_duplicate=False):
        if any(path.startswith(t + ".") for t in tied):
            continue
        if id(module) in first:
            pairs.append((path, first[id(module)]))
            tied.append(path)
        else:
            first[id(module)] = path
    for path, param in model.named_parameters(remove_duplicate=False):
        if any(path.startswith(t + ".") for t in tied):
            continue
        if id(param) in first:
            pairs.append((path, first[id(param)]))
        else:
            first[id(param)] = path
    copies = [(t, s) for t, s in pairs if t in holders or s in holders]  # modules, not params
    for target, source in pairs:
        holder, at = _holder(target, source, holders)
        if holder is None:
            errors.error("not-rebuildable", f"'{target}' is '{source}' (one module or "
                         "parameter registered twice), and no class holds both paths",
                         root.node.pos)
            continue
        tie = (target[len(at) + 1 if at else 0:], source[len(at) + 1 if at else 0:])
        holder.ties.append(tie)
        for copy, original in copies:  # the same class at a shared module's other paths
            if at == original or at.startswith(original + "."):
                twin = holders.get(copy + at[len(original):])
                if twin is not None and twin is not holder:
                    twin.ties.append(tie)


def _holder(target: str, source: str, holders: dict[str, Instance]
            ) -> tuple[Instance | None, str]:
    """The deepest class instance above both paths, and its path."""
    a, b = target.split("."), source.split(".")
    common = 0
    while common < min(len(a), len(b)) - 1 and a[common] == b[common]:
        common += 1
    for n in range(common, -1, -1):
        at = ".".join(a[:n])
        if at in holders:
            return holders[at], at
    return None, ""


def _walk(item: Item | Instance, path: str, holders: dict[str, Instance]) -> None:
    if isinstance(item, Use):
        item = item.instance
    if isinstance(item, Instance):
        holders.setdefault(path, item)
    if isinstance(item, (Instance, Seq)):
        for key, child in item.items:
            _walk(child, f"{path}.{key}" if path else key, holders)
