"""The inference pass: writes the arguments the shape pass inferred (`Analysis.inferred`) into
the IR, so that every backend sees complete layer calls. Each inferred argument becomes its
expression in the class's `Call`, and its value in each instance of the call; every layer call
records the names it got this way (`Call.inferred`, None only before this pass has run).
"""

from __future__ import annotations

from collections.abc import Iterator

from nnspec.catalog import LAYERS
from nnspec.ir.analysis import Analysis
from nnspec.ir.program import Call, Child, Program, Repeat, Seq


def apply_inferred(program: Program, analysis: Analysis) -> None:
    """Fill the IR's calls and instances with the inferred arguments, in the catalog's order.

    A layer call left without a required argument afterwards has no instance for these
    parameters (its condition is false): its code never runs, so it is emitted as written."""
    for call in _layer_calls(program):
        if call.inferred is None:
            call.inferred = frozenset()
    for item in analysis.inferred:
        call = item.call
        call.args[item.name] = item.expr
        order = [a.name for a in LAYERS[call.target].args]
        call.args = dict(sorted(call.args.items(), key=lambda kv: order.index(kv[0])))
        call.inferred = (call.inferred or frozenset()) | {item.name}
        for inst, value in item.values:
            inst.args[item.name] = value


def _layer_calls(program: Program) -> Iterator[Call]:
    stack: list[Child] = [c for cls in program.classes.values() for c in cls.children]
    while stack:
        child = stack.pop()
        if child.orelse is not None:
            stack.append(child.orelse)
        value = child.value
        if isinstance(value, (Seq, Repeat)):
            stack.extend(value.items)
        elif value.kind == "layer":
            yield value
