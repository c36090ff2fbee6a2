"""The build budget: a model too large to allocate is refused before anything is allocated.

Two checks, both for building only (`nnspec.build` off the meta device, `nnspec build` printing
the tree); the static verbs allocate nothing and are never held to them. The parameter budget:
parameters are the shape pass's own count, so no torch is needed; a block's own parameters
count too, tied parameters once per name (each is allocated before the tie replaces it). It
defaults to DEFAULT_MAX_PARAMS; `nnspec build --max-params N` (or
`with nnspec.static.budget.limit(N):` in Python) raises it. The memory check: the model's
parameters and buffers, in bytes of the dtype it is built in, against the memory available now
(and the address-space limit, if set); an allocation that fails anyway is the same diagnostic.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from nnspec.diagnostics import Collector, Diagnostic, SpecError
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


# --- memory ------------------------------------------------------------------------------------

DTYPE_BYTES = {"float16": 2, "half": 2, "bfloat16": 2, "float32": 4, "float": 4, "float64": 8,
               "double": 8}


def dtype_bytes(dtype: object = None) -> int:
    """Bytes per element of a model built in `dtype` (a torch dtype or its name; float32 when
    None, torch's default)."""
    return DTYPE_BYTES.get(str(dtype).removeprefix("torch."), 4) if dtype is not None else 4


def elements(analysis: Analysis) -> tuple[int, int]:
    """(parameters, buffer elements) the model allocates, from the shape pass."""
    buffers = 0
    for info in analysis.modules.values():
        for shape, is_param in (info.state or {}).values():
            if not is_param and all(isinstance(d, int) for d in shape):
                n = 1
                for d in shape:
                    n *= d
                buffers += n
    return count(analysis).total, buffers


def available_memory() -> int | None:
    """Bytes this process could allocate now: the physical memory available (the larger of
    /proc/meminfo's MemAvailable, which counts reclaimable caches, and sysconf's free pages),
    capped by RLIMIT_AS less what is mapped already. None when the system says nothing."""
    physical: list[int] = []
    kib = _proc_field("/proc/meminfo", "MemAvailable:")
    if kib is not None:
        physical.append(kib * 1024)
    try:
        physical.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        pass
    found = [max(physical)] if physical else []
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            mapped = _proc_field("/proc/self/status", "VmSize:") or 0
            found.append(max(0, soft - mapped * 1024))
    except (ImportError, ValueError, OSError):
        pass
    return min(found) if found else None


def _proc_field(path: str, key: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_error(analysis: Analysis, tree: Instance, dtype: object = None,
                 available: int | None = None) -> SpecError:
    """The one diagnostic for a model that does not fit: the estimate and what is available."""
    params, buffers = elements(analysis)
    size = dtype_bytes(dtype)
    need = (params + buffers) * size
    have = "an unknown amount" if available is None else f"{available:,} bytes"
    return SpecError([Diagnostic(
        "out-of-memory", f"building the model needs about {need:,} bytes ({params:,} "
        f"parameters and {buffers:,} buffer elements at {size} bytes each); {have} of memory "
        "is available", tree.pos,
        "free memory, build in a smaller dtype, or build on the meta device")])


def check_build(analysis: Analysis, tree: Instance, dtype: object = None,
                memory: bool = True) -> None:
    """Before allocating: the parameter budget, then (with `memory`: a build in host memory)
    the estimate in bytes against the memory available. Raises SpecError."""
    check(analysis, tree)
    if not memory:
        return
    params, buffers = elements(analysis)
    available = available_memory()
    if available is not None and (params + buffers) * dtype_bytes(dtype) > available:
        raise memory_error(analysis, tree, dtype, available)


@contextmanager
def allocating(analysis: Analysis, tree: Instance, dtype: object = None) -> Iterator[None]:
    """An allocation that fails inside anyway (MemoryError, or torch's RuntimeError about
    allocating) becomes the same diagnostic as the check before it."""
    try:
        yield
    except MemoryError:
        raise memory_error(analysis, tree, dtype, available_memory()) from None
    except RuntimeError as exc:
        text = str(exc).lower()
        if "alloc" not in text and "out of memory" not in text:
            raise
        raise memory_error(analysis, tree, dtype, available_memory()) from None
