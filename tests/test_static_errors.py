"""Shape errors are compile-time errors: positioned at the consumer, with a note at the
producer, reported by `load` and by `nnspec validate` (exit 1)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

import nnspec
from nnspec.diagnostics import SpecError


def errors(path: str) -> list:
    with pytest.raises(SpecError) as info:
        nnspec.load(path)
    return info.value.diagnostics


def one(path: str):
    found = errors(path)
    assert len(found) == 1, [d.render() for d in found]
    return found[0]


def spec(body: str, inputs: str = "x: [3, 32, 32]") -> str:
    return f"nnspec: 1\ninputs:\n  {inputs}\n{body}"


def test_batchnorm_width_mismatch_names_both_positions(write_spec):
    path = write_spec(spec("""model:
  children:
    body:
      - Conv2d(3, 128, 3, padding=1)
      - BatchNorm2d(64)
"""))
    d = one(path)
    assert (d.code, d.pos.line, d.pos.col, d.pos.length) == ("shape-mismatch", 8, 21, 2)
    assert "num_features=64" in d.message and "[1, 128, 32, 32] has 128 in dim 1" in d.message
    assert d.notes[0] == f"{path}:7:9: [1, 128, 32, 32] is produced here"
    assert "in module 'body.1'" in d.notes


def test_mismatch_inside_a_block_points_into_the_block(write_spec):
    path = write_spec(spec("""blocks:
  B:
    params: {c: int}
    children:
      conv: Conv2d(3, c, 3)
      lin: Linear(c, 10)
model:
  children:
    b: B(8)
"""))
    d = one(path)
    assert (d.code, d.pos.line, d.pos.col) == ("shape-mismatch", 9, 19)
    assert "[1, 8, 30, 30] has 30 in dim 3" in d.message
    assert f"{path}:8:13: [1, 8, 30, 30] is produced here" in d.notes
    assert "in module 'b.lin'" in d.notes


def test_kernel_larger_than_its_input_collapses(write_spec):
    path = write_spec(spec("""model:
  children:
    body:
      - Conv2d(3, 8, 3)
      - MaxPool2d(4)
      - Conv2d(8, 8, 9)
""", "x: [3, 16, 16]"))
    d = one(path)
    assert (d.code, d.pos.line) == ("spatial-collapse", 9)
    assert "[1, 8, 3, 3] into [1, 8, -5, -5]" in d.message


@pytest.mark.parametrize("layer, inputs, message", [
    ("MaxPool2d(9)", "x: [3, 8, 8]", "MaxPool2d turns its input [1, 3, 8, 8] into [1, 3, 0, 0]"),
    ("ZeroPad2d(-4)", "x: [3, 8, 8]", "ZeroPad2d turns its input [1, 3, 8, 8] into "
     "[1, 3, 0, 0]"),
    ("Upsample(scale_factor=0.1)", "x: [3, 8, 8]", "Upsample turns its input [1, 3, 8, 8] "
     "into [1, 3, 0, 0]"),
    ("AvgPool3d(9)", "x: [3, 8, 8, 8]", "AvgPool3d's input [1, 3, 8, 8, 8] is smaller than "
     "its kernel"),
])
def test_every_layer_too_big_for_its_input_is_a_spatial_collapse(write_spec, layer, inputs,
                                                                   message):
    """Whether the catalog's shape rule or the check on its output finds it: one code."""
    d = one(write_spec(spec(f"model:\n  children:\n    a: {layer}\n", inputs)))
    assert (d.code, d.pos.line, d.pos.col) == ("spatial-collapse", 6, 8)
    assert d.message.startswith(message), d.message


def test_add_of_different_shapes(write_spec):
    path = write_spec(spec("""model:
  children:
    a: Conv2d(3, 8, 3)
    b: Conv2d(3, 8, 1)
  forward:
    - y = a(x) + b(x)
    - return y
"""))
    d = one(path)
    assert (d.code, d.pos.line, d.pos.col) == ("shape-mismatch", 9, 11)
    assert "[1, 8, 30, 30] and [1, 8, 32, 32] cannot be combined" in d.message
    assert d.notes[:2] == (f"{path}:6:8: [1, 8, 30, 30] is produced here",
                           f"{path}:7:8: [1, 8, 32, 32] is produced here")


def test_cat_along_a_mismatched_dimension(write_spec):
    path = write_spec(spec("""model:
  children:
    a: Conv2d(3, 8, 3)
    b: Conv2d(3, 4, 1)
  forward:
    - u = a(x)
    - v = b(x)
    - return torch.cat([u, v], 1)
"""))
    d = one(path)
    assert (d.code, d.pos.line, d.pos.col) == ("shape-mismatch", 11, 14)
    assert "cat along dim 1: [1, 8, 30, 30] and [1, 4, 32, 32] differ in dim 2" in d.message
    assert len(d.notes) == 2


@pytest.mark.parametrize("step, code, text", [
    ("return x.view(1, 10)", "shape-mismatch", "cannot view [1, 3, 32, 32] (3072 elements)"),
    ("return x.view_as(x[:, :2])", "shape-mismatch", "cannot view [1, 3, 32, 32] (3072 elem"),
    ("return x.expand_as(x[:, :2])", "shape-mismatch", "cannot expand [1, 3, 32, 32]"),
    ("return x.reshape_as(4)", "bad-op-argument", "reshape_as() takes a tensor"),
    ("return x.chunk(0)", "bad-op-argument", "positive number of chunks"),
    ("return x.view(dims=3)", "bad-op-argument", "view(): got an unexpected keyword"),
    ("return torch.cat([x, x], 4)", "bad-dim", "dim 4 is out of range"),
    ("return x.flatten(2) @ x.flatten(2)", "shape-mismatch", "inner sizes 1024 and 3 differ"),
    ("a, b = x.chunk(3, 1)", "bad-unpack", "cannot unpack 3 value(s) into 2 names"),
    ("x += x.mean(2)", "shape-mismatch", "cannot be combined"),
    ("x += x.unsqueeze(0)", "shape-mismatch", "in-place update of [1, 3, 32, 32] would make"),
])
def test_op_errors(write_spec, step, code, text):
    path = write_spec(spec(f"""model:
  forward:
    - {step}
    - return x
"""))
    d = errors(path)[0]
    assert (d.code, d.pos.line) == (code, 6)
    assert text in d.message


def test_rank_mismatch(write_spec):
    path = write_spec(spec("""model:
  children:
    lin: Linear(3, 4)
    conv: Conv2d(4, 4, 1)
  forward:
    - return conv(lin(x.flatten(1)[:, :3]))
"""))
    d = one(path)
    assert d.code == "shape-mismatch"
    assert "Conv2d takes a 3-d or 4-d input (batch included), got [1, 4]" in d.message


def test_inferred_argument_is_checked_too(write_spec):
    path = write_spec(spec("""model:
  children:
    body:
      - Conv2d(3, 6, 1)
      - Conv2d(out_channels=8, kernel_size=3, groups=4)
"""))
    d = one(path)
    assert d.code == "bad-value" and "groups=4 does not divide in_channels=6" in d.message


def test_block_fed_with_different_widths_cannot_infer(write_spec):
    path = write_spec(spec("""blocks:
  B:
    children:
      conv: Conv2d(out_channels=8, kernel_size=1)
model:
  children:
    body:
      - Conv2d(3, 16, 1)
      - B()
      - B()
"""))
    d = one(path)
    assert (d.code, d.pos.line, d.pos.col) == ("cannot-infer", 7, 13)
    assert "16 in 'body.1.conv', 8 in 'body.2.conv'" in d.message
    assert "pass in_channels explicitly" in d.hint


def test_unused_layer_with_omitted_argument(write_spec):
    path = write_spec(spec("""model:
  children:
    a: Conv2d(3, 8, 1)
    b: BatchNorm2d()
  forward:
    - return a(x)
"""))
    d = one(path)
    assert (d.code, d.pos.line) == ("cannot-infer", 7)


def test_missing_argument_that_cannot_be_inferred_is_still_an_error(write_spec):
    path = write_spec(spec("""model:
  children:
    a: Conv2d(3, kernel_size=1)
"""))
    assert errors(path)[0].code == "missing-argument"


def test_validate_reports_shape_errors(write_spec):
    path = write_spec(spec("""model:
  children:
    body:
      - Conv2d(3, 128, 3, padding=1)
      - BatchNorm2d(64)
"""))
    run = subprocess.run([sys.executable, "-m", "nnspec", "validate", path], cwd=ROOT,
                         capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    assert run.returncode == 1
    assert f"{path}:8:21: error[shape-mismatch]" in run.stderr
    assert f"note: {path}:7:9: [1, 128, 32, 32] is produced here" in run.stderr
