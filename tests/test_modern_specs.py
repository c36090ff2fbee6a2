"""The newer torchvision specs (specs/convnext_tiny.yaml, efficientnet_b0.yaml, swin_t.yaml)
against data recorded from torchvision 0.29.1 (tests/golden/torchvision/,
tools/record_torchvision_golden.py) and against the trimmed hand-written references in
tests/reference/; and the language features they need: blocks that subclass a torch layer
(`base: LayerNorm`), `extra_repr` (blocks with no children that print their settings),
`training` in forward steps, tensors created after the children, `torch.roll` and indexing a
table with an integer tensor.

Each golden model is built once per module at its full size; only the fixed-weight output
runs at 224x224."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from conftest import ROOT, SUITE_PARAMS
from golden.fixed_weights import fill_fixed_, fixed_input
from test_reference_golden import count_flops, golden, init_mismatches, seeded, state_dict_lines

import nnspec

MODELS = ["convnext_tiny", "efficientnet_b0", "swin_t"]
PARAMS = {"convnext_tiny": 28_589_128, "efficientnet_b0": 5_288_548, "swin_t": 28_288_354}


def spec_path(name: str):
    return ROOT / "specs" / f"{name}.yaml"


@pytest.fixture(scope="module", params=MODELS)
def model(request) -> tuple[str, torch.nn.Module]:
    """Each model built once after `torch.manual_seed(0)`; tests must not mutate it."""
    return request.param, seeded(request.param)


def test_printed_tree(model):
    name, m = model
    assert str(m) + "\n" == golden(name, "tree.txt").read_text(encoding="utf-8")


def test_state_dict_layout_and_parameter_count(model):
    name, m = model
    assert state_dict_lines(m) == golden(name, "state_dict.txt").read_text(
        encoding="utf-8").splitlines()
    recorded = json.loads(golden(name, "init_seed0.json").read_text(encoding="utf-8"))["params"]
    assert sum(p.numel() for p in m.parameters()) == PARAMS[name] == recorded


def test_seeded_init_is_bit_identical(model):
    name, m = model
    assert init_mismatches(m, name) == []


def test_fixed_weight_output_at_224(model):
    name, m = model
    recorded = json.loads(golden(name, "output_fixed.json").read_text(encoding="utf-8"))
    assert recorded["input_shape"] == [1, 3, 224, 224]
    m = copy.deepcopy(m).eval()
    fill_fixed_(m)
    with torch.no_grad():
        y = m(fixed_input((1, 3, 224, 224)))
    want = torch.tensor(recorded["output"], dtype=torch.float32).reshape(y.shape)
    torch.testing.assert_close(y, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_flops_at_224(name):
    """The static pass (no torch) and the meta-built model under FlopCounterMode both count
    what torchvision counted."""
    recorded = json.loads(golden(name, "flops_224.json").read_text(encoding="utf-8"))
    table = nnspec.summary(spec_path(name), inputs={"x": (3, 224, 224)})
    assert (table["params"], table["flops"]) == (recorded["params"], recorded["flops_sdpa_math"])
    m = nnspec.build(spec_path(name), device="meta").eval()
    assert count_flops(m, recorded["input_shape"]) == (
        recorded["flops_sdpa_math"], recorded["flops_by_op_sdpa_math"])


# --- against the hand-written references, where the recorded data does not reach ---------------


def same_in_both_modes(model: torch.nn.Module, reference: torch.nn.Module,
                       x: torch.Tensor) -> None:
    """Same tree and state_dict layout; with the spec's weights loaded strictly, the same
    outputs in eval mode and in training mode from the same seed (stochastic depth and dropout
    draw the same numbers)."""
    assert str(model) == str(reference)
    reference.load_state_dict(model.state_dict(), strict=True)
    for mode in ("eval", "train"):
        outputs = []
        for m in (model, reference):
            getattr(m, mode)()
            torch.manual_seed(11)
            with torch.no_grad():
                outputs.append(m(x.clone()))
        assert torch.equal(*outputs), mode


def test_efficientnet_is_the_reference_in_training_too():
    """A smaller stack (SUITE_PARAMS), every kind of block kept; stochastic depth raised so that
    training draws noise in most blocks."""
    from reference.efficientnet import B0, efficientnet_b0
    from test_language import same_init

    small = SUITE_PARAMS["efficientnet_b0"]
    setting = [(*row[:5], n) for row, n in zip(B0, small["num_layers"])]
    assert [list(row[:5]) for row in setting] == [
        [small["expand_ratio"][j], small["kernel"][j], small["stride"][j], small["channels"][j],
         small["channels"][j + 1]] for j in range(3)]
    path = spec_path("efficientnet_b0")
    model = nnspec.build(path, **small, stochastic_depth_prob=0.5)
    same_in_both_modes(model, efficientnet_b0(setting=setting, stochastic_depth_prob=0.5),
                       torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    same_init(lambda: nnspec.build(path, **small), lambda: efficientnet_b0(setting=setting))


def test_convnext_is_the_reference_in_training_too():
    from reference.convnext import convnext_tiny
    from test_language import same_init

    small = SUITE_PARAMS["convnext_tiny"]
    path = spec_path("convnext_tiny")
    model = nnspec.build(path, **small, stochastic_depth_prob=0.5)
    same_in_both_modes(model, convnext_tiny(**small, stochastic_depth_prob=0.5),
                       torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    same_init(lambda: nnspec.build(path, **small), lambda: convnext_tiny(**small))


@pytest.mark.parametrize("side", [64, 60])
def test_swin_is_the_reference_in_training_too(side):
    """At 64 the first stage's second block shifts its windows (with the attention mask), the
    third stage has one window (no shift) and the last pads; at 60 the first stage pads its
    15x15 map too, and patch merging pads an odd map. torchvision builds the mask by slice
    assignment, the spec from region labels: the same mask."""
    from reference.swin import swin_t
    from test_language import same_init

    small = SUITE_PARAMS["swin_t"]
    path = spec_path("swin_t")
    model = nnspec.build(path, **small, stochastic_depth_prob=0.5, dropout=0.1,
                         attention_dropout=0.1)
    same_in_both_modes(model, swin_t(**small, stochastic_depth_prob=0.5, dropout=0.1,
                                     attention_dropout=0.1),
                       torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(0)))
    same_init(lambda: nnspec.build(path, **small), lambda: swin_t(**small))


# --- the language features ---------------------------------------------------------------------

DROP = """nnspec: 1
inputs: {x: [4, 8, 8]}
blocks:
  Drop:
    params: {p: float, mode: {type: str, default: row}}
    extra_repr: "p={p}, mode={mode}"
    forward:
      - return x * F.dropout(torch.ones(x.size(0), 1, 1, 1), p, training) if training else x
model:
  children: {drop: 'Drop(0.25)', conv: 'Conv2d(4, 4, 1)'}
  forward:
    - return conv(drop(x))
"""


def test_extra_repr_prints_the_settings_and_training_is_the_module_flag(write_spec, tmp_path):
    """A block with no children prints its settings as torch's own layers do (through
    `extra_repr`), in the runtime model and in the generated file; `training` reads
    `self.training`, so the block is the identity in eval mode and drops in training."""
    from codegen_util import import_file

    path = write_spec(DROP)
    file = tmp_path / "drop_generated.py"
    file.write_text(nnspec.generate(path), encoding="utf-8")
    source = file.read_text(encoding="utf-8")
    assert 'return f"p={self.p}, mode={self.mode}"' in source
    assert source.count("self.training") == 2
    for m in (nnspec.build(path), import_file(file, "nnspec_drop_generated").Net()):
        assert str(m.drop) == "Drop(p=0.25, mode=row)"
        x = torch.ones(64, 4, 8, 8)
        m.eval()
        assert torch.equal(m.drop(x), x)
        m.train()
        torch.manual_seed(0)
        y = m.drop(x)
        torch.manual_seed(0)
        want = x * torch.nn.functional.dropout(torch.ones(64, 1, 1, 1), 0.25, True)
        assert torch.equal(y, want) and not torch.equal(y, x)


def test_extra_repr_errors(write_spec):
    from test_language import errors

    text = DROP.replace('"p={p}, mode={mode}"', '"p={p}, mode={mod}"')
    assert errors(write_spec(text)) == [("unknown-name", 6, 30)]
    text = ("nnspec: 1\ninputs: {x: [4]}\nblocks:\n  S:\n    base: Sequential\n"
            "    extra_repr: x\n    children: ['Linear(4, 4)']\nmodel:\n  children: {s: S()}\n")
    assert errors(write_spec(text, "seq.yaml")) == [("wrong-type", 6, 17)]


def test_training_cannot_be_assigned(write_spec):
    from test_language import errors

    text = DROP.replace("      - return x * F", "      - training = x\n      - return x * F")
    assert errors(write_spec(text)) == [("name-clash", 8, 9)]


LAYER_NORM_2D = """nnspec: 1
inputs: {x: [8, 5, 5]}
blocks:
  LayerNorm2d:
    base: LayerNorm
    forward:
      - x = x.permute(0, 2, 3, 1)
      - x = F.layer_norm(x, normalized_shape, weight, bias, eps)
      - return x.permute(0, 3, 1, 2)
model:
  children:
    norm: LayerNorm2d(8, eps=1e-6)
    plain: LayerNorm2d(8, bias=False)
  init:
    - {type: LayerNorm, weight: {normal: {std: 0.5}}}
  forward:
    - return plain(norm(x))
"""


def test_block_on_a_layer_is_a_subclass(write_spec, tmp_path):
    """`base: LayerNorm`: the class subclasses nn.LayerNorm (torch's __init__, parameters and
    printing), its forward reads the layer's attributes and tensors, an init rule on LayerNorm
    reaches it (isinstance), and the static pass counts the layer's parameters."""
    from codegen_util import import_file

    path = write_spec(LAYER_NORM_2D)
    file = tmp_path / "ln_generated.py"
    file.write_text(nnspec.generate(path), encoding="utf-8")
    assert "class LayerNorm2d(nn.LayerNorm):" in file.read_text(encoding="utf-8")
    assert nnspec.summary(path)["params"] == 8 + 8 + 8
    x = torch.randn(2, 8, 5, 5)
    for m in (nnspec.build(path), import_file(file, "nnspec_ln_generated").Net()):
        assert isinstance(m.norm, torch.nn.LayerNorm)
        assert str(m.norm) == "LayerNorm2d((8,), eps=1e-06, elementwise_affine=True, bias=True)"
        assert list(m.state_dict()) == ["norm.weight", "norm.bias", "plain.weight"]
        assert not torch.equal(m.norm.weight, torch.ones(8))  # the init rule reached it
        want = x
        for norm in (m.norm, m.plain):
            want = torch.nn.functional.layer_norm(want.permute(0, 2, 3, 1), (8,), norm.weight,
                                                  norm.bias, norm.eps).permute(0, 3, 1, 2)
        torch.testing.assert_close(m(x), want, rtol=0, atol=0)


def test_block_on_a_layer_errors(write_spec):
    from test_language import errors

    text = LAYER_NORM_2D.replace("base: LayerNorm", "base: LayerNorn")
    assert errors(write_spec(text)) == [("unknown-layer", 5, 11)]
    text = LAYER_NORM_2D.replace("    base: LayerNorm\n", "    base: LayerNorm\n"
                                 "    params: {k: 3}\n")
    assert errors(write_spec(text, "params.yaml")) == [("wrong-type", 6, 5)]
    text = LAYER_NORM_2D.replace("LayerNorm2d(8, eps=1e-6)", "LayerNorm2d(0, eps=1e-6)")
    assert errors(write_spec(text, "size.yaml")) == [("bad-value", 12, 23)]
    text = LAYER_NORM_2D.replace("x: [8, 5, 5]", "x: [5, 5, 8]")
    assert errors(write_spec(text, "shape.yaml"))[0][0] == "shape-mismatch"


def test_if_steps_on_values_and_training(write_spec):
    """An `if` step may test sizes read from shapes and `training`; the static pass takes the
    branch Python takes (here the padded one), and a tensor in a condition is an error."""
    text = """nnspec: 1
inputs: {x: [4, 6]}
model:
  params: {multiple: 4}
  forward:
    - pad = (multiple - x.size(2) % multiple) % multiple
    - if: pad > 0 and not training
      then: x = F.pad(x, (0, pad))
    - return x
"""
    path = write_spec(text)
    assert nnspec.summary(path)["outputs"] == [[1, 4, 8]]
    m = nnspec.build(path)
    assert m.eval()(torch.ones(2, 4, 6)).shape == (2, 4, 8)
    assert m.train()(torch.ones(2, 4, 6)).shape == (2, 4, 6)
    assert m.eval()(torch.ones(2, 4, 8)).shape == (2, 4, 8)
    bad = text.replace("pad > 0 and not training", "x")
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.summary(write_spec(bad, "bad.yaml"))
    assert [d.code for d in info.value.diagnostics] == ["type-error"]


def test_training_is_a_forward_flag_only(write_spec):
    """Steps that run while the model is built (a computed buffer) have no training flag."""
    from test_language import errors

    text = """nnspec: 1
inputs: {x: [2]}
model:
  buffers:
    scale:
      compute:
        - return torch.ones(2) if training else torch.zeros(2)
  forward:
    - return x * scale
"""
    assert errors(write_spec(text)) == [("undefined-value", 7, 35)]


def test_every_catalog_layer_can_be_a_base():
    """A block on any torch layer reads the layer's tensors by their state_dict names."""
    from nnspec.catalog import LAYERS

    names = {name: layer.state_names() for name, layer in LAYERS.items()}
    assert names["LayerNorm"] == ["weight", "bias"]
    assert names["BatchNorm2d"] == ["weight", "bias", "running_mean", "running_var",
                                    "num_batches_tracked"]
    assert names["ReLU"] == []


PRINT_NAME = """\
nnspec: 1
inputs: {x: [4]}
blocks:
  Leaf:
    print_name: Tree
    children: {fc: 'Linear(4, 4)'}
  Tree:
    children: {a: Leaf(), b: Leaf()}
  Distil:
    print_name: Transformer
    base: Sequential
    children: [Tree(), ReLU()]
model:
  children: {t: Distil()}
"""


def test_print_name_is_the_name_print_shows(write_spec, tmp_path):
    """Two blocks print as one class, and a block prints as a torch layer's name, in the
    runtime model and in the generated file; the Python classes keep the blocks' names."""
    from codegen_util import import_file

    path = write_spec(PRINT_NAME)
    file = tmp_path / "print_name_generated.py"
    file.write_text(nnspec.generate(path), encoding="utf-8")
    for m in (nnspec.build(path), import_file(file, "nnspec_print_name_generated").Net()):
        assert str(m).splitlines()[1:4] == ["  (t): Transformer(", "    (0): Tree(",
                                            "      (a): Tree("]
        assert [type(c).__name__ for c in (m.t, m.t[0], m.t[0].a)] == ["Distil", "Tree", "Leaf"]
        assert type(m).__name__ == "Net" and str(m).startswith("Net(")


def test_print_name_must_be_an_identifier(write_spec):
    from test_language import errors

    assert errors(write_spec(PRINT_NAME.replace("print_name: Tree", "print_name: 'a tree'"))) \
        == [("bad-name", 5, 18)]
