"""A child's call as a parent's exported graph makes it, rewritten as the child takes it.

torch.export records each child call with every argument the parent passed: constants at the
child forward's own defaults (timm's `attn_mask=None`), constants the child's own exported
steps hold fixed (Hugging Face's `interpolate_pos_encoding=None`), and tensors passed into the
child's `**kwargs` that it never reads (`position_ids`). A spec call of the child takes none
of those: they are left out, exactly, and the rest go by position where they can.
"""

from __future__ import annotations

import inspect
from typing import Any

UNREAD = object()  # a tensor passed in a child's **kwargs that its steps never read


def bound_call(module: Any, args: Any, kwargs: Any) -> tuple[Any, dict[str, Any]] | None:
    """(the forward's signature, the call's arguments by parameter name); None when the
    call does not bind to it."""
    try:
        signature = inspect.signature(module.forward)
        return signature, signature.bind(*args, **kwargs).arguments
    except (TypeError, ValueError):
        return None


def unread_keywords(child: Any, signature: Any, exported: bool) -> set[int]:
    """The flat inputs of a child's call that are tensors given to its `**kwargs` (Hugging
    Face passes `position_ids` down that way). A child whose steps were recovered
    (`exported`: by torch.export, or torch.fx) never reads those (its steps refuse a
    `**kwargs` tensor; fx's, a `**kwargs` read at all), so its call leaves them out."""
    from torch.utils import _pytree

    var = next((p.name for p in inspect.signature(child.forward).parameters.values()
                if p.kind == p.VAR_KEYWORD), None)
    if not exported or var is None:
        return set()
    try:
        args, kwargs = _pytree.tree_unflatten(list(range(len(signature.inputs))),
                                              signature.in_spec)
        bound = inspect.signature(child.forward).bind(*args, **kwargs).arguments
    except (TypeError, ValueError):
        return set()
    return {i for value in bound.get(var, {}).values() for i in _pytree.tree_leaves(value)
            if not hasattr(signature.inputs[i], "value")}


def baked_out(child: Any, args: Any, kwargs: Any, fixed: dict | None) -> tuple[tuple, dict]:
    """A child's call without the constants it passes at the child forward's own defaults
    (timm's `attn(x, attn_mask=None, is_causal=False)` is `attn(x)`), exact for any child, or
    at the values a child whose steps torch.export recovered holds fixed (`fixed`: Hugging
    Face's `embeddings(x, interpolate_pos_encoding=None)`), which it does not take. A constant
    at another value stays in the call, and the output check refuses the spec. Arguments go
    by position up to the first one left out (Whisper's `self_attn(hidden_states=x)` is
    `self_attn(x)`), by keyword after it."""
    found = bound_call(child, args, kwargs)
    if found is None:
        return tuple(args), dict(kwargs)
    signature, arguments = found
    out_args: list = []
    out_kwargs: dict = {}
    gap = False  # a parameter before this one is not passed: the rest go by keyword
    for name, p in signature.parameters.items():
        if name not in arguments:
            gap = True
            continue
        value = arguments[name]
        if p.kind == p.VAR_POSITIONAL:
            if gap and value:
                return tuple(args), dict(kwargs)
            out_args += list(value)
        elif p.kind == p.VAR_KEYWORD:  # `**kwargs` passed on: by the keys the child took
            out_kwargs.update({k: v for k, v in value.items() if not (
                fixed is not None and k in fixed and is_default(v, fixed[k]))})
        elif is_default(value, p.default) or (
                fixed is not None and name in fixed and is_default(value, fixed[name])):
            gap = True
        elif gap or p.kind == p.KEYWORD_ONLY:
            out_kwargs[name] = value
        else:
            out_args.append(value)
    return tuple(out_args), out_kwargs


def is_default(value: Any, default: Any) -> bool:
    """`value` is `default` (a parameter's default, or the value a child's steps hold fixed):
    both None, or an equal bool, int, float or string."""
    if value is None or default is None:
        return value is None and default is None
    return type(value) is type(default) and isinstance(value, (bool, int, float, str)) and \
        value == default


def at_defaults(module: Any, call: tuple[tuple, dict] | None) -> dict[str, Any] | None:
    """The forward's arguments that have a default, with it, when the module's recorded call
    (`call`: args, kwargs) leaves every one of them there: torch.fx may then trace it with
    them fixed, and its parents' calls leave them out (baked_out). None otherwise."""
    found = None if call is None else bound_call(module, *call)
    if found is None:
        return None
    signature, bound = found
    defaults = {p.name: p.default for p in signature.parameters.values()
                if p.default is not p.empty}
    if any(name in bound and not is_default(bound[name], default)
           for name, default in defaults.items()):
        return None
    return defaults
