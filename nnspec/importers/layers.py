"""A printed layer repr, such as `Conv2d(3, 32, kernel_size=(5, 5), stride=(1, 1))`, back to
catalog constructor arguments: parsed with `ast` (never evaluated), bound to the catalog's
signature, then reduced to the fewest arguments that rebuild the same layer.

What "the same" means is decided by torch itself, so any catalog layer works without a table of
repr rules: two argument sets are the same layer when the layers they build (on the meta device,
allocating nothing) print the same repr and have the same state_dict shapes. Arguments a repr
never prints (AvgPool2d's `ceil_mode`) are found the same way and reported as assumed defaults.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings
from dataclasses import dataclass
from typing import Any

from nnspec.catalog import LAYERS, Arg, LayerDef, check_accepts
from nnspec.diagnostics import Diagnostic, Pos

# torch >= 2.13 prints `bias=True` in normalisation layers; older trees lack it. A printed
# keyword the catalog does not declare is accepted only when it is this version noise.
_VERSION_NOISE = re.compile(r", bias=True(?=[,)])")


def normalise_repr(text: str) -> str:
    """A repr with the differences between torch versions taken out."""
    name = text.split("(", 1)[0]
    return _VERSION_NOISE.sub("", text) if "Norm" in name else text


@dataclass
class LayerCall:
    """A catalog layer rebuilt from its repr."""

    target: str
    args: dict[str, Any]  # the fewest arguments that rebuild it, in catalog order
    full: dict[str, Any]  # every argument's value as printed or assumed
    assumed: tuple[str, ...]  # arguments the repr does not show, torch's default assumed


class LayerProblem(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def read_layer(name: str, args_text: str, pos: Pos, live: Any = None) -> LayerCall:
    """The catalog call for a printed repr; `live` is the module itself when there is one,
    whose attributes then give the values the repr hides."""
    layer = LAYERS[name]
    given = _bind(layer, args_text, pos)
    hidden = _hidden(layer, given)
    assumed = []
    for arg_name in hidden:
        value = getattr(live, arg_name, _MISSING) if live is not None else _MISSING
        arg = layer.arg(arg_name)
        if value is not _MISSING and _acceptable(arg, value):
            given[arg_name] = value
        else:
            assumed.append(arg_name)
    full = layer.bind_defaults(given)
    built = _build(layer, given)
    if isinstance(built, str):
        raise LayerProblem(Diagnostic("not-rebuilt", f"torch refuses these arguments: {built}",
                                      pos))
    if built is not None:
        printed, rebuilt = normalise_repr(f"{name}({args_text})"), normalise_repr(built[0])
        if printed != rebuilt:
            raise LayerProblem(Diagnostic(
                "not-rebuilt", f"{name} rebuilt from these arguments prints {rebuilt}", pos,
                "the catalog's signature for this layer may not match this torch version"))
    args = _minimise(layer, given, set(hidden))
    return LayerCall(name, args, full, tuple(assumed))


_MISSING = object()


def read_args(name: str, args: list[Arg], text: str, pos: Pos) -> dict[str, Any]:
    """The printed arguments of a referenced class (`import tree --layer`), by name: the
    positional ones in its constructor's order, keywords it takes; other keywords (those a
    base class prints, BatchNorm's `affine` in a subclass) are left to the rebuild check.
    A bare word is a string (`mode=row`). LayerProblem for a repr that does not parse."""
    def problem(message: str) -> LayerProblem:
        return LayerProblem(Diagnostic("bad-repr", f"cannot read the arguments of {name}: "
                                       f"{message}", pos))

    try:
        call = ast.parse(f"_({text})", mode="eval").body
    except SyntaxError as exc:
        raise problem(exc.msg) from None
    assert isinstance(call, ast.Call)
    positional = [a for a in args if not a.kwonly]
    if len(call.args) > len(positional):
        raise problem(f"it takes at most {len(positional)} positional arguments")
    given = {a.name: node for a, node in zip(positional, call.args)}
    names = {a.name for a in args}
    given.update({kw.arg: kw.value for kw in call.keywords if kw.arg in names})
    out = {}
    for key, node in given.items():
        if isinstance(node, ast.Name):
            out[key] = node.id
            continue
        try:
            out[key] = ast.literal_eval(node)
        except (ValueError, SyntaxError, TypeError):
            raise problem(f"'{ast.unparse(node)}' is not a literal") from None
    return {a.name: out[a.name] for a in args if a.name in out}


def _acceptable(arg: Arg | None, value: Any) -> bool:
    if arg is None:
        return False
    if value is None:
        return arg.nullable or arg.default is None
    return check_accepts(arg.accepts, value) is None and (not arg.choices or value in arg.choices)


def _bind(layer: LayerDef, text: str, pos: Pos) -> dict[str, Any]:
    """Printed arguments by catalog name, in catalog order."""
    def problem(message: str, node: ast.AST | None = None, hint: str | None = None):
        where = pos.shifted(len(layer.name) + 1 + node.col_offset - 2, node.end_col_offset
                            - node.col_offset) if node is not None else pos
        return LayerProblem(Diagnostic("bad-repr", message, where, hint))

    try:
        call = ast.parse(f"_({text})", mode="eval").body
    except SyntaxError as exc:
        raise problem(f"cannot read the arguments of {layer.name}: {exc.msg}") from None
    if not isinstance(call, ast.Call):
        raise problem(f"cannot read the arguments of {layer.name}")
    positional = [a for a in layer.args if not a.kwonly]
    given: dict[str, Any] = {}
    for i, node in enumerate(call.args):
        if isinstance(node, ast.Starred) or i >= len(positional):
            raise problem(f"{layer.name} takes at most {len(positional)} positional "
                          "arguments in the catalog", node)
        given[positional[i].name] = _value(node, positional[i], layer, problem)
    for kw in call.keywords:
        arg = layer.arg(kw.arg) if kw.arg else None
        if arg is None:
            if kw.arg and _version_noise(layer.name, kw.arg, kw.value):
                continue  # the default, printed by newer torch only
            raise problem(f"{layer.name} has no argument '{kw.arg}' in the catalog", kw,
                          f"catalog arguments: {', '.join(layer.arg_names) or 'none'}")
        given[arg.name] = _value(kw.value, arg, layer, problem)
    return {a.name: given[a.name] for a in layer.args if a.name in given}


def _version_noise(name: str, keyword: str, node: ast.expr) -> bool:
    return normalise_repr(f"{name}(_, {keyword}={ast.unparse(node)})") == f"{name}(_)"


def _value(node: ast.expr, arg: Arg, layer: LayerDef, problem) -> Any:
    """A printed value: a Python literal, or a bare word for a string (`padding_mode=zeros`)."""
    if isinstance(node, ast.Name) and (arg.accepts == "str" or arg.choices):
        value: Any = node.id
    else:
        try:
            value = ast.literal_eval(node)
        except (ValueError, SyntaxError, TypeError):
            raise problem(f"cannot read {layer.name}'s {arg.name}: '{ast.unparse(node)}' is "
                          "not a literal", node) from None
    if not _acceptable(arg, value):
        raise problem(f"{layer.name}'s {arg.name} = {value!r} is not a value the catalog "
                      "accepts", node)
    return value


# --- torch as the judge of sameness -----------------------------------------------------------


def _build(layer: LayerDef, args: dict[str, Any]) -> tuple[str, tuple] | str | None:
    """(repr, state_dict shapes) of the layer these arguments build; None when torch does not
    have the layer; torch's message when it refuses the arguments."""
    try:
        key = (layer.name, tuple((k, _freeze(v)) for k, v in args.items()))
    except TypeError:
        return None
    return _build_cached(key)


def built_state(layer: LayerDef, args: dict[str, Any]) -> dict[str, tuple[int, ...]] | None:
    """The state_dict shapes of the layer these arguments build; None when torch cannot."""
    built = _build(layer, args)
    return dict(built[1]) if isinstance(built, tuple) else None


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


@functools.lru_cache(maxsize=4096)
def _build_cached(key: tuple) -> tuple[str, tuple] | str | None:
    from nnspec.runtime.torchlib import torch

    name, items = key
    layer = LAYERS[name]
    cls = getattr(torch.nn, name, None) if layer.module == "nn" else None
    if cls is None:
        return None
    try:  # probing alternatives (RNN dropout with one layer) would make torch warn
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = cls(**dict(items))
    except Exception as exc:  # torch refuses these arguments
        return f"{type(exc).__name__}: {exc}"
    shapes = tuple((k, tuple(v.shape)) for k, v in module.state_dict().items())
    return repr(module), shapes


def _alternatives(arg: Arg) -> list[Any]:
    """Two values other than the default, to see whether the repr shows the argument."""
    default = arg.default
    if arg.choices:
        return [c for c in arg.choices if c != default][:2]
    if isinstance(default, bool):
        return [not default]
    if isinstance(default, int):
        return [default + 2, default + 3]
    if isinstance(default, float):
        return [default * 2 + 0.5, default + 0.25]
    if default is None:  # nullable: Upsample's align_corners, AvgPool2d's divisor_override
        if arg.accepts == "bool":
            return [True, False]
        if arg.accepts in ("int", "int1", "int2", "int3", "ints", "int_or_ints"):
            return [2, 3]
        if arg.accepts in ("float", "float_or_floats"):
            return [0.5, 2.0]
    return []


def _hidden(layer: LayerDef, given: dict[str, Any]) -> list[str]:
    """Arguments not given whose value the repr would not show."""
    reference = _build(layer, given)
    if not isinstance(reference, tuple):
        return []
    out = []
    for arg in layer.args:
        if arg.name in given or arg.required:
            continue
        tries = [_build(layer, {**given, arg.name: v}) for v in _alternatives(arg)]
        tries = [t for t in tries if isinstance(t, tuple)]
        if tries and all(t[0] == reference[0] for t in tries):
            out.append(arg.name)
    return out


def _minimise(layer: LayerDef, given: dict[str, Any], hidden: set[str]) -> dict[str, Any]:
    """Drop arguments and shorten tuples while the layer stays the same."""
    reference = _build(layer, given)
    args = dict(given)

    def same(candidate: dict[str, Any]) -> bool:
        return isinstance(reference, tuple) and _build(layer, candidate) == reference

    for arg in layer.args:
        if arg.name not in args or arg.required:
            continue
        value = args.pop(arg.name)
        if arg.name in hidden or not isinstance(reference, tuple):
            keep = not _equal(value, arg.default)
        else:
            keep = not same(args)
        if keep:
            args[arg.name] = value
    for name, value in list(args.items()):
        if isinstance(value, (tuple, list)) and value and all(v == value[0] for v in value) \
                and same({**args, name: value[0]}):
            args[name] = value[0]
    return {a.name: args[a.name] for a in layer.args if a.name in args}


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


# --- MultiheadAttention: a catalog layer that prints as a container ----------------------------


@dataclass(frozen=True)
class Unprinted:
    """An argument no printed form shows and torch has no default for (MultiheadAttention's
    num_heads): the import makes it a root parameter of this name, `placeholder` until set."""

    name: str
    placeholder: Any


# what the repr never shows, beside num_heads: torch's defaults are assumed
_ATTENTION_HIDDEN = ("dropout", "add_bias_kv", "add_zero_attn", "kdim", "vdim", "batch_first")


def read_attention(node, live: Any = None) -> LayerCall | None:
    """MultiheadAttention as torch prints it, `MultiheadAttention(` then only
    `(out_proj): NonDynamicallyQuantizableLinear(in_features=E, out_features=E, bias=B)`:
    embed_dim and bias come from out_proj; None for any other form. With the live module at
    hand, every argument is read from it instead."""
    if [(k, c.cls, c.args is None) for k, c in node.children] != [
            ("out_proj", "NonDynamicallyQuantizableLinear", False)]:
        return None
    out_proj = node.children[0][1]
    try:
        linear = read_layer("Linear", out_proj.args, out_proj.pos).full
    except LayerProblem:
        return None
    if linear["in_features"] != linear["out_features"]:
        return None
    layer = LAYERS["MultiheadAttention"]
    given: dict[str, Any] = {"embed_dim": linear["in_features"], "bias": linear["bias"]}
    assumed: tuple[str, ...] = _ATTENTION_HIDDEN
    if live is not None:
        embed = given["embed_dim"]  # torch keeps kdim = embed_dim when it was not given
        given.update(num_heads=live.num_heads, dropout=live.dropout,
                     kdim=None if live.kdim == embed else live.kdim,
                     vdim=None if live.vdim == embed else live.vdim, batch_first=live.batch_first,
                     add_bias_kv=live.bias_k is not None, add_zero_attn=live.add_zero_attn)
        assumed = ()
    else:
        given["num_heads"] = Unprinted("num_heads", 1)
    full = layer.bind_defaults(given)
    args = {a.name: full[a.name] for a in layer.args
            if a.required or not _equal(full[a.name], a.default)}
    return LayerCall("MultiheadAttention", args, full, assumed)
