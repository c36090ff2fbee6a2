"""The JSON Schema for editors: committed copy up to date, every spec in specs/ valid against it
and carrying the modeline, and bad specs rejected."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from conftest import ROOT, spec_files

from nnspec.catalog import LAYERS
from nnspec.cli.main import main
from nnspec.frontend.schema import MODELINE, render, signature, spec_schema

COMMITTED = ROOT / "schema" / "nnspec.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = spec_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_up_to_date():
    assert COMMITTED.read_text(encoding="utf-8") == render(), \
        "regenerate it with: nnspec schema -o schema/nnspec.schema.json"


def test_schema_command_prints_and_checks(tmp_path, capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(render())
    out = tmp_path / "s.json"
    assert main(["schema", "-o", str(out), "--check"]) == 1
    assert main(["schema", "-o", str(out)]) == 0
    assert main(["schema", "-o", str(out), "--check"]) == 0


@pytest.mark.parametrize("spec", spec_files(), ids=lambda p: p.name)
def test_every_spec_is_valid_and_points_at_the_schema(spec, validator):
    text = spec.read_text(encoding="utf-8")
    assert text.splitlines()[0] == MODELINE
    assert (spec.parent / MODELINE.split("$schema=")[1]).resolve() == COMMITTED
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(text))]
    assert errors == []


GOOD = {"nnspec": 1, "inputs": {"x": [3, 8, 8]}, "model": {"children": {"c": "Conv2d(3, 8, 3)"}}}


@pytest.mark.parametrize("change, path, fragment", [
    (lambda s: s.update(modle={}), [], "'modle' was unexpected"),
    (lambda s: s.update(nnspec=2), ["nnspec"], "2 is not one of [1]"),
    (lambda s: s.pop("model"), [], "'model' is a required property"),
    (lambda s: s["inputs"].update(x="3, 8, 8"), ["inputs", "x"], "not valid under any"),
    (lambda s: s["model"].update(base="Modul"), ["model", "base"], "is not one of"),
    (lambda s: s["model"]["children"].update(c=3), ["model", "children", "c"], "not valid"),
    (lambda s: s["model"]["children"].update(c="3 + Conv2d(3, 8, 3)"),
     ["model", "children", "c"], "does not match"),
    (lambda s: s["model"]["children"].update(c={"call": "ReLU()", "when": "x"}),
     ["model", "children", "c"], "not valid"),
    (lambda s: s["model"].update(params={"k": {"type": "integer"}}),
     ["model", "params", "k", "type"], "'integer' is not one of"),
    (lambda s: s["model"].update(forward=["conv(x)"]), ["model", "forward", 0],
     "does not match"),
    (lambda s: s.update(extends="base.yaml", model={"children": {"c": 3}}),
     ["model", "children", "c"], "not valid"),
])
def test_bad_specs_are_rejected(change, path, fragment, validator):
    assert list(validator.iter_errors(GOOD)) == []
    spec = json.loads(json.dumps(GOOD))
    change(spec)
    error = jsonschema.exceptions.best_match(validator.iter_errors(spec))
    assert error is not None, "the schema should reject this"
    assert list(error.absolute_path) == path and fragment in error.message, error.message


def test_a_child_spec_may_state_only_what_it_changes(validator):
    assert list(validator.iter_errors({"nnspec": 1, "extends": "nin_dw.yaml",
                                       "model": {"params": {"expand": 2}, "doc": None}})) == []


def test_each_layer_has_a_documented_branch(validator):
    call = spec_schema()["$defs"]["LayerCall"]
    branches = {b["title"]: b for b in call["oneOf"]}
    assert set(branches) == set(LAYERS) | {"block"}
    assert "kernel_size: int | [int, int]" in branches["Conv2d"]["description"]
    assert "stride: int | [int, int] = 1" in branches["Conv2d"]["description"]
    assert signature(LAYERS["Linear"]) == \
        "Linear(in_features: int, out_features: int, bias: bool = True)"
    snippets = {s["label"]: s["body"] for s in call["defaultSnippets"]}
    assert snippets["Conv2d"] == "Conv2d(${1:in_channels}, ${2:out_channels}, ${3:kernel_size})"
    for text in ("Conv2d(3, 8, 3)", "MyBlock(c=2)", "ReLU", "Conv2dBlock(1)"):
        spec = json.loads(json.dumps(GOOD))
        spec["model"]["children"]["c"] = text
        assert list(validator.iter_errors(spec)) == [], text
