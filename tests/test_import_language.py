"""The language additions for imports. `forward: unknown`: a class that builds, prints and loads
weights, whose forward raises naming the class, in generated code too. `base: ModuleList`: a
block printed as torch prints an nn.ModuleList."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from conftest import seed_trees

import nnspec
from nnspec.diagnostics import SpecError
from nnspec.importers.printed import import_tree

SPEC = """\
nnspec: 1
inputs: {x: [3, 8, 8]}
blocks:
  AVeryLongImportedBlockName:
    params: {c: int}
    children: {conv: "Conv2d(3, c, 1)"}
    forward: unknown
  Stage:
    base: Sequential
    children: [ReLU()]
    forward: unknown
model:
  children: {a: AVeryLongImportedBlockName(4), s: Stage()}
  forward: unknown
"""


def test_unknown_forward_raises_naming_the_class(write_spec):
    model = nnspec.build(write_spec(SPEC))
    x = torch.randn(1, 3, 8, 8)
    for module, name in ((model, "Net"), (model.a, "AVeryLongImportedBlockName"),
                         (model.s, "Stage")):
        with pytest.raises(NotImplementedError) as info:
            module(x)
        assert str(info.value) == f"{name}: forward is unknown (imported from a printed " \
            "tree); write it in the spec"


def test_a_sequential_block_may_have_an_unknown_forward(write_spec):
    model = nnspec.build(write_spec(SPEC))
    assert isinstance(model.s, torch.nn.Sequential)
    assert str(model.s) == "Stage(\n  (0): ReLU()\n)"


def test_forward_is_steps_or_unknown(write_spec):
    path = write_spec(SPEC.replace("  forward: unknown\n", "  forward: unknwon\n", 1))
    with pytest.raises(SpecError) as info:
        nnspec.load(path)
    [diag] = info.value.diagnostics
    assert diag.code == "wrong-type"
    assert diag.pos.line == 7
    assert "'unknown'" in diag.message


@pytest.mark.parametrize("spec", ["inline", "seed"])
def test_generated_code_is_ruff_clean(spec, write_spec, tmp_path):
    text = SPEC if spec == "inline" else import_tree(seed_trees()["nin"], "seed").text
    source = nnspec.generate(write_spec(text))
    assert "def forward(self, *args, **kwargs):" in source
    assert_ruff_clean(source, tmp_path)


LIST_SPEC = """\
nnspec: 1
inputs: {x: [2]}
blocks:
  ModuleList:
    base: ModuleList
    params: {n: 2, extra: false}
    children:
      - Linear(n, n)
      - Linear(n, n)
      - {call: ReLU(), if: extra}
model:
  children: {layers: ModuleList(), more: "ModuleList(3, extra=True)"}
  forward: unknown
"""


def test_module_list_block_prints_as_torch_does(write_spec):
    model = nnspec.build(write_spec(LIST_SPEC))
    assert isinstance(model.layers, torch.nn.ModuleList)
    nn = torch.nn
    assert str(model.more) == str(nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3), nn.ReLU()]))
    assert "(0-1): 2 x Linear(in_features=3" in str(model.more)


def test_module_list_block_has_no_forward(write_spec):
    text = LIST_SPEC.replace("    base: ModuleList\n", "    base: ModuleList\n    forward: "
                             "[return x]\n")
    with pytest.raises(SpecError) as info:
        nnspec.load(write_spec(text))
    [diag] = info.value.diagnostics
    assert (diag.code, diag.message, diag.pos.line) == ("bad-forward", "a ModuleList block has "
                                                        "no forward", 6)


def test_module_list_children_are_a_list(write_spec):
    text = LIST_SPEC.replace("""    children:
      - Linear(n, n)
      - Linear(n, n)
      - {call: ReLU(), if: extra}
""", """    children: {a: "Linear(n, n)"}
""")
    with pytest.raises(SpecError) as info:
        nnspec.load(write_spec(text))
    assert [(d.code, d.message) for d in info.value.diagnostics] == [
        ("wrong-type", "a ModuleList's children are a list")]


def test_module_list_generated_code_is_ruff_clean(write_spec, tmp_path):
    assert_ruff_clean(nnspec.generate(write_spec(LIST_SPEC)), tmp_path)


def assert_ruff_clean(source: str, tmp_path) -> None:
    pytest.importorskip("ruff")
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")
    for command in (["check", "--isolated"], ["format", "--isolated", "--check"]):
        result = subprocess.run([sys.executable, "-m", "ruff", *command, str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
