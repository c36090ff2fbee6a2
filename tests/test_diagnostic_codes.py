"""The diagnostic code registry agrees with the source and the docs, as mypy checks its codes.

Every code the source can emit is registered, every registered code is documented with the same
meaning and is emitted somewhere, and a Diagnostic refuses a code that is not registered.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import ROOT

import nnspec
from nnspec.diagnostics import UNKNOWN, Collector, Diagnostic
from nnspec.diagnostics.codes import CODES, INDIRECT

PACKAGE = Path(nnspec.__file__).resolve().parent
DOC = ROOT / "docs" / "diagnostics.md"
SECTION = "## Diagnostic codes"

# Calls whose first positional argument is a code: `Diagnostic(code, ...)`,
# `ExprError(code, ...)`, and the `error`/`warning` methods of a Collector and of the stages'
# wrappers around it (`self.error(code, message, pos, path)`), which take a message too (so
# argparse's one-argument `parser.error(message)` is not taken for one).
CODE_FIRST = {"Diagnostic", "ExprError"}
CODE_FIRST_METHODS = {"error", "warning"}
CODE_SHAPE = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def _strings(node: ast.AST | None) -> list[str] | None:
    """The string literals an argument can be (`"a"`, `"a" if c else "b"`), None for a
    variable."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _strings(node.body), _strings(node.orelse)
        return None if body is None or orelse is None else body + orelse
    return None


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _scan_file(tree: ast.AST) -> dict[str, list[int]]:
    """Code literals in one module, each with the lines it is written on."""
    found: dict[str, list[int]] = {}

    def note(arg: ast.AST | None, line: int) -> None:
        for code in _strings(arg) or []:
            found.setdefault(code, []).append(line)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            keyword = next((k.value for k in node.keywords if k.arg == "code"), None)
            if keyword is not None:  # `OpError(message, *tensors, code="...")` and any other
                note(keyword, node.lineno)
            name = _callee(node)
            first = node.args[0] if node.args else None
            if name in CODE_FIRST or (name in CODE_FIRST_METHODS and len(node.args) >= 2):
                note(first, node.lineno)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # a default for a `code` parameter: `OpError(..., code: str = "shape-mismatch")`
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            for arg, default in pairs:
                if arg.arg == "code":
                    note(default, node.lineno)
    return found


def scan() -> dict[str, list[str]]:
    """Every code literal in nnspec/**/*.py, each with where it is written (`path:line`)."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(PACKAGE.parent).as_posix()
        for code, lines in _scan_file(tree).items():
            found.setdefault(code, []).extend(f"{where}:{line}" for line in lines)
    return found


def documented() -> dict[str, str]:
    """The rows of the *Diagnostic codes* table in docs/diagnostics.md."""
    text = DOC.read_text(encoding="utf-8")
    assert SECTION in text, f"{DOC} has no '{SECTION}' section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        match = re.fullmatch(r"\| `([^`]+)` \| (.*) \|", line.strip())
        if match:
            assert match.group(1) not in rows, f"'{match.group(1)}' is documented twice"
            rows[match.group(1)] = match.group(2)
    return rows


def expected_table() -> str:
    """The table docs/diagnostics.md should hold, to paste when it is stale."""
    return "\n".join(["| code | meaning |", "|------|---------|"]
                     + [f"| `{code}` | {meaning} |" for code, meaning in CODES.items()])


def test_the_scan_finds_every_call_form():
    """Guards the scan itself: a scan that found nothing would pass every check below."""
    source = '''
def f(errors, expr, code: str = "d-default"):
    errors.error("a-collector", "message", pos)
    errors.warning("b-warning", "message", pos)
    Diagnostic("c-diagnostic", "message", pos)
    ExprError("e-expr", "message", node)
    OpError("message", t, code="f-op")
    self.error("g-wrapper" if x else "h-wrapper", "message", pos, path)
    errors.error(err.code, err.message, pos)
    parser.error("an argparse message")
'''
    found = set(_scan_file(ast.parse(source)))
    assert found == {"a-collector", "b-warning", "c-diagnostic", "d-default", "e-expr", "f-op",
                     "g-wrapper", "h-wrapper"}
    assert len(scan()) >= 50  # the real source: the call forms above are still there


def test_every_emitted_code_is_registered():
    unregistered = {code: where for code, where in scan().items() if code not in CODES}
    assert not unregistered, (
        "codes emitted but not in nnspec/diagnostics/codes.py (register them, with a one-line "
        f"meaning, or use the registered spelling): {unregistered}")


def test_every_code_has_the_shape_of_a_code():
    bad = [code for code in CODES if not CODE_SHAPE.fullmatch(code)]
    assert not bad, f"codes are lowercase words joined by '-': {bad}"
    assert all(meaning.strip() and "\n" not in meaning and "|" not in meaning
               for meaning in CODES.values())


def test_every_registered_code_is_documented():
    docs = documented()
    missing = sorted(set(CODES) - set(docs))
    extra = sorted(set(docs) - set(CODES))
    differ = {code: (CODES[code], docs[code]) for code in set(CODES) & set(docs)
              if CODES[code] != docs[code]}
    assert not (missing or extra or differ), (
        f"docs/diagnostics.md's '{SECTION}' table is stale: missing {missing}, not registered "
        f"{extra}, different meanings {differ}; the table should read:\n{expected_table()}")


def test_no_registered_code_is_dead():
    emitted = set(scan())
    dead = sorted(set(CODES) - emitted - INDIRECT)
    assert not dead, f"registered codes nnspec never emits (remove them, or list in INDIRECT " \
                     f"the ones that reach a Diagnostic through a variable): {dead}"
    assert INDIRECT <= set(CODES), sorted(INDIRECT - set(CODES))
    # a code written as a literal at a call needs no INDIRECT entry: keep that list honest
    assert not INDIRECT & emitted, sorted(INDIRECT & emitted)


@pytest.mark.parametrize("code", ["no-such-code", "shape_mismatch", "Shape-Mismatch", ""])
def test_a_diagnostic_refuses_an_unregistered_code(code):
    with pytest.raises(ValueError, match="unregistered diagnostic code"):
        Diagnostic(code, "message", UNKNOWN)
    with pytest.raises(ValueError, match="unregistered diagnostic code"):
        Collector().warning(code, "message", UNKNOWN)


def test_a_diagnostic_takes_every_registered_code():
    for code in CODES:
        assert Diagnostic(code, "message", UNKNOWN).code == code
