"""`nnspec import tree`: a printed module tree (`print(model)`) to a spec.

The tree gives the classes, their children and every printed argument; the spec builds a model
that prints the same tree, so its state_dict has the same keys and shapes. It cannot give
forward: each class whose forward the shapes do not pin down gets `forward: unknown`.
"""

from __future__ import annotations

import os

from nnspec.catalog import REQUIRED
from nnspec.diagnostics import Collector
from nnspec.importers import chain
from nnspec.importers.classify import Classifier, Instance, Item, Seq, Use
from nnspec.importers.draft import Imported, assumed_defaults, check_rebuild, guess_inputs
from nnspec.importers.emit import render
from nnspec.importers.fold import DraftClass, Folder
from nnspec.importers.reference import TreeReferences
from nnspec.importers.state import assign_own, read_state_dict
from nnspec.importers.tree import parse_tree


def import_tree(text: str, source: str = "<tree>", first_line: int = 1,
                inputs: dict[str, list[int]] | None = None,
                state_dict: str | os.PathLike | None = None,
                layers: dict[str, str] | None = None) -> Imported:
    """The spec for a printed tree; SpecError naming each line that cannot be rebuilt.
    `state_dict`: a file with the model's state_dict layout (see nnspec.importers.state), for
    the tensors classes hold themselves, which no printed tree shows. `layers`: printed class
    names to write as layer references, 'package.module:Class' (importers.reference)."""
    text_of_tree = text
    node = parse_tree(text, source, first_line)
    errors = Collector()
    refs = TreeReferences(layers) if layers else None
    classifier = Classifier(errors, is_torch_layer, None, refs)
    root = classifier.root(node)
    if refs is not None:
        errors.extend(refs.problems)
        refs.name_all(set(classifier.instances))
    errors.check()
    keys = read_state_dict(state_dict) if state_dict is not None else None
    if keys is not None and root is not None:
        assign_own(root, keys, errors)
        errors.check()
    folder = Folder(classifier, errors)
    classes = folder.fold_all(root)
    errors.check()
    known = chain.known_forwards(classifier.instances, [c.name for c in classes])
    known -= _running_lists(classifier.instances, [c.name for c in classes])
    for cls in classes:  # torch's own containers: nn.Sequential's forward, none for ModuleList
        known_here = cls.name in known or cls.name in ("Sequential", "ModuleList")
        cls.forward = None if known_here else "unknown"
    if classes[-1].base == "ModuleList":  # a model that is a ModuleList has nothing to run
        classes[-1].forward = "unknown"
    shapes = guess_inputs(root, inputs, errors)
    errors.check()
    header = [f"Imported from {source} by `nnspec import tree`."]
    unknown = [c.name for c in classes if c.forward == "unknown"]
    if unknown:
        header += ["A printed tree does not show forward: `forward: unknown` marks each class "
                   "whose forward", "the tree cannot tell; calling it raises until you write "
                   "the steps."]
    if len(known):
        header.append("Forward of " + ", ".join(sorted(known)) + ": the children in printed "
                      "order, the only order their shapes allow.")
    warnings = unprinted_roots(classes[-1], classifier.unprinted)
    if any(c.tensors for c in classes):
        header.append("`parameters:` and `buffers:` are the keys no layer has in "
                      f"{state_dict} (a printed tree does not show them): floating keys are "
                      "parameters, others buffers; their init is unknown.")
    header += assumed_defaults(classifier.instances) + [
        f"Note: {n}" for n in classifier.notes + warnings]
    header += refs.header() if refs else []
    text = render(classes, shapes, header, refs.lines() if refs else ())
    allow = tuple(refs.packages()) if refs else ()
    check_rebuild(text, text_of_tree, source, first_line, keys, allow=allow)
    return Imported(text, classes, warnings, keys)


def unprinted_roots(root: DraftClass, lines: list[int]) -> list[str]:
    """Root parameters for arguments no tree shows (MultiheadAttention's num_heads): their
    placeholder as the default, commented; and the warning that says they must be set."""
    out = []
    for param in root.params:
        if param.default is REQUIRED:
            where = ", ".join(map(str, lines[:3])) + (", ..." if len(lines) > 3 else "")
            param.default = 1
            param.comment = f"not printed; 1 is a placeholder: --set {param.name}=N"
            out.append(f"{param.name} is not printed by MultiheadAttention (line {where}): it "
                       f"is a root parameter, 1 until you set it (--set {param.name}=N), "
                       "shared by every MultiheadAttention in the tree")
    return out


def is_torch_layer(name: str) -> bool:
    """Whether torch.nn has a module class of this name (a layer, not a user's class)."""
    from nnspec.runtime.torchlib import torch

    value = getattr(torch.nn, name, None)
    return isinstance(value, type) and issubclass(value, torch.nn.Module)


def _running_lists(instances: dict[str, list[Instance]], order: list[str]) -> set[str]:
    """The classes that hold a ModuleList child (`modules:`), or use a class that does: a
    ModuleList has no forward, so the children in order are not theirs."""
    out: set[str] = set()

    def holds(items: list[tuple[str, Item]]) -> bool:
        return any(isinstance(item, Seq) and (item.container == "ModuleList" or holds(item.items))
                   or isinstance(item, Use) and item.instance.cls in out for _, item in items)

    for name in order:  # dependencies first
        if any(holds(inst.items) for inst in instances[name]):
            out.add(name)
    return out
