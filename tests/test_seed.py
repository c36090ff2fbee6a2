"""The three seed networks: printed trees, parameter counts, and parity with hand-written
references (strict state_dict load, same outputs in train and eval mode)."""

from __future__ import annotations

import pytest
import torch
from conftest import SEED, SEED_SPECS, SHARED_SEED, SPECS, seed_trees, strip_bn_bias
from reference.nin import REFERENCES

import nnspec

PARAMS = {"nin": 2_684_702, "nin_dw": 1_559_198, "nin_dw_x2": 3_113_310}


def test_seed_copy_matches_shared_seed():
    if not SHARED_SEED.exists():
        pytest.skip("../shared/seed is not beside this checkout")
    assert SEED.read_bytes() == SHARED_SEED.read_bytes()


@pytest.mark.parametrize("name", SEED_SPECS)
def test_printed_tree_is_the_seed_text(name):
    model = nnspec.build(SPECS / f"{name}.yaml")
    assert strip_bn_bias(str(model)) + "\n" == seed_trees()[name]


@pytest.mark.parametrize("name", SEED_SPECS)
def test_parameter_count(name):
    model = nnspec.build(SPECS / f"{name}.yaml")
    assert sum(p.numel() for p in model.parameters()) == PARAMS[name]


@pytest.mark.parametrize("name", SEED_SPECS)
def test_reference_prints_the_seed_text_too(name):
    assert strip_bn_bias(str(REFERENCES[name]())) + "\n" == seed_trees()[name]


@pytest.mark.parametrize("name", SEED_SPECS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_outputs_match_reference(name, mode):
    torch.manual_seed(1)
    model = nnspec.build(SPECS / f"{name}.yaml")
    reference = REFERENCES[name]()
    reference.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():  # non-trivial running stats, so eval mode is a real check
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    reference.load_state_dict(model.state_dict(), strict=True)
    getattr(model, mode)()
    getattr(reference, mode)()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        ours, theirs = model(x.clone()), reference(x.clone())
    assert ours.shape == (4, 10)
    assert torch.equal(ours, theirs)


def test_nin_first_block_relu_changes_the_output():
    """The pre-ReLU step is real: dropping it changes the output."""
    torch.manual_seed(0)
    model = nnspec.build(SPECS / "nin.yaml").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        with_step = model(x.clone())
        model.tnn_bin[2].pre_relu = False
        without = model(x.clone())
    assert not torch.equal(with_step, without)


@pytest.mark.parametrize("name", SEED_SPECS)
def test_seeded_construction_matches_reference(name):
    """Construction follows the printed tree, so a fixed seed gives the reference's weights."""
    torch.manual_seed(123)
    ours = nnspec.build(SPECS / f"{name}.yaml").state_dict()
    torch.manual_seed(123)
    theirs = REFERENCES[name]().state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_channel_doubling_is_one_override():
    doubled = nnspec.build(SPECS / "nin_dw.yaml", expand=2)
    reference = nnspec.build(SPECS / "nin_dw_x2.yaml")
    assert str(doubled) == str(reference)
