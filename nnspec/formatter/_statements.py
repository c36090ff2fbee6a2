"""Statement layout: the simple statements and compound-statement headers codegen emits.

Decides the parentheses around a statement's value (added only if it breaks, or only to make
it fit, or left out when the value can break inside its own brackets), lays assignments to a
bracketed target out as ruff's best-fitting choice, and formats the headers of `if`, `for`,
`def` and `class` statements (their bodies are formatted statement by statement by the
caller). `format_statement` is the one entry point.
"""

from __future__ import annotations

import ast

from nnspec.formatter._builder import BRACKETED, expression_level
from nnspec.formatter._expressions import FLUENT, NEVER, ExpressionLayout
from nnspec.formatter._precedence import (
    SPLIT,
    SPLIT_ATTRIBUTE,
    SPLIT_BOOL,
    SPLIT_COMPARE,
    SPLIT_CONDITIONAL,
    SPLIT_INVERT,
    SPLIT_NONE,
    children_in_order,
    operator,
    own_brackets,
)
from nnspec.formatter._printer import render
from nnspec.language.expr import walk

# Optional parentheses around a statement's value: added if it breaks, or to make it fit.
IF_EXPANDS, TO_FIT = "if-expands", "to-fit"


class StatementLayout(ExpressionLayout):
    """Builds the document for one statement, following ruff's rules node by node."""

    def needs_parentheses(self, node: ast.expr) -> str:
        """How a statement's value may be parenthesized: IF_EXPANDS, TO_FIT or NEVER (ruff's
        OptionalParentheses: Multiline, BestFit, Never)."""
        if isinstance(node, (ast.Name, ast.Constant)):
            return TO_FIT
        if isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
            if self.chain_layout(node) == FLUENT:
                return IF_EXPANDS
            inner = node.func if isinstance(node, ast.Call) else node.value
            if not isinstance(node, ast.Call) and self.parenthesized(inner):
                return NEVER
            return self.needs_parentheses(inner)
        if isinstance(node, ast.UnaryOp):
            operand = node.operand
            return NEVER if self.parenthesized(operand) else self.needs_parentheses(operand)
        if isinstance(node, (ast.BinOp, ast.BoolOp, ast.Compare, ast.IfExp)):
            return IF_EXPANDS
        return NEVER  # lists and tuples bring their own brackets

    def maybe_parenthesize(self, node: ast.expr) -> None:
        """The value of `return`, `=`, `if` and `for` (ruff's Parenthesize::IfBreaks)."""
        needs = self.needs_parentheses(node)
        if self.in_brackets():
            self.expr(node, NEVER)
        elif needs == IF_EXPANDS:
            if self.can_omit_optional_parentheses(node):
                self.optional_parentheses(lambda: self.expr(node, NEVER))
            else:
                self.parenthesize_if_expands(lambda: self.expr(node, NEVER))
        elif needs == TO_FIT:
            gid = self.doc.new_id()
            with self.at(expression_level(gid)):
                self.wrap("parenthesize_to_fit", lambda: self.expr(node, NEVER), id=gid)
        else:
            self.expr(node, NEVER)

    def brackets_of(self, node: ast.expr) -> str | None:
        """'non-empty', 'empty' or None: the brackets the node is written with (ruff's
        has_parentheses)."""
        own = own_brackets(node, self.bare)
        if own == "non-empty":
            return own
        if self.parenthesized(node):
            return "non-empty"
        return own

    def can_omit_optional_parentheses(self, node: ast.expr) -> bool:
        """Whether a value that would get optional parentheses can instead break inside its
        own brackets: at most one operator of the lowest splitting precedence, and brackets
        first or last (ruff's can_omit_optional_parentheses)."""
        state = {"max": SPLIT_NONE, "count": 0, "any": False, "last": None, "first": None}

        def update(prec: int, count: int = 1) -> None:
            if state["max"] < prec:
                state["max"], state["count"] = prec, count
            elif state["max"] == prec:
                state["count"] += count

        def visit_expr(expr: ast.expr) -> None:
            state["last"] = expr
            if self.parenthesized(expr):
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
                update(SPLIT_BOOL, len(expr.values) - 1)
            elif isinstance(expr, ast.BinOp):
                update(SPLIT[type(expr.op)])
            elif isinstance(expr, ast.IfExp):
                update(SPLIT_CONDITIONAL, 2)
            elif isinstance(expr, ast.Compare):
                update(SPLIT_COMPARE, len(expr.ops))
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
                if self.brackets_of(expr.value) is not None:
                    update(SPLIT_ATTRIBUTE)
                state["last"] = expr
                return
            elif isinstance(expr, ast.UnaryOp):
                if isinstance(expr.op, ast.Invert):
                    update(SPLIT_INVERT)
                if state["first"] is None:
                    state["first"] = ("token", None)
            elif isinstance(expr, ast.Starred):
                if state["first"] is None:
                    state["first"] = ("token", None)
            elif isinstance(expr, (ast.Name, ast.Constant, ast.Slice)):
                return
            for child in children_in_order(expr):
                visit_expr(child)

        visit_sub(node)
        if not state["any"] or state["count"] > 1:
            return False
        if state["max"] in (SPLIT_NONE, SPLIT_ATTRIBUTE):
            return True

        def has_own_brackets(expr: ast.expr | None) -> bool:
            return expr is not None and not isinstance(expr, ast.Subscript) and \
                self.brackets_of(expr) == "non-empty"

        first = state["first"]
        return has_own_brackets(state["last"]) or (first is not None and first[0] == "expr"
                                                and has_own_brackets(first[1]))

    # statements

    def assign(self, targets: list[ast.expr], value: ast.expr) -> None:
        target = targets[0]
        if len(targets) == 1 and (id(target) in self.bare
                                  or own_brackets(target, self.bare) is not None):
            self.assign_to_bracketed_target(target, value)
            return
        for target in targets:
            self.expr(target)
            self.text(" = ")
        self.maybe_parenthesize(value)

    def assign_to_bracketed_target(self, target: ast.expr, value: ast.expr) -> None:
        """`target = value` for targets with brackets of their own (tuples, subscripts):
        ruff's best-fitting choice between splitting the value and splitting the target."""
        inline = isinstance(value, (ast.Name, ast.Constant))
        to_fit = isinstance(value, (ast.Attribute, ast.Call, ast.Subscript)) and \
            self.needs_parentheses(value) == TO_FIT
        before = self.capture(lambda: self.expr(target, NEVER))
        if not inline and not to_fit:
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


def _lines(layout: StatementLayout, indent: int) -> list[str]:
    return render(layout.doc.items, indent).split("\n")


def _bare(*tuples: ast.expr | None) -> set[int]:
    """Statement-level and subscript tuples are written without parentheses."""
    return {id(t) for t in tuples if isinstance(t, ast.Tuple) and len(t.elts) > 1}


def _subscript_tuples(node: ast.AST) -> set[int]:
    return {id(sub.slice) for sub in walk(node)
            if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Tuple)
            and sub.slice.elts}


_HEADERS = (ast.If, ast.For, ast.FunctionDef, ast.ClassDef)


def format_statement(node: ast.stmt, indent: int, *, elif_: bool = False) -> list[str]:
    """One statement as `ruff format` lays it out, as lines indented by `indent` levels.

    Simple statements: assignment, augmented assignment, return, raise, expression, pass.
    Compound statements `if`, `for` (over one name), `def` and `class` give their header
    only, the lines up to the `:`; their body (and `else`) must be empty, the caller formats
    it statement by statement one level deeper. `elif_` writes an `if` header as `elif`.
    """
    if isinstance(node, _HEADERS):
        if node.body or getattr(node, "orelse", None):
            raise ValueError("format_statement lays out a compound statement's header only: "
                             "give it an empty body and format the body's statements")
        return _header(node, indent, elif_)
    if elif_:
        raise ValueError("elif_ applies to an if statement")
    if isinstance(node, ast.Assign):
        bare = _bare(*node.targets, node.value)
    elif isinstance(node, (ast.Return, ast.AugAssign)):
        bare = _bare(node.value)
    elif isinstance(node, ast.Raise):
        bare = _bare(node.exc)
    else:
        bare = set()
    f = StatementLayout(node, bare | _subscript_tuples(node))
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


def _header(node: ast.stmt, indent: int, elif_: bool) -> list[str]:
    if elif_ and not isinstance(node, ast.If):
        raise ValueError("elif_ applies to an if statement")
    if isinstance(node, ast.If):
        f = StatementLayout(node.test, _subscript_tuples(node.test))
        f.text("elif " if elif_ else "if ")
        f.maybe_parenthesize(node.test)
    elif isinstance(node, ast.For):
        if not isinstance(node.target, ast.Name):
            raise TypeError("a for loop's target must be one name")
        f = StatementLayout(node.iter, _subscript_tuples(node.iter))
        f.text(f"for {node.target.id} in ")
        f.maybe_parenthesize(node.iter)
    elif isinstance(node, ast.FunctionDef):
        f = _def_header(node)
    else:
        assert isinstance(node, ast.ClassDef)
        f = StatementLayout(ast.Tuple(list(node.bases)), set())
        f.text(f"class {node.name}")
        if node.bases:
            f.arguments(node.bases, [])
    f.text(":")
    return _lines(f, indent)


def _parameters(args: ast.arguments) -> list[tuple[str, ast.expr | None, ast.expr | None]]:
    """(name, annotation, default) of each parameter, `*args` and `**kwargs` last."""
    if args.posonlyargs or args.kwonlyargs:
        raise TypeError("positional-only and keyword-only parameters are not supported")
    defaults = [None] * (len(args.args) - len(args.defaults)) + list(args.defaults)
    params = [(a.arg, a.annotation, d) for a, d in zip(args.args, defaults)]
    if args.vararg is not None:
        params.append(("*" + args.vararg.arg, args.vararg.annotation, None))
    if args.kwarg is not None:
        params.append(("**" + args.kwarg.arg, args.kwarg.annotation, None))
    return params


def _def_header(node: ast.FunctionDef) -> StatementLayout:
    """`def fn(name: annotation = default, ...) -> returns`"""
    params = _parameters(node.args)
    returns = node.returns
    nodes = [n for _, a, d in params for n in (a, d) if n is not None]
    holder = ast.Tuple(nodes + ([returns] if returns is not None else []))
    f = StatementLayout(holder, _subscript_tuples(holder))

    def parameter(pname: str, annotation: ast.expr | None, default: ast.expr | None) -> None:
        f.text(pname)
        if annotation is not None:
            f.text(": ")
            f.expr(annotation)
        if default is not None:
            f.text(" = " if annotation is not None else "=")
            f.expr(default)

    def inner() -> None:
        f.text(f"def {node.name}(")
        with f.at(BRACKETED):
            f.block_indent_soft(lambda: f.group(lambda: f.join(
                [lambda p=p: parameter(*p) for p in params])))
        f.text(")")
        if returns is not None:
            f.text(" -> ")
            f.maybe_parenthesize(returns)

    f.group(inner)
    return f
