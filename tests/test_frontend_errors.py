"""The minimum bad inputs: each gives `path:line:col: error[code]: message` (plus a hint where
one helps) and exit code 1 from `nnspec validate`, writes nothing, shows no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

from nnspec.cli.main import main

HEAD = "nnspec: 1\ninputs:\n  x: [3, 32, 32]\n"

# name -> (spec text, code, line, col, message, hint)
CASES = {
    "yaml_syntax": (
        "nnspec: 1\ninputs:\n  x: [3, 32, 32\nmodel:\n  children: {}\n",
        "yaml-syntax", 4, 6, "expected ',' or ']', but got ':'", None),
    "yaml_tab": (
        "nnspec: 1\ninputs:\n\tx: [3]\n", "yaml-tab", 3, 1, "tab character in indentation",
        "YAML indents with spaces only; replace the tab with spaces"),
    "wrong_type": (
        "nnspec: 1\ninputs:\n  x: {shape: [3, 32.5, 32]}\nmodel:\n  children:\n"
        "    f: Flatten()\n",
        "wrong-type", 3, 18, "inputs.x.shape.1: Input should be a valid integer (got 32.5)",
        None),
    "wrong_type_children": (
        HEAD + "model:\n  children: 3\n", "wrong-type", 5, 13, None, None),
    "unknown_key": (
        HEAD + "model:\n  childern:\n    f: Flatten()\n",
        "unknown-key", 5, 3, "unknown key 'childern'", "did you mean 'children'?"),
    "unknown_top_key": (
        HEAD + "blocs: {}\nmodel:\n  children:\n    f: Flatten()\n",
        "unknown-key", 4, 1, "unknown key 'blocs'", "did you mean 'blocks'?"),
    "unknown_layer": (
        HEAD + "model:\n  children:\n    conv: Conv2D(3, 8, 3)\n",
        "unknown-layer", 6, 11, "unknown layer or block 'Conv2D'", "did you mean 'Conv2d'?"),
    "unknown_block_param": (
        HEAD + "blocks:\n  B:\n    params: {cin: int, cout: 8}\n    children:\n"
        "      conv: Conv2d(cin, cout, 3)\nmodel:\n  children:\n    b: B(3, cuot=4)\n",
        "unknown-argument", 11, 13, "B() has no argument 'cuot'", "did you mean 'cout'?"),
    "unknown_kwarg": (
        HEAD + "model:\n  children:\n    c: Conv2d(3, 8, 3, strid=2)\n",
        "unknown-argument", 6, 24, "Conv2d() has no argument 'strid'",
        "did you mean 'stride'?"),
    "missing_argument": (
        HEAD + "model:\n  children:\n    conv: Conv2d(3, 8)\n",
        "missing-argument", 6, 11, "Conv2d() is missing required argument 'kernel_size'",
        "Conv2d(in_channels, out_channels, kernel_size)"),
    "missing_block_argument": (
        HEAD + "blocks:\n  B:\n    params: {cin: int}\n    children:\n"
        "      f: Flatten()\nmodel:\n  children:\n    b: B()\n",
        "missing-argument", 11, 8, "B() is missing required argument 'cin'", "B(cin)"),
    "zero_channels": (
        HEAD + "model:\n  children:\n    a: Conv2d(3, 0, 3)\n",
        "bad-value", 6, 18, "Conv2d(): out_channels must be positive, got 0", None),
    "zero_channels_by_expression": (
        HEAD + "model:\n  params: {cout: 64}\n  children:\n    b: Conv2d(3, cout - 64, 3)\n",
        "bad-value", 7, 18, "Conv2d(): out_channels must be positive, got 0", None),
    "negative_channels_in_block": (
        HEAD + "blocks:\n  B:\n    params: {c: int}\n    children:\n"
        "      conv: Conv2d(3, c - 8, 1)\nmodel:\n  children:\n    b: B(4)\n",
        "bad-value", 8, 23, "Conv2d(): out_channels must be positive, got -4", None),
    "groups": (
        HEAD + "model:\n  children:\n    a: Conv2d(6, 8, 3, groups=4)\n",
        "bad-value", 6, 31, "Conv2d(): groups=4 does not divide in_channels=6", None),
    "unknown_name": (
        HEAD + "model:\n  params: {width: 8}\n  children:\n    a: Conv2d(3, widht, 3)\n",
        "unknown-name", 7, 18, "unknown name 'widht'", "did you mean 'width'?"),
    "block_contains_itself": (
        HEAD + "blocks:\n  A:\n    children:\n      a: A()\nmodel:\n  children:\n"
        "    a: A()\n",
        "block-cycle", 7, 10, "block 'A' contains itself: A -> A",
        "a block cannot be its own descendant"),
    "blocks_contain_each_other": (
        HEAD + "blocks:\n  A:\n    children:\n      b: B()\n  B:\n    children:\n"
        "      a: A()\nmodel:\n  children:\n    a: A()\n",
        "block-cycle", 10, 10, "block 'A' contains itself: A -> B -> A",
        "a block cannot be its own descendant"),
    "unsafe_tag": (
        "nnspec: 1\ninputs:\n  x: !!python/object/apply:os.system [\"echo hi\"]\n"
        "model:\n  children: {}\n",
        "unsafe-tag", 3, 6, "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is "
        "not allowed", "specs hold plain data: strings, numbers, booleans, lists and mappings"),
    "unsafe_tag_on_mapping": (
        "nnspec: 1\ninputs: !!python/object:argparse.Namespace {x: [3]}\n",
        "unsafe-tag", 2, 9, None, None),
    "duplicate_key": (
        HEAD + "model:\n  children:\n    a: Flatten()\n    a: Identity()\n",
        "duplicate-key", 7, 5, "duplicate key 'a'", "'a' is already set at line 6"),
    "flow_split": (
        HEAD + "model:\n  children:\n    body: [Conv2d(3, 8, 3), ReLU()]\n",
        "flow-split", 6, 12, "'Conv2d(3' is cut short: inside [...] or {...}, commas separate "
        "items", 'quote it: "Conv2d(3, 8, 3)", or write the items one per line'),
    "empty": ("# nothing\n", "empty", 1, 1, "spec file is empty", None),
    "not_a_mapping": ("- 1\n", "wrong-type", 1, 1, None, None),
}


def run_validate(path: str, capsys) -> tuple[int, str, str]:
    code = main(["validate", path])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", CASES)
def test_bad_input(name, tmp_path, capsys, monkeypatch):
    text, code, line, col, message, hint = CASES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    status, out, err = run_validate(path.name, capsys)
    assert status == 1 and out == ""
    first = err.splitlines()[0]
    assert first.startswith(f"{name}.yaml:{line}:{col}: error[{code}]: "), err
    if message is not None:
        assert first == f"{name}.yaml:{line}:{col}: error[{code}]: {message}"
    if hint is not None:
        assert f"  hint: {hint}" in err.splitlines()
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing written


def test_caret_is_under_the_problem(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(CASES["unknown_name"][0])
    # the diagnostic, the source line, and carets under 'widht' only
    lines = run_validate("s.yaml", capsys)[2].splitlines()
    assert lines[1] == "    7 |     a: Conv2d(3, widht, 3)"
    assert lines[2] == "      |                  ^^^^^"


def test_every_problem_in_a_file_is_reported_at_once(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(
        HEAD + "model:\n  params: {width: 8}\n  children:\n    a: Conv2D(3, 8, 3)\n"
        "    b: Conv2d(3, widht, 3)\n    c: Linear(4, 4, biass=True)\n")
    status, _, err = run_validate("s.yaml", capsys)
    heads = [line.split(" error")[0] for line in err.splitlines() if " error[" in line]
    assert status == 1 and heads == ["s.yaml:7:8:", "s.yaml:8:18:", "s.yaml:9:21:"]


EXTENDS_A = "nnspec: 1\nextends: b.yaml\nmodel:\n  name: A\n"
EXTENDS_B = "nnspec: 1\nextends: a.yaml\n"


def test_extends_cycle(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text(EXTENDS_A)
    (tmp_path / "b.yaml").write_text(EXTENDS_B)
    status, out, err = run_validate("a.yaml", capsys)
    assert status == 1 and out == ""
    lines = err.splitlines()
    # the cycle closes at b.yaml's 'extends', which is where it is reported
    assert lines[0] == ("b.yaml:2:10: error[extends-cycle]: 'extends' forms a cycle: "
                        "a.yaml -> b.yaml -> a.yaml")
    assert "  note: 'b.yaml' is a parent spec, pulled in by 'extends' at a.yaml:2:10" in lines


def test_self_extends(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text("nnspec: 1\nextends: ./a.yaml\n")
    status, _, err = run_validate("a.yaml", capsys)
    assert status == 1
    assert err.startswith("a.yaml:2:10: error[extends-cycle]: 'extends' forms a cycle: "
                          "a.yaml -> a.yaml")


def test_the_command_line_agrees(tmp_path):
    """One real `python -m nnspec validate` over every bad spec: exit 1, each one's first
    diagnostic printed, no traceback, nothing written, nothing on stdout."""
    names = []
    for name, (text, *_rest) in CASES.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
        names.append(f"{name}.yaml")
    before = sorted(p.name for p in tmp_path.iterdir())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "nnspec", "validate", *names],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr
    for name, (_, code, line, col, *_rest) in CASES.items():
        assert f"{name}.yaml:{line}:{col}: error[{code}]: " in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
