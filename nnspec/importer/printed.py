"""`nnspec import tree`: a printed module tree (`print(model)`) to a spec.

The tree gives the classes, their children and every printed argument; the spec builds a model
that prints the same tree, so its state_dict has the same keys and shapes. It cannot give
forward: each class whose forward the shapes do not pin down gets `forward: unknown`.
"""

from __future__ import annotations

from nnspec.diagnostics import Collector
from nnspec.importer import chain
from nnspec.importer.classify import Classifier
from nnspec.importer.draft import Imported, assumed_defaults, guess_inputs
from nnspec.importer.emit import render
from nnspec.importer.fold import Folder
from nnspec.importer.tree import parse_tree


def import_tree(text: str, source: str = "<tree>", first_line: int = 1,
                inputs: dict[str, list[int]] | None = None) -> Imported:
    """The spec for a printed tree; SpecError naming each line that cannot be rebuilt."""
    node = parse_tree(text, source, first_line)
    errors = Collector()
    classifier = Classifier(errors, is_torch_layer)
    root = classifier.root(node)
    errors.check()
    folder = Folder(classifier, errors)
    classes = folder.fold_all(root)
    errors.check()
    known = chain.known_forwards(classifier.instances, [c.name for c in classes])
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
    header += assumed_defaults(classifier.instances) + [f"Note: {n}" for n in classifier.notes]
    return Imported(render(classes, shapes, header), classes)


def is_torch_layer(name: str) -> bool:
    """Whether torch.nn has a module class of this name (a layer, not a user's class)."""
    from nnspec.runtime import torch

    value = getattr(torch.nn, name, None)
    return isinstance(value, type) and issubclass(value, torch.nn.Module)
