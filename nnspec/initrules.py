"""Weight initialisation as a spec states it: `model.init`, ordered rules over `model.modules()`.

Each rule is one pass over the built model's modules, in order, as torchvision writes its init
loops; a rule picks modules by class (a torch layer or a block) and sets `weight` and `bias`
with a whitelisted `torch.nn.init` function. Checked here without torch; the generated code
runs the same loops at the end of the root `__init__`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nnspec.catalog import LAYERS, check_kind
from nnspec.diagnostics import Collector, Pos, did_you_mean
from nnspec.expr import Expr
from nnspec.load import Document, PathKey

_NONLINEARITIES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                   "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                   "leaky_relu", "selu")

# name -> {argument: (kind, default, choices)}; defaults are torch.nn.init's own
FUNCTIONS: dict[str, dict[str, tuple[str, Any, tuple | None]]] = {
    "zeros": {},
    "ones": {},
    "constant": {"val": ("float", None, None)},
    "normal": {"mean": ("float", 0.0, None), "std": ("float", 1.0, None)},
    "uniform": {"a": ("float", 0.0, None), "b": ("float", 1.0, None)},
    "trunc_normal": {"mean": ("float", 0.0, None), "std": ("float", 1.0, None),
                     "a": ("float", -2.0, None), "b": ("float", 2.0, None)},
    "kaiming_normal": {"a": ("float", 0, None), "mode": ("str", "fan_in", ("fan_in", "fan_out")),
                       "nonlinearity": ("str", "leaky_relu", _NONLINEARITIES)},
    "kaiming_uniform": {"a": ("float", 0, None),
                        "mode": ("str", "fan_in", ("fan_in", "fan_out")),
                        "nonlinearity": ("str", "leaky_relu", _NONLINEARITIES)},
    "xavier_normal": {"gain": ("float", 1.0, None)},
    "xavier_uniform": {"gain": ("float", 1.0, None)},
    "orthogonal": {"gain": ("float", 1, None)},
}
TENSORS = ("weight", "bias")


@dataclass
class InitRule:
    """Modules of one of `types` (torch layers as `nn.X`, blocks by name); `child` reaches into
    a child of each; `tensors` are (attribute, init function, keyword arguments)."""

    types: list[tuple[str, str]]  # (name, "layer" | "block")
    child: str | None
    tensors: list[tuple[str, str, dict[str, Any]]]
    cond: Expr | None
    pos: Pos


def check_rules(raw: list, doc: Document, errors: Collector, blocks: dict[str, set[str]],
                cond_expr) -> list[InitRule]:
    """The rules of `model.init`; `blocks` maps each block to its child names, `cond_expr`
    parses a condition over the root's parameters."""
    rules = []
    for i, rule in enumerate(raw):
        path: PathKey = ("model", "init", i)
        before = len(errors.errors)
        names = [rule.type] if isinstance(rule.type, str) else list(rule.type)
        types = []
        for j, name in enumerate(names):
            where = doc.where(path + ("type",) + (() if isinstance(rule.type, str) else (j,)))
            if name in blocks:
                types.append((name, "block"))
            elif name in LAYERS:
                types.append((name, "layer"))
            else:
                errors.error("unknown-layer", f"unknown layer or block '{name}'", where,
                             did_you_mean(name, sorted(set(LAYERS) | set(blocks))))
        if rule.child is not None:
            for name, kind in types:
                if kind == "layer" or rule.child not in blocks[name]:
                    errors.error("unknown-child", f"'{name}' has no child '{rule.child}'",
                                 doc.where(path + ("child",)),
                                 did_you_mean(rule.child, sorted(blocks.get(name, ()))))
        tensors = []
        for tensor in TENSORS:
            value = getattr(rule, tensor)
            if value is not None:
                fn = _function(value, path + (tensor,), doc, errors)
                if fn is not None:
                    tensors.append((tensor, *fn))
        if not tensors and len(errors.errors) == before:
            errors.error("bad-init", "an init rule sets 'weight' or 'bias' (or both)",
                         doc.where(path))
        cond = cond_expr(rule.if_, path + ("if",)) if rule.if_ is not None else None
        if len(errors.errors) == before:
            rules.append(InitRule(types, rule.child, tensors, cond, doc.where(path)))
    return rules


def _function(value: Any, path: PathKey, doc: Document,
              errors: Collector) -> tuple[str, dict[str, Any]] | None:
    """`zeros` or `{normal: {std: 0.01}}`: the function's name and its keyword arguments."""
    if isinstance(value, str):
        name, args, args_path = value, {}, path
    elif len(value) == 1:
        [(name, args)] = value.items()
        args_path = path + (name,)
        if args is None:
            args = {}
        elif not isinstance(args, dict):
            errors.error("wrong-type", f"the arguments of '{name}' are a mapping, e.g. "
                         "{std: 0.01}", doc.where(args_path))
            return None
    else:
        errors.error("bad-init", "an init is one function: 'zeros', or {normal: {std: 0.01}}",
                     doc.where(path))
        return None
    where = doc.where(path if isinstance(value, str) else path + (name,), key=True)
    if name not in FUNCTIONS:
        errors.error("unknown-init", f"unknown init function '{name}'", where,
                     did_you_mean(name, sorted(FUNCTIONS)) or
                     f"known: {', '.join(FUNCTIONS)}")
        return None
    ok = True
    for arg, given in args.items():
        spec = FUNCTIONS[name].get(arg)
        if spec is None:
            errors.error("unknown-argument", f"{name}() has no argument '{arg}'",
                         doc.where(args_path + (arg,), key=True),
                         did_you_mean(arg, sorted(FUNCTIONS[name])))
            ok = False
            continue
        kind, _, choices = spec
        expected = check_kind(kind, given)
        if expected is None and choices and given not in choices:
            expected = "one of " + ", ".join(map(repr, choices))
        if expected:
            errors.error("wrong-type", f"{name}() argument '{arg}' should be {expected}, got "
                         f"{given!r}", doc.where(args_path + (arg,)))
            ok = False
    missing = [a for a, (_, default, _) in FUNCTIONS[name].items()
               if default is None and a not in args]
    for arg in missing:
        errors.error("missing-argument", f"{name}() needs '{arg}'", where)
        ok = False
    return (name, dict(args)) if ok else None
