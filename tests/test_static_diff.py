"""`nnspec diff`: checkpoint layout against real state_dict loading, deltas, exit codes."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT
from static_cli import nnspec as run

import nnspec

GOLDEN = ROOT / "tests" / "golden" / "static"


def test_text_is_the_golden_text():
    result = run("diff", "specs/nin.yaml", "specs/nin_dw.yaml")
    assert result.returncode == 1
    assert result.stdout == (GOLDEN / "nin_vs_nin_dw.diff.txt").read_text(encoding="utf-8")


def test_same_layout_exits_0():
    result = run("diff", "specs/nin_dw.yaml", "specs/nin_dw.yaml", "--set", "expand=1")
    assert result.returncode == 0, result.stderr
    assert "loads into B (strict=True)" in result.stdout


@pytest.mark.parametrize("a, b, sets", [
    ("specs/nin.yaml", "specs/nin_dw.yaml", []),
    ("specs/nin_dw.yaml", None, ["expand=2"]),
    ("specs/nin_dw_x2.yaml", "specs/nin_dw.yaml", []),
])
def test_verdict_matches_load_state_dict(a, b, sets):
    args = [a, *([b] if b else []), *[x for s in sets for x in ("--set", s)]]
    result = run("diff", *args, "--json")
    data = json.loads(result.stdout)
    overrides = dict(s.split("=") for s in sets)
    model_a = nnspec.build(ROOT / a)
    model_b = nnspec.build(ROOT / (b or a), **{k: int(v) for k, v in overrides.items()})
    state = model_a.state_dict()
    theirs = model_b.state_dict()
    assert set(data["added"]) == set(theirs) - set(state)
    assert set(data["removed"]) == set(state) - set(theirs)
    assert set(data["reshaped"]) == {k for k in state if k in theirs
                                     and state[k].shape != theirs[k].shape}
    try:
        model_b.load_state_dict(state, strict=True)
        loads = True
    except RuntimeError:
        loads = False
    assert loads == data["compatible"] == (result.returncode == 0)


def test_non_strict_load_leaves_out_what_diff_says(write_spec):
    base = """nnspec: 1
inputs:
  x: [3, 8, 8]
model:
  params: {head: true}
  children:
    conv: Conv2d(3, 4, 3)
    bn: {call: BatchNorm2d(), if: head}
  forward:
    - x = conv(x)
    - if: head
      then: x = bn(x)
    - return x
"""
    path = write_spec(base)
    result = run("diff", path, "--set", "head=false", "--json")
    data = json.loads(result.stdout)
    assert result.returncode == 1
    assert data["non_strict"] == {"loads": True, "missing": [], "unexpected": [
        "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]}
    smaller = nnspec.build(path, head=False)
    report = smaller.load_state_dict(nnspec.build(path).state_dict(), strict=False)
    assert report.unexpected_keys == data["non_strict"]["unexpected"]
    assert report.missing_keys == data["non_strict"]["missing"]
    text = run("diff", path, "--set", "head=false").stdout
    assert "With strict=False it loads, leaving out 0 key(s) of B" in text
    assert "ignoring 5 key(s) of A" in text


def test_module_deltas():
    data = json.loads(run("diff", "specs/nin_dw.yaml", "--set", "expand=2", "--json").stdout)
    rows = {m["path"]: m for m in data["modules"]}
    assert rows["tnn_bin.2.conv2"]["params"] == [4_160, 8_320]
    assert "tnn_bin.2.conv1" not in rows  # unchanged modules are left out
    assert data["params"] == [1_559_198, 3_113_310]


def test_usage_errors():
    assert run("diff", "specs/nin.yaml").returncode == 2
    assert run("diff", "specs/nin.yaml", "nope.yaml").returncode == 2
