"""The generated file's imports: what its statements use (torch, nn, F, math, OrderedDict, user
layer classes), written as ruff's isort rules order them."""

from __future__ import annotations

import ast

from nnspec.formatter import LINE_WIDTH
from nnspec.ir.program import (
    Program,
    Repeat,
    Seq,
)
from nnspec.language.expr import walk
from nnspec.language.names import RESERVED, Namespace

# parameter types the generated signature annotates with the builtin of that name
ANNOTATIONS = {"int", "float", "bool", "str", "list"}


class Usage:
    """What the generated body uses, so the module imports exactly that."""

    def __init__(self, user_names: dict[str, str] | None = None) -> None:
        self.names: set[str] = set()
        self.modules: set[str] = set()
        self.make_divisible = False
        self.user_names = user_names or {}  # user layer 'module:Class' -> name in the file
        self.user_layers: set[str] = set()  # the user layers called

    def note(self, node: ast.AST) -> None:
        for sub in walk(node):
            if isinstance(sub, ast.Name):
                self.names.add(sub.id)
                if sub.id == "make_divisible":
                    self.make_divisible = True

    def imports(self) -> list[str]:
        """Sorted as isort sorts them: the standard library, then the rest."""
        stdlib = (["import math"] if "math" in self.names else []) + (
            ["from collections import OrderedDict"] if "OrderedDict" in self.names else [])
        modules = {"torch", *self.modules} | ({"torch.nn.functional as F"}
                                             if "F" in self.names else set())
        froms: list[tuple[str, list[tuple[str, str]]]] = []
        plain: dict[str, list[tuple[str, str]]] = {"torch": [("nn", "nn")]}
        for path in self.user_layers:
            module, cls = path.split(":")
            name = self.user_names[path]
            if name == cls:
                plain.setdefault(module, []).append((cls, name))
            else:  # isort keeps each `import X as Y` on its own line
                froms.append((module, [(cls, name)]))
        froms += plain.items()
        third = [f"import {m}" for m in sorted(modules)] + [
            _from_import(m, names) for m, names in sorted(
                froms, key=lambda f: (f[0].lower(), _member_key(min(f[1], key=_member_key))))]
        return stdlib + ([""] if stdlib else []) + third


def _member_key(member: tuple[str, str]) -> tuple[int, str, str]:
    """isort's order for imported names: CONSTANTS, then Classes, then the rest."""
    name = member[0]
    kind = 0 if len(name) > 1 and name.isupper() else 1 if name[0].isupper() else 2
    return kind, name.lower(), name


def _from_import(module: str, members: list[tuple[str, str]]) -> str:
    """`from module import a, b`, wrapped as ruff's isort wraps a line that is too long."""
    names = [m if m == alias else f"{m} as {alias}" for m, alias in sorted(members,
                                                                          key=_member_key)]
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= LINE_WIDTH:
        return line
    return "\n".join([f"from {module} import (", *(f"    {n}," for n in names), ")"])


def user_names(program: Program) -> dict[str, str]:
    """The name each user layer's class has in the generated file: its own, unless another
    class, a parameter, a loop variable or a name the file uses has it (then
    `Class as Class_2`)."""
    names = Namespace(set(program.classes) | {p.name for cls in program.classes.values()
                                              for p in cls.params} | loop_variables(
                          [c for cls in program.classes.values() for c in cls.children]),
                      separator="_", refused=RESERVED)
    return {path: names.fresh(path.split(":")[1]) for path in sorted(program.user_layers)}


def loop_variables(children: list) -> set[str]:
    """The loop variables of the repeats among `children`: constructor locals, like
    parameters, so no name the generator invents may take one."""
    out: set[str] = set()
    stack = list(children)
    while stack:
        child = stack.pop()
        if child.orelse is not None:
            stack.append(child.orelse)
        if isinstance(child.value, Repeat) and child.value.var:
            out.add(child.value.var)
        if isinstance(child.value, (Seq, Repeat)):
            stack.extend(child.value.items)
    return out
