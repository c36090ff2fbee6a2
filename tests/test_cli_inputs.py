"""`--input`: one grammar for every verb that takes it (`summary`, `import tree`, `import
module`): `[NAME=]D,D,...` or `DxDx...`, positive integers; anything else is wrong usage."""

from __future__ import annotations

import pytest
from conftest import SPECS

from nnspec.cli import main as cli

TREE = "Net(\n  (fc): Linear(in_features=4, out_features=2, bias=True)\n)\n"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tree(tmp_path):
    path = tmp_path / "tree.txt"
    path.write_text(TREE, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("bad", ["x=0,4", "x=a,b", "x=", "x=-1"])
def test_summary_and_import_refuse_the_same_shapes_as_usage_errors(capsys, tree, bad):
    summary, _, summary_err = run(capsys, "summary", str(SPECS / "nin.yaml"), "--input", bad)
    imported, _, import_err = run(capsys, "import", "tree", tree, "--input", bad)
    assert (summary, imported) == (2, 2)
    assert f"--input {bad}:" in summary_err and f"--input {bad}:" in import_err


def test_both_accept_the_x_separator(capsys, tree):
    code, out, err = run(capsys, "summary", str(SPECS / "nin.yaml"), "--input", "x=3x32x32")
    assert code == 0, err
    assert "[1, 3, 32, 32]" in out
    code, out, err = run(capsys, "import", "tree", tree, "--input", "x=2x4")
    assert code == 0, err
    assert "x: [2, 4]" in out


def test_an_importer_needs_the_input_named(capsys, tree):
    code, _, err = run(capsys, "import", "tree", tree, "--input", "4")
    assert code == 2
    assert "name the input" in err
