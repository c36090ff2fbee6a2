"""Hostile inputs to the front end (reading, nesting pre-scan, `extends`, `--set`, spec paths):
each is refused fast and with a positioned diagnostic (exit 1) or a usage error (exit 2),
never a hang, a memory blow-up or a traceback (exit 3)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from conftest import ROOT
from hang_guard import hang_guard
from hostile_inputs import GROWING_LINES, GROWING_SCALARS

from nnspec.cli.main import main
from nnspec.diagnostics import did_you_mean, reset_hint_budget
from nnspec.frontend import nesting
from nnspec.frontend.extends import MAX_EXTENDS, load_resolved
from nnspec.frontend.reader import MAX_FILE_BYTES, parse_document

OK = ("nnspec: 1\ninputs:\n  x: [3, 8, 8]\nmodel:\n  name: Net\n  params:\n    widen: 1\n"
      "  children:\n    fc: Flatten()\n  forward:\n    - return fc(x)\n")


def _run(capsys, *argv: str) -> tuple[int, list[dict], str]:
    """Exit code, the JSON diagnostics (if any) and stderr of `nnspec ARGV`."""
    rc = main([*argv])
    err = capsys.readouterr().err
    try:
        diags = json.loads(err) if err.strip().startswith("[") else []
    except json.JSONDecodeError:
        diags = []
    return rc, diags, err


def _validate(capsys, *argv: str) -> tuple[int, list[dict], str]:
    return _run(capsys, "validate", "--error-format", "json", *argv)


def _where(d: dict) -> tuple[str, int, int]:
    return d["code"], d["line"], d["column"]


GUARD_S = 30  # a hang guard, not a benchmark: each of these answers in well under a second;
# how their cost grows with the input is bench/hostile.py's to show


# --- the nesting pre-scan answers on long hostile lines ---------------------------------------

# the lines' answers at 64,000 characters: (nesting problem, block scalar header)
GROWING_ANSWERS = {"brackets_after_text": (("too-deep", "s:1:105"), False),
                   "block_headers": (None, True)}


@pytest.mark.parametrize("name", sorted(GROWING_LINES))
def test_nesting_scan_answers_on_a_long_hostile_line(name):
    text = GROWING_LINES[name](64_000)
    with hang_guard(GUARD_S):
        problem = nesting.nesting_problem(text, "s")
        header = nesting.block_scalar_header(text)
    found = problem and (problem.code, str(problem.pos))
    assert (found, header) == GROWING_ANSWERS.get(name, (None, False))


@pytest.mark.parametrize("name", sorted(GROWING_SCALARS))
def test_a_long_hostile_scalar_stays_a_string(name):
    text = GROWING_SCALARS[name](64_000)
    with hang_guard(GUARD_S):
        doc = parse_document(text, "s")
    assert doc.data == {"a": text[3:].rstrip("\n")}


def test_the_47_byte_line_answers(capsys, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("doc: " + "&" * 39 + " x[\n")
    with hang_guard(GUARD_S):  # backtracking over the anchors took 2^39 steps
        rc, diags, _ = _validate(capsys, str(spec))
    assert rc == 1 and diags[0]["code"] == "yaml-syntax"


def test_block_scalar_header_still_found():
    assert nesting.block_scalar_header("key: |")
    assert nesting.block_scalar_header("- &a !t >-2  # note")
    assert nesting.block_scalar_header("  |")
    assert not nesting.block_scalar_header("key: a|")
    assert not nesting.block_scalar_header("&a |")


# --- sizes are checked before reading -------------------------------------------------------

def test_huge_file_refused_before_reading(capsys, tmp_path):
    spec = tmp_path / "huge.yaml"
    with open(spec, "wb") as f:
        f.truncate(3 * 1024**3)  # sparse: reading it would take seconds and gigabytes
    tracemalloc.start()
    try:
        rc, diags, _ = _validate(capsys, str(spec))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024**2  # reading it would hold gigabytes
    assert rc == 1 and _where(diags[0]) == ("too-large", 1, 1)
    assert diags[0]["message"] == (f"spec file is {3 * 1024**3:,} bytes, over the "
                                   f"{MAX_FILE_BYTES:,}-byte limit")


def test_huge_extends_parent_refused_before_reading(capsys, tmp_path):
    with open(tmp_path / "base.yaml", "wb") as f:
        f.truncate(3 * 1024**3)
    (tmp_path / "child.yaml").write_text("extends: base.yaml\n" + OK)
    rc, diags, _ = _validate(capsys, str(tmp_path / "child.yaml"))
    assert rc == 1 and diags[0]["code"] == "too-large"


# --- --set values go through the bounded reader ---------------------------------------------

SET_CASES = {
    "deep_list": ("widen=" + "[" * 200 + "]" * 200, "too-deep", 7 + 99),
    "alias_bomb": ("widen=[&a [1,1,1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], "
                   "&c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c], "
                   "&e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d], [*e,*e,*e,*e,*e]]", "too-large", None),
    "bad_int": ('widen=!!int "abc"', "bad-value", 7),
    "bad_float": ('widen=!!float "abc"', "bad-value", 7),
    "bad_bool": ("widen=!!bool maybe", "bad-value", 7),
    "unsafe_tag": ("widen=!!python/name:os.system", "unsafe-tag", 7),
    "huge_int": ("widen=" + "9" * 5000, "out-of-range", 7),
}


@pytest.mark.parametrize("name", sorted(SET_CASES))
def test_set_value_is_bounded(capsys, tmp_path, name):
    value, code, col = SET_CASES[name]
    spec = tmp_path / "s.yaml"
    spec.write_text(OK)
    rc, diags, _ = _validate(capsys, str(spec), "--set", value)
    assert rc == 1
    assert diags[0]["file"] == "--set" and diags[0]["code"] == code and diags[0]["line"] == 1
    if col is not None:
        assert diags[0]["column"] == col


def test_set_plain_values_still_work(capsys, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(OK)
    for value in ("widen=2", "widen=[1, 2", "widen=# only a comment"):
        rc, _, err = _run(capsys, "validate", str(spec), "--set", value)
        assert rc in (0, 1) and "Traceback" not in err, (value, err)
    rc, _, _ = _run(capsys, "validate", str(spec), "--set", "widen=3")
    assert rc == 0


# --- extends merging is linear --------------------------------------------------------------

def test_extends_with_20000_parameters_merges(tmp_path):
    params = "".join(f"    p{i}: {i}\n" for i in range(20_000))
    (tmp_path / "base.yaml").write_text(OK.replace("    widen: 1\n", "    widen: 1\n" + params))
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nmodel:\n  params:\n    widen: 2\n")
    with hang_guard(GUARD_S):
        doc = load_resolved(tmp_path / "child.yaml")
    assert doc.data["model"]["params"]["widen"] == 2
    assert doc.data["model"]["params"]["p19999"] == 19_999
    assert doc.pos[("model", "params", "p19999")].line == 20_007
    assert doc.keypos[("model", "params", "widen")].file.endswith("child.yaml")


# --- did-you-mean is capped -----------------------------------------------------------------

def test_did_you_mean_work_is_capped():
    choices = [f"{a}{b}{c}layer" for a in "abcdefgh" for b in "abcdefgh" for c in "abcd"]
    reset_hint_budget()
    with hang_guard(GUARD_S):
        for i in range(10_000):
            did_you_mean(f"{'abcdefgh'[i % 8]}xq{i}layr", choices)
    assert did_you_mean("Conv2D", ["Conv2d", "Linear"]) == "did you mean 'Conv2d'?"  # case only
    assert did_you_mean("chidlren", ["children", "forward"]) is None  # over the budget
    reset_hint_budget()
    assert did_you_mean("chidlren", ["children", "forward"]) == "did you mean 'children'?"


def test_10000_misspelled_keys_are_each_reported(capsys, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(OK + "".join(f"chidlren{i}: 1\n" for i in range(10_000)))
    with hang_guard(GUARD_S):
        rc, diags, _ = _validate(capsys, str(spec))
    assert rc == 1 and len(diags) == 10_000


# --- scalars a tag cannot read --------------------------------------------------------------

@pytest.mark.parametrize("value,code", [
    ('!!int "abc"', "bad-value"), ('!!float "abc"', "bad-value"), ("!!bool maybe", "bad-value"),
    ("9" * 5000, "out-of-range"), ("!!int " + "7" * 5000, "out-of-range"),
    (str(2**63), "out-of-range"), ("0x" + "f" * 20_000, "out-of-range"),
])
def test_unreadable_scalar_is_positioned(capsys, tmp_path, value, code):
    spec = tmp_path / "s.yaml"
    spec.write_text(OK.replace("widen: 1", f"widen: {value}"))
    rc, diags, err = _validate(capsys, str(spec))
    assert rc == 1 and "Traceback" not in err
    assert _where(diags[0]) == (code, 7, 12)


# --- extends: what it names must be a readable spec mapping, in a bounded chain -------------

def _extends_error(capsys, tmp_path, target: str, at: str = "child.yaml", line: int = 2) -> dict:
    """The first diagnostic of a child spec extending `target`, checked to be at the
    `extends` line of `at` (the child, or a parent further along the chain)."""
    child = tmp_path / "child.yaml"
    child.write_text(f"nnspec: 1\nextends: {json.dumps(target)}\n")
    rc, diags, err = _validate(capsys, str(child))
    assert rc == 1 and "Traceback" not in err, err
    assert (diags[0]["file"], diags[0]["line"]) == (str(tmp_path / at), line), diags[0]
    return diags[0]


def test_extends_symlink_loop(capsys, tmp_path):
    os.symlink("loop_b.yaml", tmp_path / "loop_a.yaml")
    os.symlink("loop_a.yaml", tmp_path / "loop_b.yaml")
    d = _extends_error(capsys, tmp_path, "loop_a.yaml")
    assert d["code"] == "bad-extends" and "symbolic link" in d["message"]


def test_extends_nul_byte(capsys, tmp_path):
    assert _extends_error(capsys, tmp_path, "base\0.yaml")["code"] == "bad-extends"


@pytest.mark.parametrize("text,kind", [("just some text\n", "string"), ("- a\n- b\n", "list")])
def test_extends_parent_not_a_mapping(capsys, tmp_path, text, kind):
    (tmp_path / "base.yaml").write_text(text)
    d = _extends_error(capsys, tmp_path, "base.yaml")
    assert d["code"] == "bad-extends" and kind in d["message"]


def test_extends_directory(capsys, tmp_path):
    (tmp_path / "sub").mkdir()
    d = _extends_error(capsys, tmp_path, "sub")
    assert d["code"] == "bad-extends" and "directory" in d["message"]


def test_extends_fifo_is_never_opened(capsys, tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    d = _extends_error(capsys, tmp_path, "pipe.yaml")
    assert d["code"] == "bad-extends" and "FIFO" in d["message"]


def test_extends_chain_is_bounded(capsys, tmp_path):
    for i in range(1, 1000):
        (tmp_path / f"s{i}.yaml").write_text(f"extends: s{i + 1}.yaml\n")
    (tmp_path / "s1000.yaml").write_text(OK)
    # the chain overflows at the extends line of the spec MAX_EXTENDS files along it
    d = _extends_error(capsys, tmp_path, "s1.yaml", at=f"s{MAX_EXTENDS - 1}.yaml", line=1)
    assert d["code"] == "bad-extends" and str(MAX_EXTENDS) in d["message"]
    assert any("child.yaml" in note for note in d["notes"])


def test_extends_chain_within_the_bound_works(tmp_path):
    n = MAX_EXTENDS  # s1 ... s64: a chain of exactly MAX_EXTENDS specs
    for i in range(1, n):
        (tmp_path / f"s{i}.yaml").write_text(f"extends: s{i + 1}.yaml\n")
    (tmp_path / f"s{n}.yaml").write_text(OK)
    assert load_resolved(tmp_path / "s1.yaml").data["model"]["name"] == "Net"


# --- spec paths: what is wrong with them is a usage error (exit 2) --------------------------

def test_directory_spec(capsys, tmp_path):
    rc, _, err = _run(capsys, "validate", str(tmp_path))
    assert rc == 2 and "is a directory" in err


def test_fifo_spec_is_never_opened(capsys, tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    rc, _, err = _run(capsys, "validate", str(fifo))  # opening it would block forever
    assert rc == 2 and "FIFO" in err


def test_name_too_long(capsys, tmp_path):
    rc, _, err = _run(capsys, "validate", str(tmp_path / ("x" * 300 + ".yaml")))
    assert rc == 2 and "too long" in err


def test_missing_spec_still_says_so(capsys, tmp_path):
    rc, _, err = _run(capsys, "validate", str(tmp_path / "nope.yaml"))
    assert rc == 2 and "no such spec file" in err


def _unprivileged() -> list[str] | None:
    """A command prefix that runs Python as a user the permission bits apply to, or None."""
    if os.geteuid() != 0:
        return [sys.executable]
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return None
    prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    probe = subprocess.run([*prefix, "-c", "import nnspec"], capture_output=True, cwd="/",
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    return prefix if probe.returncode == 0 else None


@pytest.fixture
def shared_dir():
    """A directory every user can enter (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="nnspec-hostile-"))
    path.chmod(0o755)
    yield path
    for sub in path.iterdir():
        if sub.is_dir():
            sub.chmod(0o755)
    shutil.rmtree(path)


@pytest.mark.parametrize("case", ["unreadable_file", "unsearchable_dir"])
def test_permission_denied_is_a_usage_error(shared_dir, case):
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("no way to run as a user that permission bits apply to")
    if case == "unreadable_file":
        spec = shared_dir / "s.yaml"
        spec.write_text(OK)
        spec.chmod(0)
    else:
        sub = shared_dir / "sub"
        sub.mkdir()
        spec = sub / "s.yaml"
        spec.write_text(OK)
        spec.chmod(0o644)
        sub.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)  # no search bit
    out = subprocess.run([*prefix, "-m", "nnspec", "validate", str(spec)], capture_output=True,
                         text=True, cwd="/", env={**os.environ, "PYTHONPATH": str(ROOT)},
                         timeout=60)
    assert out.returncode == 2, out.stderr
    assert "permission denied" in out.stderr


# --- encoding errors where the byte is ------------------------------------------------------

def test_bad_utf8_at_its_line_and_column(capsys, tmp_path):
    spec = tmp_path / "s.yaml"
    lines = OK.encode().split(b"\n")
    lines[11] = "  # café ".encode() + b"\xff"  # line 12, after a two-byte character
    spec.write_bytes(b"\n".join(lines))
    rc, diags, _ = _validate(capsys, str(spec))
    assert rc == 1 and _where(diags[0]) == ("encoding", 12, 10)


def test_parse_document_plain_value():
    assert parse_document("[1, 2]", "--set").data == [1, 2]
