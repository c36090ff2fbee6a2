"""specs/resnet18.yaml, resnet50.yaml, mobilenet_v2.yaml and vit_b_16.yaml against data
recorded from real torchvision: printed tree, state_dict layout, parameter count, outputs with
RNG-free weights, and the seeded init (`torch.manual_seed(0)`, then sha256 of every tensor)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from conftest import ROOT
from golden.fixed_weights import fill_fixed_, fixed_input
from test_reference_golden import PARAMS, golden, init_mismatches, state_dict_lines

import nnspec

SPECS = {name: ROOT / "specs" / f"{name}.yaml" for name in ("resnet18", "resnet50", "mobilenet_v2",
                                                               "vit_b_16")}


def seeded(name: str, **params) -> torch.nn.Module:
    """The spec's model built right after `torch.manual_seed(0)`, leaving the global RNG be."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nnspec.build(SPECS[name], **params)


@pytest.fixture(scope="module", params=list(SPECS))
def model(request) -> tuple[str, torch.nn.Module]:
    """Each model built once per module; tests must not mutate it."""
    return request.param, seeded(request.param)


def test_printed_tree(model):
    name, m = model
    assert str(m) + "\n" == golden(name, "tree.txt").read_text(encoding="utf-8")


def test_state_dict_layout(model):
    name, m = model
    assert state_dict_lines(m) == golden(name, "state_dict.txt").read_text(
        encoding="utf-8").splitlines()


def test_parameter_count(model):
    name, m = model
    assert sum(p.numel() for p in m.parameters()) == PARAMS[name]


def test_seeded_init_is_bit_identical(model):
    name, m = model
    assert init_mismatches(m, name) == []


def test_fixed_weight_output(model):
    name, m = model
    recorded = json.loads(golden(name, "output_fixed.json").read_text(encoding="utf-8"))
    m = copy.deepcopy(m).eval()
    fill_fixed_(m)
    x = fixed_input(tuple(recorded["input_shape"]))
    with torch.no_grad():
        y = m(x)
    assert list(y.shape) == recorded["output_shape"]
    want = torch.tensor(recorded["output"], dtype=torch.float32).reshape(y.shape)
    torch.testing.assert_close(y, want, atol=1e-4, rtol=1e-4)


def test_zero_init_residual_zeroes_only_the_last_bn_of_each_block():
    m = seeded("resnet18", zero_init_residual=True)
    zeroed = {f"layer{s}.{i}.bn2.weight" for s in range(1, 5) for i in range(2)}
    assert all(m.state_dict()[k].eq(0).all() for k in zeroed)
    assert {line.split(":")[0] for line in init_mismatches(m, "resnet18")} == zeroed


def test_other_seed_gives_other_init():
    """The init check can fail: another seed changes every randomly initialised tensor."""
    with torch.random.fork_rng():
        torch.manual_seed(1)
        m = nnspec.build(SPECS["resnet18"])
    assert len(init_mismatches(m, "resnet18")) == 22  # 20 convolutions, fc.weight, fc.bias


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
