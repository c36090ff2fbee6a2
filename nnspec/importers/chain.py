"""Whether a printed class's forward can be told from its children's shapes alone.

A printed tree does not show forward. The one case it pins down is a chain that only fits one
way: every child changes the feature count (channels, features) and exactly one order of the
children connects each output to the next input, the printed one. A child that keeps the count
(ReLU, BatchNorm of the same width, pooling) or whose effect cannot be told (Flatten, a class
with an unknown forward) fits anywhere, so any class that has one stays unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnspec.catalog import LAYERS
from nnspec.importers.classify import Instance, Item, Layer, Seq, Use

_PROBE_CHANNELS = 7  # an unusual width, to see whether a layer keeps it


@dataclass(frozen=True)
class Features:
    """A child that maps `n_in` features to `n_out`."""

    n_in: int
    n_out: int


NEUTRAL, OPAQUE = "neutral", "opaque"


def known_forwards(instances: dict[str, list[Instance]], order: list[str]) -> set[str]:
    """The classes (in dependency order) whose forward is their children in printed order."""
    known: dict[str, bool] = {}
    for name in order:
        known[name] = all(_only_order(inst, known) for inst in instances[name])
    return {name for name, ok in known.items() if ok}


def _only_order(inst: Instance, known: dict[str, bool]) -> bool:
    if inst.own:  # its forward reads tensors it holds itself, in ways a tree does not show
        return False
    effects = [_effect(item, known) for _, item in inst.items]
    if len(effects) < 2 or not all(isinstance(e, Features) for e in effects):
        return False
    return _connects(effects) and _only_connecting_order(effects)


def _connects(effects: list[Features]) -> bool:
    return all(a.n_out == b.n_in for a, b in zip(effects, effects[1:]))


def _only_connecting_order(effects: list[Features]) -> bool:
    """Whether the printed order (which connects) is the only order of all the children that
    connects. Decided without search when it can be: two equal children swap, a chain that
    ends at its own start rotates, a chain through distinct widths is the only one. Otherwise
    a bounded search; a long chain, or one the search cannot settle within `MAX_SEARCH` steps,
    is taken as not unique (its forward stays unknown, the safe answer)."""
    if len(set(effects)) < len(effects):
        return False
    widths = [effects[0].n_in] + [e.n_out for e in effects]
    if widths[0] == widths[-1]:
        return False
    if len(set(widths)) == len(widths):
        return True
    return len(effects) <= MAX_SEARCHED_CHILDREN and _orders(effects, limit=2) == 1


MAX_SEARCHED_CHILDREN = 64
MAX_SEARCH = 100_000


def _orders(effects: list[Features], limit: int) -> int:
    """How many orders of all the children connect, counting up to `limit`; `limit` as well
    when the search takes over MAX_SEARCH steps."""
    found, steps = 0, 0
    used = [False] * len(effects)

    def extend(depth: int, n_out: int | None) -> None:
        nonlocal found, steps
        steps += 1
        if steps > MAX_SEARCH:
            found = limit
        if found >= limit:
            return
        if depth == len(effects):
            found += 1
            return
        for i, e in enumerate(effects):
            if not used[i] and (n_out is None or e.n_in == n_out):
                used[i] = True
                extend(depth + 1, e.n_out)
                used[i] = False

    extend(0, None)
    return found


def _effect(item: Item, known: dict[str, bool]):
    if isinstance(item, Layer):
        return _layer_effect(item)
    if isinstance(item, Use):
        if not known.get(item.instance.cls):
            return OPAQUE
        return _sequence_effect([i for _, i in item.instance.items], known)
    assert isinstance(item, Seq)
    return _sequence_effect([i for _, i in item.items], known)


def _sequence_effect(items: list[Item], known: dict[str, bool]):
    effects = [_effect(i, known) for i in items]
    if OPAQUE in effects:
        return OPAQUE
    changing = [e for e in effects if isinstance(e, Features)]
    if not changing:
        return NEUTRAL
    if not _connects(changing):
        return OPAQUE
    return Features(changing[0].n_in, changing[-1].n_out)


def _layer_effect(item: Layer):
    layer = LAYERS[item.call.target]
    args = item.call.full
    if layer.shape is None:
        return OPAQUE
    name, dim = next(iter(layer.infer.items()), (None, 1))
    n_in = args.get(name) if name else _PROBE_CHANNELS
    if not isinstance(n_in, int):
        return OPAQUE
    for rank in (4, 3, 2, 5):
        probe = [16] * rank
        probe[0] = 2
        probe[dim] = n_in
        try:
            out = layer.shape(args, [tuple(probe)])
        except Exception:  # this rank does not suit the layer; try another
            continue
        if len(out) != rank:
            return OPAQUE
        if name is None:
            return NEUTRAL if out[dim] == n_in else OPAQUE
        return Features(n_in, out[dim])
    return OPAQUE
