"""The generated file's `__main__` self-check: build the model, run the declared example
inputs, print the output shape."""

from __future__ import annotations

import ast

from nnspec.codegen.classes import assign
from nnspec.codegen.imports import Usage
from nnspec.formatter import format_statement, nodes
from nnspec.ir.program import (
    Input,
    Program,
    Stmt,
)


def self_check(program: Program, usage: Usage) -> list[str]:
    """`python FILE.py`: build the model, run the declared inputs, print the output shape."""
    taken = {"model", "output", "torch", "print", "tuple", *program.classes}
    names: list[str] = []
    for inp in program.inputs:
        name = inp.name
        while name in taken:
            name += "_input"
        taken.add(name)
        names.append(name)
    float_dtypes = {i.dtype for i in program.inputs if i.dtype.startswith(("float", "bfloat"))}
    model: ast.expr = nodes.call(program.root)
    if len(float_dtypes) == 1 and float_dtypes != {"float32"}:
        model = nodes.call(ast.Attribute(model, "to"), nodes.name(f"torch.{float_dtypes.pop()}"))
    stmts: list[ast.stmt] = [assign(ast.Name("model"),
                                     nodes.call(ast.Attribute(model, "eval")))]
    stmts += [assign(ast.Name(name), _example(inp)) for name, inp in zip(names, program.inputs)]
    output = nodes.call("model", *[ast.Name(n) for n in names])
    root = program.classes[program.root]
    returned = root.forward[-1].node.value if root.forward and isinstance(
        root.forward[-1], Stmt) and isinstance(root.forward[-1].node, ast.Return) else None
    if isinstance(returned, ast.Tuple):
        stmts.append(assign(ast.Name("output"), output))
        shapes = [_shape(ast.Subscript(ast.Name("output"), ast.Constant(i)))
                  for i in range(len(returned.elts))]
        stmts.append(ast.Expr(nodes.call("print", *shapes)))
    elif isinstance(returned, ast.Dict):  # a mapping: each item's shape, by key
        stmts.append(assign(ast.Name("output"), output))
        stmts.append(ast.Expr(nodes.call("print", *[
            _shape(ast.Subscript(ast.Name("output"), key)) for key in returned.keys
            if key is not None])))
    else:
        stmts.append(ast.Expr(nodes.call("print", _shape(output))))
    lines: list[str] = []
    for stmt in stmts:
        usage.note(stmt)
        lines += format_statement(stmt, 1)
    return lines


def _shape(tensor: ast.expr) -> ast.expr:
    return nodes.call("tuple", ast.Attribute(tensor, "shape"))


def _example(inp: Input) -> ast.expr:
    """A batch of two random inputs of the declared shape and dtype."""
    dims = [ast.Constant(d) for d in (2, *inp.shape)]
    dtype = nodes.name(f"torch.{inp.dtype}")
    if inp.dtype == "bool":
        return ast.Compare(nodes.call("torch.rand", *dims), [ast.Gt()], [ast.Constant(0.5)])
    if inp.dtype.startswith(("int", "uint")):
        low, high = inp.range or (0, 2)
        kw = {} if inp.dtype == "int64" else {"dtype": dtype}
        return nodes.call("torch.randint", nodes.literal_node(low), nodes.literal_node(high),
                          ast.Tuple(dims), **kw)
    kw = {} if inp.dtype == "float32" else {"dtype": dtype}
    return nodes.call("torch.randn", *dims, **kw)
