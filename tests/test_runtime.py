"""The runtime backend: real nn.Module classes named as the spec names them, which copy,
pickle, save and load like hand-written ones, build on the meta device without allocating,
and show their generated source in tracebacks and `inspect`."""

from __future__ import annotations

import copy
import inspect
import os
import pickle
import subprocess
import sys
import traceback

import pytest
import torch
from conftest import ROOT, SPECS

import nnspec

NIN = SPECS / "nin.yaml"


@pytest.fixture(scope="module")
def nin():
    torch.manual_seed(0)
    return nnspec.build(NIN).eval()


@pytest.fixture(scope="module")
def x():
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def outputs(model, x):
    with torch.no_grad():
        return model(x.clone())


def test_classes_are_named_as_in_the_spec(nin):
    assert type(nin).__name__ == "Net"
    assert type(nin.tnn_bin[2]).__name__ == "FP_Conv2d"
    assert type(nin.tnn_bin[2]) is type(nin.tnn_bin[3])
    assert type(nin.tnn_bin).__name__ == "Sequential"
    assert type(nin.tnn_bin[0]) is torch.nn.Conv2d
    assert isinstance(nin, torch.nn.Module)


def test_classes_are_shared_between_builds_of_one_spec(nin):
    again = nnspec.build(NIN)
    assert type(again) is type(nin)
    assert type(nnspec.build(SPECS / "nin_dw.yaml")) is not type(nin)


def test_deepcopy_is_equal_and_independent(nin, x):
    clone = copy.deepcopy(nin)
    assert type(clone) is type(nin) and str(clone) == str(nin)
    assert torch.equal(outputs(clone, x), outputs(nin, x))
    before = nin.tnn_bin[0].weight.clone()
    with torch.no_grad():
        clone.tnn_bin[0].weight.add_(1)
    assert torch.equal(nin.tnn_bin[0].weight, before)
    assert clone.tnn_bin[2].pre_relu is True


def test_state_dict_round_trip(nin, x, tmp_path):
    torch.save(nin.state_dict(), tmp_path / "weights.pt")
    torch.manual_seed(99)
    fresh = nnspec.build(NIN).eval()
    assert not torch.equal(outputs(fresh, x), outputs(nin, x))
    fresh.load_state_dict(torch.load(tmp_path / "weights.pt"), strict=True)
    assert torch.equal(outputs(fresh, x), outputs(nin, x))


def test_pickle_round_trip_in_process(nin, x):
    back = pickle.loads(pickle.dumps(nin))
    assert type(back) is type(nin)
    assert torch.equal(outputs(back, x), outputs(nin, x))
    block = pickle.loads(pickle.dumps(nin.tnn_bin[2]))
    assert type(block).__name__ == "FP_Conv2d" and block.pre_relu is True


LOADER = """
import pickle, sys, torch
x, expected = torch.load(sys.argv[3])
for model in (torch.load(sys.argv[1], weights_only=False), pickle.load(open(sys.argv[2], "rb"))):
    with torch.no_grad():
        assert torch.equal(model(x), expected), "outputs differ"
    print(type(model).__name__, type(model.body[0]).__name__, model.training)
"""

SMALL = """\
nnspec: 1
inputs:
  x: [3, 8, 8]
blocks:
  Unit:
    params: {cin: int, cout: int, act: true}
    children:
      conv: Conv2d(cin, cout, 3, padding=1)
      bn: BatchNorm2d(cout)
      relu: ReLU()
    forward:
      - x = bn(conv(x))
      - if: act
        then: x = relu(x)
      - return x
model:
  name: Small
  params: {width: 4}
  children:
    body:
      - Unit(3, width)
      - Unit(width, 2 * width, act=False)
    pool: AvgPool2d(8)
  forward:
    - return pool(body(x)).flatten(1)
"""


def test_save_and_pickle_load_in_a_new_process(tmp_path, write_spec):
    """A fresh interpreter rebuilds the classes from the resolved spec kept in the pickle:
    the spec file itself is gone by then, and a --set style override is kept."""
    spec = write_spec(SMALL, "small.yaml")
    torch.manual_seed(3)
    model = nnspec.build(spec, width=6).eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = model(x)
    torch.save(model, tmp_path / "model.pt")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    torch.save((x, expected), tmp_path / "io.pt")
    os.remove(spec)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", LOADER, str(tmp_path / "model.pt"),
                           str(tmp_path / "model.pkl"), str(tmp_path / "io.pt")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["Small Unit False", "Small Unit False"]


def test_meta_device_allocates_nothing(write_spec):
    """10^10 parameters (40 GB in float32) build on the meta device: the parameter budget
    guards memory, which meta does not use, while building for real is refused."""
    path = write_spec("nnspec: 1\ninputs:\n  x: [100000]\nmodel:\n  children:\n"
                      "    fc: Linear(100000, 100000)\n")
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.build(path)
    assert info.value.diagnostics[0].code == "too-many-params"
    model = nnspec.build(path, device="meta")
    assert sum(p.numel() for p in model.parameters()) == 100_000 * 100_000 + 100_000
    assert {p.device.type for p in model.parameters()} == {"meta"}


def test_meta_device_keeps_buffers_on_meta():
    model = nnspec.build(NIN, device="meta")
    assert {t.device.type for t in model.state_dict().values()} == {"meta"}
    assert str(model) == str(nnspec.build(NIN))


@pytest.mark.parametrize("dtype", [torch.float64, "float64", "torch.float64"])
def test_dtype(dtype, x):
    model = nnspec.build(NIN, dtype=dtype).eval()
    assert {t.dtype for t in model.parameters()} == {torch.float64}
    assert model.tnn_bin[1].running_var.dtype == torch.float64
    if dtype is torch.float64:
        assert outputs(model, x.double()).dtype == torch.float64


def test_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="unknown dtype 'float65'"):
        nnspec.build(NIN, dtype="float65")


def test_inspect_shows_the_generated_source(nin):
    source = inspect.getsource(type(nin))
    assert source.startswith("class Net(nn.Module):\n")
    assert "self.tnn_bin = nn.Sequential(" in source
    assert source in nnspec.generate(NIN)
    block = inspect.getsource(type(nin.tnn_bin[2]).forward)
    assert "if self.pre_relu:\n            x = self.relu(x)" in block


def test_traceback_shows_the_generated_line(write_spec):
    path = write_spec("nnspec: 1\ninputs:\n  x: [5]\nblocks:\n  Inner:\n    children:\n"
                      "      fc: Linear(5, 4)\n    forward:\n      - y = fc(x)\n"
                      "      - return y\nmodel:\n  children:\n    inner: Inner()\n")
    model = nnspec.build(path)
    with pytest.raises(RuntimeError) as info:  # an input of the wrong width, at call time
        model(torch.randn(2, 4))
    text = "".join(traceback.format_exception(info.value))
    assert "in forward\n    y = self.fc(x)\n" in text
    assert "in forward\n    x = self.inner(x)\n" in text
    assert path in text  # the generated module's file name names the spec
