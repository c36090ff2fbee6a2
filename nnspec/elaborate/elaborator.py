"""Stage 3, elaborate: validated spec models to the IR.

Parses every call, expression and forward step; binds call arguments to the catalog's (or the
block's) signature; checks names, block cycles and forward dataflow; then instantiates the tree
for the root parameters, so values (channels <= 0, groups not dividing) are checked at compile
time, with the position of the expression that produced them.
"""


from __future__ import annotations

from collections.abc import Sequence

from nnspec.catalog import LAYERS
from nnspec.diagnostics import Collector
from nnspec.elaborate import initrules, unused
from nnspec.elaborate import user_layers as extend
from nnspec.elaborate.classes import ClassBuilder
from nnspec.elaborate.context import name_ok
from nnspec.elaborate.instantiate import instantiate
from nnspec.elaborate.order import dependency_order
from nnspec.frontend.document import Document, PathKey
from nnspec.frontend.validate import SpecFile
from nnspec.ir.program import (
    Instance,
    ModuleClass,
    Program,
)


def elaborate(doc: Document, spec: SpecFile, source: str,
              allow_import: Sequence[str] = ()) -> tuple[Program, Instance]:
    """The IR for a validated spec, and its instance tree for the root's default parameters.

    Errors in one class do not hide errors elsewhere: the instance tree is still built (and its
    values checked) around the children that failed, unless blocks form a cycle. Warnings are
    reported only for a spec without errors, in `doc.warnings`. User layers (`layers:`) are
    usable when declared by the user's code or from a package in `allow_import`.
    """
    errors = Collector(doc.origins)
    ctx = ClassBuilder(doc, spec, errors, allow_import)
    classes: dict[str, ModuleClass] = {}
    root_name = spec.model.name
    name_ok(root_name, "model name", doc.where(("model", "name")), errors)
    for name, block in spec.blocks.items():
        if name_ok(name, "block name", doc.where(("blocks", name), key=True), errors):
            if name == root_name:
                errors.error("name-clash", f"block '{name}' has the model's name",
                             doc.where(("blocks", name), key=True))
            elif name in LAYERS:
                errors.error("name-clash", f"block '{name}' hides the torch layer of that name",
                             doc.where(("blocks", name), key=True),
                             f"rename the block, e.g. '{name}Block'")
            classes[name] = ctx.module_class(name, block, ("blocks", name))
    classes[root_name] = ctx.module_class(root_name, spec.model, ("model",))
    child_names = {n: {c.name for c in cls.children} for n, cls in classes.items()}
    for name, cls in classes.items():
        path: PathKey = ("model",) if name == root_name else ("blocks", name)
        block = spec.model if name == root_name else spec.blocks[name]
        cls.init = initrules.check_rules(block.init, path, doc, errors, name, child_names,
                                         ctx.parser({p.name for p in cls.params}),
                                         ctx.user_layers)
    inputs = ctx.inputs(classes[root_name])
    before_cycles = len(errors.errors)
    order = dependency_order(classes, root_name, errors)
    program = Program(root=root_name, classes={n: classes[n] for n in order}, inputs=inputs,
                      source=source, digest=doc.digest(), resolved=doc.data,
                      user_layers={**{path: ctx.where(("layers", name))
                                      for name, path in ctx.user_layers.items()},
                                   **{p: pos for p, pos in ctx.class_args.items()
                                      if p not in ctx.user_layers.values()}},
                      allow_import=extend.effective_allow(ctx.user_layers.values(),
                                                          allow_import))
    tree = Instance("", root_name, "block", {}, [], classes[root_name].pos)
    if len(errors.errors) == before_cycles and root_name not in ctx.tainted:
        tree = instantiate(program, errors, ctx.tainted)
    errors.check()
    doc.warnings = unused.warnings(doc, spec, program, ctx.unused_children, ctx.input_reads)
    return program, tree
