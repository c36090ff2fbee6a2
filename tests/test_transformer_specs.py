"""The transformer and sequence specs against their references: specs/vit_b_16.yaml against
data recorded from torchvision (in tests/test_reference_golden.py), and at a small size against
tests/reference/vit.py; gpt_mini.yaml and lstm_classifier.yaml against the hand-written classes
in tests/reference/: printed tree, state_dict, parameter count, strict load, outputs, seeded
init."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT
from reference.gpt import GPT
from reference.lstm_classifier import LSTMClassifier
from reference.vit import vit_mini
from test_language import same_init, same_model
from test_reference_golden import state_dict_lines
from test_reference_transformers import GOLDEN, VIT_MINI, tokens

import nnspec

SPECS = ROOT / "specs"


def test_vit_at_a_small_size_is_the_reference():
    path = SPECS / "vit_b_16.yaml"
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(3)
    model = nnspec.build(path, **VIT_MINI)
    reference = vit_mini()
    # torchvision zeroes the head; give it weights so that the outputs say something
    for m in (model, reference):
        torch.manual_seed(4)
        torch.nn.init.normal_(m.heads.head.weight)
    same_model(model, reference, x)
    same_init(lambda: nnspec.build(path, **VIT_MINI), vit_mini)


@pytest.mark.parametrize("name, reference, x, params", [
    ("gpt_mini", GPT, tokens((2, 64), 512), 867_072),
    ("lstm_classifier", LSTMClassifier, tokens((2, 32), 1000), 658_948),
])
def test_spec_is_the_reference(name, reference, x, params):
    """tools/record_reference_golden.py writes the golden layouts from the references."""
    path = SPECS / f"{name}.yaml"
    model = nnspec.build(path)
    assert sum(p.numel() for p in model.parameters()) == params
    assert str(model) + "\n" == (GOLDEN / name / "tree.txt").read_text(encoding="utf-8")
    assert state_dict_lines(model) == (GOLDEN / name / "state_dict.txt").read_text(
        encoding="utf-8").splitlines()
    same_model(model, reference(), x)
    same_init(lambda: nnspec.build(path), reference)


def test_gpt_head_stays_tied_in_the_spec_and_the_generated_code(tmp_path):
    from codegen_util import import_file

    path = SPECS / "gpt_mini.yaml"
    file = tmp_path / "gpt_generated.py"
    file.write_text(nnspec.generate(path), encoding="utf-8")
    generated = import_file(file, "nnspec_gpt_tie").GPT()
    for m in (nnspec.build(path), generated):
        assert m.lm_head.weight is m.tok_emb.weight
        assert sum(p.numel() for p in m.parameters()) == 867_072


def test_gpt_sequence_longer_than_block_size_is_a_spec_error():
    """The declared input is [block_size] tokens in [0, vocab_size): both follow overrides, and
    a longer sequence overruns pos_emb (nanoGPT's block_size assert, before any torch)."""
    spec = nnspec.load(SPECS / "gpt_mini.yaml", block_size=16, vocab_size=100)
    assert [(i.shape, i.range) for i in spec.program.inputs] == [((16,), (0, 100))]
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.summary(spec, inputs={"idx": (32,)})
    assert [(d.code, d.message) for d in info.value.diagnostics] == [
        ("index-out-of-range", "Embedding(num_embeddings=16) is indexed with values up to 31")]
