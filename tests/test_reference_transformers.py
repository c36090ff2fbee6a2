"""The behaviour that the hand-written references (tests/reference/vit.py, gpt.py,
lstm_classifier.py) promise in their docstrings, checked on the models nnspec builds from
specs/vit_b_16.yaml (at vit_mini's size), gpt_mini.yaml and lstm_classifier.yaml.
tests/test_transformer_specs.py checks each spec against its reference (tree, state_dict,
outputs, seeded init) and against the golden layouts in tests/golden/reference/."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT

import nnspec

GOLDEN = ROOT / "tests" / "golden" / "reference"
SPECS = ROOT / "specs"
# vit_mini's sizes, as root parameters of specs/vit_b_16.yaml
VIT_MINI = dict(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                mlp_dim=64, num_classes=10)


def tokens(shape: tuple[int, ...], high: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, high, shape, generator=torch.Generator().manual_seed(seed))


def build(name: str, seed: int = 0, **params) -> torch.nn.Module:
    torch.manual_seed(seed)
    return nnspec.build(SPECS / f"{name}.yaml", **params)


# --- ViT -------------------------------------------------------------------------------------


def test_vit_mini_shapes_and_init():
    m = build("vit_b_16", **VIT_MINI)
    assert m.encoder.pos_embedding.shape == (1, 17, 32)  # 16 patches and the class token
    with torch.no_grad():
        assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    # torchvision zeroes the head: every image gets all-zero logits at init
    assert m.heads.head.weight.eq(0).all() and m.heads.head.bias.eq(0).all()


# --- GPT -------------------------------------------------------------------------------------


def test_gpt_head_is_tied_to_the_token_embedding():
    m = build("gpt_mini")
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
    m = build("gpt_mini")
    for name, t in m.state_dict().items():
        if name.endswith("weight") and t.dim() == 2:
            assert abs(t.std().item() - 0.02) < 0.002 and abs(t.mean().item()) < 0.002, name
        elif ".ln_" in name or name.startswith("ln_f"):
            assert t.eq(1 if name.endswith("weight") else 0).all(), name
        else:
            assert name.endswith("bias") and t.eq(0).all(), name


def test_gpt_is_causal():
    """Changing token t+1 leaves the logits at positions <= t alone, and changes later ones."""
    m = build("gpt_mini", n_layer=2).eval()
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
    m = build("gpt_mini", n_layer=1).eval()
    with torch.no_grad():
        assert m(tokens((1, 64), 512)).shape == (1, 64, 512)
        assert m(tokens((3, 1), 512)).shape == (3, 1, 512)
        with pytest.raises(IndexError):
            m(tokens((1, 65), 512))


# --- LSTM classifier -------------------------------------------------------------------------


def test_lstm_classifier_uses_the_last_state_of_each_direction():
    """h[-2] is the last layer's forward state after the last token, h[-1] its backward state
    after the first token; the logits are fc of the two side by side."""
    m = build("lstm_classifier").eval()
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
    m = build("lstm_classifier")
    assert m.embedding.padding_idx == 0 and m.embedding.weight[0].eq(0).all()
    assert m.embedding.weight[1:].abs().sum(dim=1).gt(0).all()
