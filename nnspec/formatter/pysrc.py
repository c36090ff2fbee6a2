"""Python source for generated statements, laid out exactly as `ruff format` lays them out.

Generated modules must pass `ruff format --check` with ruff only a test dependency, so this
module formats the small statement and expression subset that code generation emits the way
ruff's Python rules do: each node becomes a document of groups and conditional line breaks
(optional parentheses, best-fit parentheses, call chains, binary operator chains split by
precedence, magic trailing commas), which `nnspec.layout` prints as ruff's printer would.
Literals are rendered from validated values only, quoted and escaped as ruff normalises them.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from contextlib import contextmanager

from nnspec.formatter.layout import EXPANDED, FLAT, SOFT, SOFT_OR_SPACE, Doc, render

INDENT = "    "

# --- literals ---------------------------------------------------------------------------------


def literal(value: object) -> str:
    """Source for a validated literal value, quoted and escaped as ruff writes it.

    Strings use only printable ASCII: everything else (newlines, quotes of the chosen kind,
    bidirectional controls, any non-ASCII character) is escaped, so no value can end the
    string, hide text, or reorder what a reader sees.
    """
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return repr(value).replace("e+", "e")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        items = ", ".join(literal(v) for v in value)
        if isinstance(value, tuple):
            return f"({items},)" if len(value) == 1 else f"({items})"
        return f"[{items}]"
    raise TypeError(f"not a spec literal: {value!r}")


def _string(value: str) -> str:
    quote = "'" if value.count('"') > value.count("'") else '"'
    out = [quote]
    for ch in value:
        code = ord(ch)
        if ch == "\\" or ch == quote:
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append(quote)
    return "".join(out)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def literal_node(value: object) -> ast.expr:
    """An expression node for a literal value (negative numbers as unary minus, as parsed)."""
    if isinstance(value, (list, tuple)):
        elts = [literal_node(v) for v in value]
        return ast.List(elts) if isinstance(value, list) else ast.Tuple(elts)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (
            value < 0 or (isinstance(value, float) and math.copysign(1, value) < 0)):
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    literal(value)  # refuse anything that is not a literal
    return ast.Constant(value)


def name(dotted: str) -> ast.expr:
    """`a.b.c` as Name/Attribute nodes."""
    first, *rest = dotted.split(".")
    node: ast.expr = ast.Name(first)
    for attr in rest:
        node = ast.Attribute(node, attr)
    return node


def call(func: str | ast.expr, *args: ast.expr, **keywords: ast.expr) -> ast.Call:
    target = name(func) if isinstance(func, str) else func
    return ast.Call(target, list(args), [ast.keyword(k, v) for k, v in keywords.items()])


# --- operator tables --------------------------------------------------------------------------

_OPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.MatMult: "@", ast.Pow: "**", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
    ast.LShift: "<<", ast.RShift: ">>", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<",
    ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in",
    ast.Is: "is", ast.IsNot: "is not", ast.USub: "-", ast.UAdd: "+", ast.Invert: "~",
    ast.Not: "not", ast.And: "and", ast.Or: "or",
}


def operator(op: ast.AST) -> str:
    return _OPS[type(op)]


# Python's binding strength, for the parentheses the unformatted source needs.
_TUPLE, _TEST, _OR, _AND, _NOT, _CMP = 1, 2, 3, 4, 5, 6
_BOR, _BXOR, _BAND, _SHIFT, _ARITH, _TERM, _FACTOR, _POWER, _ATOM = range(7, 16)
_BINOP_PREC = {
    ast.BitOr: _BOR, ast.BitXor: _BXOR, ast.BitAnd: _BAND, ast.LShift: _SHIFT,
    ast.RShift: _SHIFT, ast.Add: _ARITH, ast.Sub: _ARITH, ast.Mult: _TERM, ast.Div: _TERM,
    ast.FloorDiv: _TERM, ast.Mod: _TERM, ast.MatMult: _TERM, ast.Pow: _POWER,
}

# Ruff's splitting precedence (higher splits first).
_R_NONE, _R_ATTRIBUTE, _R_EXP, _R_INVERT, _R_MUL, _R_ADD, _R_SHIFT = range(7)
_R_BAND, _R_BXOR, _R_BOR, _R_CMP, _R_BOOL, _R_COND = range(7, 13)
_RUFF_PREC = {
    ast.Add: _R_ADD, ast.Sub: _R_ADD, ast.Mult: _R_MUL, ast.MatMult: _R_MUL, ast.Div: _R_MUL,
    ast.Mod: _R_MUL, ast.FloorDiv: _R_MUL, ast.Pow: _R_EXP, ast.LShift: _R_SHIFT,
    ast.RShift: _R_SHIFT, ast.BitOr: _R_BOR, ast.BitXor: _R_BXOR, ast.BitAnd: _R_BAND,
}


def _prec(node: ast.AST, bare_tuples: set[int]) -> int:
    if isinstance(node, ast.IfExp):
        return _TEST
    if isinstance(node, ast.BoolOp):
        return _OR if isinstance(node.op, ast.Or) else _AND
    if isinstance(node, ast.UnaryOp):
        return _NOT if isinstance(node.op, ast.Not) else _FACTOR
    if isinstance(node, ast.Compare):
        return _CMP
    if isinstance(node, ast.BinOp):
        return _BINOP_PREC[type(node.op)]
    if isinstance(node, ast.Tuple) and id(node) in bare_tuples:
        return _TUPLE
    return _ATOM


def _mark_parentheses(node: ast.AST, bare_tuples: set[int]) -> set[int]:
    """Ids of the sub-expressions the plain source must parenthesize (as ast.unparse would,
    but with `x ** -y` unparenthesized and `-(x**2)` parenthesized, as ruff writes them)."""
    marked: set[int] = set()

    def need(child: ast.AST, required: int) -> None:
        if _prec(child, bare_tuples) < required:
            marked.add(id(child))

    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp):
            p = _BINOP_PREC[type(sub.op)]
            if isinstance(sub.op, ast.Pow):
                need(sub.left, _POWER + 1)
                need(sub.right, _FACTOR)
            else:
                need(sub.left, p)
                need(sub.right, p + 1)
        elif isinstance(sub, ast.UnaryOp):
            operand = sub.operand
            if isinstance(operand, ast.BinOp) and isinstance(operand.op, ast.Pow):
                marked.add(id(operand))
            else:
                need(operand, _prec(sub, bare_tuples))
        elif isinstance(sub, ast.BoolOp):
            for value in sub.values:
                need(value, _prec(sub, bare_tuples) + 1)
        elif isinstance(sub, ast.Compare):
            for value in [sub.left, *sub.comparators]:
                need(value, _CMP + 1)
        elif isinstance(sub, ast.IfExp):
            need(sub.body, _TEST + 1)
            need(sub.test, _TEST + 1)
            need(sub.orelse, _TEST)
        elif isinstance(sub, ast.Attribute):
            need(sub.value, _ATOM)
            if _is_base_ten_number(sub.value):  # `(1).real`, not `1.real`
                marked.add(id(sub.value))
        elif isinstance(sub, ast.Call):
            if not isinstance(sub.func, (ast.Constant, ast.Name)):
                need(sub.func, _ATOM)
            for arg in sub.args:
                need(arg, _TEST)
            for kw in sub.keywords:
                need(kw.value, _TEST)
        elif isinstance(sub, ast.Subscript):
            if not isinstance(sub.value, ast.Constant):
                need(sub.value, _ATOM)
            if not isinstance(sub.slice, (ast.Tuple, ast.Slice)):
                need(sub.slice, _TEST)
        elif isinstance(sub, (ast.List, ast.Tuple)):
            for elt in sub.elts:
                if not isinstance(elt, ast.Slice):
                    need(elt, _TEST)
        elif isinstance(sub, ast.Slice):
            for part in (sub.lower, sub.upper, sub.step):
                if part is not None:
                    need(part, _TEST)
    return marked


# --- the formatter ----------------------------------------------------------------------------

PRESERVE, ALWAYS, NEVER = "preserve", "always", "never"
DEFAULT, FLUENT, NON_FLUENT = "default", "fluent", "non-fluent"
MULTILINE, BEST_FIT = "multiline", "best-fit"
TOP, PAREN = ("top",), ("paren",)


def _expr_level(gid: int | None) -> tuple:
    return ("expr", gid)


class _Formatter:
    """Builds the document for one statement, following ruff's rules node by node."""

    def __init__(self, statement: ast.AST, bare_tuples: set[int]):
        self.doc = Doc()
        self.level: tuple = TOP
        self.bare = bare_tuples
        self.parens = _mark_parentheses(statement, bare_tuples)

    # document helpers

    @contextmanager
    def at(self, level: tuple):
        saved, self.level = self.level, level
        try:
            yield
        finally:
            self.level = saved

    def text(self, s: str) -> None:
        self.doc.text(s)

    def line(self, mode: str) -> None:
        self.doc.line(mode)

    def wrap(self, kind: str, content: Callable[[], None], **kw) -> None:
        self.doc.start(kind, **kw)
        content()
        self.doc.end(kind)

    def group(self, content: Callable[[], None], gid: int | None = None,
              expand: bool = False) -> None:
        self.wrap("group", content, id=gid, expand=expand)

    def if_breaks(self, content: Callable[[], None], gid: int | None = None) -> None:
        self.wrap("cond_content", content, cond_id=gid, cond_mode=EXPANDED)

    def if_fits(self, content: Callable[[], None], gid: int | None = None) -> None:
        self.wrap("cond_content", content, cond_id=gid, cond_mode=FLAT)

    def capture(self, content: Callable[[], None]) -> list:
        saved, self.doc.items = self.doc.items, []
        try:
            content()
            return self.doc.items
        finally:
            self.doc.items = saved

    def is_parenthesized_level(self) -> bool:
        return self.level == PAREN or (self.level[0] == "expr" and self.level[1] is not None)

    def is_paren(self, node: ast.AST) -> bool:
        return id(node) in self.parens

    def block_indent_soft(self, content: Callable[[], None]) -> None:
        self.wrap("indent", lambda: (self.line(SOFT), content()))
        self.line(SOFT)

    def parenthesized(self, left: str, content: Callable[[], None], right: str) -> None:
        current = self.level

        def inner() -> None:
            self.group(lambda: (self.text(left), self.block_indent_soft(content),
                                self.text(right)))

        with self.at(PAREN):
            if current[0] == "expr" and current[1] is not None:
                self.wrap("fits_expanded", inner, cond_id=current[1], cond_mode=FLAT)
            else:
                inner()

    def ipo_group(self, content: Callable[[], None]) -> None:
        """in_parentheses_only_group"""
        if self.level[0] == "expr" and self.level[1] is not None:
            self.wrap("cond_group", content, cond_id=self.level[1], cond_mode=EXPANDED)
        elif self.level == PAREN:
            self.group(content)
        else:
            content()

    def ipo_line(self, mode: str) -> None:
        """in_parentheses_only_soft_line_break[_or_space]"""
        if self.level[0] == "expr" and self.level[1] is not None:
            gid = self.level[1]
            self.if_breaks(lambda: self.line(mode), gid)
            if mode == SOFT_OR_SPACE:
                self.if_fits(lambda: self.text(" "), gid)
        elif self.level == PAREN:
            self.line(mode)
        elif mode == SOFT_OR_SPACE:
            self.text(" ")

    def ipo_if_breaks(self, content: Callable[[], None]) -> None:
        if self.level[0] == "expr" and self.level[1] is not None:
            self.if_breaks(content, self.level[1])
        elif self.level == PAREN:
            self.if_breaks(content)

    def join(self, entries: list[Callable[[], None]]) -> None:
        """Comma-separated entries; a trailing comma when broken, unless there is just one."""
        for i, entry in enumerate(entries):
            if i:
                self.text(",")
                self.line(SOFT_OR_SPACE)
            entry()
        if len(entries) > 1:
            self.if_breaks(lambda: self.text(","))

    def optional_parentheses(self, content: Callable[[], None]) -> None:
        gid = self.doc.new_id()
        with self.at(_expr_level(gid)):
            self.group(lambda: (
                self.if_breaks(lambda: self.text("(")),
                self.wrap("indent_if_breaks", lambda: (self.line(SOFT), content()),
                          cond_id=gid),
                self.line(SOFT),
                self.if_breaks(lambda: self.text(")")),
            ), gid=gid)

    def parenthesize_if_expands(self, content: Callable[[], None]) -> None:
        with self.at(PAREN):
            gid = self.doc.new_id()
            self.group(lambda: (
                self.if_breaks(lambda: self.text("(")),
                self.wrap("indent_if_breaks", lambda: (self.line(SOFT), content()),
                          cond_id=gid),
                self.line(SOFT),
                self.if_breaks(lambda: self.text(")")),
            ), gid=gid)

    # expressions

    def expr(self, node: ast.expr, parentheses: str = PRESERVE) -> None:
        if parentheses == ALWAYS or (parentheses == PRESERVE and self.is_paren(node)):
            self.parenthesized("(", lambda: self.fields(node), ")")
        else:
            level = _expr_level(None) if self.level == TOP else self.level
            with self.at(level):
                self.fields(node)

    def fields(self, node: ast.expr, layout: str = DEFAULT) -> None:
        if isinstance(node, ast.Name):
            self.text(node.id)
        elif isinstance(node, ast.Constant):
            self.text("..." if node.value is ... else literal(node.value))
        elif isinstance(node, ast.Attribute):
            self.attribute(node, layout)
        elif isinstance(node, ast.Call):
            self.call(node, layout)
        elif isinstance(node, ast.Subscript):
            self.subscript(node, layout)
        elif isinstance(node, (ast.BinOp, ast.BoolOp, ast.Compare)):
            self.binary_like(node)
        elif isinstance(node, ast.UnaryOp):
            self.text(operator(node.op))
            if isinstance(node.op, ast.Not):
                self.text(" ")
            pow_operand = isinstance(node.operand, ast.BinOp) and isinstance(node.operand.op,
                                                                              ast.Pow)
            self.expr(node.operand, ALWAYS if pow_operand else PRESERVE)
        elif isinstance(node, ast.IfExp):
            self.if_exp(node)
        elif isinstance(node, ast.List):
            if not node.elts:
                self.group(lambda: self.text("[]"))
            else:
                self.parenthesized("[", lambda: self.sequence(node.elts), "]")
        elif isinstance(node, ast.Tuple):
            self.tuple(node)
        elif isinstance(node, ast.Slice):
            self.slice(node)
        elif isinstance(node, ast.JoinedStr):  # only names in braces: f"layer_{i}"
            self.text('f"' + "".join(f"{{{v.value.id}}}" if isinstance(v, ast.FormattedValue)
                                     else v.value for v in node.values) + '"')
        elif isinstance(node, ast.Starred):
            self.text("*")
            self.expr(node.value)
        else:
            raise TypeError(f"cannot format {type(node).__name__}")

    def sequence(self, elts: list[ast.expr]) -> None:
        self.join([lambda e=e: self.expr(e) for e in elts])

    def tuple(self, node: ast.Tuple, subscript: bool = False) -> None:
        if id(node) not in self.bare:
            if not node.elts:
                self.group(lambda: self.text("()"))
            elif len(node.elts) == 1:
                self.parenthesized("(", lambda: (self.expr(node.elts[0]), self.text(",")), ")")
            else:
                self.parenthesized("(", lambda: self.sequence(node.elts), ")")
        elif len(node.elts) == 1:
            self.expr(node.elts[0])
            self.text(",")
        elif subscript:
            self.group(lambda: self.sequence(node.elts))
        else:
            self.parenthesize_if_expands(lambda: self.sequence(node.elts))

    def slice(self, node: ast.Slice) -> None:
        parts = (node.lower, node.upper, node.step)
        simple = all(p is None or _simple_slice_part(p) for p in parts)
        if node.lower is not None:
            self.expr(node.lower)
            if not simple:
                self.text(" ")
        self.text(":")
        if node.upper is not None:
            if not simple:
                self.text(" ")
            self.expr(node.upper)
        if node.step is not None:
            if not simple and node.upper is not None:
                self.text(" ")
            self.text(":")
            if not simple:
                self.text(" ")
            self.expr(node.step)

    def if_exp(self, node: ast.IfExp, nested: bool = False) -> None:
        def inner() -> None:
            self.expr(node.body)
            self.ipo_line(SOFT_OR_SPACE)
            self.text("if ")
            self.expr(node.test)
            self.ipo_line(SOFT_OR_SPACE)
            self.text("else ")
            orelse = node.orelse
            if isinstance(orelse, ast.IfExp) and not self.is_paren(orelse):
                self.if_exp(orelse, nested=True)
            else:
                self.expr(orelse)

        if nested:
            inner()
        else:
            self.ipo_group(inner)

    # call chains

    def chain_layout(self, node: ast.expr) -> str:
        """Fluent when at least two attribute values in the chain are calls or subscripts."""
        count, root_parenthesized = 0, False
        expr = node
        while True:
            if isinstance(expr, ast.Attribute):
                if self.is_paren(expr.value):
                    root_parenthesized = True
                    break
                if isinstance(expr.value, (ast.Call, ast.Subscript)):
                    count += 1
                expr = expr.value
            elif isinstance(expr, (ast.Call, ast.Subscript)):
                inner = expr.func if isinstance(expr, ast.Call) else expr.value
                if self.is_paren(inner):
                    break
                expr = inner
            else:
                break
        return FLUENT if count + root_parenthesized >= 2 else NON_FLUENT

    def apply_layout(self, layout: str, node: ast.expr) -> str:
        if layout == DEFAULT:
            return self.chain_layout(node) if self.is_parenthesized_level() else NON_FLUENT
        return layout

    def chain_value(self, value: ast.expr, layout: str) -> None:
        if isinstance(value, ast.Attribute):
            self.attribute(value, layout)
        elif isinstance(value, ast.Call):
            self.call(value, layout)
        elif isinstance(value, ast.Subscript):
            self.subscript(value, layout)
        else:
            self.expr(value, NEVER)

    def attribute(self, node: ast.Attribute, layout: str = DEFAULT) -> None:
        chain = self.apply_layout(layout, node)
        value = node.value

        def inner() -> None:
            parenthesize = _is_base_ten_number(value) or self.is_paren(value)
            if parenthesize:
                self.expr(value, ALWAYS)
            elif chain == FLUENT:
                self.chain_value(value, chain)
            else:
                self.expr(value, NEVER)
            if chain == FLUENT and (parenthesize or isinstance(value, (ast.Call,
                                                                       ast.Subscript))):
                self.line(SOFT)
            self.text("." + node.attr)

        if layout == DEFAULT and chain == FLUENT:
            self.group(inner)
        else:
            inner()

    def call(self, node: ast.Call, layout: str = DEFAULT) -> None:
        chain = self.apply_layout(layout, node)

        def inner() -> None:
            func = node.func
            if isinstance(func, (ast.Attribute, ast.Call, ast.Subscript)):
                self.chain_value(func, chain)
            else:
                self.expr(func)
            self.arguments(node.args, node.keywords)

        if layout == DEFAULT and chain == FLUENT:
            self.group(inner)
        else:
            inner()

    def arguments(self, args: list[ast.expr], keywords: list[ast.keyword]) -> None:
        if not args and not keywords:
            self.group(lambda: self.text("()"))
            return
        if len(args) == 1 and not keywords:
            entries = [lambda: self.expr(args[0], NEVER)]
        else:
            entries = [lambda a=a: self.expr(a) for a in args]
            entries += [lambda k=k: (self.text(f"{k.arg}="), self.expr(k.value))
                        for k in keywords]
        self.parenthesized("(", lambda: self.group(lambda: self.join(entries)), ")")

    def subscript(self, node: ast.Subscript, layout: str = DEFAULT) -> None:
        chain = self.apply_layout(layout, node)

        def inner() -> None:
            value = node.value
            if self.is_paren(value):
                self.expr(value, ALWAYS)
            else:
                self.chain_value(value, chain)

            def index() -> None:
                if isinstance(node.slice, ast.Tuple):
                    self.tuple(node.slice, subscript=True)
                else:
                    self.expr(node.slice)

            self.parenthesized("[", index, "]")

        if layout == DEFAULT and chain == FLUENT:
            self.group(inner)
        else:
            inner()

    # binary operator chains

    def binary_like(self, node: ast.expr) -> None:
        parts: list = []
        self.flatten(node, parts)
        self.ipo_group(lambda: self.flat_slice(parts))

    def flatten(self, node: ast.expr, parts: list) -> None:
        def rec(operand: ast.expr) -> None:
            if isinstance(operand, (ast.BinOp, ast.Compare, ast.BoolOp)) and \
                    not self.is_paren(operand):
                self.flatten(operand, parts)
            else:
                parts.append(operand)

        if isinstance(node, ast.BinOp):
            rec(node.left)
            parts.append((operator(node.op), _RUFF_PREC[type(node.op)],
                          isinstance(node.op, ast.Pow)))
            rec(node.right)
        elif isinstance(node, ast.Compare):
            rec(node.left)
            for op, comparator in zip(node.ops, node.comparators):
                parts.append((operator(op), _R_CMP, False))
                rec(comparator)
        else:
            for i, value in enumerate(node.values):
                if i:
                    parts.append((operator(node.op), _R_BOOL, False))
                rec(value)

    def operand(self, node: ast.expr) -> None:
        self.expr(node, ALWAYS if self.is_paren(node) else NEVER)

    def flat_slice(self, parts: list) -> None:
        if len(parts) == 1:
            self.operand(parts[0])
            return
        lowest = max(parts[i][1] for i in range(1, len(parts), 2))
        last = None
        for i in range(1, len(parts), 2):
            symbol, prec, pow_op = parts[i]
            if prec != lowest:
                continue
            left = parts[0 if last is None else last + 1:i]
            right = parts[i + 1:]
            is_pow = pow_op and self.simple_power(left[-1]) and self.simple_power(right[0])
            self.side(left)
            self.ipo_line(SOFT if is_pow else SOFT_OR_SPACE)
            self.text(symbol)
            if is_pow:
                self.ipo_if_breaks(lambda: self.text(" "))
            else:
                self.text(" ")
            last = i
        self.side(parts[last + 1:])

    def side(self, part: list) -> None:
        if len(part) == 1:
            self.operand(part[0])
        else:
            self.ipo_group(lambda: self.flat_slice(part))

    def simple_power(self, node: ast.expr) -> bool:
        if self.is_paren(node):
            return False
        while True:
            if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not):
                node = node.operand
            elif isinstance(node, ast.Attribute):
                node = node.value
            else:
                break
        return isinstance(node, ast.Name) or (isinstance(node, ast.Constant) and (
            node.value is None or isinstance(node.value, (bool, int, float))))

    # statement-level parentheses

    def needs_parentheses(self, node: ast.expr) -> str:
        if isinstance(node, (ast.Name, ast.Constant)):
            return BEST_FIT
        if isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
            if self.chain_layout(node) == FLUENT:
                return MULTILINE
            inner = node.func if isinstance(node, ast.Call) else node.value
            if not isinstance(node, ast.Call) and self.is_paren(inner):
                return NEVER
            return self.needs_parentheses(inner)
        if isinstance(node, ast.UnaryOp):
            return NEVER if self.is_paren(node.operand) else self.needs_parentheses(node.operand)
        if isinstance(node, (ast.BinOp, ast.BoolOp, ast.Compare, ast.IfExp)):
            return MULTILINE
        return NEVER  # lists and tuples bring their own brackets

    def maybe_parenthesize(self, node: ast.expr) -> None:
        """The value of `return`, `=` and `if` (Parenthesize::IfBreaks)."""
        needs = self.needs_parentheses(node)
        if self.is_parenthesized_level():
            self.expr(node, NEVER)
        elif needs == MULTILINE:
            if self.can_omit_optional_parentheses(node):
                self.optional_parentheses(lambda: self.expr(node, NEVER))
            else:
                self.parenthesize_if_expands(lambda: self.expr(node, NEVER))
        elif needs == BEST_FIT:
            gid = self.doc.new_id()
            with self.at(_expr_level(gid)):
                self.wrap("bfp", lambda: self.expr(node, NEVER), id=gid)
        else:
            self.expr(node, NEVER)

    def has_parentheses(self, node: ast.expr) -> str | None:
        """'non-empty', 'empty' or None, as ruff's has_parentheses."""
        own = _own_parentheses(node, self.bare)
        if own == "non-empty":
            return own
        if self.is_paren(node):
            return "non-empty"
        return own

    def can_omit_optional_parentheses(self, node: ast.expr) -> bool:
        state = {"max": _R_NONE, "count": 0, "any": False, "last": None, "first": None}

        def update(prec: int, count: int = 1) -> None:
            if state["max"] < prec:
                state["max"], state["count"] = prec, count
            elif state["max"] == prec:
                state["count"] += count

        def visit_expr(expr: ast.expr) -> None:
            state["last"] = expr
            if self.is_paren(expr):
                state["any"] = True
            else:
                visit_sub(expr)
            if state["first"] is None:
                state["first"] = ("expr", expr)

        def visit_sub(expr: ast.expr) -> None:
            if isinstance(expr, ast.List) or (isinstance(expr, ast.Tuple)
                                              and id(expr) not in self.bare):
                state["any"] = True
                return
            if isinstance(expr, ast.BoolOp):
                update(_R_BOOL, len(expr.values) - 1)
            elif isinstance(expr, ast.BinOp):
                update(_RUFF_PREC[type(expr.op)])
            elif isinstance(expr, ast.IfExp):
                update(_R_COND, 2)
            elif isinstance(expr, ast.Compare):
                update(_R_CMP, len(expr.ops))
            elif isinstance(expr, ast.Call):
                state["any"] = True
                visit_expr(expr.func)
                state["last"] = expr
                return
            elif isinstance(expr, ast.Subscript):
                state["any"] = True
                visit_expr(expr.value)
                state["last"] = expr
                return
            elif isinstance(expr, ast.Attribute):
                visit_expr(expr.value)
                if self.has_parentheses(expr.value) is not None:
                    update(_R_ATTRIBUTE)
                state["last"] = expr
                return
            elif isinstance(expr, ast.UnaryOp):
                if isinstance(expr.op, ast.Invert):
                    update(_R_INVERT)
                if state["first"] is None:
                    state["first"] = ("token", None)
            elif isinstance(expr, ast.Starred):
                if state["first"] is None:
                    state["first"] = ("token", None)
            elif isinstance(expr, (ast.Name, ast.Constant, ast.Slice)):
                return
            for child in _children_in_order(expr):
                visit_expr(child)

        visit_sub(node)
        if not state["any"] or state["count"] > 1:
            return False
        if state["max"] in (_R_NONE, _R_ATTRIBUTE):
            return True

        def parenthesized(expr: ast.expr | None) -> bool:
            return expr is not None and not isinstance(expr, ast.Subscript) and \
                self.has_parentheses(expr) == "non-empty"

        first = state["first"]
        return parenthesized(state["last"]) or (first is not None and first[0] == "expr"
                                                and parenthesized(first[1]))

    # statements

    def assign(self, targets: list[ast.expr], value: ast.expr) -> None:
        target = targets[0]
        if len(targets) == 1 and (id(target) in self.bare
                                  or _own_parentheses(target, self.bare) is not None):
            self.right_to_left(target, value)
            return
        for target in targets:
            self.expr(target)
            self.text(" = ")
        self.maybe_parenthesize(value)

    def right_to_left(self, target: ast.expr, value: ast.expr) -> None:
        """`target = value` for targets with brackets of their own (tuples, subscripts):
        ruff's best-fitting choice between splitting the value and splitting the target."""
        inline = isinstance(value, (ast.Name, ast.Constant))
        best_fit = isinstance(value, (ast.Attribute, ast.Call, ast.Subscript)) and \
            self.needs_parentheses(value) == BEST_FIT
        before = self.capture(lambda: self.expr(target, NEVER))
        if not inline and not best_fit:
            self.doc.items += before
            self.text(" = ")
            self.maybe_parenthesize(value)
            return
        value_doc = self.capture(lambda: self.expr(value, NEVER))
        eq = [("text", " = ")]

        def grouped(items: list) -> list:
            return self.capture(lambda: self.group(lambda: self.doc.items.extend(items),
                                                   expand=True))

        single_line = before + eq + value_doc
        parenthesized_value = before + eq + [("text", "(")] + self.capture(
            lambda: self.group(lambda: self.block_indent_soft(
                lambda: self.doc.items.extend(value_doc)), expand=True)) + [("text", ")")]
        split_target = grouped(before) + eq + value_doc
        if isinstance(value, (ast.Call, ast.Subscript, ast.Attribute)):
            variants = [single_line, before + eq + grouped(value_doc), parenthesized_value,
                        split_target]
        else:
            variants = [single_line, parenthesized_value, split_target]
        self.doc.best_fitting(variants)


def _children_in_order(expr: ast.expr) -> list[ast.expr]:
    if isinstance(expr, ast.BinOp):
        return [expr.left, expr.right]
    if isinstance(expr, ast.BoolOp):
        return list(expr.values)
    if isinstance(expr, ast.Compare):
        return [expr.left, *expr.comparators]
    if isinstance(expr, ast.IfExp):
        return [expr.body, expr.test, expr.orelse]
    if isinstance(expr, (ast.UnaryOp, ast.Starred)):
        return [expr.operand] if isinstance(expr, ast.UnaryOp) else [expr.value]
    if isinstance(expr, ast.Tuple):
        return list(expr.elts)
    return []


def _own_parentheses(node: ast.expr, bare: set[int]) -> str | None:
    if isinstance(node, ast.Subscript):
        return "non-empty"
    if isinstance(node, ast.List) or (isinstance(node, ast.Tuple) and id(node) not in bare):
        return "non-empty" if node.elts else "empty"
    if isinstance(node, ast.Call):
        return "non-empty" if node.args or node.keywords else "empty"
    return None


def _is_base_ten_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and \
        not isinstance(node.value, bool)


def _simple_slice_part(node: ast.expr) -> bool:
    while isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not):
        node = node.operand
    return isinstance(node, (ast.Name, ast.Constant))


# --- public API -------------------------------------------------------------------------------


def _lines(formatter: _Formatter, indent: int) -> list[str]:
    return render(formatter.doc.items, indent).split("\n")


def _bare(*tuples: ast.expr | None) -> set[int]:
    """Statement-level and subscript tuples are written without parentheses."""
    return {id(t) for t in tuples if isinstance(t, ast.Tuple) and len(t.elts) > 1}


def _subscript_tuples(node: ast.AST) -> set[int]:
    return {id(sub.slice) for sub in ast.walk(node)
            if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Tuple)
            and sub.slice.elts}


def statement(node: ast.stmt, indent: int) -> list[str]:
    """One simple statement (assignment, augmented assignment, return, raise, expression,
    pass), as lines indented by `indent` levels."""
    if isinstance(node, ast.Assign):
        bare = _bare(*node.targets, node.value)
    elif isinstance(node, (ast.Return, ast.AugAssign)):
        bare = _bare(node.value)
    elif isinstance(node, ast.Raise):
        bare = _bare(node.exc)
    else:
        bare = set()
    f = _Formatter(node, bare | _subscript_tuples(node))
    if isinstance(node, ast.Assign):
        f.assign(node.targets, node.value)
    elif isinstance(node, ast.AugAssign):
        f.expr(node.target)
        f.text(f" {operator(node.op)}= ")
        f.maybe_parenthesize(node.value)
    elif isinstance(node, ast.Return):
        f.text("return")
        if node.value is not None:
            f.text(" ")
            f.maybe_parenthesize(node.value)
    elif isinstance(node, ast.Raise):
        f.text("raise ")
        f.maybe_parenthesize(node.exc)
    elif isinstance(node, ast.Expr):
        f.expr(node.value)
    elif isinstance(node, ast.Pass):
        f.text("pass")
    else:
        raise TypeError(f"cannot format {type(node).__name__}")
    return _lines(f, indent)


def if_header(test: ast.expr, indent: int, keyword: str = "if") -> list[str]:
    """`if <test>:`, or `elif <test>:`"""
    f = _Formatter(test, _subscript_tuples(test))
    f.text(f"{keyword} ")
    f.maybe_parenthesize(test)
    f.text(":")
    return _lines(f, indent)


def for_header(target: str, iterable: ast.expr, indent: int) -> list[str]:
    """`for <target> in <iterable>:`"""
    f = _Formatter(iterable, _subscript_tuples(iterable))
    f.text(f"for {target} in ")
    f.maybe_parenthesize(iterable)
    f.text(":")
    return _lines(f, indent)


def def_header(fn: str, params: list[tuple[str, ast.expr | None, ast.expr | None]],
               returns: ast.expr | None, indent: int) -> list[str]:
    """`def fn(name: annotation = default, ...) -> returns:`"""
    nodes = [n for _, a, d in params for n in (a, d) if n is not None]
    holder = ast.Tuple(nodes + ([returns] if returns is not None else []))
    f = _Formatter(holder, _subscript_tuples(holder))

    def parameter(pname: str, annotation: ast.expr | None, default: ast.expr | None) -> None:
        f.text(pname)
        if annotation is not None:
            f.text(": ")
            f.expr(annotation)
        if default is not None:
            f.text(" = " if annotation is not None else "=")
            f.expr(default)

    def inner() -> None:
        f.text(f"def {fn}(")
        with f.at(PAREN):
            f.block_indent_soft(lambda: f.group(lambda: f.join(
                [lambda p=p: parameter(*p) for p in params])))
        f.text(")")
        if returns is not None:
            f.text(" -> ")
            f.maybe_parenthesize(returns)

    f.group(inner)
    f.text(":")
    return _lines(f, indent)


def class_header(cls: str, bases: list[ast.expr], indent: int) -> list[str]:
    """`class Name(base):`"""
    f = _Formatter(ast.Tuple(list(bases)), set())
    f.text(f"class {cls}")
    if bases:
        f.arguments(bases, [])
    f.text(":")
    return _lines(f, indent)
