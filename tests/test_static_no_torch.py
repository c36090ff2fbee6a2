"""validate, summary, diff, graph, schema and code generation (`build -o`, `--check`) never
import torch: each runs in a process where `import torch` raises (a sitecustomize meta-path
finder)."""

from __future__ import annotations

import pytest
from static_cli import nnspec as run

ZOO = "tests/specs/static/zoo.yaml"


@pytest.mark.parametrize("args, code", [
    (["validate", "specs/nin.yaml", "specs/nin_dw_x2.yaml", ZOO], 0),
    (["summary", "specs/nin.yaml", "specs/nin_dw.yaml", "--json"], 0),
    (["summary", "specs/nin.yaml", "--input", "3,30,30"], 0),
    (["diff", "specs/nin_dw.yaml", "--set", "expand=2"], 1),
    (["graph", ZOO, "--format", "dot"], 0),
    (["graph", "specs/nin.yaml", "--depth", "1"], 0),
], ids=lambda a: " ".join(a[:2]) if isinstance(a, list) else str(a))
def test_verb_runs_without_torch(tmp_path, args, code):
    result = run(*args, block_torch=True, tmp=tmp_path)
    assert result.returncode == code, result.stderr
    assert result.stdout


def test_code_generation_runs_without_torch(tmp_path):
    code = ("import sys, nnspec; src = nnspec.generate('tests/specs/static/zoo.yaml'); "
            "assert 'nn.BatchNorm2d(c + c)' in src; "
            "assert not any(m == 'torch' or m.startswith('torch.') for m in sys.modules)")
    result = run(block_torch=True, tmp=tmp_path, code=code)
    assert result.returncode == 0, result.stderr


def test_the_blocker_blocks(tmp_path):
    result = run("--debug", "build", "specs/nin.yaml", block_torch=True, tmp=tmp_path)
    assert result.returncode == 3 and "import of torch is blocked" in result.stderr


def test_schema_and_build_to_a_file_and_its_check_run_without_torch(tmp_path):
    out = tmp_path / "nin.py"
    assert run("schema", block_torch=True, tmp=tmp_path).returncode == 0
    written = run("build", "specs/nin.yaml", "-o", str(out), block_torch=True, tmp=tmp_path)
    assert written.returncode == 0, written.stderr
    checked = run("build", "specs/nin.yaml", "-o", str(out), "--check", block_torch=True,
                  tmp=tmp_path)
    assert checked.returncode == 0, checked.stderr
    out.write_text(out.read_text() + "# edited\n")
    stale = run("build", "specs/nin.yaml", "-o", str(out), "--check", block_torch=True,
                tmp=tmp_path)
    assert stale.returncode == 1 and "is stale" in stale.stderr
