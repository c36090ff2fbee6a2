"""The static pass's view of ties: each tie's shape checked once, and per module the size of
the tied parameters its subtree would otherwise count twice (torch's `parameters()` yields a
shared tensor once). A mixin of the walker, which holds the modules and reports errors."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from nnspec.ir.analysis import ModuleInfo, Shape
from nnspec.ir.program import Instance, Program, Tie
from nnspec.language.expr import evaluate


class TieCounting:
    program: Program
    modules: dict[str, ModuleInfo]
    shared: dict[str, int | None]
    error: Callable[..., None]  # the walker's: (code, message, pos, path)

    def tied_twice(self, tree: Instance) -> None:
        """Per module, the size of the tied parameters its subtree would count twice: at the
        deepest module holding both ends, as its `parameters()` yields a shared tensor once
        (None where a tie's shape is unknown)."""
        stack = [tree]
        while stack:
            inst = stack.pop()
            stack.extend(inst.children)
            if inst.kind != "block":
                continue
            for tie in self.program.classes[inst.type].ties:
                if tie.cond is not None and not evaluate(tie.cond.node, inst.args):
                    continue
                shape = self.tie(inst, tie)
                a, b = (text.rpartition(".")[0].split(".") for text in (tie.target, tie.source))
                common = [x for x, _ in itertools.takewhile(lambda p: p[0] == p[1], zip(a, b))]
                path = ".".join(p for p in (inst.path, *common) if p)
                before = self.shared.get(path, 0)
                self.shared[path] = None if shape is None or before is None \
                    else before + numel(shape)

    def tie(self, inst: Instance, tie: Tie) -> Shape | None:
        """The shape of a tied parameter, once: torch's `parameters()` yields it once. Errors
        when either end is not a parameter or their shapes differ; None where unknown."""
        ends = [".".join(p for p in (inst.path, text) if p) for text in (tie.target,
                                                                          tie.source)]
        if ends[0] in self.modules and ends[1] in self.modules:
            return self.module_tie(ends, tie, inst.path)
        shapes = []
        for text, pos in ((tie.target, tie.pos), (tie.source, tie.source_pos)):
            owner, _, attr = text.rpartition(".")
            path = ".".join(p for p in (inst.path, owner) if p)
            info = self.modules.get(path)
            if info is None or info.state is None:  # absent (reported) or no layout rule
                return None
            found = info.state.get(attr)
            if found is None or not found[1]:
                self.error("bad-tie", f"'{path or inst.type}' ({info.type}) has no parameter "
                           f"'{attr}'", pos, inst.path)
                return None
            shapes.append(tuple(found[0]))
        if shapes[0] != shapes[1]:
            self.error("shape-mismatch", f"cannot tie {tie.target} {list(shapes[0])} to "
                       f"{tie.source} {list(shapes[1])}: the shapes differ", tie.pos,
                       inst.path)
            return None
        return shapes[0]

    def module_tie(self, ends: list[str], tie: Tie, path: str) -> Shape | None:
        """A module registered at two paths: both ends of one class, and the parameters below
        the source counted once (as a flat shape of their total; None where unknown)."""
        target, source = (self.modules[end] for end in ends)
        if target.type != source.type:
            self.error("bad-tie", f"cannot tie {tie.target} ({target.type}) to {tie.source} "
                       f"({source.type}): a shared module has one class", tie.pos, path)
            return None
        total = 0
        for key, info in self.modules.items():
            if key == ends[1] or key.startswith(ends[1] + "."):
                if info.own_params is None:
                    return None
                total += info.own_params
        return (total,)


def numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
