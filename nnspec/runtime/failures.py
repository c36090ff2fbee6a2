"""A forward that fails on the spec's own declared inputs, traced back to the spec: the module
that failed and its forward step or layer call."""

from __future__ import annotations

import ast
import linecache
import traceback

from nnspec.diagnostics import Diagnostic, Pos, SpecError
from nnspec.ir.program import If, Instance, Program
from nnspec.runtime.classes import load_classes
from nnspec.runtime.torchlib import torch


def forward_error(program: Program, tree: Instance, model: torch.nn.Module,
                  exc: Exception) -> SpecError | None:
    """A forward that fails on the spec's own declared inputs is the spec's fault: say which
    module failed, at its forward step or layer call. None when no module of `model` failed,
    or when the exception is not one torch raises for bad shapes and values (an
    AttributeError from generated code is nnspec's bug, not the spec's)."""
    if not isinstance(exc, (RuntimeError, ValueError, IndexError, TypeError)):
        return None
    modules = {id(m): name for name, m in model.named_modules()}
    frames = [(frame, line) for frame, line in traceback.walk_tb(exc.__traceback__)
              if id(frame.f_locals.get("self")) in modules]
    if not frames:
        return None
    frame, lineno = frames[-1]  # the innermost module's forward
    module = frame.f_locals["self"]
    path, name = modules[id(module)], type(module).__name__
    filename = load_classes(program).__file__
    pos = _instance(tree, path).pos
    notes: tuple[str, ...] = ()
    if frame.f_code.co_filename == filename and name in program.classes:
        cls = program.classes[name]
        pos = _step_pos(cls.forward, _forward_body(filename, name), lineno) or pos
        notes = (f"generated code: {linecache.getline(filename, lineno).strip()}",)
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    where = f"module '{path}' ({name})" if path else f"the model ({name})"
    return SpecError([Diagnostic(
        "forward-failed", f"forward pass on the declared inputs fails in {where}: {reason}",
        pos, notes=notes)])


def _instance(tree: Instance, path: str) -> Instance:
    """The instance at a dotted module path (the deepest one found on the way)."""
    node = tree
    while node.path != path:
        inner = next((c for c in node.children
                      if path == c.path or path.startswith(c.path + ".")), None)
        if inner is None:
            break
        node = inner
    return node


def _forward_body(filename: str, class_name: str) -> list[ast.stmt]:
    tree = ast.parse("".join(linecache.getlines(filename)))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "forward":
                    return item.body
    return []


def _step_pos(steps: list, body: list[ast.stmt], lineno: int) -> Pos | None:
    """The spec position of the forward step rendered at `lineno` (IR steps and generated
    statements correspond one to one; an `if` with an empty branch renders `pass`)."""
    nodes = [n for n in body if not isinstance(n, ast.Pass)]
    for step, node in zip(steps, nodes):
        if not node.lineno <= lineno <= (node.end_lineno or node.lineno):
            continue
        if isinstance(step, If) and isinstance(node, ast.If) and lineno != node.lineno:
            return (_step_pos(step.then, node.body, lineno)
                    or _step_pos(step.orelse, node.orelse, lineno) or step.pos)
        return step.pos
    return None
