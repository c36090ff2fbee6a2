"""Models nobody here wrote, checked in CI without their libraries: for the named subset of
the import corpus recorded under tests/golden/corpus/ (tools/record_corpus_golden.py, from
torchvision and timm in a scratch venv), `import tree` rebuilds the printed tree with the
recorded state_dict layout, and the spec `import module` wrote builds, prints that tree, holds
that layout and computes the recorded outputs on fixed weights (recorded on another torch, so
within a float tolerance)."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import ROOT
from golden.fixed_weights import fill_fixed_, fixed_input
from test_import_tree import build_text

import nnspec
from nnspec.importers.draft import tree_lines
from nnspec.importers.printed import import_tree
from nnspec.importers.state import read_state_dict

GOLDEN = ROOT / "tests" / "golden"
MODELS = sorted(p for p in (GOLDEN / "corpus").iterdir() if p.is_dir())


def flat(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for k in value for t in flat(value[k])]
    return [t for v in value for t in flat(v)]


def layout(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def test_the_subset_is_there():
    assert {p.name for p in MODELS} >= {"tv_regnet_x_400mf", "tv_inception_v3",
                                        "tv_googlenet", "tvseg_fcn_resnet50",
                                        "timm_mixer_s16_224"}


@pytest.mark.parametrize("folder", MODELS, ids=[p.name for p in MODELS])
def test_import_tree_rebuilds_the_printed_model(folder, tmp_path):
    tree = (folder / "tree.txt").read_text(encoding="utf-8")
    result = import_tree(tree, str(folder / "tree.txt"),
                         state_dict=folder / "state_dict.txt")  # checks the print itself
    model = build_text(result.text, tmp_path)
    assert tree_lines(str(model)) == tree_lines(tree)
    recorded = [(k.name, k.shape) for k in read_state_dict(folder / "state_dict.txt")]
    assert layout(model) == recorded


@pytest.mark.parametrize("folder", MODELS, ids=[p.name for p in MODELS])
def test_the_imported_module_spec_computes_the_model(folder):
    tree = (folder / "tree.txt").read_text(encoding="utf-8")
    model = nnspec.build(folder / "module.yaml").eval()
    assert tree_lines(str(model)) == tree_lines(tree)
    recorded = [(k.name, k.shape) for k in read_state_dict(folder / "state_dict.txt")]
    assert layout(model) == recorded
    want = json.loads((folder / "output_fixed.json").read_text(encoding="utf-8"))
    fill_fixed_(model)
    with torch.no_grad():
        got = flat(model(fixed_input(tuple(want["input_shape"]))))
    assert [list(t.shape) for t in got] == [o["shape"] for o in want["outputs"]]
    for tensor, out in zip(got, want["outputs"]):
        first = torch.tensor(out["first"], dtype=torch.float64)
        values = tensor.double().flatten()[:len(first)]
        assert torch.allclose(values, first, rtol=1e-4, atol=1e-4)
        assert abs(float(tensor.double().abs().sum()) - out["abs_sum"]) <= \
            1e-4 * max(1.0, out["abs_sum"])
