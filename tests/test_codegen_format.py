"""format_statement lays out statements exactly as `ruff format` does: generated files need no ruff.

Random statements of the shapes code generation emits (assignments, tuple unpacking, augmented
assignments, returns, calls, `if` headers, `def` and `class` headers) over long and short names,
call chains, slices, operators of every precedence and literals, at several indentations, are
formatted by nnspec.formatter; ruff must leave all of them alone, they must parse back to the
same trees, and they must not carry parentheses the plain source would not need.
"""

from __future__ import annotations

import ast
import random
import re
import textwrap

import pytest
from codegen_util import ruff

from nnspec.codegen.docstrings import docstring
from nnspec.formatter import _printer, format_statement, literal, nodes

SEED, COUNT = 20240611, 700

NAMES = ["x", "a", "conv", "y", "cin", "channels_out", "k", "self_attention_block",
         "very_long_parameter_name_for_testing"]
FUNCS = ["f", "self.conv", "torch.cat", "F.interpolate", "x.view", "min", "nn.Conv2d",
         "self.block_with_a_rather_long_name"]
METHODS = ["view", "permute", "contiguous", "flatten", "reshape", "shape", "T"]
BINOPS = [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult]
CMPOPS = [ast.Lt, ast.Gt, ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.LtE]
LITERALS = [0, 1, 3, 1024, -1, -2, 123456789012, 0.5, 1e-5, -0.1, 1e16, "zeros", "a'b",
            'q"q', "new\nline", "\u202e", "x" * 50, True, False, None]


class Statements:
    """A seeded generator of statements like those in generated modules."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def name(self) -> str:
        r = self.r
        return r.choice(NAMES + ["b" * r.randint(1, 40), "q" * r.randint(20, 70)])

    def leaf(self) -> ast.expr:
        if self.r.random() < 0.6:
            return ast.Name(self.name())
        return nodes.literal_node(self.r.choice(LITERALS))

    def expr(self, depth: int = 0) -> ast.expr:
        r = self.r
        if depth > 3 or r.random() < 0.2:
            return self.leaf()
        sub = lambda: self.expr(depth + 1)  # noqa: E731
        c = r.random()
        if c < 0.18:
            return ast.BinOp(sub(), r.choice(BINOPS)(), sub())
        if c < 0.36:
            keywords = {k: sub() for k in r.sample(["dim", "padding", "stride", "inplace"],
                                                   r.randint(0, 2))}
            return nodes.call(r.choice(FUNCS), *[sub() for _ in range(r.randint(0, 4))],
                              **keywords)
        if c < 0.46:
            node: ast.expr = ast.Name(self.name())
            for _ in range(r.randint(1, 4)):
                method = r.choice(METHODS)
                node = ast.Attribute(node, method)
                if method not in ("shape", "T"):
                    node = (ast.Call(node, [sub() for _ in range(r.randint(0, 3))], [])
                            if r.random() < 0.8 else ast.Subscript(node, sub()))
            return node
        if c < 0.56:
            index = r.choice([
                sub(),
                ast.Slice(r.choice([None, sub()]), r.choice([None, sub()]),
                          r.choice([None, None, sub()])),
                ast.Tuple([r.choice([ast.Slice(), sub(), ast.Slice(sub()), ast.Constant(...)])
                           for _ in range(r.randint(2, 3))]),
            ])
            return ast.Subscript(ast.Name(self.name()) if r.random() < 0.7 else sub(), index)
        if c < 0.64:
            return ast.UnaryOp(r.choice([ast.USub, ast.Not, ast.UAdd, ast.Invert])(), sub())
        if c < 0.72:
            n = r.randint(1, 2)
            return ast.Compare(sub(), [r.choice(CMPOPS)() for _ in range(n)],
                               [sub() for _ in range(n)])
        if c < 0.8:
            return ast.BoolOp(r.choice([ast.And, ast.Or])(), [sub() for _ in range(
                r.randint(2, 3))])
        if c < 0.87:
            return ast.IfExp(sub(), sub(), sub())
        if c < 0.94:
            return ast.List([sub() for _ in range(r.randint(0, 4))])
        return ast.Tuple([sub() for _ in range(r.randint(0, 3))])

    def statement(self) -> ast.stmt:
        r = self.r
        c = r.random()
        if c < 0.25:
            target = r.choice([ast.Name(self.name()), ast.Attribute(ast.Name("self"),
                                                                   self.name())])
            return ast.Assign([target], self.expr())
        if c < 0.35:
            targets = ast.Tuple([ast.Name(self.name()) for _ in range(r.randint(2, 3))])
            return ast.Assign([targets], self.expr())
        if c < 0.42:
            key = ast.Subscript(ast.Name("layers"), nodes.literal_node(self.name()))
            return ast.Assign([key], self.expr())
        if c < 0.52:
            return ast.AugAssign(ast.Name(self.name()), r.choice(BINOPS)(), self.expr())
        if c < 0.72:
            value = self.expr()
            if r.random() < 0.15:
                value = ast.Tuple([self.expr() for _ in range(r.randint(2, 3))])
            return ast.Return(value)
        args = [self.expr() for _ in range(r.randint(1, 3))]
        if r.random() < 0.2:
            args.append(ast.Starred(ast.Name(self.name())))
        return ast.Expr(nodes.call(r.choice(["layers.append", "f", "self.register"]), *args))

    def parameters(self) -> list:
        params = [("self", None, None)]
        for i in range(self.r.randint(0, 6)):
            annotation = self.r.choice([None, ast.Name("int"), ast.Name("float"),
                                        ast.Subscript(ast.Name("list"), ast.Name("int"))])
            default = self.r.choice([None, None, self.leaf(), self.expr(3)])
            params.append((f"{self.name()}{i}", annotation, default))
        return [params[0]] + sorted(params[1:], key=lambda p: p[2] is not None)


def _source(node: ast.stmt) -> str:
    return ast.unparse(ast.fix_missing_locations(ast.Module([node], [])))


def _flat(node: ast.stmt) -> str:
    """The formatter's rendering with no line-length limit (the printer's private width)."""
    saved, _printer.LINE_WIDTH = _printer.LINE_WIDTH, 10**9
    try:
        return format_statement(node, 0)[0]
    finally:
        _printer.LINE_WIDTH = saved


@pytest.fixture(scope="module")
def corpus():
    gen = Statements(SEED)
    cases: list[tuple[ast.stmt | None, list[str]]] = []
    for i in range(COUNT):
        indent = gen.r.choice([2, 2, 3, 4])
        kind = gen.r.random()
        if kind < 0.08:
            header = format_statement(ast.If(gen.expr(), [], []), indent)
            lines = header + ["    " * (indent + 1) + "pass"]
            cases.append((None, _nest(lines, indent)))
        elif kind < 0.12:
            returns = gen.r.choice([None, ast.Constant(None)])
            fn = gen.r.choice(["__init__", "forward", "f" * gen.r.randint(1, 60)])
            header = format_statement(nodes.function_def(fn, gen.parameters(), returns), 1)
            cases.append((None, header + ["        pass"]))
        elif kind < 0.14:
            name = gen.r.choice(["Net", "FP_Conv2d", "X" * gen.r.randint(1, 85)])
            header = format_statement(nodes.class_def(name, [nodes.name("nn.Module")]), 1)
            cases.append((None, header + ["        pass"]))
        else:
            stmt = gen.statement()
            cases.append((stmt, _nest(format_statement(stmt, indent), indent)))
    return cases


def _nest(lines: list[str], indent: int) -> list[str]:
    """Wrap statements at `indent` in a method (and `if` blocks, for deeper indents)."""
    guards = ["    " * (2 + k) + "if c:" for k in range(indent - 2)]
    return ["    def f(self):", *guards, *lines]


def test_ruff_leaves_every_statement_alone(corpus, tmp_path):
    out = ["class A:"]
    for i, (_, lines) in enumerate(corpus):
        out += [""] * (i > 0) + [lines[0].replace("def f(", f"def f{i}(")] + lines[1:]
    path = tmp_path / "corpus.py"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    result = ruff("format", "--diff", path)
    assert result.returncode == 0, result.stdout[:6000]


def test_statements_parse_back_to_the_same_trees(corpus):
    for stmt, lines in corpus:
        if stmt is not None:
            body = textwrap.dedent("\n".join(line for line in lines[1:]
                                             if line.strip() != "if c:"))
            assert _source(ast.parse(body).body[0]) == _source(stmt), body


def test_no_parentheses_beyond_what_the_plain_source_needs(corpus):
    """Only ruff's own extras: `(1).real` and `-(x**2)`; ast.unparse adds more, never fewer."""
    for stmt, _ in corpus:
        if stmt is None:
            continue
        flat = _flat(stmt)
        extra = len(re.findall(r"\(\d[\d.e+-]*\)\.", flat)) + sum(
            isinstance(n, ast.UnaryOp) and isinstance(n.operand, ast.BinOp)
            and isinstance(n.operand.op, ast.Pow) for n in ast.walk(stmt))
        assert flat.count("(") - extra <= _source(stmt).count("("), flat


def test_headers_are_compound_statements_with_an_empty_body():
    """`if`/`elif`, `for`, `def` and `class` headers come from the same entry point."""
    test = ast.Compare(ast.Name("x"), [ast.IsNot()], [ast.Constant(None)])
    assert format_statement(ast.If(test, [], []), 1) == ["    if x is not None:"]
    assert format_statement(ast.If(test, [], []), 0, elif_=True) == ["elif x is not None:"]
    loop = ast.For(ast.Name("i"), nodes.call("range", ast.Name("n")), [], [])
    assert format_statement(loop, 2) == ["        for i in range(n):"]
    fn = nodes.function_def("f", [("self", None, None), ("k", ast.Name("int"), ast.Constant(3)),
                                  ("*args", None, None), ("**kwargs", None, None)],
                            ast.Constant(None))
    assert format_statement(fn, 1) == ["    def f(self, k: int = 3, *args, **kwargs) -> None:"]
    cls = nodes.class_def("Net", [nodes.name("nn.Module")])
    assert format_statement(cls, 0) == ["class Net(nn.Module):"]


@pytest.mark.parametrize("node", [
    ast.If(ast.Name("x"), [ast.Pass()], []),
    ast.If(ast.Name("x"), [], [ast.Pass()]),
    ast.For(ast.Name("i"), ast.Name("xs"), [ast.Pass()], []),
    ast.For(ast.Tuple([ast.Name("i"), ast.Name("j")]), ast.Name("xs"), [], []),
    ast.Pass(),
    ast.Import([ast.alias("os")]),
])
def test_bodies_and_unsupported_statements_are_refused(node):
    """A body is formatted statement by statement by the caller, never silently dropped."""
    with pytest.raises((TypeError, ValueError)):
        format_statement(node, 0, elif_=isinstance(node, ast.Pass))


def test_function_def_refuses_a_required_parameter_after_a_default():
    with pytest.raises(ValueError):
        nodes.function_def("f", [("a", None, ast.Constant(1)), ("b", None, None)], None)


@pytest.mark.parametrize("value", [
    "plain", "it's", 'say "hi"', "both ' and \"", "back\\slash", "new\nline\ttab\r",
    "\u202egnp.exe", "\u2028", "\x00", "caf\u00e9", "\U0001f600", "__import__('os')", "",
    0, -7, 2**70, 0.1, -0.0, 1e16, 1e-5, 2.5e300, True, None, [1, "a"], (1,), (),
])
def test_literal_is_ascii_and_reads_back(value):
    text = literal(value)
    assert text.isascii() and text.isprintable()
    assert ast.literal_eval(text) == value
    assert type(ast.literal_eval(text)) is type(value)


def test_strings_are_quoted_as_ruff_quotes_them(tmp_path):
    values = ["plain", "it's", 'say "hi"', 'more "double" than \'single\'', "\\", "a\nb"]
    path = tmp_path / "strings.py"
    path.write_text("".join(f"x = {literal(v)}\n" for v in values), encoding="utf-8")
    assert ruff("format", "--check", path).returncode == 0


@pytest.mark.parametrize("value", [float("inf"), float("nan"), object(), b"bytes", 1j])
def test_non_literals_are_refused(value):
    with pytest.raises((TypeError, ValueError)):
        literal(value)


DOC_WORDS = ["a", "model", '"quoted"', "back\\slash", "'''", '"""', "中文", "\u202e", "tab\there",
             "caf\u00e9", "x" * 30, "end.", '"', "\\", "''", "#", "{", "}", "\n", "\\N{BULLET}"]


def test_docstrings_are_ruff_formatted_and_read_back(tmp_path):
    """Spec docs become docstrings: quotes, backslashes and controls can never end them."""
    r = random.Random(SEED)
    docs, out = [], ["class A:"]
    for i in range(250):
        text = " ".join(r.choice(DOC_WORDS) for _ in range(r.randint(1, 40)))
        text = r.choice(["", '"']) + text + r.choice(["", '"', "\\"])
        docs.append(text)
        out += [f"    class B{i}:", *docstring(text, 2), "", "        pass", ""]
    source = "\n".join(out).rstrip() + "\n"
    for cls, text in zip(ast.parse(source).body[0].body, docs):
        assert " ".join(ast.get_docstring(cls, clean=False).split()) == " ".join(text.split())
    path = tmp_path / "docs.py"
    path.write_text(source, encoding="utf-8")
    assert ruff("format", "--diff", path).returncode == 0
