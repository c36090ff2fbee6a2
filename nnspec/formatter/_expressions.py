"""Expression layout: how each expression node the code generator emits breaks across lines.

Follows ruff's rules node by node: brackets indent their content and get a magic trailing comma
when broken, call chains with two or more calls or subscripts break before each `.` (fluent
layout), binary operator chains break at their lowest-precedence operators first (`**` between
simple operands stays tight), and conditional expressions break before `if` and `else`.
"""

from __future__ import annotations

import ast

from nnspec.formatter._builder import STATEMENT, DocumentBuilder, expression_level
from nnspec.formatter._document import SOFT, SOFT_OR_SPACE
from nnspec.formatter._literals import literal
from nnspec.formatter._precedence import (
    SPLIT,
    SPLIT_BOOL,
    SPLIT_COMPARE,
    is_base_ten_number,
    must_parenthesize,
    operator,
)

# Parentheses around an expression: as the plain source needs them, always, or never.
PRESERVE, ALWAYS, NEVER = "preserve", "always", "never"
# Call chain layouts: as the context decides, broken before each `.` (fluent), or not.
DEFAULT, FLUENT, NON_FLUENT = "default", "fluent", "non-fluent"


class ExpressionLayout(DocumentBuilder):
    """Adds expressions to the document of one statement."""

    def __init__(self, statement: ast.AST, bare_tuples: set[int]):
        super().__init__()
        self.bare = bare_tuples  # tuples written without parentheses (statement level, index)
        self.parenthesized_ids = must_parenthesize(statement, bare_tuples)

    def parenthesized(self, node: ast.AST) -> bool:
        """Whether the plain source parenthesizes `node`."""
        return id(node) in self.parenthesized_ids

    def expr(self, node: ast.expr, parentheses: str = PRESERVE) -> None:
        """An expression, in parentheses as the source needs them (PRESERVE), ALWAYS or NEVER."""
        if parentheses == ALWAYS or (parentheses == PRESERVE and self.parenthesized(node)):
            self.bracketed("(", lambda: self.expr_content(node), ")")
        else:
            level = expression_level(None) if self.level == STATEMENT else self.level
            with self.at(level):
                self.expr_content(node)

    def expr_content(self, node: ast.expr, layout: str = DEFAULT) -> None:
        """An expression without its own parentheses; `layout` is the call chain's."""
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
            self.operator_expression(node)
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
                self.bracketed("[", lambda: self.sequence(node.elts), "]")
        elif isinstance(node, ast.Dict):  # string keys: a forward's returned mapping
            if not node.keys:
                self.group(lambda: self.text("{}"))
            else:
                self.bracketed("{", lambda: self.join([
                    lambda k=k, v=v: (self.expr(k), self.text(": "), self.expr(v))
                    for k, v in zip(node.keys, node.values)]), "}")
        elif isinstance(node, ast.Tuple):
            self.tuple(node)
        elif isinstance(node, ast.Slice):
            self.slice(node)
        elif isinstance(node, ast.JoinedStr):  # names in braces: f"layer_{i}", f"p={self.p}"
            self.text('f"' + "".join(
                f"{{{ast.unparse(v.value)}}}" if isinstance(v, ast.FormattedValue)
                else _fstring_text(v.value) for v in node.values) + '"')
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
                self.bracketed("(", lambda: (self.expr(node.elts[0]), self.text(",")), ")")
            else:
                self.bracketed("(", lambda: self.sequence(node.elts), ")")
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
            self.bracketed_line(SOFT_OR_SPACE)
            self.text("if ")
            self.expr(node.test)
            self.bracketed_line(SOFT_OR_SPACE)
            self.text("else ")
            orelse = node.orelse
            if isinstance(orelse, ast.IfExp) and not self.parenthesized(orelse):
                self.if_exp(orelse, nested=True)
            else:
                self.expr(orelse)

        if nested:
            inner()
        else:
            self.bracketed_group(inner)

    # call chains

    def chain_layout(self, node: ast.expr) -> str:
        """Fluent when at least two attribute values in the chain are calls or subscripts."""
        count, root_parenthesized = 0, False
        expr = node
        while True:
            if isinstance(expr, ast.Attribute):
                if self.parenthesized(expr.value):
                    root_parenthesized = True
                    break
                if isinstance(expr.value, (ast.Call, ast.Subscript)):
                    count += 1
                expr = expr.value
            elif isinstance(expr, (ast.Call, ast.Subscript)):
                inner = expr.func if isinstance(expr, ast.Call) else expr.value
                if self.parenthesized(inner):
                    break
                expr = inner
            else:
                break
        return FLUENT if count + root_parenthesized >= 2 else NON_FLUENT

    def apply_layout(self, layout: str, node: ast.expr) -> str:
        if layout == DEFAULT:
            return self.chain_layout(node) if self.in_brackets() else NON_FLUENT
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
            parenthesize = is_base_ten_number(value) or self.parenthesized(value)
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
        self.bracketed("(", lambda: self.group(lambda: self.join(entries)), ")")

    def subscript(self, node: ast.Subscript, layout: str = DEFAULT) -> None:
        chain = self.apply_layout(layout, node)

        def inner() -> None:
            value = node.value
            if self.parenthesized(value):
                self.expr(value, ALWAYS)
            else:
                self.chain_value(value, chain)

            def index() -> None:
                if isinstance(node.slice, ast.Tuple):
                    self.tuple(node.slice, subscript=True)
                else:
                    self.expr(node.slice)

            self.bracketed("[", index, "]")

        if layout == DEFAULT and chain == FLUENT:
            self.group(inner)
        else:
            inner()

    # binary operator chains

    def operator_expression(self, node: ast.expr) -> None:
        """A binary, comparison or boolean operator chain, flattened across precedences
        (ruff's BinaryLike)."""
        parts: list = []
        self.flatten(node, parts)
        self.bracketed_group(lambda: self.split_at_lowest(parts))

    def flatten(self, node: ast.expr, parts: list) -> None:
        """Operands and (symbol, splitting precedence, is `**`) operators, alternating, of
        the unparenthesized operator chain under `node`."""
        def rec(operand: ast.expr) -> None:
            if isinstance(operand, (ast.BinOp, ast.Compare, ast.BoolOp)) and \
                    not self.parenthesized(operand):
                self.flatten(operand, parts)
            else:
                parts.append(operand)

        if isinstance(node, ast.BinOp):
            rec(node.left)
            parts.append((operator(node.op), SPLIT[type(node.op)],
                          isinstance(node.op, ast.Pow)))
            rec(node.right)
        elif isinstance(node, ast.Compare):
            rec(node.left)
            for op, comparator in zip(node.ops, node.comparators):
                parts.append((operator(op), SPLIT_COMPARE, False))
                rec(comparator)
        else:
            for i, value in enumerate(node.values):
                if i:
                    parts.append((operator(node.op), SPLIT_BOOL, False))
                rec(value)

    def operand(self, node: ast.expr) -> None:
        self.expr(node, ALWAYS if self.parenthesized(node) else NEVER)

    def split_at_lowest(self, parts: list) -> None:
        """Lay out a flattened chain: it breaks at its lowest-precedence operators, each run
        of operands between them a group of its own (ruff's FlatBinaryExpressionSlice)."""
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
            self.operand_run(left)
            self.bracketed_line(SOFT if is_pow else SOFT_OR_SPACE)
            self.text(symbol)
            if is_pow:
                self.bracketed_if_breaks(lambda: self.text(" "))
            else:
                self.text(" ")
            last = i
        self.operand_run(parts[last + 1:])

    def operand_run(self, part: list) -> None:
        """The operands between two lowest-precedence operators: one, or a nested group."""
        if len(part) == 1:
            self.operand(part[0])
        else:
            self.bracketed_group(lambda: self.split_at_lowest(part))

    def simple_power(self, node: ast.expr) -> bool:
        """An operand `**` hugs without spaces: a name or number, possibly negated or an
        attribute of one."""
        if self.parenthesized(node):
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


def _simple_slice_part(node: ast.expr) -> bool:
    while isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not):
        node = node.operand
    return isinstance(node, (ast.Name, ast.Constant))


def _fstring_text(text: str) -> str:
    """Literal text inside a double-quoted f-string: braces doubled, quotes escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("{", "{{").replace("}", "}}")
