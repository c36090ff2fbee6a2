"""`forward: unknown`, the language addition for imported printed trees: a class that builds,
prints and loads weights, whose forward raises naming the class, in generated code too."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from conftest import seed_trees

import nnspec
from nnspec.diagnostics import SpecError
from nnspec.importer.printed import import_tree

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
    pytest.importorskip("ruff")
    text = SPEC if spec == "inline" else import_tree(seed_trees()["nin"], "seed").text
    source = nnspec.generate(write_spec(text))
    assert "def forward(self, *args, **kwargs):" in source
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")
    for command in (["check", "--isolated"], ["format", "--isolated", "--check"]):
        result = subprocess.run([sys.executable, "-m", "ruff", *command, str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
