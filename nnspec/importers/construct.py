"""The arguments each module was constructed with, recorded while the user's factory runs.

`nnspec import module` calls the factory itself, so it can watch the model being built: while
`recording()` is active, the `__init__` of every module class (and of the classes it derives
from) is wrapped, and sees the arguments it is called with bound to its parameters, defaults
filled in, as its frame starts with them. The first `__init__` entered for an instance is its
own class's (`type.__call__` calls it; the bases' come later, through `super().__init__()`); an
instance made by `copy.deepcopy` runs no `__init__` and is not recorded. Classes defined while
recording are wrapped as they are made (`__init_subclass__`), and again where a decorator
replaced their `__init__` since; an instance whose first `__init__` is not wrapped all the same
is not recorded. A function a decorator put in place of an `__init__` is looked through to
the `__init__` it wraps. A layer reference's arguments are then the ones the code passed,
instead of ones guessed from attributes; they are verified by rebuilding all the same.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import threading
import types
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


_lock = threading.Lock()
_state: _Recorder | None = None  # the recording under way; wrappers a decorator kept past
# their recording (as the `__init__` it wraps) serve the next one, or pass the call on
_WRAPS = "__nnspec_wraps__"  # a wrapper's attribute: the `__init__` it wraps


@contextlib.contextmanager
def recording(made: Made | None = None) -> Iterator[Made]:
    """Record the construction of every non-torch module made inside the block (in this
    thread). Inside another recording, nothing is recorded."""
    global _state
    from nnspec.runtime.torchlib import torch

    made = made if made is not None else Made()
    with _lock:
        nested = _state is not None
        if not nested:
            _state = recorder = _Recorder(torch.nn.Module, made)
    if nested:
        yield made
        return
    collecting = gc.isenabled()
    try:
        gc.disable()
        if collecting:
            _unfreeze()
        recorder.start()
        yield made
    finally:
        with _lock:
            _state = None
        recorder.stop()
        if collecting:
            _freeze()
            gc.enable()


# The cyclic collector is paused while the factory runs: importing a library and constructing
# a model make few reference cycles, and each full pass walks every object made so far (about
# a second of `import module`'s CPU). What the factory made is then frozen (`gc.freeze`), out
# of the collector's later passes: classes, modules and the model live on. The next recording
# puts it back first, so that at most one import's objects are ever held out.
_frozen = [False]


def _freeze() -> None:
    gc.freeze()
    _frozen[0] = True


def _unfreeze() -> None:
    if _frozen[0]:
        gc.unfreeze()
        _frozen[0] = False


class _Recorder:
    """Module classes' `__init__` wrapped while a recording runs, put back after it."""

    def __init__(self, module_cls: type, made: Made):
        self.module_cls, self.made = module_cls, made
        self.thread = threading.get_ident()
        self.seen: dict[int, Any] = {}  # instances whose own __init__ has been entered (held,
        # so that no other instance takes the id of one collected while recording)
        self.patched: list[tuple[type, Any, Any]] = []  # (class, its __init__, wrapper)
        self.pending: list[type] = []  # classes made while recording, to look at again
        self.hook: Any = None

    def start(self) -> None:
        self.hook = vars(self.module_cls).get("__init_subclass__")
        hook, module_cls = self.hook, self.module_cls

        def init_subclass(cls: type, **kwargs: Any) -> None:
            if hook is not None:
                hook.__get__(None, cls)(**kwargs)
            else:
                super(module_cls, cls).__init_subclass__(**kwargs)
            self.flush()
            self.wrap(cls)
            self.pending.append(cls)  # a class decorator may replace its __init__ next

        todo, done = [module_cls], {module_cls}
        while todo:
            cls = todo.pop()
            self.wrap(cls)
            for sub in type.__subclasses__(cls):
                if sub not in done:
                    done.add(sub)
                    todo.append(sub)
        module_cls.__init_subclass__ = classmethod(init_subclass)  # type: ignore[assignment]

    def stop(self) -> None:
        if self.hook is not None:
            self.module_cls.__init_subclass__ = self.hook  # type: ignore[assignment]
        else:
            with contextlib.suppress(AttributeError):
                del self.module_cls.__init_subclass__  # type: ignore[misc]
        for cls, init, wrapper in reversed(self.patched):
            if vars(cls).get("__init__") is wrapper:
                type.__setattr__(cls, "__init__", init)
        self.patched.clear()
        self.seen.clear()
        self.pending.clear()

    def flush(self) -> None:
        while self.pending:
            self.wrap(self.pending.pop())

    def wrap(self, cls: type) -> None:
        """Wrap the `__init__` of `cls` and of the classes it derives from, where not yet."""
        for klass in cls.__mro__:
            init = vars(klass).get("__init__")
            if not isinstance(init, types.FunctionType) or hasattr(init, _WRAPS):
                continue
            wrapper = _wrapper(init)
            try:
                type.__setattr__(klass, "__init__", wrapper)
            except (TypeError, AttributeError):  # a class that cannot be changed
                continue
            self.patched.append((klass, init, wrapper))

    def enter(self, this: Any, init: Any, args: tuple, kwargs: dict) -> None:
        """An `__init__` entered: the instance's first, recorded by the parameters of the
        `__init__` the wrapped function is or wraps."""
        if id(this) in self.seen or not isinstance(this, self.module_cls):
            return
        first = type(this).__init__  # (before a decorator's replacement is wrapped now)
        self.flush()
        if not hasattr(first, _WRAPS) and getattr(getattr(first, "__code__", None), "co_name",
                                                  None) == "__init__":
            self.seen[id(this)] = this  # its first __init__ is not wrapped: not recorded
            return
        target = _own_init(init)
        if target is None:  # a decorator's function, which calls the __init__ recorded
            return
        self.seen[id(this)] = this
        cls = type(this)
        if cls.__module__ == "torch" or cls.__module__.startswith("torch."):
            return
        try:
            bound = _signature(target).bind(this, *args, **kwargs)
        except (TypeError, ValueError):  # the call itself raises it
            return
        bound.apply_defaults()
        with contextlib.suppress(TypeError):
            self.made.calls[this] = {n: _snapshot(v) for n, v in
                                     list(bound.arguments.items())[1:]}


def _wrapper(init: Any) -> Any:
    @functools.wraps(init)
    def __init__(this: Any, *args: Any, **kwargs: Any) -> Any:
        state = _state
        if state is not None and state.thread == threading.get_ident():
            state.enter(this, init, args, kwargs)
        return init(this, *args, **kwargs)

    setattr(__init__, _WRAPS, init)
    return __init__


@functools.lru_cache(maxsize=4096)
def _own_init(function: Any) -> Any:
    """The function itself when its code is an `__init__` taking the instance; else the one
    it wraps (`functools.wraps`, or the `__init__` its closure calls, as torch's own patch of
    `nn.Module.__init__` keeps it) that is; None when there is none."""
    for _ in range(32):
        inner = getattr(function, _WRAPS, None)
        if inner is None:
            code = getattr(function, "__code__", None)
            if code is not None and code.co_name == "__init__" and code.co_argcount:
                return function
            inner = getattr(function, "__wrapped__", None) or _closed_init(function)
        if inner is None:
            return None
        function = inner
    return None


def _closed_init(function: Any) -> Any:
    """The `__init__` (or wrapper of one) a function's closure holds; else its one function,
    another patch in the chain; None when there is neither."""
    found = []
    for cell in getattr(function, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, types.FunctionType):
            if hasattr(value, _WRAPS) or value.__code__.co_name == "__init__":
                return value
            found.append(value)
    return found[0] if len(found) == 1 else None


@functools.lru_cache(maxsize=4096)
def _signature(function: Any) -> inspect.Signature:
    return inspect.signature(function, follow_wrapped=False)


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
