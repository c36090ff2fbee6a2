"""`nnspec diff`: what changes between two specs, for a checkpoint and for the budget.

The checkpoint layout (state_dict keys and shapes, from the catalog's `state` rules) decides
whether a checkpoint of A loads into B: with `strict=True` only when no key is added, removed or
reshaped; with `strict=False` missing keys stay at their initial values and unexpected ones are
ignored, but a reshaped key still raises. Parameter and MAC deltas are listed module by module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nnspec.ir.analysis import Analysis, Shape
from nnspec.static.text import count_text, table


@dataclass
class Layout:
    keys: dict[str, Shape]  # state_dict key -> shape, in torch's order
    unknown: list[str] = field(default_factory=list)  # layers whose layout the catalog lacks


def layout(analysis: Analysis) -> Layout:
    out = Layout({})
    for path, info in analysis.modules.items():  # pre-order: a block's own tensors first
        if info.state is None:
            if info.params != 0:
                out.unknown.append(f"{path} ({info.type})")
            continue
        for name, (shape, _) in info.state.items():
            out.keys[f"{path}.{name}" if path else name] = tuple(shape)
    return out


@dataclass
class Diff:
    a: str
    b: str
    added: dict[str, Shape]  # in B only: missing from a checkpoint of A
    removed: dict[str, Shape]  # in A only: unexpected in B
    reshaped: dict[str, tuple[Shape, Shape]]
    unknown: list[str]
    modules: list[dict[str, Any]]
    totals: dict[str, Any]

    @property
    def compatible(self) -> bool:
        """A checkpoint of A loads into B with strict=True."""
        return not (self.added or self.removed or self.reshaped or self.unknown)

    def as_data(self) -> dict[str, Any]:
        return {
            "a": self.a, "b": self.b, "compatible": self.compatible,
            "added": {k: list(v) for k, v in self.added.items()},
            "removed": {k: list(v) for k, v in self.removed.items()},
            "reshaped": {k: [list(a), list(b)] for k, (a, b) in self.reshaped.items()},
            "unknown_layout": self.unknown,
            "non_strict": {"loads": not self.reshaped and not self.unknown,
                           "missing": list(self.added), "unexpected": list(self.removed)},
            "modules": self.modules,
            **self.totals,
        }


def diff(a_name: str, a: Analysis, b_name: str, b: Analysis) -> Diff:
    la, lb = layout(a), layout(b)
    added = {k: s for k, s in lb.keys.items() if k not in la.keys}
    removed = {k: s for k, s in la.keys.items() if k not in lb.keys}
    reshaped = {k: (s, lb.keys[k]) for k, s in la.keys.items()
                if k in lb.keys and lb.keys[k] != s}
    modules = []
    for path in dict.fromkeys([*a.modules, *b.modules]):
        ma, mb = a.modules.get(path), b.modules.get(path)
        row = {"path": path or "(total)",
               "type": [m.type if m else None for m in (ma, mb)],
               "params": [m.params if m else None for m in (ma, mb)],
               "macs": [m.macs if m else None for m in (ma, mb)]}
        if row["type"][0] != row["type"][1] or row["params"][0] != row["params"][1] or \
                row["macs"][0] != row["macs"][1]:
            modules.append(row)
    totals = {"params": [a.params, b.params], "macs": [a.macs, b.macs]}
    return Diff(a_name, b_name, added, removed, reshaped, la.unknown + lb.unknown, modules,
                totals)


def _delta(a: int | None, b: int | None) -> str:
    if a is None or b is None:
        return "?" if (a, b) != (None, None) else ""
    return f"{b - a:+,}"


def _num(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def render(d: Diff) -> str:
    lines = [f"A: {d.a}", f"B: {d.b}", "", "checkpoint layout (state_dict):"]
    for key, shape in d.removed.items():
        lines.append(f"  removed   {key} {list(shape)}")
    for key, shape in d.added.items():
        lines.append(f"  added     {key} {list(shape)}")
    for key, (sa, sb) in d.reshaped.items():
        lines.append(f"  reshaped  {key} {list(sa)} -> {list(sb)}")
    for layer in d.unknown:
        lines.append(f"  unknown   {layer}: the catalog has no state_dict layout for it")
    if d.compatible:
        lines.append("  same keys and shapes: a checkpoint of A loads into B (strict=True)")
    else:
        parts = [f"{len(x)} {what}" for x, what in ((d.added, "added"),
                 (d.removed, "removed"), (d.reshaped, "reshaped")) if x]
        lines += ["", f"A checkpoint of A does not load into B with strict=True "
                  f"({', '.join(parts) or 'layout unknown'})."]
        if d.reshaped or d.unknown:
            lines.append("With strict=False it still fails: load_state_dict raises on every "
                         "size mismatch." if d.reshaped else
                         "With strict=False: cannot tell, the layout of some layers is unknown.")
        else:
            lines.append(f"With strict=False it loads, leaving out {len(d.added)} key(s) of B "
                         f"(kept at their initial values) and ignoring {len(d.removed)} key(s) "
                         "of A.")
    lines += ["", "parameters and MACs by module (changed modules only):"]
    if d.modules:
        rows = [["module", "type", "params A", "params B", "delta", "MACs A", "MACs B",
                 "delta"]]
        for m in d.modules:
            ta, tb = m["type"]
            shown = ta if ta == tb else f"{ta or '-'} -> {tb or '-'}"
            rows.append([m["path"], shown, _num(m["params"][0]), _num(m["params"][1]),
                         _delta(*m["params"]), _num(m["macs"][0]), _num(m["macs"][1]),
                         _delta(*m["macs"])])
        lines += ["  " + line for line in table(rows, {2, 3, 4, 5, 6, 7})]
    else:
        lines.append("  none")
    pa, pb = d.totals["params"]
    ma, mb = d.totals["macs"]
    lines += ["", f"params: {count_text(pa)} -> {count_text(pb)} ({_delta(pa, pb)})",
              f"MACs:   {count_text(ma)} -> {count_text(mb)} ({_delta(ma, mb)})"]
    return "\n".join(lines)
