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
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from nnspec.catalog import LAYERS, REQUIRED, Arg, LayerDef, check_accepts
from nnspec.catalog.library import LIBRARY, UNWRITTEN
from nnspec.catalog.types import Args, Shape
from nnspec.catalog.user import DECLARED
from nnspec.diagnostics import Collector, Diagnostic, Pos, SpecError, did_you_mean
from nnspec.frontend.validate import layer_path
from nnspec.language.names import IMPORT_PATH, identifier_problem
from nnspec.language.types import VALUE_KINDS, infer_type

DECLARATIONS = "nnspec_layers"  # the module, in a package, that declares its layers
_PATH = re.compile(IMPORT_PATH)

_explicit: set[str] = set()  # layers the user's own code declared: usable without allowing
_from_spec: set[str] = set()  # layers declared by a spec's `args`: replaced by any other
_real: dict[str, LayerDef] = {}  # every declare_layer declaration, kept while a spec's replaces it
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
    if not isinstance(args, (list, tuple)):
        raise TypeError(f"{path}: args must be a list of nnspec.Arg, got {args!r}")
    for arg in args:
        if not isinstance(arg, Arg):
            raise TypeError(f"{path}: arguments are nnspec.Arg, got {arg!r}")
        if not isinstance(arg.name, str) or not arg.name.isidentifier() or keyword.iskeyword(
                arg.name):
            raise ValueError(f"{path}: argument name {arg.name!r} is not an identifier")
        if arg.accepts not in VALUE_KINDS:
            raise ValueError(f"{path}: argument {arg.name!r} has unknown kind {arg.accepts!r} "
                             f"(kinds: {', '.join(VALUE_KINDS)})")
    names = [a.name for a in args]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate argument names")
    for rule, value in (("shape", shape), ("params", params), ("macs", macs), ("state", state),
                        ("checks", checks)):
        if value is not None and not callable(value):
            raise TypeError(f"{path}: {rule} must be a function, got {value!r}")
    if isinstance(inputs, bool) or not isinstance(inputs, int) or inputs < 0:
        raise TypeError(f"{path}: inputs must be a count of inputs, got {inputs!r}")
    if not isinstance(ranks, (tuple, list)) or not all(
            isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in ranks):
        raise TypeError(f"{path}: ranks must be a tuple of tensor ranks, got {ranks!r}")
    module, name = path.split(":")
    layer = LayerDef(name, tuple(args), module=module, checks=_guarded(path, "checks", checks),
                     shape=_guarded(path, "shape", shape), params=_guarded(path, "params", params),
                     macs=_guarded(path, "macs", macs), inputs=inputs, ranks=tuple(ranks),
                     state=_guarded(path, "state", state))
    DECLARED[path] = _real[path] = layer
    _from_spec.discard(path)
    if not _by_nnspec:
        _explicit.add(path)
    return layer


def declare_signature(path: str, args: Sequence[Arg]) -> LayerDef:
    """Declare the layer at `path` by its signature alone, as a spec's `{class, args}` entry
    does (no rules: static shapes stop at it); a declaration made any other way replaces it."""
    layer = LayerDef(path.split(":")[1], tuple(args), module=path.split(":")[0])
    DECLARED[path] = layer
    _from_spec.add(path)
    return layer


class UserRuleError(Exception):
    """A user layer's declared rule raised or returned something it must not: the bug is in
    the user's package, reported at the spec's `layers:` entry for `path`."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path, self.message = path, message


def rule_error(exc: UserRuleError, pos: Pos) -> SpecError:
    """The one diagnostic for a faulty declared rule, at `pos` (the spec's `layers:` entry)."""
    return SpecError([Diagnostic("user-layer-failed", exc.message, pos,
                                 "the declaration is in the user's package (its "
                                 f"{DECLARATIONS} module, or the code that declared it): "
                                 "fix it there")])


def _guarded(path: str, rule: str, fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
    """`fn`, the user's `rule` for the layer at `path`, with its failures and malformed
    results raised as UserRuleError. A shape rule's ValueError is its documented refusal of
    an input, and passes through."""
    if fn is None:
        return None
    package = path.split(".")[0].split(":")[0]

    def guarded(*args: Any) -> Any:
        try:
            result = fn(*args)
            if rule == "checks":
                result = list(result or ())
        except Exception as exc:
            if rule == "shape" and isinstance(exc, ValueError):
                raise  # the rule refuses this input: a shape error at the call
            problem: str | None = f"raised {type(exc).__name__}: {exc}"
        else:
            problem = _result_problem(rule, result)
        if problem:
            raise UserRuleError(path, f"the {rule} rule that package '{package}' declares for "
                                f"{path} {problem}")
        return result
    return guarded


def _result_problem(rule: str, result: Any) -> str | None:
    """Why `result` is not what a `rule` must return, or None."""
    def count(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    def shape(v: Any) -> bool:
        return isinstance(v, (tuple, list)) and all(count(d) for d in v)

    if rule in ("params", "macs"):
        ok = count(result)
    elif rule == "shape":
        ok = shape(result) or (isinstance(result, (tuple, list)) and bool(result)
                               and all(shape(s) for s in result))
    elif rule == "state":
        ok = isinstance(result, dict) and all(
            isinstance(k, str) and isinstance(v, tuple) and len(v) == 2 and shape(v[0])
            and isinstance(v[1], bool) for k, v in result.items())
    else:  # checks: (argument, message) pairs
        ok = all(isinstance(c, tuple) and len(c) == 2 and all(isinstance(x, str) for x in c)
                 for c in result)
    return None if ok else f"returned {result!r:.80}, which is not what a {rule} rule returns"


def allowed(module: str, allow: Iterable[str]) -> bool:
    """Whether `module` is an allowed package or inside one (`a` allows `a.b`, not `ab`)."""
    return any(module == a or module.startswith(a + ".") for a in allow)


def resolve(layers: dict[str, Any], doc: Any, errors: Collector, allow: Sequence[str],
            taken: dict[str, str]) -> tuple[dict[str, str], set[str]]:
    """The spec's `layers:` entries that can be used, call name -> 'module:Class', and the
    names of those that cannot (each with a diagnostic). `taken` maps the spec's other class
    names to what they are, so that a user layer does not hide one."""
    usable: dict[str, str] = {}
    failed: set[str] = set()
    for name, entry in layers.items():
        path = layer_path(entry)
        at = ("layers", name) if isinstance(entry, str) else ("layers", name, "class")
        key, value = doc.where(("layers", name), key=True), doc.where(at)
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
        else:
            signature = _spec_args(name, entry, doc, errors)
            written = not isinstance(entry, str) and entry.args is not None
            if (signature is not None or not written) and _check(name, path, value, errors,
                                                                 allow, signature):
                usable[name] = path
                continue
        failed.add(name)
    return usable, failed


def _spec_args(name: str, entry: Any, doc: Any, errors: Collector) -> list[Arg] | None:
    """The constructor signature a `{class, args}` entry writes, as catalog arguments; None
    for a plain path, or when an argument is malformed (reported)."""
    if isinstance(entry, str) or entry.args is None:
        return None
    out: list[Arg] = []
    ok = True
    for arg_name, decl in entry.args.items():
        pos = doc.where(("layers", name, "args", arg_name))
        arg, problem = _spec_arg(arg_name, decl)
        if problem is None and out and out[-1].default is not REQUIRED and arg.required:
            problem = "a required argument follows one with a default"
        if problem:
            errors.error("bad-value", f"layer '{name}': argument '{arg_name}': {problem}", pos,
                         f"an argument is a kind ({', '.join(VALUE_KINDS)}), a default value, "
                         "{type: KIND, default: VALUE} or {type: KIND, optional: true}")
            ok = False
            continue
        out.append(arg)
    return out if ok else None


def _spec_arg(name: str, decl: Any) -> tuple[Arg, str | None]:
    problem = identifier_problem(name)
    if isinstance(decl, str):
        return Arg(name, decl), problem or (
            None if decl in VALUE_KINDS else f"unknown kind {decl!r}")
    if isinstance(decl, (bool, int, float)):
        return Arg(name, infer_type(decl), decl), problem
    if decl.optional:
        return Arg(name, decl.type, UNWRITTEN), problem or (
            "'optional' and 'default' exclude each other" if "default" in decl.model_fields_set
            else None)
    if "default" not in decl.model_fields_set:
        return Arg(name, decl.type), problem
    default = decl.default
    if default is None:
        return Arg(name, decl.type, None, nullable=True), problem
    expected = check_accepts(decl.type, default)
    return Arg(name, decl.type, default), problem or (
        f"default {default!r} is not {expected}" if expected else None)


def effective_allow(paths: Iterable[str], allow: Sequence[str]) -> tuple[str, ...]:
    """The packages a rebuild (after unpickling, in a fresh process) may import: the ones
    allowed here, and those of layers the user's code declared itself."""
    declared = {p.split(".")[0] for p in paths if p in _explicit}
    return tuple(sorted(set(allow) | declared))


def _check(name: str, path: str, pos: Pos, errors: Collector, allow: Sequence[str],
           spec_args: list[Arg] | None) -> bool:
    """Whether the layer at `path` is declared: by the user's code, by the package's
    declarations module (imported only when allowed), by nnspec's library catalog, or by the
    spec's own `args` (the last two need nothing imported until a model is built)."""
    module = path.split(":")[0]
    top = module.split(".")[0]
    tried: list[str] = []
    if path in _explicit or (allowed(module, allow) and path in _real):
        return _reinstall(path)
    if allowed(module, allow):
        found = _import_declarations(path, allow, pos, errors)
        if found is None:  # the import failed; its diagnostic is out
            return False
        if path in _real:
            return _reinstall(path)
        tried = found
    if path in LIBRARY:
        if path in _from_spec:
            DECLARED.pop(path)
            _from_spec.discard(path)
        return True
    if spec_args is not None:
        declare_signature(path, spec_args)
        return True
    if not allowed(module, allow):
        errors.error("import-not-allowed", f"layer '{name}' comes from {module}, and nnspec "
                     "imports no user code unless allowed", pos,
                     f"pass --allow-import {top} (allow_import=['{top}'] in the Python API), "
                     f"if you trust {top}, or write its signature in the spec ({{class: ..., "
                     "args: {...}}})")
        return False
    where = ", ".join(tried) if tried else f"no {top}.{DECLARATIONS} module"
    same = [p.split(":")[1] for p in DECLARED if p.split(":")[0] == module]
    errors.error("unknown-layer", f"layer '{name}': {path} is not declared (looked in {where})",
                 pos, did_you_mean(path.split(":")[1], same) or (
                     f"{module} declares {', '.join(same)}" if same
                     else f"declare it with nnspec.declare_layer in {top}/{DECLARATIONS}.py"))
    return False


def _reinstall(path: str) -> bool:
    """The package's own declaration of `path` in force again (a spec's may have replaced
    it)."""
    DECLARED[path] = _real[path]
    _from_spec.discard(path)
    return True


def _import_declarations(path: str, allow: Sequence[str], pos: Pos,
                         errors: Collector) -> list[str] | None:
    """Import `P.nnspec_layers` for each allowed package P on the way to the layer's module,
    outermost first, until one declares the layer. Only packages are looked into: finding a
    submodule imports its parent, and the layer's module itself (which may import torch) must
    not run here. Returns the declarations modules imported, or None after an import error."""
    parts = path.split(":")[0].split(".")
    imported: list[str] = []
    for n in range(1, len(parts) + 1):
        if path in _real:
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
        except (Exception, SystemExit) as exc:  # the user's code failed: a diagnostic
            errors.error("import-failed", f"importing {package}.{DECLARATIONS} failed: "
                         f"{type(exc).__name__}: {exc}", pos,
                         f"the fault is in package '{package}' (its layer declarations), "
                         "not in the spec", notes=_where(exc))
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
    import os
    import traceback

    ours = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # nnspec itself
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(ours + os.sep)]
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
