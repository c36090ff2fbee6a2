"""`nnspec import module`: live models to specs with their traced forward; each import is
checked here independently of the importer's own checks: same tree, strict state_dict load,
identical outputs."""

from __future__ import annotations

import pytest
import torch
from conftest import SEED_SPECS, SPECS, seed_trees, strip_bn_bias
from reference.mobilenet import mobilenet_v2
from reference.nin import REFERENCES
from reference.resnet import resnet
from test_import_tree import build_text, run_cli, spec_lines
from torch import nn

from nnspec.importers.live import import_model

SHAPES = {"nin": [3, 32, 32], "nin_dw": [3, 32, 32], "nin_dw_x2": [3, 32, 32],
          "resnet": [3, 64, 64], "mobilenet_v2": [3, 64, 64]}
FACTORIES = {**REFERENCES, "resnet": resnet, "mobilenet_v2": mobilenet_v2}


def randomise_bn_stats(model: nn.Module) -> None:
    """Non-trivial running statistics, so eval mode is a real check."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)


def assert_same_model(original: nn.Module, text: str, shape: list[int], tmp_path) -> nn.Module:
    rebuilt = build_text(text, tmp_path)
    assert str(rebuilt) == str(original)
    rebuilt.load_state_dict(original.state_dict(), strict=True)
    x = torch.randn(2, *shape)
    for mode in ("eval", "train"):
        getattr(original, mode)()
        getattr(rebuilt, mode)()
        with torch.no_grad():
            assert torch.equal(rebuilt(x.clone()), original(x.clone())), mode
    return rebuilt


@pytest.mark.parametrize("name", list(FACTORIES))
def test_reference_model_round_trips(name, tmp_path):
    torch.manual_seed(0)
    original = FACTORIES[name]()
    randomise_bn_stats(original)
    result = import_model(original, name, {"x": SHAPES[name]})
    assert result.warnings == []
    assert "forward: unknown" not in result.text
    assert_same_model(original, result.text, SHAPES[name], tmp_path)


@pytest.mark.parametrize("name", SEED_SPECS)
def test_seed_import_prints_the_seed_tree(name, tmp_path):
    text = import_model(REFERENCES[name](), name, {"x": [3, 32, 32]}).text
    assert strip_bn_bias(str(build_text(text, tmp_path))) + "\n" == seed_trees()[name]


@pytest.mark.parametrize("name", SEED_SPECS)
def test_seed_import_is_at_most_one_and_a_half_times_the_hand_written_spec(name):
    imported = import_model(REFERENCES[name](), name, {"x": [3, 32, 32]}).text
    hand = (SPECS / f"{name}.yaml").read_text(encoding="utf-8")
    if "extends:" in hand:
        hand += (SPECS / "nin_dw.yaml").read_text(encoding="utf-8")
    assert len(imported.splitlines()) <= 1.5 * len(hand.splitlines())
    assert spec_lines(imported) <= 1.5 * spec_lines(hand)


def test_instances_whose_forward_differs_stay_one_block_with_a_condition():
    text = import_model(REFERENCES["nin"](), "nin", {"x": [3, 32, 32]}).text
    assert text.count("FP_Conv2d:") == 1
    # the reference's own attribute `first` tells the one instance with a pre-ReLU apart
    assert "params: {in_channels: int, out_channels: int, kernel_size: 1, first: false}" in text
    assert "    forward:\n      - if: first\n        then: x = relu(x)\n      - x = conv(x)\n" \
        in text
    assert "- FP_Conv2d(32, 64, first=True)\n" in text


def test_optional_child_and_its_forward_share_one_condition():
    text = import_model(resnet(), "resnet", {"x": [3, 64, 64]}).text
    assert text.count("BasicBlock:") == 1
    assert "      downsample:\n        if: with_downsample\n" in text
    assert "      - if: with_downsample\n        then: x = downsample(x)\n" \
        "      - out = relu(out + x)\n      - return out\n" in text


def test_forwards_returning_differently_share_the_return():
    text = import_model(mobilenet_v2(), "mobilenet_v2", {"x": [3, 64, 64]}).text
    assert "      - if: use_res_connect\n        then:\n          - out = conv(x)\n" \
        "          - y = x + out\n        else: y = conv(x)\n      - return y\n" in text
    assert "  ConvBNReLU:\n    base: Sequential\n" in text  # nn.Sequential's own forward


class Variant(nn.Module):
    def __init__(self, mode: int):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self._mode = mode  # private: no attribute names the variants

    def forward(self, x):
        x = self.fc(x)
        if self._mode == 0:
            x = x * 2
        elif self._mode == 1:
            x = x + 1
        else:
            x = torch.relu(x)
        return x.sum(1)


class Variants(nn.Module):
    def __init__(self, modes):
        super().__init__()
        self.a, self.b, self.c = (Variant(m) for m in modes)

    def forward(self, x):
        return self.a(x), self.b(x) - self.c(x)


@pytest.mark.parametrize("modes, condition", [((0, 1, 2), "variant == 0"),
                                              ((0, 1, 1), "alt_forward")])
def test_variants_without_a_telling_attribute_get_a_parameter(modes, condition, tmp_path):
    original = Variants(modes)
    text = import_model(original, "variants", {"x": [4]}).text
    assert text.count("Variant:") == 1
    assert f"      - if: {condition}\n" in text
    rebuilt = build_text(text, tmp_path)
    rebuilt.load_state_dict(original.state_dict(), strict=True)
    x = torch.randn(3, 4)
    for ours, theirs in zip(rebuilt(x), original(x)):
        assert torch.equal(ours, theirs)


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class Functional(nn.Module):
    """Two inputs, two outputs, and the functional ops between children."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.act = nn.Linear(8, 8), nn.Linear(4, 4), Swish()

    def forward(self, x, y):
        h = nn.functional.relu(self.a(x))
        p, q = h.chunk(2, dim=1)
        z = torch.cat([p, self.b(q)], dim=1)
        out = self.act(z).reshape(x.shape[0], -1)[:, 1:]
        return out.mean(dim=1, keepdim=True), y + 1


def test_functional_ops_between_children(tmp_path):
    original = Functional()
    text = import_model(original, "functional", {"x": [8], "y": [3]}).text
    assert "inputs:\n  x: [8]\n  y: [3]\n" in text
    assert "  Swish:\n    forward:\n      - return x * torch.sigmoid(x)\n" in text
    rebuilt = build_text(text, tmp_path)
    rebuilt.load_state_dict(original.state_dict(), strict=True)
    x, y = torch.randn(2, 8), torch.randn(2, 3)
    for ours, theirs in zip(rebuilt(x, y), original(x, y)):
        assert torch.equal(ours, theirs)


def test_initialisation_is_said_to_be_unrecoverable():
    text = import_model(resnet(), "resnet", {"x": [3, 64, 64]}).text
    assert "# Initialisation the code applies (weights set in __init__ or later) cannot be " \
        "recovered\n" in text


# --- what cannot be traced ----------------------------------------------------------------------


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:  # data-dependent: fx cannot trace it
            return self.fc(x)
        return x


class Peek(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Sequential(nn.Linear(4, 4)))

    def forward(self, x):
        return self.inner[0][0](x)  # an item of an item


class Cumulative(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.logcumsumexp(self.fc(x), 1)  # not among nnspec's ops


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.ones(4))

    def forward(self, x):
        return self.fc(x) * self.scale


class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate, self.peek, self.cumulative = Gate(), Peek(), Cumulative()

    def forward(self, x):
        return self.cumulative(self.peek(self.gate(x)))


def test_untraceable_classes_are_reported_with_the_reason(tmp_path):
    result = import_model(Outer(), "outer", {"x": [4]})
    assert result.warnings[0].startswith(
        "Gate: torch.fx cannot trace it: symbolically traced variables cannot be used as "
        "inputs to control flow; torch.export cannot trace it either: Could not guard on "
        "data-dependent expression")
    assert result.warnings[1:] == [  # Peek's call of an item of an item: traced
        "Cumulative: forward calls torch.logcumsumexp, which is not among nnspec's ops; "
        "torch.export traced it, but aten.logcumsumexp has no spelling among nnspec's ops",
    ]
    text = result.text
    assert "# Forward unknown: Gate: torch.fx cannot trace it" in text
    assert text.count("forward: unknown") == 2
    assert "forward:\n      - x = inner[0][0](x)\n      - return x\n" in text
    assert "  forward:\n    - x = gate(x)\n    - x = peek(x)\n    - x = cumulative(x)\n" in text
    rebuilt = build_text(text, tmp_path)
    with pytest.raises(NotImplementedError, match="^Gate: forward is unknown"):
        rebuilt(torch.randn(1, 4))


def test_parameters_held_outside_layers_import_as_the_class_s_own(tmp_path):
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = Scale()

        def forward(self, x):
            return self.scale(x)

    model = Holder()
    with torch.no_grad():
        model.scale.scale.uniform_()
    text = import_model(model, "holder", {"x": [4]}).text
    assert "    parameters:  # init unknown where zeros: the state_dict holds the values\n" \
        "      scale: {shape: [4], init: zeros}\n" in text
    rebuilt = build_text(text, tmp_path)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    assert torch.equal(rebuilt.scale.scale, model.scale.scale)


# --- the command --------------------------------------------------------------------------------


def test_cli_imports_a_factory_with_arguments(tmp_path):
    out = tmp_path / "resnet.yaml"
    result = run_cli("import", "module", "tests.reference.resnet:resnet", "--args",
                     "widths=[4, 8, 16, 32]", "num_classes=3", "--input", "x=3,64,64",
                     "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    torch.manual_seed(0)
    original = resnet(widths=[4, 8, 16, 32], num_classes=3)
    randomise_bn_stats(original)
    assert_same_model(original, out.read_text(encoding="utf-8"), [3, 64, 64], tmp_path)


def test_cli_reports_what_it_cannot_import():
    result = run_cli("import", "module", "tests.reference.nowhere:net")
    assert result.returncode == 2
    assert result.stderr == "nnspec: error: cannot import tests.reference.nowhere:net: No " \
        "module named 'tests.reference.nowhere'\n"
    result = run_cli("import", "module", "tests.reference.resnet")
    assert result.returncode == 2
    assert "expected MODULE:FACTORY" in result.stderr
