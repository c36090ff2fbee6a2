"""`nnspec summary` and `nnspec.summary`: tables, totals, comparison, JSON, --input."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, SPECS, spec_files
from static_cli import nnspec as run

import nnspec
from nnspec.static.text import abbreviated

GOLDEN = ROOT / "tests" / "golden" / "static"


def test_table_is_the_golden_text():
    result = run("summary", "specs/nin.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (GOLDEN / "nin_summary.txt").read_text(encoding="utf-8")


def test_several_specs_are_compared_side_by_side():
    result = run("summary", "specs/nin.yaml", "specs/nin_dw.yaml", "specs/nin_dw_x2.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith((GOLDEN / "nin_compare.txt").read_text(encoding="utf-8"))
    assert result.stdout.count("\nparams:  ") == 3


def test_json_is_one_object_per_spec_in_the_order_given():
    paths = ["specs/nin_dw_x2.yaml", "specs/nin.yaml"]
    result = run("summary", *paths, "--json")
    data = json.loads(result.stdout)
    assert [d["spec"] for d in data] == paths
    for d in data:
        assert {"spec", "params", "macs", "flops", "inputs", "outputs", "layers"} <= set(d)
        assert d["flops"] == 2 * d["macs"]
        assert all(isinstance(d[k], int) for k in ("params", "macs", "flops"))
        assert {"path", "type", "output", "params", "macs"} <= set(d["layers"][0])
    assert data[1]["params"] == 2_684_702
    assert data[1]["inputs"] == {"x": [1, 3, 32, 32]} and data[1]["outputs"] == [[1, 10]]
    assert data[1]["layers"][2] == {"path": "tnn_bin.1", "type": "BatchNorm2d",
                                    "output": [1, 32, 32, 32], "dtype": "float32",
                                    "params": 64, "macs": 0, "calls": 1}


@pytest.mark.parametrize("path", spec_files(), ids=lambda p: p.stem)
def test_api_returns_what_json_prints(path):
    rel = str(path.relative_to(ROOT))
    printed = json.loads(run("summary", rel, "--json").stdout)[0]
    assert nnspec.summary(rel) == printed
    assert sum(row["macs"] for row in printed["layers"] if "." not in row["path"]) \
        <= printed["macs"]


def test_input_override_changes_shapes_and_macs():
    base = nnspec.summary(SPECS / "nin.yaml")
    # NIN's final AvgPool2d(8) would give 2x2 on 64x64, which the view to [1, 10] refuses
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.summary(SPECS / "nin.yaml", inputs={"x": (3, 64, 64)})
    assert info.value.diagnostics[0].code == "shape-mismatch"
    small = nnspec.summary(SPECS / "nin.yaml", inputs={"": (3, 30, 30)})
    assert small["inputs"] == {"x": [1, 3, 30, 30]}
    assert small["params"] == base["params"] and small["macs"] < base["macs"]


def test_input_override_on_the_command_line():
    result = run("summary", "specs/nin.yaml", "--input", "x=3,30,30", "--json")
    assert json.loads(result.stdout)[0]["inputs"] == {"x": [1, 3, 30, 30]}
    bad = run("summary", "specs/nin.yaml", "--input", "3,a")
    assert bad.returncode == 2 and "--input 3,a" in bad.stderr
    unknown = run("summary", "specs/nin.yaml", "--input", "y=3,8,8")
    assert unknown.returncode == 2 and "has no input 'y'" in unknown.stderr


def test_set_overrides_apply():
    doubled = json.loads(run("summary", "specs/nin_dw.yaml", "--set", "expand=2",
                             "--json").stdout)[0]
    assert doubled["params"] == 3_113_310


def test_invalid_spec_exits_1(write_spec):
    path = write_spec("nnspec: 1\ninputs:\n  x: [3, 8, 8]\nmodel:\n  children:\n"
                      "    a: Conv2d(3, 4, 9)\n")
    result = run("summary", path)
    assert result.returncode == 1 and "error[spatial-collapse]" in result.stderr


@pytest.mark.parametrize("n, text", [(0, "0"), (999, "999"), (2_684_702, "2.68M"),
                                     (365_920_256, "366M"), (12_345_678_901, "12.3G")])
def test_abbreviated_suffix(n, text):
    assert abbreviated(n) == text


def test_dtypes_other_than_float32_are_shown():
    """Integer token ids and integer outputs name their dtype; float32 stays implicit, so the
    tables of float models read as before."""
    result = run("summary", "tests/specs/static/tokens.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (GOLDEN / "tokens_summary.txt").read_text(encoding="utf-8")
    assert "inputs:  idx [1, 16] int64\n" in result.stdout
    data = json.loads(run("summary", "tests/specs/static/tokens.yaml", "--json").stdout)[0]
    assert data["input_dtypes"] == {"idx": "int64"}
    rows = {row["path"]: row["dtype"] for row in data["layers"]}
    assert (rows["wte"], rows["keep"]) == ("float32", "int64")
