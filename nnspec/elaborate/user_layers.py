"""User layers: layer classes from the user's own package, used in specs by import path.

A spec maps a call name to `'package.module:Class'` under `layers:`. What nnspec knows about the
class (its arguments, shape rule, parameter count) comes from a declaration made in Python with
`declare_layer`, which needs no torch, so validation, shape inference and summaries stay
torch-free. A spec alone never imports anything: a package's declarations module
(`PACKAGE.nnspec_layers`) and, for a runtime build, the class's own module are imported only when
the user allows that package (`--allow-import PACKAGE`, `allow_import=[...]`), or when the user's
own code declared the layer before loading the spec.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import keyword
import re
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from nnspec.catalog import LAYERS, Arg, LayerDef
from nnspec.catalog.types import Args, Shape
from nnspec.catalog.user import DECLARED
from nnspec.diagnostics import Collector, Pos, did_you_mean
from nnspec.language.names import IMPORT_PATH, identifier_problem
from nnspec.language.types import VALUE_KINDS

DECLARATIONS = "nnspec_layers"  # the module, in a package, that declares its layers
_PATH = re.compile(IMPORT_PATH)

_explicit: set[str] = set()  # layers the user's own code declared: usable without allowing
_by_nnspec = False  # True while nnspec imports a declarations module itself


def declare_layer(path: str, args: Sequence[Arg] = (), *,
                  shape: Callable[[Args, list[Shape]], Shape] | None = None,
                  params: Callable[[Args], int] | None = None,
                  macs: Callable[[Args, list[Shape], Shape], int] | None = None,
                  state: Callable[[Args], dict[str, tuple[Shape, bool]]] | None = None,
                  checks: Callable[[Args], Iterable[tuple[str, str]]] | None = None,
                  inputs: int = 1, ranks: tuple[int, ...] = ()) -> LayerDef:
    """Declare the layer class at `path` ('package.module:Class') for specs to call.

    `args` are the constructor's arguments in its own order, with defaults (`Arg(name, accepts,
    default)`, kinds as in the catalog: "int", "float", "bool", "int2", "any", ...). The rules
    see arguments by name, torch defaults filled in, and input shapes with the batch dimension:
    `shape(args, input_shapes) -> output shape` (raise ValueError for an input the layer
    rejects), `params(args) -> parameter count`, `macs(args, input_shapes, output_shape)`,
    `state(args) -> {state_dict name: (shape, is_parameter)}`, `checks(args)` yielding
    `(argument, message)` for bad values. Without `shape`, static shapes stop at this layer;
    without `params`, parameter totals that include it are unknown.
    """
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        raise ValueError(f"a layer path is 'package.module:Class', got {path!r}")
    names = [a.name for a in args]
    for arg in args:
        if not isinstance(arg, Arg):
            raise TypeError(f"{path}: arguments are nnspec.Arg, got {arg!r}")
        if not arg.name.isidentifier() or keyword.iskeyword(arg.name):
            raise ValueError(f"{path}: argument name {arg.name!r} is not an identifier")
        if arg.accepts not in VALUE_KINDS:
            raise ValueError(f"{path}: argument {arg.name!r} has unknown kind {arg.accepts!r} "
                             f"(kinds: {', '.join(VALUE_KINDS)})")
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate argument names")
    module, name = path.split(":")
    layer = LayerDef(name, tuple(args), module=module, checks=checks, shape=shape,
                     params=params, macs=macs, inputs=inputs, ranks=tuple(ranks), state=state)
    DECLARED[path] = layer
    if not _by_nnspec:
        _explicit.add(path)
    return layer


def allowed(module: str, allow: Iterable[str]) -> bool:
    """Whether `module` is an allowed package or inside one (`a` allows `a.b`, not `ab`)."""
    return any(module == a or module.startswith(a + ".") for a in allow)


def resolve(layers: dict[str, str], doc: Any, errors: Collector, allow: Sequence[str],
            taken: dict[str, str]) -> tuple[dict[str, str], set[str]]:
    """The spec's `layers:` entries that can be used, call name -> 'module:Class', and the
    names of those that cannot (each with a diagnostic). `taken` maps the spec's other class
    names to what they are, so that a user layer does not hide one."""
    usable: dict[str, str] = {}
    failed: set[str] = set()
    for name, path in layers.items():
        key, value = doc.where(("layers", name), key=True), doc.where(("layers", name))
        problem = identifier_problem(name)
        if problem:
            errors.error("bad-name", f"invalid layer name: {problem}", key)
        elif name in LAYERS or name in taken:
            what = "the torch layer" if name in LAYERS else taken[name]
            errors.error("name-clash", f"user layer '{name}' hides {what} of that name", key,
                         f"call it by another name, e.g. 'My{name}'")
        if not _PATH.fullmatch(path):
            errors.error("bad-value", f"layer '{name}': an import path is "
                         f"'package.module:Class', got {path!r}", value)
        elif _check(name, path, value, errors, allow):
            usable[name] = path
            continue
        failed.add(name)
    return usable, failed


def effective_allow(paths: Iterable[str], allow: Sequence[str]) -> tuple[str, ...]:
    """The packages a rebuild (after unpickling, in a fresh process) may import: the ones
    allowed here, and those of layers the user's code declared itself."""
    declared = {p.split(".")[0] for p in paths if p in _explicit}
    return tuple(sorted(set(allow) | declared))


def _check(name: str, path: str, pos: Pos, errors: Collector, allow: Sequence[str]) -> bool:
    if path in _explicit:
        return True
    module = path.split(":")[0]
    top = module.split(".")[0]
    if not allowed(module, allow):
        errors.error("import-not-allowed", f"layer '{name}' comes from {module}, and nnspec "
                     "imports no user code unless allowed", pos,
                     f"pass --allow-import {top} (allow_import=['{top}'] in the Python API), "
                     f"if you trust {top}")
        return False
    if path in DECLARED:
        return True
    tried = _import_declarations(path, allow, pos, errors)
    if tried is None:  # the import failed; its diagnostic is out
        return False
    if path in DECLARED:
        return True
    where = ", ".join(tried) if tried else f"no {top}.{DECLARATIONS} module"
    same = [p.split(":")[1] for p in DECLARED if p.split(":")[0] == module]
    errors.error("unknown-layer", f"layer '{name}': {path} is not declared (looked in {where})",
                 pos, did_you_mean(path.split(":")[1], same) or (
                     f"{module} declares {', '.join(same)}" if same
                     else f"declare it with nnspec.declare_layer in {top}/{DECLARATIONS}.py"))
    return False


def _import_declarations(path: str, allow: Sequence[str], pos: Pos,
                         errors: Collector) -> list[str] | None:
    """Import `P.nnspec_layers` for each allowed package P on the way to the layer's module,
    outermost first, until one declares the layer. Only packages are looked into: finding a
    submodule imports its parent, and the layer's module itself (which may import torch) must
    not run here. Returns the declarations modules imported, or None after an import error."""
    parts = path.split(":")[0].split(".")
    imported: list[str] = []
    for n in range(1, len(parts) + 1):
        if path in DECLARED:
            break
        package = ".".join(parts[:n])
        if not allowed(package, allow):
            continue
        try:
            found = importlib.util.find_spec(package)
            if found is None:
                errors.error("import-failed", f"no module named '{package}'", pos,
                             "is the package installed, or on PYTHONPATH?")
                return None
            if found.submodule_search_locations is None:
                break  # a plain module: it has no declarations module
            name = f"{package}.{DECLARATIONS}"
            if importlib.util.find_spec(name) is None:
                continue
            with _importing():
                importlib.import_module(name)
        except Exception as exc:  # the user's code failed: a diagnostic, not a traceback
            errors.error("import-failed", f"importing {package}.{DECLARATIONS} failed: "
                         f"{type(exc).__name__}: {exc}", pos, notes=_where(exc))
            return None
        imported.append(name)
    return imported


@contextlib.contextmanager
def _importing() -> Iterator[None]:
    global _by_nnspec
    before, _by_nnspec = _by_nnspec, True
    try:
        yield
    finally:
        _by_nnspec = before


def _where(exc: BaseException) -> list[str]:
    """Where in the user's code an import failed, as a note."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return [f"at {exc.filename}:{exc.lineno}"]
    frames = traceback.extract_tb(exc.__traceback__)
    return [f"at {frames[-1].filename}:{frames[-1].lineno}"] if frames else []


def import_class(path: str) -> type:
    """The class at 'module:Class', for a runtime build (the module may import torch).
    Raises ImportError with a message for the user."""
    module_name, name = path.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ImportError(f"importing {module_name} failed: {type(exc).__name__}: {exc}",
                          name=module_name) from exc
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise ImportError(f"{module_name} has no class {name}", name=module_name)
    return cls
