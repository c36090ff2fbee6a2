"""The package's shape, as docs/architecture.md states it: stages import downwards only (the
import-linter contract in pyproject.toml), no import cycles anywhere (imports inside functions
count), nothing inside nnspec imports the package root, and small modules that say their job."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from conftest import ROOT

PACKAGE = ROOT / "nnspec"
MAX_LINES = 500


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_import_contract_holds():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(
                        graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles_even_through_imports_inside_functions():
    graph = grimp.build_graph("nnspec", cache_dir=None)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    pkg = tmp_path / "cyclic_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from cyclic_pkg import b\n")
    (pkg / "b.py").write_text("import cyclic_pkg.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("cyclic_pkg", cache_dir=None)) == [
        ["cyclic_pkg.a", "cyclic_pkg.b"]]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_small_says_its_job_and_never_imports_the_root(path):
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    assert len(text.splitlines()) <= MAX_LINES, f"{path.name} is over {MAX_LINES} lines"
    assert ast.get_docstring(tree), f"{path.name} has no opening docstring"
    if path.parent == PACKAGE:  # the root and __main__ are the top layer
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "nnspec":
            pytest.fail(f"{path.name}:{node.lineno} imports from the package root")
        if isinstance(node, ast.Import) and any(a.name == "nnspec" for a in node.names):
            pytest.fail(f"{path.name}:{node.lineno} imports the package root")


def test_one_set_of_reserved_names_covers_what_expressions_call():
    from nnspec.language.expr import FUNCTION_NAMES
    from nnspec.language.names import RESERVED, identifier_problem

    assert FUNCTION_NAMES <= RESERVED
    assert all(identifier_problem(name) for name in RESERVED)


def test_namespace_gives_collision_free_names():
    from nnspec.language.names import Namespace

    names = Namespace({"x"}, separator="_", refused={"min"})
    assert [names.fresh("x"), names.fresh("x"), names.fresh("min"), names.fresh("y")] == [
        "x_2", "x_3", "min_2", "y"]
    checked = Namespace({"out"}, identifiers=True)
    assert [checked.fresh("class", "cls"), checked.fresh("out"), checked.fresh("a-b", "c")] == [
        "cls", "out2", "c"]
    # a base no number makes an identifier (fx's `**kwargs` placeholder) ends, made one
    assert [checked.fresh("**kwargs"), checked.fresh("**kwargs"), checked.fresh("*")] == [
        "kwargs", "kwargs2", "value"]
