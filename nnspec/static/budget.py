"""The parameter budget: a model too large to build is refused before anything is allocated.

Parameters are counted over the instance tree with the catalog's `params` rules, so no torch is
needed; a block's own parameters and buffers count too, tied parameters once per name (each is
allocated before the tie replaces it). The budget defaults to DEFAULT_MAX_PARAMS; `nnspec build
--max-params N` (or `with nnspec.budget.limit(N):` in Python) raises it. It guards memory, so
`nnspec.build(..., device="meta")`, which allocates nothing, compiles with no limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from nnspec.catalog import LAYERS
from nnspec.diagnostics import Collector
from nnspec.ir.program import Instance

DEFAULT_MAX_PARAMS = 10**10

_max_params: ContextVar[int | None] = ContextVar("max_params", default=DEFAULT_MAX_PARAMS)


@contextmanager
def limit(max_params: int | None) -> Iterator[None]:
    """Compile with a different parameter budget inside this block (None: no limit)."""
    token = _max_params.set(max_params)
    try:
        yield
    finally:
        _max_params.reset(token)


def current() -> int | None:
    return _max_params.get()


@dataclass
class Count:
    total: int = 0
    largest: Instance | None = None
    largest_params: int = 0
    # layer types with no `params` rule, or whose rule needs an argument not known yet (one
    # that static shape inference fills in): their parameters are not counted
    uncounted: set[str] = field(default_factory=set)


def count(tree: Instance) -> Count:
    """Parameters of every layer in the tree, by the catalog's rules."""
    result = Count()
    stack = [tree]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        # a block's own parameters and buffers; tied ones too, as each is allocated
        own = sum(math.prod(shape) for shape in node.tensors.values())
        result.total += own
        if own > result.largest_params:
            result.largest, result.largest_params = node, own
        layer = LAYERS.get(node.type) if node.kind == "layer" else None
        if layer is None:
            continue
        if layer.params is None:
            result.uncounted.add(node.type)
            continue
        try:
            n = layer.params(layer.bind_defaults(node.args))
        except (KeyError, TypeError):  # an argument left for shape inference to fill in
            result.uncounted.add(node.type)
            continue
        result.total += n
        if n > result.largest_params:
            result.largest, result.largest_params = node, n
    return result


def check(tree: Instance) -> None:
    """Raise SpecError, at the largest layer, when the model is over the budget."""
    budget = current()
    if budget is None:
        return
    counted = count(tree)
    if counted.total <= budget:
        return
    errors = Collector()
    where = counted.largest.pos if counted.largest else tree.pos
    notes = []
    if counted.largest is not None:
        notes.append(f"the largest layer is '{counted.largest.path}' ({counted.largest.type}), "
                     f"with {counted.largest_params:,} parameters")
    if counted.uncounted:
        notes.append("not counted (no parameter rule yet): " + ", ".join(sorted(
            counted.uncounted)))
    errors.error("too-many-params", f"the model would have {counted.total:,} parameters, over "
                 f"the budget of {budget:,}", where,
                 "if you really mean it, raise the budget: nnspec build --max-params N",
                 notes)
    errors.check()
