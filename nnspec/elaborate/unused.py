"""Warnings for what a spec declares but never uses: a block, a parameter, a child.

Each is legal, and almost always a mistake (a misspelled call, a forgotten step). They are
reported only for a spec without errors; `--strict` makes them errors.
"""

from __future__ import annotations

from nnspec.diagnostics import Collector, Diagnostic, Pos
from nnspec.frontend.document import Document
from nnspec.frontend.validate import SpecFile
from nnspec.ir.program import ModuleClass, Program, names_in
from nnspec.language.expr import Expr
from nnspec.language.names import identifier_problem


def warnings(doc: Document, spec: SpecFile, program: Program,
             unused_children: list[tuple[str, str, Pos]],
             input_reads: set[str]) -> list[Diagnostic]:
    """`unused_children`: (class, child, position) of children an explicit forward never calls;
    `input_reads`: the root parameters that input sizes and ranges read."""
    found = Collector(doc.origins)
    for name in spec.blocks:
        if name not in program.classes and identifier_problem(name) is None:
            found.warning("unused-block", f"block '{name}' is never used",
                          doc.where(("blocks", name), key=True),
                          f"call it from a child, as in 'b: {name}(...)', or delete it")
    for cls in program.classes.values():
        if not cls.params:  # nothing to find unused: spare reading every expression
            continue
        used = set(cls.forward_params) | names_in(cls.children) | {
            name for rule in cls.init if rule.cond for name in rule.cond.names()} | {
            name for expr in _init_exprs(cls) for name in expr.names()} | {
            name for tensor in cls.tensors for name in tensor.reads()} | {
            name for tie in cls.ties if tie.cond for name in tie.cond.names()}
        if cls.name == program.root:
            used |= input_reads
        for param in cls.params if cls.layer is None else ():  # not a layer's arguments
            if param.name not in used:
                found.warning("unused-param", f"parameter '{param.name}' of '{cls.name}' is "
                              "never used", param.pos, "use it in a child's arguments or the "
                              "forward, or delete it")
    for cls_name, child, pos in unused_children:
        if cls_name in program.classes:
            found.warning("unused-child", f"child '{child}' of '{cls_name}' is never called in "
                          "its forward", pos, "it would be built but never run; call it in the "
                          "forward or delete it")
    return found.warnings


def _init_exprs(cls: ModuleClass) -> list[Expr]:
    """The expressions of the class's own tensors' shapes and of its init arguments."""
    args = [a for t in cls.tensors for a in t.args.values()] + [
        a for rule in cls.init for _, _, fn_args in rule.tensors for a in fn_args.values()]
    return [d for t in cls.tensors for d in t.shape] + [a for a in args if isinstance(a, Expr)]
