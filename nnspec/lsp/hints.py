"""Inlay hints: each child's output shape at the end of the line that calls it.

`→ [1, 64, 32, 32]`, from the static pass on the declared inputs (batch 1). A block's child
has one instance per use of the block; their distinct shapes are shown side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnspec.catalog.values import Tensor
from nnspec.ir.analysis import UNKNOWN, ModuleInfo, shape_of
from nnspec.ir.program import Instance
from nnspec.lsp.workspace import Check
from nnspec.static.text import shape_text

MAX_SHAPES = 3  # distinct shapes shown in one hint, then "…"


@dataclass(frozen=True)
class Hint:
    line: int  # 0-based
    col: int  # 0-based, in characters: the end of the line
    label: str


def hints(check: Check, first: int = 0, last: int | None = None) -> list[Hint]:
    """The hints on 0-based lines `first` to `last` (inclusive; None: to the end)."""
    if check.compiled is None:
        return []
    lines = check.lines
    end = len(lines) - 1 if last is None else min(last, len(lines) - 1)
    modules = check.compiled.analysis.modules
    by_line = check.instance_lines
    out = []
    for line in range(max(first, 0), end + 1):
        instances = by_line.get(line)
        label = shapes_label(modules, instances) if instances else None
        if label:
            out.append(Hint(line, len(lines[line].rstrip()), f" → {label}"))
    return out


def shapes_label(modules: dict[str, ModuleInfo], instances: list[Instance]) -> str | None:
    """The distinct output shapes of these instances: `[1, 64]` or `[1, 64] | [1, 128]`."""
    shapes: list[str] = []
    for inst in instances:
        info = modules.get(inst.path)
        for output in info.outputs if info else ():
            text = output_text(output)
            if text not in shapes:
                shapes.append(text)
    if not shapes:
        return None
    more = " | …" if len(shapes) > MAX_SHAPES else ""
    return " | ".join(shapes[:MAX_SHAPES]) + more


def output_text(value: object) -> str:
    """One output as the summary prints it: `[1, 64]`, `([1, 8], [1, 8])` or `?`."""
    if isinstance(value, Tensor):  # the common case, without the general walk
        return "[" + ", ".join(map(str, value.shape)) + "]"
    return shape_text(UNKNOWN if value is UNKNOWN else shape_of(value))
