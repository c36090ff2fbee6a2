"""The parameter budget: a model too large to build is refused before anything is allocated.

Parameters are the shape pass's own count, so no torch is needed; a block's own parameters
count too, tied parameters once per name (each is allocated before the tie replaces it). The
budget defaults to DEFAULT_MAX_PARAMS; `nnspec build --max-params N` (or
`with nnspec.static.budget.limit(N):` in Python) raises it. It guards memory, so
`nnspec.build(..., device="meta")`, which allocates nothing, compiles with no limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from nnspec.diagnostics import Collector
from nnspec.ir.analysis import Analysis, ModuleInfo
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
    largest: ModuleInfo | None = None
    # layer types with no parameter rule: their parameters are not counted
    uncounted: set[str] = field(default_factory=set)


def count(analysis: Analysis) -> Count:
    """The parameters the model allocates: every module's own, as the shape pass counted them
    (the one count summaries report; tied parameters once per owner, as each is allocated)."""
    result = Count()
    for info in analysis.modules.values():
        if info.own_params is None:
            result.uncounted.add(info.type)
            continue
        result.total += info.own_params
        if info.own_params and (result.largest is None
                                or info.own_params > result.largest.own_params):
            result.largest = info
    return result


def check(analysis: Analysis, tree: Instance) -> None:
    """Raise SpecError, at the largest module, when the model is over the budget."""
    budget = current()
    if budget is None:
        return
    counted = count(analysis)
    if counted.total <= budget:
        return
    errors = Collector()
    largest = counted.largest
    where = _instance(tree, largest.path).pos if largest else tree.pos
    notes = []
    if largest is not None:
        notes.append(f"the largest layer is '{largest.path}' ({largest.type}), "
                     f"with {largest.own_params:,} parameters")
    if counted.uncounted:
        notes.append("not counted (no parameter rule yet): " + ", ".join(sorted(
            counted.uncounted)))
    errors.error("too-many-params", f"the model would have {counted.total:,} parameters, over "
                 f"the budget of {budget:,}", where,
                 "if you really mean it, raise the budget: nnspec build --max-params N",
                 notes)
    errors.check()


def _instance(tree: Instance, path: str) -> Instance:
    stack = [tree]
    while stack:
        inst = stack.pop()
        if inst.path == path:
            return inst
        stack.extend(inst.children)
    return tree
