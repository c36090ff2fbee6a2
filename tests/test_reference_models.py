"""The CIFAR ResNet-20 and U-Net references: sizes, layouts, and the behaviour that a later
spec must reproduce (option A shortcut, U-Net's padding to the skip connection)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from reference.cifar_resnet import LambdaLayer, resnet20
from reference.unet import UNet
from torch import nn


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def cifar():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return resnet20().eval()


@pytest.fixture(scope="module")
def unet():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return UNet(n_channels=3, n_classes=2, bilinear=False).eval()


def test_resnet20_layout(cifar):
    assert n_params(cifar) == 269_722
    assert [n for n, _ in cifar.named_children()] == [
        "conv1", "bn1", "layer1", "layer2", "layer3", "linear"]
    assert [len(getattr(cifar, f"layer{i}")) for i in (1, 2, 3)] == [3, 3, 3]
    text = str(cifar)
    # option A: the two downsampling blocks (layer2.0, layer3.0) pad; the other seven are identity
    assert text.count("(shortcut): LambdaLayer()") == 2
    assert text.count("(shortcut): Sequential()") == 7
    assert isinstance(cifar.layer2[0].shortcut, LambdaLayer)
    assert not any("shortcut" in key for key in cifar.state_dict())


def test_resnet20_forward_shape(cifar):
    with torch.no_grad():
        y = cifar(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 10)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("planes", [32, 64])
def test_option_a_shortcut_matches_akamaster_lambda(planes):
    """The named module does what akamaster's lambda does: every other pixel, channels
    zero-padded by planes // 4 on each side."""
    def upstream(x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0)

    x = torch.randn(2, planes // 2, 16, 16)
    y = LambdaLayer(planes)(x)
    assert y.shape == (2, planes, 8, 8)
    torch.testing.assert_close(y, upstream(x), rtol=0, atol=0)
    pad = planes // 4
    assert y[:, :pad].eq(0).all() and y[:, -pad:].eq(0).all()
    torch.testing.assert_close(y[:, pad:-pad], x[:, :, ::2, ::2], rtol=0, atol=0)


def test_unet_layout(unet):
    assert n_params(unet) == 31_037_698
    assert [n for n, _ in unet.named_children()] == [
        "inc", "down1", "down2", "down3", "down4", "up1", "up2", "up3", "up4", "outc"]
    assert isinstance(unet.up1.up, nn.ConvTranspose2d)
    assert (unet.up1.up.in_channels, unet.up1.up.out_channels) == (1024, 512)
    assert type(unet.down4.maxpool_conv[1]).__name__ == "DoubleConv"


@pytest.mark.parametrize("side", [64, 36])
def test_unet_forward_shape(unet, side):
    """64 divides by 16; 36 does not (36 -> 18 -> 9 -> 4 -> 2), so up2 must pad its
    upsampled 8x8 map to the skip connection's 9x9."""
    with torch.no_grad():
        y = unet(torch.randn(1, 3, side, side))
    assert y.shape == (1, 2, side, side)
    assert torch.isfinite(y).all()
