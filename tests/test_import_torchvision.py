"""`nnspec import tree` on torchvision's printed trees, recorded under
tests/golden/torchvision/<model>/tree.txt (skipped where absent) with the state_dict layout
recorded beside it: what imports prints the same tree and has the recorded state_dict keys and
shapes. All of them import but the newer models', whose trees print torchvision's own modules
(UNKNOWN below): the importer says which, at their lines."""

from __future__ import annotations

import pytest
from conftest import ROOT
from test_import_tree import build_text

import nnspec
from nnspec.importers.draft import check_rebuild, tree_lines
from nnspec.importers.printed import import_tree
from nnspec.importers.state import read_state_dict

GOLDEN = ROOT / "tests" / "golden" / "torchvision"
# torchvision's own leaf modules that print arguments: a printed line cannot tell them from
# torch layers, so they are unknown layers to the importer (their specs are written by hand;
# `Permute()`, which prints none, imports as a block whose forward is unknown)
UNKNOWN = {"convnext_tiny": {"LayerNorm2d", "StochasticDepth"},
           "efficientnet_b0": {"StochasticDepth"}, "swin_t": {"StochasticDepth"}}
TREES = sorted(p for p in GOLDEN.glob("*/tree.txt") if p.parent.name not in UNKNOWN) \
    if GOLDEN.is_dir() else []


@pytest.mark.skipif(not TREES, reason="no torchvision trees under tests/golden/torchvision")
@pytest.mark.parametrize("path", TREES, ids=[p.parent.name for p in TREES])
def test_torchvision_tree(path, tmp_path):
    """With the recorded state_dict beside it, the keys and shapes match exactly, in order:
    those of the tensors a class holds itself (ViT's class_token) included."""
    tree = path.read_text(encoding="utf-8")
    state = path.parent / "state_dict.txt"
    result = import_tree(tree, str(path), inputs={"x": [3, 64, 64]},
                         state_dict=state if state.exists() else None)
    check_rebuild(result.text, tree, str(path), keys=result.keys)  # what the command checks
    model = build_text(result.text, tmp_path)
    assert tree_lines(str(model)) == tree_lines(tree)
    if not state.exists():
        return
    recorded = [(k.name, k.shape) for k in read_state_dict(state)]
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == recorded


@pytest.mark.parametrize("name", sorted(UNKNOWN))
def test_torchvisions_own_modules_are_unknown_layers(name):
    with pytest.raises(nnspec.SpecError) as info:
        import_tree((GOLDEN / name / "tree.txt").read_text(encoding="utf-8"), "tree.txt",
                    inputs={"x": [3, 64, 64]})
    codes = {d.code for d in info.value.diagnostics}
    named = {d.message.split("'")[1] for d in info.value.diagnostics}
    assert (codes, named) == ({"unknown-layer"}, UNKNOWN[name])


@pytest.mark.skipif(not (GOLDEN / "vit_b_16").is_dir(), reason="no ViT-B/16 golden")
def test_vit_imports_concisely_with_its_unknowns_said(tmp_path):
    folder = GOLDEN / "vit_b_16"
    result = import_tree((folder / "tree.txt").read_text(encoding="utf-8"), "tree.txt",
                         state_dict=folder / "state_dict.txt")
    text = result.text
    # twelve equal EncoderBlocks: one block, one named repeat
    assert text.count("  EncoderBlock:\n") == 1
    assert '          "encoder_layer_{i}": {repeat: 12, as: i, call: "EncoderBlock(num_heads)"}\n' \
        in text
    assert "      self_attention: MultiheadAttention(768, num_heads)\n" in text
    assert "  params:\n    num_heads: 1  # not printed; 1 is a placeholder: --set num_heads=N\n" \
        in text
    assert len(result.warnings) == 1 and result.warnings[0].startswith("num_heads is not printed")
    assert "      pos_embedding: {shape: [1, 197, 768], init: zeros}\n" in text
    assert "    class_token: {shape: [1, 1, 768], init: zeros}\n" in text
    path = tmp_path / "vit.yaml"
    path.write_text(text, encoding="utf-8")
    model = nnspec.build(path, device="meta", num_heads=12)
    assert model.encoder.layers.encoder_layer_11.self_attention.num_heads == 12
    assert sum(p.numel() for p in model.parameters()) == 86_567_656  # torchvision's count
