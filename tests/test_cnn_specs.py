"""The CNN specs beyond the golden checks of tests/test_reference_golden.py (which run every
torchvision-layout spec against recorded torchvision data): static FLOPs at 224, ResNet-20
against its reference and its option A shortcut against akamaster's lambda, else-children."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT
from test_reference_golden import golden

import nnspec

SPECS = {name: ROOT / "specs" / f"{name}.yaml" for name in ("resnet18", "resnet50", "mobilenet_v2",
                                                               "vit_b_16")}


def test_resnet20_cifar_is_the_reference_model():
    """Option A shortcuts (a parameter-free block, `else: {seq: []}` for the identity): same
    tree, strict state_dict load, same outputs and the same seeded init as the reference."""
    from reference.cifar_resnet import resnet20
    from test_language import same_init, same_model

    path = ROOT / "specs" / "resnet20_cifar.yaml"
    model = nnspec.build(path)
    assert sum(p.numel() for p in model.parameters()) == 269_722
    same_model(model, resnet20(), torch.randn(2, 3, 32, 32))
    same_init(lambda: nnspec.build(path), resnet20)


@pytest.mark.parametrize("block, planes", [("layer2", 32), ("layer3", 64)])
def test_option_a_shortcut_is_akamasters_lambda(block, planes):
    """The spec's parameter-free shortcut does what akamaster's lambda does: every other
    pixel, channels zero-padded by planes // 4 on each side."""
    def upstream(x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0)

    shortcut = getattr(nnspec.build(ROOT / "specs" / "resnet20_cifar.yaml"), block)[0].shortcut
    assert list(shortcut.parameters()) == []
    x = torch.randn(2, planes // 2, 16, 16)
    with torch.no_grad():
        y = shortcut(x)
    assert y.shape == (2, planes, 8, 8)
    torch.testing.assert_close(y, upstream(x), rtol=0, atol=0)


def test_else_child_errors(write_spec):
    from test_language import errors

    text = ("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  children:\n"
            "    a: {call: 'Linear(4, 4)', else: 'Identity()'}\n"
            "    b: {if: '1 > 0', call: 'Linear(4, 4)', else: {call: 'ReLU()', if: '1 < 0'}}\n")
    assert errors(write_spec(text)) == [("bad-child", 5, 31), ("bad-child", 6, 67)]


@pytest.mark.parametrize("name", list(SPECS))
def test_static_flops_at_224_are_torchvisions(name):
    """No torch: the static pass at 224x224 counts what FlopCounterMode counted in torchvision
    (attention on torch's math path, where FlopCounterMode sees its matmuls)."""
    recorded = json.loads(golden(name, "flops_224.json").read_text(encoding="utf-8"))
    table = nnspec.summary(SPECS[name], inputs={"x": (3, 224, 224)})
    assert (table["params"], table["flops"]) == (recorded["params"],
                                                 recorded["flops_sdpa_math"])
