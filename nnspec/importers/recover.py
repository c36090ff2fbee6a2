"""Constructor arguments of a live module, recovered from its attributes and verified.

`nnspec import module` writes a class it cannot expand as a layer reference, called with the
arguments that rebuild the instance: each `__init__` parameter matched with the instance's
attribute of that name or a common alias, and the class rebuilt with them must print the same
repr and have the same state_dict layout (names, shapes, dtypes). `NotReferenceable` says which
argument could not be recovered or verified, and why.
"""

from __future__ import annotations

import inspect
import re
import warnings
import weakref
from typing import Any

from nnspec.catalog import REQUIRED, Arg
from nnspec.catalog.library import UNWRITTEN
from nnspec.language.types import infer_type

_SKIPPED = ("self", "device", "dtype")
# other attribute names under which classes keep a constructor argument
ALIASES: dict[str, tuple[str, ...]] = {
    "p": ("drop_prob", "prob", "drop_rate"),
    "drop_prob": ("p", "drop_rate"),
    "num_features": ("num_channels", "normalized_shape", "hidden_size"),
    "num_channels": ("num_features", "normalized_shape"),
    "normalized_shape": ("num_features", "num_channels"),
    "hidden_size": ("normalized_shape", "num_features"),
    "eps": ("variance_epsilon", "epsilon"),
    "affine": ("elementwise_affine",),
    "elementwise_affine": ("affine",),
    "in_features": ("nx", "in_channels", "in_chs"),
    "out_features": ("nf", "out_channels", "out_chs"),
    "channels": ("in_channels", "num_features", "in_features", "dim"),
    "dim": ("in_features", "in_channels", "num_features", "embed_dim"),
    "in_chans": ("in_channels", "in_chs", "in_features"),
    "num_classes": ("out_features", "out_channels"),
    "embed_dim": ("out_channels", "out_features", "hidden_size", "normalized_shape"),
    "in_channels": ("in_chs", "in_features"),
    "out_channels": ("out_chs", "out_features"),
}


class NotReferenceable(Exception):
    """Why a class cannot stand as a reference: the argument concerned, if any, and why."""


def recover(module: Any, passed: dict[str, Any] | None = None,
            unwritten: list[str] | None = None) -> tuple[list[Arg], dict[str, Any]]:
    """The constructor's signature as spec arguments, and the values that rebuild the
    instance (arguments left at their default omitted): those it was constructed with when
    `passed` records them (importers.construct), else those its attributes show.
    NotReferenceable when a required argument is not found, or a value is not one a spec
    can write. A recorded value a spec cannot write (`act_kwargs={}`) is looked for in the
    attributes instead, as without a record, and why it was not written is added to
    `unwritten`: the reason to give if the arguments then fail verification."""
    try:
        params = list(inspect.signature(type(module).__init__).parameters.values())
    except (TypeError, ValueError) as exc:
        raise NotReferenceable(f"its constructor's signature cannot be read: {exc}") from None
    signature: list[Arg] = []
    given: dict[str, Any] = {}
    for p in params:
        if p.kind == p.VAR_KEYWORD and passed and passed.get(p.name):  # device=None: unsaid
            passed = {**passed, p.name: {k: v for k, v in passed[p.name].items()
                                         if not (k in _SKIPPED and v is None)}}
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and passed and passed.get(p.name):
            star = "*" if p.kind == p.VAR_POSITIONAL else "**"
            raise NotReferenceable(f"it was constructed with {_shown_value(passed[p.name])} "
                                   f"for '{star}{p.name}', which a spec's call cannot pass")
        if p.name in _SKIPPED or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        has_default = p.default is not inspect.Parameter.empty
        recorded = passed is not None and p.name in passed
        if recorded:
            try:
                found, value = _passed(module, p, passed[p.name])
            except NotReferenceable as exc:
                if unwritten is None or not has_default:
                    raise
                unwritten.append(str(exc))
                recorded = False  # this argument as without a record
        if not recorded:
            found, value = _attribute(module, p.name, p.default if has_default else None)
            if not found and has_default and not _literal(p.default):
                found, value = _layer_name(module, p.name, p.default)
        if found and has_default and equal(value, p.default):
            found = False
        if not found and not has_default:
            raise NotReferenceable(f"argument '{p.name}' is not recovered: the instance has "
                                   "no attribute of that name or a known alias")
        if found and not _literal(value):
            raise NotReferenceable(f"argument '{p.name}' holds {type(value).__name__} "
                                   f"{value!r:.60}, which a spec cannot write")
        if not has_default:
            default = REQUIRED
        elif _literal(p.default):
            default = _plain(p.default)
        else:
            default = UNWRITTEN
        kind = _kind(default, _plain(value) if found else default)
        if found and isinstance(value, ClassPath):  # its default as a path too, where it is
            kind = "class"
            if default is not REQUIRED and default is not None:
                default = class_path(p.default) or UNWRITTEN
        signature.append(Arg(p.name, kind, default, kwonly=p.kind == p.KEYWORD_ONLY,
                             nullable=default is None or default is UNWRITTEN))
        if found:
            given[p.name] = _plain(value)
    return signature, given


def _passed(module: Any, p: inspect.Parameter, value: Any) -> tuple[bool, Any]:
    """(found, value) for an argument the instance was constructed with: the value itself
    when a spec can write it or it is the default; for a class or function in place of a
    default one (`act_layer=nn.SiLU`), the name of the child it made, as `_layer_name`."""
    default = p.default
    if default is not inspect.Parameter.empty and (value is default or equal(value, default)):
        return True, value
    if _literal(value):
        return True, value
    if default is not inspect.Parameter.empty and (not _literal(default) or isinstance(
            default, str)):  # (a class by default, or by a name the library looks up)
        found, name = _layer_name(module, p.name, default)
        if found:
            return True, name
    path = class_path(value)
    if path is not None:
        return True, path
    raise NotReferenceable(f"argument '{p.name}' was given {_shown_value(value)}, which a "
                           "spec cannot write")


class ClassPath(str):
    """A class passed as an argument, as the spec writes it ('torch.nn:Hardswish'); `cls`
    is the class itself, for rebuilding."""

    cls: type


def class_path(value: Any) -> ClassPath | None:
    """The shortest import path that names the class `value` ('torch.nn:GELU' for
    torch.nn.modules.activation.GELU), or None: not a class, or not importable by name."""
    import importlib

    if not isinstance(value, type) or "." in value.__qualname__ or "<" in value.__qualname__:
        return None
    parts = value.__module__.split(".")
    for n in range(1, len(parts) + 1):
        module = ".".join(parts[:n])
        try:
            found = getattr(importlib.import_module(module), value.__qualname__, None)
        except Exception:  # noqa: BLE001 - a package that fails to import: a longer path
            continue
        if found is value:
            path = ClassPath(f"{module}:{value.__qualname__}")
            path.cls = value
            return path
    return None


def python_args(given: dict[str, Any]) -> dict[str, Any]:
    """The arguments as the class takes them: a class passed by import path, the class."""
    return {k: v.cls if isinstance(v, ClassPath) else v for k, v in given.items()}


def _shown_value(value: Any) -> str:
    if isinstance(value, type):
        return f"the class {value.__module__}.{value.__qualname__}"
    if callable(value) and hasattr(value, "__qualname__"):
        return f"the function {getattr(value, '__module__', '?')}.{value.__qualname__}"
    return f"{type(value).__name__} {value!r:.60}"


def _attribute(module: Any, name: str, default: Any) -> tuple[bool, Any]:
    """The instance's value for argument `name`: its attribute or an alias's, else its first
    child's that has one (a block's width is its first layer's)."""
    found = _own_attribute(module, name, default)
    for child in module.children():
        if found[0]:
            break
        found = _own_attribute(child, name, default)
    return found


def _own_attribute(module: Any, name: str, default: Any) -> tuple[bool, Any]:
    for attr in (name, *ALIASES.get(name, ())):
        value = getattr(module, attr, _MISSING)
        if isinstance(default, bool) and _is_module(value):  # `flatten`: a Flatten or not
            return True, type(value).__name__ != "Identity"
        if isinstance(default, bool) and (value is None or _is_tensor(value)):  # `bias`
            return True, value is not None
        if value is _MISSING or callable(value):
            continue
        if attr != name and isinstance(value, (tuple, list)) and len(value) == 1 and (
                isinstance(default, int) or default is None) and attr == "normalized_shape":
            value = value[0]  # LayerNorm's (C,) for a class's channel count
        return True, value
    weight = getattr(module, "weight", None)
    if name in ("hidden_size", "num_features", "num_channels") and weight is not None \
            and getattr(weight, "dim", lambda: 0)() == 1:
        return True, int(weight.shape[0])
    return False, None


_MISSING = object()


def _is_tensor(value: Any) -> bool:
    return any(c.__name__ == "Tensor" and c.__module__.startswith("torch")
               for c in type(value).__mro__)


def _is_module(value: Any) -> bool:
    return any(c.__name__ == "Module" and c.__module__.startswith("torch.nn")
               for c in type(value).__mro__)


def _literal(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_literal(v) for v in value)
    return False


def _plain(value: Any) -> Any:
    """A value as the spec writes it (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _layer_name(module: Any, name: str, default: Any) -> tuple[bool, Any]:
    """For `act_layer` and the like (a class by default): the name of the class of the child
    it made (`act`), which libraries such as timm accept in its place. Verified by rebuilding
    like every recovered value."""
    child = getattr(module, name.removesuffix("_layer"), None) if name.endswith(
        "_layer") else None
    if child is None or not _is_module(child) or type(child) is default:
        return False, None
    return True, _spellings(type(child).__name__)[0]


def child_class_name(module: Any, name: str) -> str | None:
    """The `_layer_name` value even where the child is the default's class: for instances of
    one class that must all pass the argument once one does."""
    child = getattr(module, name.removesuffix("_layer"), None)
    return _spellings(type(child).__name__)[0] if name.endswith("_layer") and _is_module(
        child) else None


def _spellings(name: str) -> list[str]:
    """Names a library may know a class by: `silu` for SiLU, `leaky_relu` for LeakyReLU."""
    cuts = [m.start() for m in re.finditer(r"(?<=[a-z])(?=[A-Z])", name)]
    one_cut = [f"{name[:i]}_{name[i:]}".lower() for i in cuts]  # LeakyReLU: leaky_relu
    return list(dict.fromkeys([name.lower(), *one_cut]))


def verify_spellings(cls: type, module: Any, given: dict[str, Any]) -> dict[str, Any]:
    """`verify`, trying the other spellings of a class name the arguments pass
    (`act_layer="leaky_relu"` where "leakyrelu" fails); the arguments that verified."""
    try:
        verify(cls, module, given)
        return given
    except NotReferenceable as first:
        for name, value in given.items():
            child = getattr(module, name.removesuffix("_layer"), None)
            if not name.endswith("_layer") or not _is_module(child):
                continue
            for other in _spellings(type(child).__name__):
                if other == value:
                    continue
                try:
                    verify(cls, module, {**given, name: other})
                except NotReferenceable:
                    continue
                return {**given, name: other}
        raise first


def _kind(default: Any, value: Any) -> str:
    kinds = {_kind_of(v) for v in (default, value)
             if v is not REQUIRED and v is not None and v is not UNWRITTEN}
    return kinds.pop() if len(kinds) == 1 else "any"


def _kind_of(value: Any) -> str:
    """A scalar's kind, as a parameter declared by it would have; anything else is "any"."""
    return infer_type(value) if isinstance(value, (bool, int, float, str)) else "any"


def equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def verify(cls: type, module: Any, given: dict[str, Any]) -> None:
    """The class rebuilt with `given` prints as the instance does and has its state_dict
    layout (names, shapes, dtypes). NotReferenceable otherwise. Each instance's verdict on
    each set of arguments is kept: an import asks more than once."""
    key = (cls, repr(sorted(given.items())))
    try:
        verdicts = _VERDICTS.setdefault(module, {})
    except TypeError:  # not weak-referenceable: not kept
        verdicts = {}
    if key not in verdicts:
        try:
            _verify(cls, module, given)
            verdicts[key] = None
        except NotReferenceable as exc:
            verdicts[key] = str(exc)
    if verdicts[key] is not None:
        raise NotReferenceable(verdicts[key])


_VERDICTS: weakref.WeakKeyDictionary[Any, dict[tuple, str | None]] = \
    weakref.WeakKeyDictionary()


def _verify(cls: type, module: Any, given: dict[str, Any]) -> None:
    from nnspec.runtime.torchlib import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:  # on the meta device, without initialising weights, where the class can be
                with torch.device("meta"):
                    rebuilt = cls(**python_args(given))
            except Exception:  # noqa: BLE001 - its __init__ needs real values: built for real
                rebuilt = cls(**python_args(given))
    except Exception as exc:  # noqa: BLE001 - the class refuses the recovered arguments
        raise NotReferenceable(f"rebuilding it with {_shown(given)} raised "
                               f"{type(exc).__name__}: {exc}") from None
    if repr(rebuilt) != repr(module):
        got, want = next((g, w) for g, w in zip(repr(rebuilt).split("\n") + [""],
                                                repr(module).split("\n") + [""]) if g != w)
        raise NotReferenceable(f"rebuilt with {_shown(given)} it prints '{got.strip():.80}' "
                               f"where the instance prints '{want.strip():.80}' (an argument "
                               "no attribute shows)")
    want = [(k, tuple(v.shape), v.dtype) for k, v in module.state_dict().items()]
    got = [(k, tuple(v.shape), v.dtype) for k, v in rebuilt.state_dict().items()]
    if want != got:
        diff = next((w, g) for w, g in zip(want + [None] * len(got), got + [None] * len(want))
                    if w != g)
        raise NotReferenceable(f"rebuilt with {_shown(given)} its state_dict has {diff[1]} "
                               f"where the instance has {diff[0]}")


def _shown(given: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{k}={v!r}" for k, v in given.items()) + ")"


_KINDS = {int: "int", float: "float", bool: "bool", str: "str"}


def signature_of(cls: type) -> list[Arg]:
    """The constructor's signature as spec arguments, kinds from annotations or defaults
    (`import tree --layer`, where no instance shows the values)."""
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())
    except (TypeError, ValueError) as exc:
        raise NotReferenceable(f"its constructor's signature cannot be read: {exc}") from None
    out = []
    for p in params:
        if p.name in _SKIPPED or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is inspect.Parameter.empty:
            default = REQUIRED
        else:
            default = _plain(p.default) if _literal(p.default) else UNWRITTEN
        kind = _KINDS.get(p.annotation) if isinstance(p.annotation, type) else None
        if kind is None and p.annotation in _KINDS.values():  # postponed annotations
            kind = p.annotation
        out.append(Arg(p.name, kind or _kind(default, default), default,
                       kwonly=p.kind == p.KEYWORD_ONLY,
                       nullable=default is None or default is UNWRITTEN))
    return out


def rebuilt_args(cls: type, given: dict[str, Any]) -> str:
    """What the class built with `given` (on the meta device) prints as its own arguments:
    the text inside its repr's parentheses, or its first line when it has children."""
    from nnspec.runtime.torchlib import torch

    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            text = repr(cls(**python_args(given)))
    except Exception as exc:  # noqa: BLE001 - the class refuses the printed arguments
        raise NotReferenceable(f"rebuilding it with {_shown(given)} raised "
                               f"{type(exc).__name__}: {exc}") from None
    lines = text.split("\n")
    if len(lines) > 1:
        return lines[1].strip() if len(lines) > 2 and not lines[1].lstrip().startswith("(") \
            else ""
    return text[text.index("(") + 1:-1] if "(" in text else ""
