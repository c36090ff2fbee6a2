"""Python source text for checked expressions, already in `ruff format` style.

Generated files must pass `ruff format --check` without ruff at run time, so this renders the
whitelisted expression subset itself: double-quoted strings, black's spacing for `**` and
slices, minimal parentheses, and calls split over lines the way ruff splits them.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

LINE_LENGTH = 88
INDENT = "    "

_PREC = {
    ast.IfExp: 1, ast.Or: 2, ast.And: 3, ast.Not: 4, ast.Compare: 5,
    ast.BitOr: 6, ast.BitXor: 7, ast.BitAnd: 8, ast.LShift: 9, ast.RShift: 9,
    ast.Add: 10, ast.Sub: 10, ast.Mult: 11, ast.Div: 11, ast.FloorDiv: 11, ast.Mod: 11,
    ast.MatMult: 11, ast.UAdd: 12, ast.USub: 12, ast.Invert: 12, ast.Pow: 13,
}
_ATOM = 16
_OPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.MatMult: "@", ast.Pow: "**", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
    ast.LShift: "<<", ast.RShift: ">>", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<",
    ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in",
    ast.Is: "is", ast.IsNot: "is not", ast.USub: "-", ast.UAdd: "+", ast.Invert: "~",
}

Rename = Callable[[str], str]


def literal(value: object) -> str:
    """Source for a validated literal value, quoted as ruff quotes it."""
    if isinstance(value, str):
        text = repr(value)
        if text.startswith("'") and '"' not in value:
            text = '"' + text[1:-1].replace("\\'", "'") + '"'
        return text
    if isinstance(value, (list, tuple)):
        items = ", ".join(literal(v) for v in value)
        if isinstance(value, tuple):
            return f"({items},)" if len(value) == 1 else f"({items})"
        return f"[{items}]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    raise TypeError(f"not a spec literal: {value!r}")


def expr(node: ast.AST, rename: Rename | None = None) -> str:
    """Render one expression; `rename` maps each Name (e.g. a child `conv` to `self.conv`)."""
    return _Renderer(rename or (lambda n: n)).render(node, 0)


def _simple_power_operand(node: ast.AST) -> bool:
    """ruff hugs `**` when both operands are names, numbers or attribute chains."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    if isinstance(node, ast.Attribute):
        return _simple_power_operand(node.value)
    return isinstance(node, ast.Name) or (isinstance(node, ast.Constant) and isinstance(
        node.value, (int, float)) and not isinstance(node.value, bool))


def _simple_slice_part(node: ast.AST | None) -> bool:
    if node is None:
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, (ast.Name, ast.Constant))


class _Renderer:
    def __init__(self, rename: Rename):
        self.rename = rename

    def render(self, node: ast.AST, need: int) -> str:
        text, prec = self._node(node)
        return f"({text})" if prec < need else text

    def _node(self, node: ast.AST) -> tuple[str, int]:
        r = self.render
        if isinstance(node, ast.Constant):
            if node.value is ...:
                return "...", _ATOM
            text = literal(node.value)
            return text, (_PREC[ast.USub] if text.startswith("-") else _ATOM)
        if isinstance(node, ast.Name):
            return self.rename(node.id), _ATOM
        if isinstance(node, ast.Attribute):
            base = r(node.value, _ATOM)
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, int):
                base = f"({base})"
            return f"{base}.{node.attr}", _ATOM
        if isinstance(node, ast.Call):
            return f"{r(node.func, _ATOM)}({', '.join(self.arguments(node))})", _ATOM
        if isinstance(node, ast.Subscript):
            return f"{r(node.value, _ATOM)}[{self.index(node.slice)}]", _ATOM
        if isinstance(node, ast.List):
            return "[" + ", ".join(r(e, 1) for e in node.elts) + "]", _ATOM
        if isinstance(node, ast.Tuple):
            items = [r(e, 1) for e in node.elts]
            return ("(" + items[0] + ",)" if len(items) == 1 else
                    "(" + ", ".join(items) + ")"), _ATOM
        if isinstance(node, ast.BinOp):
            prec = _PREC[type(node.op)]
            if isinstance(node.op, ast.Pow):
                left, right = r(node.left, prec + 1), r(node.right, prec)
                if _simple_power_operand(node.left) and _simple_power_operand(node.right):
                    return f"{left}**{right}", prec
                return f"{left} ** {right}", prec
            left, right = r(node.left, prec), r(node.right, prec + 1)
            return f"{left} {_OPS[type(node.op)]} {right}", prec
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return f"not {r(node.operand, _PREC[ast.Not])}", _PREC[ast.Not]
            prec = _PREC[type(node.op)]
            return f"{_OPS[type(node.op)]}{r(node.operand, prec)}", prec
        if isinstance(node, ast.BoolOp):
            prec = _PREC[type(node.op)]
            word = " and " if isinstance(node.op, ast.And) else " or "
            return word.join(r(v, prec + 1) for v in node.values), prec
        if isinstance(node, ast.Compare):
            prec = _PREC[ast.Compare]
            parts = [r(node.left, prec + 1)]
            for op, comp in zip(node.ops, node.comparators):
                parts += [_OPS[type(op)], r(comp, prec + 1)]
            return " ".join(parts), prec
        if isinstance(node, ast.IfExp):
            prec = _PREC[ast.IfExp]
            return (f"{r(node.body, prec + 1)} if {r(node.test, prec + 1)} else "
                    f"{r(node.orelse, prec)}"), prec
        raise TypeError(f"cannot render {type(node).__name__}")

    def arguments(self, node: ast.Call) -> list[str]:
        args = [self.render(a, 1) for a in node.args]
        args += [f"{k.arg}={self.render(k.value, 1)}" for k in node.keywords]
        return args

    def index(self, node: ast.AST) -> str:
        if isinstance(node, ast.Tuple) and node.elts:
            return ", ".join(self.index(e) for e in node.elts)
        if isinstance(node, ast.Slice):
            parts = [node.lower, node.upper, node.step]
            spaced = not all(_simple_slice_part(p) for p in parts)
            text = [self.render(p, 1) if p is not None else "" for p in parts]
            if node.step is None:
                text = text[:2]
            if not spaced:
                return ":".join(text)
            out = text[0]  # black spaces complex bounds, but not beside an omitted one
            for part in text[1:]:
                out += (" :" if out else ":") + (f" {part}" if part else "")
            return out
        return self.render(node, 1)


def call_lines(prefix: str, args: list[str], indent: int, suffix: str = "",
               explode: bool = False) -> list[str]:
    """`prefix(args)suffix` split as ruff splits it; `explode` keeps one arg per line."""
    pad = INDENT * indent
    one = f"{pad}{prefix}({', '.join(args)}){suffix}"
    if not explode and len(one) <= LINE_LENGTH:
        return [one]
    inner = INDENT * (indent + 1)
    hug = inner + ", ".join(args)
    if not explode and args and len(hug) <= LINE_LENGTH and "\n" not in hug:
        return [f"{pad}{prefix}(", hug, f"{pad}){suffix}"]
    lines = [f"{pad}{prefix}("]
    for arg in args:
        lines.extend(_arg_lines(arg, indent + 1))
    lines.append(f"{pad}){suffix}")
    return lines


def _arg_lines(arg: str | Wrapped, indent: int) -> list[str]:
    if isinstance(arg, Wrapped):
        return call_lines(arg.prefix, arg.args, indent, ",", arg.explode)
    return [f"{INDENT * indent}{arg},"]


class Wrapped(str):
    """A call argument that is itself a call, kept splittable: `nn.Sequential(...)` items."""

    prefix: str
    args: list
    explode: bool

    def __new__(cls, prefix: str, args: list, explode: bool = False) -> Wrapped:
        self = super().__new__(cls, f"{prefix}({', '.join(args)})")
        self.prefix, self.args, self.explode = prefix, args, explode
        return self
