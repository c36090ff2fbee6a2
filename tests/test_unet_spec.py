"""specs/unet.yaml against the hand-written milesial/Pytorch-UNet reference (bilinear=False):
printed tree, state_dict layout, parameter count, and identical outputs after loading the
reference's weights, including an input whose side is not a multiple of 16 (the F.pad path)."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT
from reference.unet import UNet

import nnspec

SPEC = ROOT / "specs" / "unet.yaml"


@pytest.fixture(scope="module")
def pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    """(built, reference), the built model holding the reference's weights; built once."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        ref = UNet(3, 2, bilinear=False)
        built = nnspec.build(nnspec.load(SPEC))
    built.load_state_dict(ref.state_dict(), strict=True)
    return built, ref


def test_printed_tree(pair):
    built, ref = pair
    assert str(built) == str(ref)


def test_state_dict_layout(pair):
    built, ref = pair
    assert [(k, v.shape) for k, v in built.state_dict().items()] == [
        (k, v.shape) for k, v in ref.state_dict().items()]


def test_parameter_count(pair):
    built, _ = pair
    assert sum(p.numel() for p in built.parameters()) == 31_037_698


# train mode (BatchNorm on batch statistics, updating its buffers) once, at the side that pads
@pytest.mark.parametrize("side, train", [(64, False), (36, False), (36, True)])
def test_outputs_match_reference(pair, side, train):
    built, ref = pair
    built.train(train)
    ref.train(train)
    x = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(side))
    with torch.no_grad():
        got, want = built(x), ref(x)
    assert got.shape == (2, 2, side, side)
    torch.testing.assert_close(got, want, atol=0, rtol=0)
    torch.testing.assert_close(built.state_dict(), ref.state_dict(), atol=0, rtol=0)
