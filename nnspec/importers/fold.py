"""Fold a module tree into block classes: one block per printed class, however many instances.

The instances of a class are merged child by child into one template: a child that some
instances lack becomes conditional, and numbered children (Sequentials) are aligned from the
end, so an extra leading layer is one conditional item. Every value that differs between the
instances becomes a parameter, or an expression of one already made (`kernel_size // 2`,
`out_channels * 2`); values equal across all instances stay literals. A parameter gets a
default when most instances share a value, so most calls stay short.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nnspec.catalog import LAYERS, REQUIRED
from nnspec.diagnostics import Collector, Pos
from nnspec.formatter import literal
from nnspec.importers.classify import Classifier, Instance, Item, Layer, Seq, Use
from nnspec.importers.params import DraftParam, Params, widened
from nnspec.importers.variants import NO_FORWARD, Split, split

# --- the folded classes -----------------------------------------------------------------------


@dataclass
class DraftChild:
    key: str  # "" inside a numbered Sequential
    value: str | list[DraftChild]  # a call, or the items of a Sequential
    named: bool = False  # a Sequential with named items
    cond: str | None = None
    repeat: tuple[int, str] | None = None  # (count, loop variable): `key` holds `{variable}`
    orelse: DraftChild | None = None  # the child built when `cond` is false
    container: str = "Sequential"  # of a list of items: or "ModuleList"


@dataclass
class DraftTensor:
    """A tensor the class holds itself (from a recorded state_dict): its init is unknown."""

    name: str
    shape: list[str]  # literals or parameters
    dtype: str
    buffer: bool
    persistent: bool = True
    init: Any = "zeros"
    recorded: bool = True  # from a recorded layout (its init unknown), not a live module


@dataclass
class DraftClass:
    name: str
    base: str  # Module or Sequential
    params: list[DraftParam]
    children: list[DraftChild]
    numbered: bool
    pos: Pos
    # "unknown"; None: children in order; else steps (str, or {if, then, else} mappings)
    forward: str | list | None = "unknown"
    inputs: list[str] | None = None  # forward arguments, when not [x]
    tensors: list[DraftTensor] = field(default_factory=list)
    ties: list[tuple[str, str]] = field(default_factory=list)  # (target, source) paths
    print_name: str | None = None  # the printed class, when the block is named otherwise


@dataclass
class _Slot:
    """One child position of the template, with the item each instance has there."""

    key: str
    sig: tuple
    uses: dict[int, Item]
    sub: list[_Slot] = field(default_factory=list)
    shape: tuple = ()  # numbered items only: the shape they align on
    alt: _Slot | None = None  # the instances with another class here: the `else` child


def _sig(item: Item) -> tuple:
    if isinstance(item, Layer):
        return ("layer", item.call.target)
    if isinstance(item, Use):
        return ("block", item.instance.cls)
    return ("seq", (item.named, item.container))


def _shape(item: Item) -> tuple:
    """The signature of an item and everything in it: what aligning numbered items compares."""
    if isinstance(item, Seq):
        return (*_sig(item), tuple((k if item.named else "", _shape(i)) for k, i in item.items))
    return _sig(item)


def _describe(item: Item) -> str:
    kind, what = _sig(item)
    return what[1] if kind == "seq" else what


class Folder:
    """Folds each class's instances, children first, into DraftClasses."""

    def __init__(self, classifier: Classifier, errors: Collector, forwards=None):
        self.instances = classifier.instances
        self.references = classifier.references  # layer references, called by spec name
        # forwards(draft, instances, params) sets draft.forward, may add parameters
        self.forwards = forwards
        self.errors = errors
        self.values: dict[int, dict[str, Any]] = {}  # id(instance) -> its parameter values
        self.classes: dict[str, DraftClass] = {}

    def fold_all(self, root: Instance) -> list[DraftClass]:
        """Every class, in dependency order, the root last."""
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str) -> None:
            state[name] = "active"
            for inst in self.instances[name]:
                for dep in _uses(inst.items):
                    if state.get(dep) == "active" and dep in NO_FORWARD:
                        self.errors.error("not-rebuildable", f"an nn.{dep} holds another "
                                          f"{dep} in its subtree (here, in '{name}'): every "
                                          f"nn.{dep} folds into one block named {dep}, which "
                                          "cannot hold itself", inst.node.pos,
                                          f"nested {dep}s are not in the spec language yet")
                    elif state.get(dep) == "active":
                        self.errors.error("not-rebuildable", f"class '{dep}' contains itself",
                                          inst.node.pos)
                    elif dep not in state:
                        visit(dep)
            state[name] = "done"
            order.append(name)

        visit(root.cls)
        if root.cls in order[:-1] or len(self.instances[root.cls]) > 1:
            self.errors.error("not-rebuildable", f"the root class '{root.cls}' also appears "
                              "inside the tree", root.node.pos)
        if self.errors.errors:
            return []
        done: list[str] = []
        while order:
            name = order.pop(0)
            try:
                self.classes[name] = self.fold(name, self.instances[name])
            except Split as parts:  # children first: no class holding these is folded yet
                order[:0] = split(self.instances, name, [
                    [self.instances[name][i] for i in group] for group in parts.groups])
                continue
            done.append(name)
        return [self.classes[n] for n in done]

    def fold(self, name: str, instances: list[Instance]) -> DraftClass:
        first = instances[0]
        numbered = any(inst.numbered for inst in instances)
        if any(inst.items and not inst.numbered for inst in instances) and numbered:
            self.errors.error("not-rebuildable", f"some instances of '{name}' have numbered "
                              "children and some named ones", first.node.pos)
        template = self.merge([(i, inst.items) for i, inst in enumerate(instances)],
                              not numbered, name)
        own = [n for n, _ in first.own]
        params = Params(len(instances), {s.key for s in template} | set(own))
        everyone = set(range(len(instances)))
        children = [self.child(s, f"layer{i}" if numbered else s.key, params, everyone)
                    for i, s in enumerate(template)]
        base = "ModuleList" if numbered and any(inst.listed for inst in instances) else \
            "Sequential" if numbered or all(i.sequential and i.items for i in instances) \
            else "Module"
        draft = DraftClass(name, base, [], children, numbered, first.node.pos,
                           tensors=self.tensors(name, instances, params))
        draft.ties = first.ties
        printed = {inst.node.cls for inst in instances}
        if len(printed) > 1:
            self.errors.error("not-rebuildable", f"classes {' and '.join(sorted(printed))} "
                              f"both fold into the block '{name}'", first.node.pos)
        draft.print_name = first.node.cls if first.node.cls != name else None
        for inst in instances[1:]:
            if inst.ties != first.ties:
                self.errors.error("not-rebuildable", f"instances of '{name}' share submodules "
                                  f"differently: {_ties(first)} (line {first.node.pos.line}) "
                                  f"and {_ties(inst)}", inst.node.pos)
        if self.forwards is not None:
            self.forwards(draft, instances, params)
        draft.params = params.drafts()
        for param, p in zip(params.items, draft.params):
            if p.type is None:
                shown = " and ".join(dict.fromkeys(literal(v) for v in param.defined.values()))
                self.errors.error("not-rebuildable", f"instances of '{name}' give '{p.name}' "
                                  f"values of different types ({shown}); no one block "
                                  "parameter takes them all", first.node.pos)
        for i, inst in enumerate(instances):
            self.values[id(inst)] = {p.name: p.values[i] for p in params.items}
        return draft

    def tensors(self, name: str, instances: list[Instance], params: Params) -> list[DraftTensor]:
        """The tensors the instances hold themselves: the same names, ranks and dtypes in
        each; a dimension that differs between them is a parameter."""
        def layout(inst: Instance) -> list[tuple[str, int, str, bool, bool]]:
            return [(n, len(k.shape), k.dtype, k.buffer, k.persistent) for n, k in inst.own]

        first = instances[0]
        for inst in instances[1:]:
            if layout(inst) != layout(first):
                self.errors.error("not-rebuildable", f"instances of '{name}' hold different "
                                  f"tensors themselves: {_tensors(first)} (line "
                                  f"{first.node.pos.line}) and {_tensors(inst)}", inst.node.pos)
                return []
        out = []
        for j, (tensor, key) in enumerate(first.own):
            shape = []
            for d in range(len(key.shape)):
                vector = {i: inst.own[j][1].shape[d] for i, inst in enumerate(instances)}
                text = params.express(vector, f"{tensor}_size{d}", f"{tensor}_size{d}")
                shape.append(text if text is not None else literal(key.shape[d]))
            inits = {repr(inst.own[j][1].init) for inst in instances}
            if len(inits) > 1 and not key.persistent:
                self.errors.error("not-rebuildable", f"instances of '{name}' hold different "
                                  f"values in the non-persistent buffer '{tensor}'",
                                  first.node.pos, "make it persistent, so that the state_dict "
                                  "carries it")
            init = key.init if len(inits) == 1 else "zeros"
            out.append(DraftTensor(tensor, shape, key.dtype, key.buffer, key.persistent, init,
                                   not key.kind))
        return out

    # --- template ----------------------------------------------------------------------------

    def merge(self, groups: list[tuple[int, list[tuple[str, Item]]]], named: bool,
              where: str) -> list[_Slot]:
        slots = self.merge_named(groups, where) if named else self.merge_numbered(groups)
        for slot in slots + [s.alt for s in slots if s.alt is not None]:
            seqs = {i: item for i, item in slot.uses.items() if isinstance(item, Seq)}
            if seqs:
                label = f"{where}.{slot.key}" if slot.key else where
                slot.sub = self.merge([(i, s.items) for i, s in seqs.items()],
                                      next(iter(seqs.values())).named, label)
        return slots

    def merge_named(self, groups, where: str) -> list[_Slot]:
        order: list[str] = []
        index: dict[str, int] = {}  # key -> its place in order
        by_key: dict[str, dict] = {}  # key -> {instance: item}
        for i, items in groups:
            at = -1
            for key, item in items:
                by_key.setdefault(key, {})[i] = item
                if key in index:
                    at = index[key]
                    continue
                at += 1
                if at == len(order):
                    order.append(key)
                    index[key] = at
                else:  # a key some instances lack, placed among the others: renumber
                    order.insert(at, key)
                    index = {k: n for n, k in enumerate(order)}
        slots = []
        for key in order:
            uses = by_key[key]
            kinds = {_sig(item): item for item in uses.values()}
            if len(kinds) == 2 and len(uses) == len(groups):  # one class or the other
                counts = Counter(_sig(item) for item in uses.values())
                main, other = sorted(kinds, key=lambda sig: -counts[sig])
                slot = _Slot(key, main, {i: x for i, x in uses.items() if _sig(x) == main})
                slot.alt = _Slot(key, other, {i: x for i, x in uses.items() if _sig(x) == other})
                slots.append(slot)
                continue
            if len(kinds) > 1:
                a, b = list(kinds.values())[:2]
                self.errors.error("not-rebuildable", f"instances of '{where}' differ at child "
                                  f"'{key}': {_describe(a)} (line {_line(a)}) and "
                                  f"{_describe(b)} (line {_line(b)})", _pos(b),
                                  "a child is one class or another (if/else), not three, and "
                                  "not both and absent")
                continue
            slots.append(_Slot(key, next(iter(kinds)), uses))
        return slots

    def merge_numbered(self, groups) -> list[_Slot]:
        """Align the instances' items (a longest common subsequence of item shapes); an item
        some instances lack becomes conditional."""
        slots: list[_Slot] = []
        for index, items in groups:
            seq = [item for _, item in items]
            shapes = [_shape(item) for item in seq]
            n, m = len(slots), len(seq)
            lcs = [[0] * (m + 1) for _ in range(n + 1)]
            for a in range(n):
                for b in range(m):
                    lcs[a + 1][b + 1] = lcs[a][b] + 1 if slots[a].shape == shapes[b] else \
                        max(lcs[a][b + 1], lcs[a + 1][b])
            merged: list[_Slot] = []
            a, b = n, m
            while a or b:  # walk back: ties keep the later match, aligning the ends
                if a and b and slots[a - 1].shape == shapes[b - 1] and \
                        lcs[a][b] == lcs[a - 1][b - 1] + 1:
                    slots[a - 1].uses[index] = seq[b - 1]
                    merged.append(slots[a - 1])
                    a, b = a - 1, b - 1
                elif a and (not b or lcs[a - 1][b] >= lcs[a][b - 1]):
                    merged.append(slots[a - 1])
                    a -= 1
                else:
                    merged.append(_Slot("", _sig(seq[b - 1]), {index: seq[b - 1]},
                                        shape=shapes[b - 1]))
                    b -= 1
            slots = merged[::-1]
        return slots

    # --- values ------------------------------------------------------------------------------

    def child(self, slot: _Slot, label: str, params: Params, scope: set[int]) -> DraftChild:
        """One template child; `scope` holds the instances that have its parent."""
        if slot.alt is not None:  # `if: cond`, one class; `else:` the other
            split = {i: i in slot.uses for i in sorted(scope)}
            chosen = self.child(_Slot(slot.key, slot.sig, slot.uses, slot.sub), label, params,
                                set(slot.uses))
            chosen.orelse = self.child(slot.alt, label, params, set(slot.alt.uses))
            what = _describe(next(iter(slot.uses.values()))).lower()
            chosen.cond = params.express(split, f"{label}_is_{what}", f"{label}_is_{what}")
            return chosen
        cond = None
        if len(slot.uses) < len(scope):
            present = {i: i in slot.uses for i in sorted(scope)}
            cond = params.express(present, f"with_{label}", f"with_{label}")
        kind, target = slot.sig
        if kind == "seq":
            named, container = target
            items = [self.child(s, s.key if named else f"{label}_{i}", params, set(slot.uses))
                     for i, s in enumerate(slot.sub)]
            if named:
                items = _named_repeats(items, params.names.taken)
            return DraftChild(slot.key, items, named, cond, container=container)
        if kind == "layer":
            text = self.layer_call(target, slot, label, params)
        else:
            text = self.block_call(target, slot, label, params)
        return DraftChild(slot.key, text, False, cond)

    def layer_call(self, target: str, slot: _Slot, label: str, params: Params) -> str:
        layer = LAYERS[target]
        names = {n for item in slot.uses.values() for n in item.call.args}
        parts = []
        for arg in layer.args:
            if arg.name not in names:
                continue
            vector = {}
            for i, item in slot.uses.items():
                args, full = item.call.args, item.call.full
                fallback = full.get(arg.name) if arg.default is None else arg.default
                vector[i] = args.get(arg.name, fallback)
            vector = widened(vector, arg.accepts)
            text = params.express(vector, arg.name, f"{label}_{arg.name}", arg.default)
            if text is None:  # a literal equal to torch's default
                continue
            parts.append(text if arg.required else f"{arg.name}={text}")
        name = self.references.call_name(target) if self.references else target
        return f"{name}({', '.join(parts)})"

    def block_call(self, target: str, slot: _Slot, label: str, params: Params) -> str:
        cls = self.classes[target]
        parts = []
        for p in cls.params:
            vector = {i: self.values[id(use.instance)][p.name] for i, use in slot.uses.items()}
            text = params.express(vector, p.name, f"{label}_{p.name}", p.default)
            if text is None:
                continue
            positional = p.default is REQUIRED and len(parts) == cls.params.index(p)
            parts.append(text if positional else f"{p.name}={text}")
        return f"{target}({', '.join(parts)})"


def _uses(items: list[tuple[str, Item]]):
    for _, item in items:
        if isinstance(item, Use):
            yield item.instance.cls
        elif isinstance(item, Seq):
            yield from _uses(item.items)


_NUMBERED = re.compile(r"(.*?)(\d+)(\D*)")
MIN_REPEAT = 3  # shorter runs of numbered names stay as they are


def _named_repeats(items: list[DraftChild], taken: set[str]) -> list[DraftChild]:
    """Runs of equal calls named `prefix0`, `prefix1`, ... (ViT's `encoder_layer_0`..`11`) as
    one named repeat, `"prefix{i}": {repeat: n, as: i, call: ...}`."""
    var = next(v for v in ("i", "j", "k", "n", "idx", "index") if v not in taken)
    out: list[DraftChild] = []
    at = 0
    while at < len(items):
        first = items[at]
        match = _NUMBERED.fullmatch(first.key)
        count = 1
        if match and match.group(2) == "0" and isinstance(first.value, str) and not first.cond:
            head, tail = match.group(1), match.group(3)
            while at + count < len(items) and items[at + count].key == f"{head}{count}{tail}" \
                    and items[at + count].value == first.value and not items[at + count].cond:
                count += 1
        if count >= MIN_REPEAT:
            out.append(DraftChild(f"{head}{{{var}}}{tail}", first.value, repeat=(count, var)))
        else:
            out += items[at:at + count]
        at += count
    return out


def _tensors(inst: Instance) -> str:
    return "[" + ", ".join(f"{n}: {k.dtype}{list(k.shape)}" for n, k in inst.own) + "]"


def _ties(inst: Instance) -> str:
    return "{" + ", ".join(f"{t}: {s}" for t, s in inst.ties) + "}"


def _pos(item: Item) -> Pos:
    return item.instance.node.pos if isinstance(item, Use) else item.node.pos


def _line(item: Item) -> int:
    return _pos(item).line
