"""Backend: real `nn.Module` classes at run time, by executing the generated source.

Runtime and codegen cannot drift because they are one path: the runtime runs exactly the code
`nnspec build -o` writes (nnspec's own output from validated identifiers and literals, never
spec text). The source is registered with `linecache` under a module in `sys.modules`, so
tracebacks and `inspect.getsource` show it, as torch.fx does. The classes get a `__reduce__`
that rebuilds them from the resolved spec, so pickle, `torch.save` and deepcopy work.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import sys
import types

from nnspec.codegen.generate import generate
from nnspec.diagnostics import Diagnostic, SpecError
from nnspec.elaborate.compile import compile_data
from nnspec.elaborate.user_layers import allowed, import_class
from nnspec.ir.program import Program
from nnspec.runtime.torchlib import torch

_MODULES: dict[str, types.ModuleType] = {}


def load_classes(program: Program) -> types.ModuleType:
    """The module holding the generated classes for this program (cached by its source)."""
    payload = _payload(program)
    key = _key(payload)
    if key in _MODULES:
        return _MODULES[key]
    _import_user_layers(program)
    source = generate(program)
    name = f"nnspec_generated_{key}"
    filename = f"<nnspec {program.source} {key}>"
    module = types.ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)  # nnspec's own generated code
    for cls in vars(module).values():
        if isinstance(cls, type) and issubclass(cls, torch.nn.Module) \
                and cls.__module__ == name:
            cls.__reduce__ = _reducer(payload)  # type: ignore[method-assign]
    _MODULES[key] = module
    return module


def _import_user_layers(program: Program) -> None:
    """Import the user layers' modules before the generated source does, so a failure is a
    diagnostic at the spec's `layers:` entry. Compiling the spec checked they are allowed."""
    problems = []
    for path, pos in program.user_layers.items():
        top = path.split(".")[0].split(":")[0]
        if top != "torch" and not allowed(path.split(":")[0], program.allow_import):
            # (torch's own classes, which a class argument may name, are always allowed)
            problems.append(Diagnostic("import-not-allowed", f"building imports {path}, and "
                                       "nnspec imports no code unless allowed", pos,
                                       f"pass --allow-import {top} (allow_import=['{top}'] in "
                                       f"the Python API), if you trust {top}"))
            continue
        try:
            cls = import_class(path)
        except ImportError as exc:
            problems.append(Diagnostic("import-failed", str(exc), pos))
            continue
        if not issubclass(cls, torch.nn.Module):
            problems.append(Diagnostic("bad-value", f"{path} is not a torch.nn.Module class",
                                       pos))
    if problems:
        raise SpecError(problems)


def _payload(program: Program) -> str:
    """What rebuilds the classes in another process: the spec, and the packages its user
    layers may be imported from."""
    data = {"source": program.source, "spec": program.resolved}
    if program.allow_import:
        data["allow_import"] = list(program.allow_import)
    return json.dumps(data, separators=(",", ":"))


def _key(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _reducer(payload: str):
    def __reduce__(self: torch.nn.Module) -> tuple:
        return (_rebuild, (payload, type(self).__name__), self.__dict__)
    return __reduce__


def _rebuild(payload: str, class_name: str) -> torch.nn.Module:
    """Unpickling: recompile the spec (once per process), then make a bare instance that
    pickle fills in."""
    module = _MODULES.get(_key(payload))
    if module is None:
        data = json.loads(payload)
        module = load_classes(compile_data(data["spec"], data["source"],
                                           data.get("allow_import", ())).program)
    cls = getattr(module, class_name)
    return cls.__new__(cls)
