"""Backend: real `nn.Module` classes at run time, by executing the generated source.

Runtime and codegen cannot drift because they are one path: the runtime runs exactly the code
`nnspec build -o` writes (nnspec's own output from validated identifiers and literals, never
spec text). The source is registered with `linecache` under a module in `sys.modules`, so
tracebacks and `inspect.getsource` show it, as torch.fx does. The classes get a `__reduce__`
that rebuilds them from the resolved spec, so pickle, `torch.save` and deepcopy work.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import linecache
import sys
import traceback
import types
import warnings
from typing import Any

with warnings.catch_warnings():  # torch warns at import when numpy is absent; we never use it
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from nnspec.codegen.generate import generate
from nnspec.diagnostics import Diagnostic, Pos, SpecError
from nnspec.elaborate.compile import compile_data
from nnspec.ir.program import If, Instance, Program

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
    from nnspec.elaborate.user_layers import import_class

    problems = []
    for path, pos in program.user_layers.items():
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


def instantiate(program: Program, device: Any = None, dtype: Any = None) -> torch.nn.Module:
    """Construct the root model, in tree order so a fixed seed gives fixed parameters."""
    cls = getattr(load_classes(program), program.root)
    with torch.device(device) if device is not None else contextlib.nullcontext():
        try:
            model = cls()
        except Exception as exc:
            if not program.user_layers:  # then generated code failed: nnspec's bug
                raise
            raise _user_code_error(program, exc) from None
    if dtype is not None:
        model = model.to(dtype=_dtype(dtype))
    return model


def _user_code_error(program: Program, exc: Exception) -> SpecError:
    """Building with user layers failed: their constructors, or an init rule reaching a child
    that the user's class does not have (declarations do not describe children)."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    pos = program.classes[program.root].pos
    for cls in program.classes.values():
        for rule in cls.init:
            child = (rule.child or "").split(".")[0]
            if child and any(kind == "user" for _, kind in rule.types) and \
                    f"attribute '{child}'" in reason:
                pos = rule.child_pos or rule.pos
    return SpecError([Diagnostic("build-failed", f"building the model fails: "
                                 f"{type(exc).__name__}: {reason}", pos)])


def _dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}")
    return value


def example_inputs(program: Program, batch: int = 2, seed: int = 0,
                   shape_override: dict[str, tuple[int, ...]] | None = None,
                   device: Any = None) -> tuple[torch.Tensor, ...]:
    """Random inputs matching the declared inputs in shape and dtype, reproducibly."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for inp in program.inputs:
        shape = (batch, *((shape_override or {}).get(inp.name, inp.shape)))
        dtype = _dtype(inp.dtype)
        if dtype.is_floating_point:
            tensor = torch.randn(shape, generator=gen).to(dtype)
        elif dtype == torch.bool:
            tensor = torch.rand(shape, generator=gen) > 0.5
        else:
            low, high = inp.range or (0, 2)
            tensor = torch.randint(low, high, shape, generator=gen, dtype=dtype)
        out.append(tensor.to(device) if device is not None else tensor)
    return tuple(out)


def forward_error(program: Program, tree: Instance, model: torch.nn.Module,
                  exc: Exception) -> SpecError | None:
    """A forward that fails on the spec's own declared inputs is the spec's fault: say which
    module failed, at its forward step or layer call. None when no module of `model` failed,
    or when the exception is not one torch raises for bad shapes and values (an
    AttributeError from generated code is nnspec's bug, not the spec's)."""
    if not isinstance(exc, (RuntimeError, ValueError, IndexError, TypeError)):
        return None
    modules = {id(m): name for name, m in model.named_modules()}
    frames = [(frame, line) for frame, line in traceback.walk_tb(exc.__traceback__)
              if id(frame.f_locals.get("self")) in modules]
    if not frames:
        return None
    frame, lineno = frames[-1]  # the innermost module's forward
    module = frame.f_locals["self"]
    path, name = modules[id(module)], type(module).__name__
    filename = load_classes(program).__file__
    pos = _instance(tree, path).pos
    notes: tuple[str, ...] = ()
    if frame.f_code.co_filename == filename and name in program.classes:
        cls = program.classes[name]
        pos = _step_pos(cls.forward, _forward_body(filename, name), lineno) or pos
        notes = (f"generated code: {linecache.getline(filename, lineno).strip()}",)
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    where = f"module '{path}' ({name})" if path else f"the model ({name})"
    return SpecError([Diagnostic(
        "forward-failed", f"forward pass on the declared inputs fails in {where}: {reason}",
        pos, notes=notes)])


def _instance(tree: Instance, path: str) -> Instance:
    """The instance at a dotted module path (the deepest one found on the way)."""
    node = tree
    while node.path != path:
        inner = next((c for c in node.children
                      if path == c.path or path.startswith(c.path + ".")), None)
        if inner is None:
            break
        node = inner
    return node


def _forward_body(filename: str, class_name: str) -> list[ast.stmt]:
    tree = ast.parse("".join(linecache.getlines(filename)))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "forward":
                    return item.body
    return []


def _step_pos(steps: list, body: list[ast.stmt], lineno: int) -> Pos | None:
    """The spec position of the forward step rendered at `lineno` (IR steps and generated
    statements correspond one to one; an `if` with an empty branch renders `pass`)."""
    nodes = [n for n in body if not isinstance(n, ast.Pass)]
    for step, node in zip(steps, nodes):
        if not node.lineno <= lineno <= (node.end_lineno or node.lineno):
            continue
        if isinstance(step, If) and isinstance(node, ast.If) and lineno != node.lineno:
            return (_step_pos(step.then, node.body, lineno)
                    or _step_pos(step.orelse, node.orelse, lineno) or step.pos)
        return step.pos
    return None
