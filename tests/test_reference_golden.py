"""The specs that reproduce torchvision models (specs/resnet18.yaml, resnet50.yaml,
mobilenet_v2.yaml, vit_b_16.yaml) against data recorded from real torchvision, and against the
hand-written references in tests/reference/ where torchvision has behaviour the data does not
show (width multipliers).

tests/golden/torchvision/ was recorded with torchvision 0.29.1 / torch 2.14.1
(tools/record_torchvision_golden.py): printed tree, state_dict, parameter count, output with
fixed weights, FLOPs, and the weights from `torch.manual_seed(0)`.

Seeded init is compared by sha256 of every tensor's bytes. That needs the CPU generator to give
the same stream in the torch running the tests as in torch 2.14.1, and the spec to draw in
torchvision's order: each module's default init at construction, then the init loop in
`modules()` order. Both hold for torch 2.13.0 (bit-identical); `sum` and `first` are printed
on failure to tell a shifted stream (all random tensors differ) from a wrong init rule.
"""

from __future__ import annotations

import copy
import ctypes
import hashlib
import json
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from golden.fixed_weights import fill_fixed_, fixed_input
from reference import torchvision_models as tv
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import nnspec

GOLDEN = ROOT / "tests" / "golden" / "torchvision"
MODELS = ["resnet18", "resnet50", "mobilenet_v2", "vit_b_16"]
PARAMS = {"resnet18": 11_689_512, "resnet50": 25_557_032, "mobilenet_v2": 3_504_872,
          "vit_b_16": 86_567_656}


def golden(name: str, file: str) -> Path:
    return GOLDEN / name / file


def from_spec(name: str, **params) -> torch.nn.Module:
    return nnspec.build(ROOT / "specs" / f"{name}.yaml", **params)


def seeded(name: str, **kwargs) -> torch.nn.Module:
    """The spec's model built right after `torch.manual_seed(0)`, leaving the global RNG as it
    was."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return from_spec(name, **kwargs)


@pytest.fixture(scope="module", params=MODELS)
def model(request) -> tuple[str, torch.nn.Module]:
    """Each model built once per module (resnet50 and vit_b_16 take a while); tests must not
    mutate it."""
    return request.param, seeded(request.param)


def tensor_sha256(t: torch.Tensor) -> str:
    """sha256 of the tensor's raw bytes, as the recorder's `numpy().tobytes()` (torch has no
    numpy here, so the bytes are read from the data pointer)."""
    t = t.detach().contiguous().cpu()
    return hashlib.sha256(ctypes.string_at(t.data_ptr(), t.numel() * t.element_size())).hexdigest()


def state_dict_lines(model: torch.nn.Module) -> list[str]:
    return [f"{key}\t{','.join(str(d) for d in t.shape)}\t{str(t.dtype).removeprefix('torch.')}"
            for key, t in model.state_dict().items()]


def init_mismatches(model: torch.nn.Module, name: str) -> list[str]:
    """Every state_dict entry whose bytes differ from the recorded seeded init, with its
    sum and first values beside the recorded ones."""
    recorded = json.loads(golden(name, "init_seed0.json").read_text(encoding="utf-8"))["tensors"]
    assert list(recorded) == list(model.state_dict())
    out = []
    for key, t in model.state_dict().items():
        want = recorded[key]
        if tensor_sha256(t) != want["sha256"]:
            first = [float(v) for v in t.flatten()[:4].tolist()]
            out.append(f"{key}: sum {float(t.double().sum())} vs {want['sum']}, "
                       f"first {first} vs {want['first']}")
    return out


def test_printed_tree(model):
    name, m = model
    assert str(m) + "\n" == golden(name, "tree.txt").read_text(encoding="utf-8")


def test_state_dict_layout(model):
    name, m = model
    assert state_dict_lines(m) == golden(name, "state_dict.txt").read_text(
        encoding="utf-8").splitlines()


def test_parameter_count(model):
    name, m = model
    recorded = json.loads(golden(name, "init_seed0.json").read_text(encoding="utf-8"))["params"]
    assert sum(p.numel() for p in m.parameters()) == PARAMS[name] == recorded


def test_seeded_init_is_bit_identical(model):
    name, m = model
    assert init_mismatches(m, name) == []


def test_other_seed_gives_other_init():
    """The init check can fail: seed 1 changes every randomly initialised tensor."""
    with torch.random.fork_rng():
        torch.manual_seed(1)
        m = from_spec("resnet18")
    wrong = init_mismatches(m, "resnet18")
    # 20 convolutions, fc.weight and fc.bias; BatchNorm entries are constants
    assert len(wrong) == 22


@pytest.mark.parametrize("name, block_bn", [("resnet18", "bn2"), ("resnet50", "bn3")])
def test_zero_init_residual(name, block_bn):
    """zero_init_residual zeroes the last BN scale of each block and draws nothing extra."""
    m = seeded(name, zero_init_residual=True)
    zeroed = {f"{n}.{block_bn}.weight" for n, mod in m.named_modules()
              if type(mod).__name__ in ("BasicBlock", "Bottleneck")}
    assert zeroed and all(m.state_dict()[k].eq(0).all() for k in zeroed)
    wrong = {line.split(":")[0] for line in init_mismatches(m, name)}
    assert wrong == zeroed


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


def count_flops(m: torch.nn.Module, input_shape: list[int]) -> tuple[int, dict[str, int]]:
    """FlopCounterMode totals of one forward on the meta device (no arithmetic), attention on
    the MATH SDPA backend: its bmm ops are counted, where the CPU flash kernel is not (see
    tools/record_torchvision_golden.py). Models without attention count the same either way."""
    counter = FlopCounterMode(display=False)
    with sdpa_kernel([SDPBackend.MATH]), counter:
        m(torch.zeros(input_shape, device="meta"))
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    return counter.get_total_flops(), by_op


@pytest.mark.parametrize("name", MODELS)
def test_flops_224(name):
    """Built on the meta device, the specs' models match the recorded MATH-backend totals per
    op."""
    recorded = json.loads(golden(name, "flops_224.json").read_text(encoding="utf-8"))
    m = nnspec.build(ROOT / "specs" / f"{name}.yaml", device="meta").eval()
    assert count_flops(m, recorded["input_shape"]) == (
        recorded["flops_sdpa_math"], recorded["flops_by_op_sdpa_math"])


@pytest.mark.parametrize("width_mult", [0.35, 0.5, 0.75, 1.0, 1.4])
def test_mobilenet_v2_width_mult_is_torchvisions(width_mult):
    """width_mult goes through _make_divisible (rounding up where rounding down would lose more
    than 10%); the last channel never shrinks below 1280. The recorded data is at 1.0 only, so
    the other widths are compared with the reference (at 1.0 too, which ties the reference to
    the recorded data): same tree and state_dict layout."""
    with torch.device("meta"):
        reference = tv.mobilenet_v2(width_mult=width_mult)
    m = from_spec("mobilenet_v2", width_mult=width_mult, device="meta")
    assert str(m) == str(reference)
    assert state_dict_lines(m) == state_dict_lines(reference)
    assert m.classifier[1].in_features == max(1280, tv._make_divisible(1280 * width_mult, 8))
