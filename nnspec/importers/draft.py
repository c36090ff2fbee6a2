"""What both importers share around the folded classes: the result, the model's inputs, and the
comment that lists the defaults a printed repr hides."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nnspec.catalog import LAYERS
from nnspec.diagnostics import Collector, Diagnostic, Pos, SpecError, render
from nnspec.formatter import literal
from nnspec.importers.classify import Instance, Item, Layer, Seq, Use
from nnspec.importers.fold import DraftClass
from nnspec.importers.inputs import declared, normalise
from nnspec.importers.layers import normalise_repr

PLACEHOLDER_SIZE = 32


class ImportDefect(Exception):
    """The spec an importer wrote fails nnspec's own checks (validation, the rebuild, the
    comparison with the original model): a bug in nnspec, never output. The command reports it
    as one (exit 3), with the diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__(render(self.diagnostics))


@dataclass
class Imported:
    text: str  # the spec
    classes: list[DraftClass]  # dependency order, the root last
    warnings: list[str] = field(default_factory=list)  # what could not be recovered, and why
    keys: list | None = None  # the recorded state_dict layout it was imported with (state.Key)


def layers(items: list[tuple[str, Item]], seen: set[int] | None = None):
    """Every layer under these items, in printed order (each class instance once)."""
    seen = set() if seen is None else seen
    for _, item in items:
        if isinstance(item, Layer):
            yield item
        elif isinstance(item, Seq):
            yield from layers(item.items, seen)
        elif isinstance(item, Use) and id(item.instance) not in seen:
            seen.add(id(item.instance))
            yield from layers(item.instance.items, seen)


def assumed_defaults(instances: dict[str, list[Instance]]) -> list[str]:
    """Comment lines naming, per layer, the arguments no printed repr showed."""
    hidden: dict[str, dict[str, str]] = {}
    every = {id(i) for g in instances.values() for i in g}  # each instance's own layers only
    for group in instances.values():
        for inst in group:
            for layer in layers(inst.items, every):
                for name in layer.call.assumed:
                    default = LAYERS[layer.call.target].arg(name).default
                    hidden.setdefault(layer.call.target, {})[name] = literal(default)
    if not hidden:
        return []
    return ["Not shown in a printed tree, so torch's defaults are assumed:"] + [
        f"  {target}: " + ", ".join(f"{k}={v}" for k, v in args.items())
        for target, args in sorted(hidden.items())]


def guess_inputs(root: Instance, given: dict[str, Any] | None,
                 errors: Collector) -> dict[str, tuple[Any, str | None]]:
    """The model's inputs as the spec declares them (a shape, or a mapping with its dtype):
    as given (shapes or inputs.Input), else one input shaped for the first layer, commented."""
    if given:
        return {name: (declared(inp), None) for name, inp in normalise(given).items()}
    for layer in layers(root.items):
        spec = LAYERS[layer.call.target]
        if not spec.infer:
            continue
        arg, dim = next(iter(spec.infer.items()))
        width = layer.call.full[arg]
        where = f"assumed from the {layer.call.target} on line {layer.node.pos.line}"
        if dim == -1:
            return {"x": ([width], where)}
        match = re.search(r"(\d)d$", spec.name)
        rank = int(match.group(1)) if match else 2
        size = "x".join([str(PLACEHOLDER_SIZE)] * rank)
        return {"x": ([width] + [PLACEHOLDER_SIZE] * rank, f"{where}; {size} is a placeholder")}
    errors.error("no-input", "cannot tell the model's input from the tree", root.node.pos,
                 "pass --input x=3,224,224 (the shape without the batch dimension)")
    return {}


def tree_lines(text: str) -> list[str]:
    """A printed tree's lines, comparable across torch versions: dedented, version noise out."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    indent = min((len(x) - len(x.lstrip()) for x in lines if x), default=0)
    out = []
    for line in lines:
        head = _LINE_HEAD.match(line[indent:])
        out.append(head.group(0) + normalise_repr(line[indent + head.end():]))
    return out


_LINE_HEAD = re.compile(r"\s*(?:\([\w-]+\): )?(?:\d+ x )?")


def check_rebuild(spec_text: str, tree: str, source: str, first_line: int = 1,
                  keys: list | None = None, defect: bool = False,
                  allow: tuple[str, ...] = ()) -> None:
    """Validate and build the spec (on the meta device); raise ImportDefect where it fails
    that, at the first tree line it prints differently, or at the first of the recorded
    state_dict `keys` (state.Key) its state_dict differs at: an importer that got something
    wrong says so, and writes nothing. For a tree file, which may hold what torch never prints
    (values torch refuses, lines out of place), a failure is a SpecError; for a tree torch
    printed itself (`defect`), an ImportDefect. `allow`: the packages of the layer references
    it imports."""
    model = (built if defect else compiled)(spec_text, "meta", allow)
    mismatch = ImportDefect if defect else SpecError
    want, got = tree_lines(tree), tree_lines(str(model))
    for i, (a, b) in enumerate(zip(want + [""] * len(got), got + [""] * len(want))):
        if a != b:
            line = first_line + i + next(n for n, x in enumerate(tree.split("\n")) if x.strip())
            raise mismatch([Diagnostic("not-rebuilt", f"the imported spec prints this line as "
                                        f"'{b.strip()}'", Pos(source, line, 1, len(a) or 1),
                                        "this is a bug in nnspec import; please report it")])
    ours = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    for i, key in enumerate(keys or []):
        if i >= len(ours) or ours[i] != (key.name, key.shape):
            got = f"'{ours[i][0]}' {list(ours[i][1])}" if i < len(ours) else "nothing"
            raise mismatch([Diagnostic("not-rebuilt", f"the imported spec's state_dict has "
                                        f"{got} here", key.pos,
                                        "this is a bug in nnspec import; please report it")])
    if keys is not None and len(ours) > len(keys):
        raise mismatch([Diagnostic("not-rebuilt", f"the imported spec's state_dict has "
                                    f"'{ours[len(keys)][0]}' after the last recorded key",
                                    keys[-1].pos if keys else Pos(source, 1, 1),
                                    "this is a bug in nnspec import; please report it")])


def compiled(spec_text: str, device: Any = None, allow: tuple[str, ...] = ()) -> Any:
    """The model of an imported spec, compiled with every check a spec gets; SpecError where
    the spec fails one. `allow`: the packages of its layer references."""
    from nnspec.elaborate.compile import compile_data
    from nnspec.frontend.reader import parse_document
    from nnspec.runtime.model import instantiate

    doc = parse_document(spec_text, "<imported spec>")
    return instantiate(compile_data(doc.data, "<imported spec>", allow).program, device=device)


def built(spec_text: str, device: Any = None, allow: tuple[str, ...] = ()) -> Any:
    """`compiled`, for a spec nnspec made from what torch printed itself: ImportDefect (with
    its diagnostics) where the spec fails a check."""
    try:
        return compiled(spec_text, device, allow)
    except SpecError as exc:
        raise ImportDefect(exc.diagnostics) from None
