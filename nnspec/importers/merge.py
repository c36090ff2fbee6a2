"""Instances of one class whose traced forwards differ, as one forward: the steps they share,
and the rest under an `if` on a parameter that tells them apart (a `downsample` present or
not), or on a `variant` number."""

from __future__ import annotations

import re
from typing import Any

from nnspec.importers.params import Params


def merge(variants: list[tuple[tuple[str, ...], list[int]]], modules: list[Any],
          params: Params) -> list:
    """One forward: shared leading and trailing steps, the rest under conditions."""
    bodies = _common_return([list(steps) for steps, _ in variants])
    head = 0
    while all(len(b) > head and b[head] == bodies[0][head] for b in bodies):
        head += 1
    tail = 0
    while all(len(b) - head > tail and b[-1 - tail] == bodies[0][-1 - tail] for b in bodies):
        tail += 1
    middles = [b[head:len(b) - tail] for b in bodies]
    group = {i: g for g, (_, members) in enumerate(variants) for i in members}
    if len(variants) == 2:
        flag = _flag(modules, group)
        vector = {i: flag[1][i] if flag else group[i] == 1 for i in group}
        cond = params.express(vector, flag[0] if flag else "alt_forward", "alt_forward")
        true_group = next(g for i, g in group.items() if vector[i])
        then, orelse = middles[true_group], middles[1 - true_group]
        if not then:
            cond, then, orelse = _negate(cond), orelse, []
        step = {"if": cond, "then": then, **({"else": orelse} if orelse else {})}
        chosen = [step]
    else:
        name = params.express(dict(group), "variant", "variant")
        chosen = []
        for g in range(len(variants) - 1, -1, -1):
            if g == len(variants) - 1:
                chosen = middles[g]
            elif middles[g]:
                chosen = [{"if": f"{name} == {g}", "then": middles[g],
                           **({"else": chosen} if chosen else {})}]
            elif chosen:  # nothing to do for this variant: the others under the negation
                chosen = [{"if": f"{name} != {g}", "then": chosen}]
    return bodies[0][:head] + chosen + bodies[0][len(bodies[0]) - tail:]


def _flag(modules: list[Any], group: dict[int, int]) -> tuple[str, list[bool]] | None:
    """A bool attribute the instances set that splits them exactly as their forwards do."""
    names = set.intersection(*(set(vars(m)) for m in modules))
    for name in sorted(n for n in names if not n.startswith("_") and n != "training"):
        values = [getattr(m, name) for m in modules]
        if all(isinstance(v, bool) for v in values) and all(
                (values[i] == values[j]) == (group[i] == group[j]) for i in group for j in group):
            return name, values
    return None


def _common_return(bodies: list[list[str]]) -> list[list[str]]:
    """Variants that return different values assign it to one name and share the `return`:
    a spec forward ends with a `return` step, not inside an `if`."""
    if len({b[-1] for b in bodies}) == 1:
        return bodies
    words = {w for b in bodies for step in b for w in re.findall(r"\w+", step)}
    name = next(n for n in ("out", "y", "result") + tuple(f"out{i}" for i in range(2, 99))
                if n not in words)
    out = []
    for body in bodies:
        value = body[-1].removeprefix("return ")
        if len(body) > 1 and body[-2].startswith(f"{value} = "):  # `x = conv(x)`, `return x`
            out.append(body[:-2] + [f"{name} = {body[-2][len(value) + 3:]}", f"return {name}"])
        else:
            out.append(body[:-1] + [f"{name} = {value}", f"return {name}"])
    return out


def _negate(cond: str) -> str:
    return cond[4:] if cond.startswith("not ") else f"not {cond}"
