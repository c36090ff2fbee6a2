"""The `nnspec` command: output of `build`, `validate` over several specs, and the exit codes
(0 ok, 1 invalid spec, 2 usage, 3 internal error), in process through `nnspec.cli.main` and
through a real `python -m nnspec`."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys

import pytest
from conftest import ROOT, SPECS, spec_files

import nnspec
from nnspec.cli import main as cli

NIN_SUMMARY = "Net: 2,684,702 parameters; x [1, 3, 32, 32] float32 -> [1, 10] float32"


def nnspec_cli(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "nnspec", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_build_prints_the_tree_then_the_summary():
    done = nnspec_cli("build", "specs/nin.yaml")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == f"{nnspec.build(SPECS / 'nin.yaml')}\n{NIN_SUMMARY}\n"


def test_build_with_set_is_the_variant(capsys):
    code, doubled, _ = run(capsys, "build", "specs/nin_dw.yaml", "--set", "expand=2")
    assert code == 0
    assert run(capsys, "build", "specs/nin_dw_x2.yaml")[1] == doubled
    assert doubled.endswith("Net: 3,113,310 parameters; x [1, 3, 32, 32] float32 -> "
                            "[1, 10] float32\n")
    assert run(capsys, "build", "specs/nin_dw.yaml")[1] != doubled


def test_build_summary_names_every_input_and_dtype(capsys, write_spec):
    path = write_spec("nnspec: 1\ninputs:\n  ids: {shape: [5], dtype: int64, range: [0, 9]}\n"
                      "  x: [5]\nmodel:\n  children:\n    fc: Linear(5, 2)\n  forward:\n"
                      "    - return fc(ids.float() + x)\n")
    code, out, _ = run(capsys, "build", path)
    assert code == 0
    assert out.splitlines()[-1] == ("Net: 12 parameters; ids [1, 5] int64, x [1, 5] float32 "
                                    "-> [1, 2] float32")


def test_validate_several_specs(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    names = [str(p.relative_to(ROOT)) for p in spec_files()]
    code, out, err = run(capsys, "validate", *names)
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"{name}: ok ({nnspec.load(name).program.root})"
                                for name in names]


def test_validate_with_one_bad_spec(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  children:\n    fc: Lienar(4, 2)\n")
    good = str(SPECS / "nin.yaml")
    code, out, err = run(capsys, "validate", good, str(bad), str(SPECS / "nin_dw.yaml"))
    assert code == 1
    assert out.splitlines() == [f"{good}: ok (Net)", f"{SPECS / 'nin_dw.yaml'}: ok (Net)"]
    assert err.splitlines()[0] == (f"{bad}:5:9: error[unknown-layer]: unknown layer or block "
                                   "'Lienar'")
    assert "  hint: did you mean 'Linear'?" in err.splitlines()


def test_validate_does_not_import_torch(tmp_path):
    code = ("import sys\nfrom nnspec.cli.main import main\n"
            "assert main(['validate', 'specs/nin.yaml', 'specs/nin_dw_x2.yaml']) == 0\n"
            "assert 'torch' not in sys.modules, 'validate imported torch'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 0, done.stderr


def test_invalid_spec_in_build_exits_1(capsys, write_spec):
    path = write_spec("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  children:\n"
                      "    fc: Linear(4, 0)\n")
    code, out, err = run(capsys, "build", path)
    assert (code, out) == (1, "")
    assert err.startswith(f"{path}:5:19: error[bad-value]: Linear(): out_features must be "
                          "positive, got 0\n")


# Static shapes cannot see values: token ids beyond the embedding's table fail only when run.
FAILS_AT_RUN_TIME = """\
nnspec: 1
inputs:
  x: {shape: [4], dtype: int64, range: [0, 100]}
blocks:
  Head:
    children:
      emb: Embedding(10, 3)
    forward:
      - y = emb(x * 2)
      - return y.flatten(1)
model:
  children:
    head: Head()
  forward:
    - return head(x)
"""


def test_forward_failing_on_the_declared_input_is_a_spec_error(capsys, write_spec):
    """The spec passes validation, but its forward fails on its own declared input: exit 1,
    pointing at the failing layer, naming the module. (`x * 2` hides the indices' bounds from
    the static pass, which checks the declared range itself.)"""
    path = write_spec(FAILS_AT_RUN_TIME)
    code, out, err = run(capsys, "build", path)
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0] == (f"{path}:7:12: error[forward-failed]: forward pass on the declared "
                        "inputs fails in module 'head.emb' (Embedding): index out of range in "
                        "self")
    assert lines[1] == "    7 |       emb: Embedding(10, 3)"
    assert "Traceback" not in err


def test_forward_failing_in_a_torch_layer_points_at_its_call(capsys, write_spec):
    """A layer in a numbered Sequential fails at run time (the static pass cannot see index
    values): the caret is on that list item's call."""
    path = write_spec("nnspec: 1\ninputs:\n  x: {shape: [4], dtype: int64, range: [0, 100]}\n"
                      "model:\n  children:\n    head: Identity()\n    tail:\n"
                      "      - Identity()\n      - Embedding(10, 3)\n"
                      "  forward:\n    - x = head(x)\n    - return tail(x)\n")
    code, _, err = run(capsys, "build", path)
    assert code == 1
    assert err.splitlines()[:3] == [
        f"{path}:9:9: error[forward-failed]: forward pass on the declared inputs fails in "
        "module 'tail.1' (Embedding): index out of range in self",
        "    9 |       - Embedding(10, 3)",
        "      |         ^^^^^^^^^^^^^^^^"]


@pytest.mark.parametrize("args", [
    ["diff", str(SPECS / "nin.yaml"), str(SPECS / "nin_dw.yaml")],
    ["summary", str(SPECS / "nin.yaml")],
])
def test_a_reader_that_went_away_ends_the_command_quietly(args):
    """`nnspec diff A B | head`: stdout closed early is no internal error and prints nothing."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to the pipe now fails: the reader has gone
    try:
        done = subprocess.run([sys.executable, "-m", "nnspec", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (cli.EXIT_BROKEN_PIPE, "")


def test_api_build_does_not_run_the_forward(write_spec):
    """Only the `build` command runs the declared inputs; nnspec.build just constructs."""
    assert nnspec.build(write_spec(FAILS_AT_RUN_TIME)) is not None


@pytest.fixture
def broken_load(monkeypatch):
    """A bug inside nnspec, provoked in process: the loader raises something unexpected."""
    import nnspec.api

    def boom(*args, **kwargs):
        raise KeyError("an nnspec bug")

    monkeypatch.setattr(nnspec.api, "load", boom)


@pytest.mark.parametrize("verb", ["build", "validate"])
def test_internal_error_exits_3_with_a_one_line_apology(capsys, broken_load, verb):
    code, out, err = run(capsys, verb, "specs/nin.yaml")
    assert (code, out) == (3, "")
    assert len(err.splitlines()) == 1
    assert err.startswith("nnspec: internal error: this is a bug in nnspec, sorry.")
    assert "--debug" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["--debug", "build", "specs/nin.yaml"],
                                  ["build", "specs/nin.yaml", "--debug"]])
def test_debug_shows_the_traceback(capsys, broken_load, args):
    code, _, err = run(capsys, *args)
    assert code == 3
    assert err.startswith("Traceback (most recent call last):")
    assert "KeyError: 'an nnspec bug'" in err


@pytest.mark.parametrize("args", [["import", "tree", "t.txt", "--debug"],
                                  ["import", "module", "m:f", "--debug"]])
def test_debug_after_a_sub_verb(args):
    assert cli.parser().parse_args(args).debug is True


@pytest.mark.parametrize("args,message", [
    (["build", "specs/nin.yaml", "--frob"], "unrecognized arguments: --frob"),
    (["build"], "the following arguments are required: SPEC"),
    ([], "the following arguments are required: COMMAND"),
    (["frob", "specs/nin.yaml"], "invalid choice: 'frob'"),
    (["build", "specs/nope.yaml"], "no such spec file: specs/nope.yaml"),
    (["validate", "specs/nin.yaml", "specs/nope.yaml"], "no such spec file: specs/nope.yaml"),
    (["build", "specs/nin.yaml", "--set", "expand"], "--set takes NAME=VALUE, got 'expand'"),
    (["build", "specs/nin.yaml", "--set", "=2"], "--set takes NAME=VALUE, got '=2'"),
])
def test_usage_errors_exit_2(capsys, monkeypatch, args, message):
    monkeypatch.chdir(ROOT)
    try:
        code = cli.main(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert message in err and "Traceback" not in err


def test_usage_error_from_the_real_command():
    done = nnspec_cli("validate", "specs/nin.yaml", "--set")
    assert done.returncode == 2 and done.stdout == ""
    assert "argument --set: expected one argument" in done.stderr


def test_unknown_set_name_is_a_spec_error(capsys):
    code, _, err = run(capsys, "validate", str(SPECS / "nin_dw.yaml"), "--set", "expnad=2")
    assert code == 1
    assert err.splitlines()[0] == ("--set:1:1: error[unknown-param]: 'expnad' is not a "
                                   "parameter of the model")
    assert "  hint: did you mean 'expand'?" in err.splitlines()


def verbs() -> dict[str, argparse.ArgumentParser]:
    top = cli.parser()
    [sub] = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("verb", sorted(verbs()))
def test_help_of_every_verb(capsys, verb):
    with pytest.raises(SystemExit) as info:
        cli.main([verb, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: nnspec {verb} ")
    parser = verbs()[verb]
    assert parser.description and parser.description.split()[0] in text
    for action in parser._actions:  # every option is listed, with a help text
        assert action.help, action.dest
        for flag in action.option_strings:
            assert flag in text


def test_top_level_help_lists_exactly_the_verbs(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for verb, parser in verbs().items():
        assert f"    {verb} " in text
    listed = [line.split()[0] for line in text.splitlines() if line.startswith("    ")]
    assert listed == list(verbs())


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"] == {"nnspec": "nnspec.cli.entry:main"}
    module, _, name = project["project"]["scripts"]["nnspec"].partition(":")
    entry = importlib.import_module(module)
    assert getattr(entry, name) is entry.main and entry.run_verb is cli.main  # then a fast exit
