"""How the static verbs print: counts, shapes and aligned tables, shared by summary, diff and
graph."""

from __future__ import annotations

from typing import Any

from nnspec.ir.analysis import UNKNOWN


def abbreviated(n: int | None) -> str:
    """3 significant digits with a K/M/G/T suffix: 2684702 -> 2.68M."""
    if n is None:
        return "?"
    for suffix, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale:
            value = n / scale
            digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
            return f"{value:.{digits}f}{suffix}"
    return str(n)


def count_text(n: int | None) -> str:
    """The exact integer, with the readable form beside it when it differs."""
    if n is None:
        return "?"
    short = abbreviated(n)
    return f"{n:,}" if short == str(n) else f"{n:,} ({short})"


def shape_text(shape: Any) -> str:
    if shape is None:
        return "-"
    if shape is UNKNOWN:
        return "?"
    if isinstance(shape, dict):  # a forward that returns a mapping
        return "{" + ", ".join(f"{k}: {shape_text(v)}" for k, v in shape.items()) + "}"
    if shape and all(isinstance(s, list) or s is None for s in shape):
        return "(" + ", ".join(shape_text(s) for s in shape) + ")"
    return "[" + ", ".join(map(str, shape)) + "]"


def table(rows: list[list[str]], right: set[int]) -> list[str]:
    """Aligned columns, a rule under the header; columns in `right` align right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    return [line(rows[0]), line(["-" * w for w in widths]), *map(line, rows[1:])]
