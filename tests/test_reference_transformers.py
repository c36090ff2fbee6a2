"""Issue #8's hand-written references (tests/reference/vit.py, gpt.py, lstm_classifier.py) on
their own, before any spec exists: the behaviour their docstrings promise, and the golden layout
files in tests/golden/reference/ that the specs will be compared against. ViT-B/16 against
torchvision's recorded data is in tests/test_reference_golden.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import ROOT
from reference.gpt import GPT
from reference.lstm_classifier import LSTMClassifier
from reference.vit import vit_mini
from test_reference_golden import state_dict_lines
from torch import nn

GOLDEN = ROOT / "tests" / "golden" / "reference"
# name -> (reference, parameter count); tools/record_reference_golden.py writes their goldens
REFERENCES: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "gpt_mini": (GPT, 867_072),
    "lstm_classifier": (LSTMClassifier, 658_948),
}


def tokens(shape: tuple[int, ...], high: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, high, shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", list(REFERENCES))
def test_golden_layout_is_what_the_reference_prints(name):
    """Rerun tools/record_reference_golden.py after an intended change to a reference."""
    factory, params = REFERENCES[name]
    with torch.device("meta"):
        m = factory()
    assert str(m) + "\n" == (GOLDEN / name / "tree.txt").read_text(encoding="utf-8")
    assert state_dict_lines(m) == (GOLDEN / name / "state_dict.txt").read_text(
        encoding="utf-8").splitlines()
    assert sum(p.numel() for p in m.parameters()) == params


@pytest.mark.parametrize("make, x", [
    (vit_mini, torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))),
    (lambda: GPT(n_layer=2), tokens((2, 16), 512)),
    (LSTMClassifier, tokens((2, 12), 1000)),
], ids=["vit_mini", "gpt", "lstm_classifier"])
# torch's own notice that nn.LSTM caches its weights in a plain list (_flat_weights)
@pytest.mark.filterwarnings("ignore:The tensor attributes self.lstm._flat_weights")
def test_torch_export(make, x):
    torch.manual_seed(0)
    m = make().eval()
    program = torch.export.export(m, (x,))
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), m(x))


# --- ViT -------------------------------------------------------------------------------------


def test_vit_mini_shapes_and_init():
    m = vit_mini()
    assert m.seq_length == 17 and m.encoder.pos_embedding.shape == (1, 17, 32)
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    # torchvision zeroes the head: every image gets all-zero logits at init
    assert m.heads.head.weight.eq(0).all() and m.heads.head.bias.eq(0).all()
    with pytest.raises(AssertionError, match="Wrong image height"):
        m(torch.zeros(1, 3, 16, 32))


# --- GPT -------------------------------------------------------------------------------------


def test_gpt_head_is_tied_to_the_token_embedding():
    m = GPT()
    assert m.lm_head.weight is m.tok_emb.weight
    sd = m.state_dict()
    assert sd["lm_head.weight"].data_ptr() == sd["tok_emb.weight"].data_ptr()
    assert list(sd)[:2] == ["tok_emb.weight", "pos_emb.weight"] and list(sd)[-1] == (
        "lm_head.weight")
    unique = {p.data_ptr(): p.numel() for p in sd.values()}
    assert sum(p.numel() for p in m.parameters()) == sum(unique.values()) == 867_072
    assert sum(t.numel() for t in sd.values()) == 867_072 + 512 * 128  # the tie, listed twice


def test_gpt_init():
    """normal(0, 0.02) in every Linear and Embedding weight, zero Linear biases, LayerNorm
    default."""
    torch.manual_seed(0)
    m = GPT()
    for name, t in m.state_dict().items():
        if name.endswith("weight") and t.dim() == 2:
            assert abs(t.std().item() - 0.02) < 0.002 and abs(t.mean().item()) < 0.002, name
        elif ".ln_" in name or name.startswith("ln_f"):
            assert t.eq(1 if name.endswith("weight") else 0).all(), name
        else:
            assert name.endswith("bias") and t.eq(0).all(), name


def test_gpt_is_causal():
    """Changing token t+1 leaves the logits at positions <= t alone, and changes later ones."""
    torch.manual_seed(0)
    m = GPT(n_layer=2).eval()
    idx = tokens((2, 20), 512)
    changed = idx.clone()
    t = 9
    changed[:, t + 1] = (changed[:, t + 1] + 1) % 512
    with torch.no_grad():
        a, b = m(idx), m(changed)
    assert a.shape == (2, 20, 512)
    torch.testing.assert_close(a[:, :t + 1], b[:, :t + 1], rtol=0, atol=1e-6)
    assert (a[:, t + 1:] - b[:, t + 1:]).abs().amax(dim=-1).gt(1e-4).all()


def test_gpt_sequence_length():
    """Any length up to block_size; beyond it there is no position embedding."""
    m = GPT(n_layer=1).eval()
    with torch.no_grad():
        assert m(tokens((1, 64), 512)).shape == (1, 64, 512)
        assert m(tokens((3, 1), 512)).shape == (3, 1, 512)
        with pytest.raises(IndexError):
            m(tokens((1, 65), 512))


# --- LSTM classifier -------------------------------------------------------------------------


def test_lstm_classifier_uses_the_last_state_of_each_direction():
    """h[-2] is the last layer's forward state after the last token, h[-1] its backward state
    after the first token; the logits are fc of the two side by side."""
    torch.manual_seed(0)
    m = LSTMClassifier().eval()
    x = tokens((3, 12), 1000)
    hidden = 128
    with torch.no_grad():
        out, (h, _) = m.lstm(m.embedding(x))
        logits = m(x)
        by_hand = m.fc(torch.cat((out[:, -1, :hidden], out[:, 0, hidden:]), dim=1))
    assert out.shape == (3, 12, 2 * hidden) and h.shape == (4, 3, hidden)
    torch.testing.assert_close(h[-2], out[:, -1, :hidden], rtol=0, atol=0)
    torch.testing.assert_close(h[-1], out[:, 0, hidden:], rtol=0, atol=0)
    assert not torch.equal(h[-2], h[0])  # two layers: the last layer's state, not the first's
    assert logits.shape == (3, 4)
    torch.testing.assert_close(logits, by_hand, rtol=0, atol=0)


def test_lstm_classifier_padding_row_is_zero():
    m = LSTMClassifier()
    assert m.embedding.padding_idx == 0 and m.embedding.weight[0].eq(0).all()
    assert m.embedding.weight[1:].abs().sum(dim=1).gt(0).all()
