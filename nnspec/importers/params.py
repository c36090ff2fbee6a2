"""Block parameters made while folding: each set of per-instance values that differ becomes a
parameter, or an expression of one already made (`kernel_size // 2`, `out_channels * 2`); a
parameter gets a default when most instances share its value, and a type that takes every value
(None when no type does, which the folder reports)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from nnspec.catalog import REQUIRED
from nnspec.formatter import literal
from nnspec.importers.layers import Unprinted
from nnspec.language.names import Namespace


@dataclass
class DraftParam:
    name: str
    type: str | None  # None: the values have no one type (reported)
    default: Any  # REQUIRED when callers must pass it
    comment: str | None = None


class _Param:
    def __init__(self, name: str, values: dict[int, Any]):
        self.name = name
        self.defined = dict(values)
        self.values: list[Any] = []


class Params:
    """The parameters of one class, made as differing values are met."""

    def __init__(self, count: int, taken: set[str]):
        self.count = count
        self.names = Namespace(taken, identifiers=True)
        self.items: list[_Param] = []
        self.finished = False

    def express(self, vector: dict[int, Any], name: str, alt: str,
                default: Any = REQUIRED) -> str | None:
        """Source for these per-instance values: a literal when they agree (None when that
        literal is `default`), else a parameter or an expression of one."""
        values = list(vector.values())
        mark = next((v for v in values if isinstance(v, Unprinted)), None)
        if mark is not None:  # one parameter of its name, passed down from the root
            for param in self.items:
                if param.defined and all(v == mark for v in param.defined.values()):
                    return param.name
            param = _Param(self.fresh(mark.name, alt), vector)
            self.items.append(param)
            return param.name
        if all(_same(v, values[0]) for v in values):
            return None if _same(values[0], default) else literal(values[0])
        vector = {i: _plain(v) for i, v in vector.items()}
        for exact in (True, False):  # a parameter itself before an expression of another
            for param in self.items:
                text = _relation(param, vector, exact)
                if text:
                    return text
        param = _Param(self.fresh(name, alt), vector)
        self.items.append(param)
        return param.name

    def fresh(self, name: str, alt: str) -> str:
        """A new parameter name: `name`, else `alt` (made of a child's name, whose `-` an
        identifier cannot hold), else `alt` numbered."""
        return self.names.fresh(name, re.sub(r"\W", "_", alt))

    def drafts(self) -> list[DraftParam]:
        """Required parameters first, then those with a default; values filled in."""
        required, optional = [], []
        for param in self.items:
            mark = next(iter(param.defined.values()))
            if isinstance(mark, Unprinted):  # required; the root's gets the placeholder
                param.values = [mark] * self.count
                required.append((param, DraftParam(param.name, _type([mark.placeholder]),
                                                   REQUIRED)))
                continue
            counts = Counter(literal(v) for v in param.defined.values())
            top, n = counts.most_common(1)[0]
            default = next(v for v in param.defined.values() if literal(v) == top) \
                if n * 2 > len(param.defined) else REQUIRED
            fill = default if default is not REQUIRED else next(iter(param.defined.values()))
            param.values = [param.defined.get(i, fill) for i in range(self.count)]
            draft = DraftParam(param.name, _type(param.defined.values()), default)
            (required if default is REQUIRED else optional).append((param, draft))
        self.items = [p for p, _ in required + optional]
        return [d for _, d in required + optional]


def _relation(param: _Param, vector: dict[int, Any], exact: bool) -> str | None:
    """`param` (`exact`), else `not param`, `param * c` or `param // 2`, when that gives these
    values."""
    if not set(vector) <= set(param.defined):
        return None
    pairs = [(param.defined[i], v) for i, v in vector.items()]
    if exact:
        return param.name if all(_same(p, v) for p, v in pairs) else None
    if all(isinstance(p, bool) and isinstance(v, bool) and p is not v for p, v in pairs):
        return f"not {param.name}"
    if not all(_is_int(p) and _is_int(v) for p, v in pairs):
        return None
    for c in range(2, 9):
        if all(p * c == v for p, v in pairs):
            return f"{param.name} * {c}"
    if all(p // 2 == v for p, v in pairs):
        return f"{param.name} // 2"
    return None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _plain(value: Any) -> Any:
    """Tuples as lists: YAML and block parameters have lists only."""
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else value


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def widened(vector: dict[int, Any], accepts: str) -> dict[int, Any]:
    """An argument that takes an int or a tuple of n ints (kernel_size), given both (Inception's
    `3` and `(1, 7)`): each int as its n-tuple, the same layer to torch, so that one list
    parameter takes them all."""
    match = re.fullmatch(r"(?:int|pad|opt_int)([1-6])", accepts)
    values = list(vector.values())
    lists = [v for v in values if isinstance(v, (list, tuple))]
    if not match or not lists or len(lists) == len(values) or not all(
            _is_int(v) or isinstance(v, (list, tuple)) for v in values):
        return vector
    n = len(lists[0])
    return {i: [v] * n if _is_int(v) else v for i, v in vector.items()}


def _type(values) -> str | None:
    """The parameter type that takes every value; None when none does."""
    kinds = {type(v) for v in values}
    if kinds == {bool}:
        return "bool"
    if kinds == {int}:
        return "int"
    if kinds <= {int, float}:
        return "float"
    if kinds == {str}:
        return "str"
    if kinds == {list} and all(_is_int(x) for v in values for x in v):
        return "list[int]"
    return "list" if kinds == {list} else None
