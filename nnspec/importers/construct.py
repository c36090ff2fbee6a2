"""The arguments each module was constructed with, recorded while the user's factory runs.

`nnspec import module` calls the factory itself, so it can watch the model being built: while
`recording()` is active, a profile hook sees each constructor's frame as it is entered, when
its local variables are still exactly the arguments it was called with. The first `__init__`
entered for an instance is its own class's (`type.__call__` calls it; the bases' come later,
through `super().__init__()`); an instance made by `copy.deepcopy` runs no `__init__` and is
not recorded. A layer reference's arguments are then the ones the code passed, instead of
ones guessed from attributes; they are verified by rebuilding all the same.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import weakref
from collections.abc import Iterator
from typing import Any


class Made:
    """The recorded constructor calls: instance -> its `__init__` arguments by name (a
    `*args` or `**kwargs` parameter under its own name)."""

    def __init__(self) -> None:
        self.calls: weakref.WeakKeyDictionary[Any, dict[str, Any]] = \
            weakref.WeakKeyDictionary()

    def bound(self, module: Any) -> dict[str, Any] | None:
        """The instance's constructor arguments as passed or defaulted, by parameter name;
        None when it was not seen being constructed."""
        try:
            return self.calls.get(module)
        except TypeError:  # not weak-referenceable
            return None


@contextlib.contextmanager
def recording(made: Made | None = None) -> Iterator[Made]:
    """Record the construction of every non-torch module made inside the block (in this
    thread). A profiler already active is kept, and nothing is recorded."""
    from nnspec.runtime.torchlib import torch

    made = made if made is not None else Made()
    if sys.getprofile() is not None:
        yield made
        return
    module_cls = torch.nn.Module
    seen: dict[int, Any] = {}  # instances whose own __init__ has been entered (held, so
    # that no other instance takes the id of one collected while recording)

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        if code.co_name != "__init__" or not code.co_argcount:
            return
        names = code.co_varnames
        local = frame.f_locals
        this = local.get(names[0])
        if not isinstance(this, module_cls) or id(this) in seen:
            return
        seen[id(this)] = this
        cls = type(this)
        if cls.__module__ == "torch" or cls.__module__.startswith("torch."):
            return
        count = code.co_argcount + code.co_kwonlyargcount
        count += bool(code.co_flags & inspect.CO_VARARGS)
        count += bool(code.co_flags & inspect.CO_VARKEYWORDS)
        with contextlib.suppress(TypeError):
            made.calls[this] = {n: _snapshot(local[n]) for n in names[1:count] if n in local}

    sys.setprofile(hook)
    try:
        yield made
    finally:
        sys.setprofile(None)
        seen.clear()


def _snapshot(value: Any) -> Any:
    """A copy of plain lists, tuples and dicts, so that code mutating what it passed after
    the call does not change what was recorded."""
    if isinstance(value, list):
        return [_snapshot(v) for v in value]
    if type(value) is tuple:
        return tuple(_snapshot(v) for v in value)
    if type(value) is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    return value
