"""The pre-commit hooks of .pre-commit-hooks.yaml, run by the pre-commit tool on a scratch
repository (offline: `language: system` installs nothing), and the `check-generated` verb
behind one of them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SPECS
from static_cli import nnspec

from nnspec.cli.main import main

PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None, reason="needs git")


def _outside_git() -> dict[str, str]:
    """The environment without git's repository variables (set when pytest runs in a hook)."""
    return {k: v for k, v in os.environ.items()
            if k not in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY")}


def git(cwd: Path, *args: str) -> str:
    env = {**_outside_git(), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run([GIT, *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> tuple[Path, str]:
    """A git repository holding this checkout's .pre-commit-hooks.yaml (the hooks run the
    installed `nnspec`, so the manifest is all that a hook repository needs), and its commit."""
    repo = tmp_path_factory.mktemp("hooks")
    git(repo, "init", "-q")
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", repo)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "hooks")
    return repo, git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    """PATH with an `nnspec` that runs this checkout with this Python, and pre-commit's cache
    in a scratch folder."""
    home = tmp_path_factory.mktemp("pre-commit-home")
    bin_dir = home / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "nnspec"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m nnspec "$@"\n')
    shim.chmod(0o755)
    return {**_outside_git(), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT), "PRE_COMMIT_HOME": str(home / "cache"),
            "OMP_NUM_THREADS": "1"}


@pytest.fixture
def project(tmp_path, hook_repo) -> Path:
    """A scratch repository whose .pre-commit-config.yaml uses both hooks, with a spec, its
    generated module, a Python file and a YAML file of its own."""
    repo, rev = hook_repo
    git(tmp_path, "init", "-q")
    (tmp_path / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {repo.as_uri()}\n    rev: {rev}\n    hooks:\n"
        "      - id: nnspec-validate\n      - id: nnspec-check-generated\n")
    (tmp_path / "specs").mkdir()
    for name in ("nin.yaml", "nin_dw.yaml"):
        shutil.copy(SPECS / name, tmp_path / "specs")
    (tmp_path / "gen").mkdir()
    assert main(["build", str(tmp_path / "specs/nin.yaml"), "-o",
                 str(tmp_path / "gen/nin.py")]) == 0
    (tmp_path / "gen/util.py").write_text("x = 1\n")
    (tmp_path / "ci.yml").write_text("jobs: {test: {runs-on: '{{ matrix.os }}'}}\n")
    git(tmp_path, "add", ".")
    return tmp_path


def pre_commit(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    if not PRE_COMMIT.is_file():
        pytest.skip("pre-commit is not installed (requirements-dev.txt pins it)")
    return subprocess.run([str(PRE_COMMIT), "run", "--all-files", "--color", "never"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)


def test_both_hooks_pass_on_valid_specs_and_fresh_files(project, env):
    done = pre_commit(project, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nnspec validate" in done.stdout and "nnspec check-generated" in done.stdout
    assert "Failed" not in done.stdout


def test_validate_hook_reports_a_broken_spec(project, env):
    spec = project / "specs/nin.yaml"
    spec.write_text(spec.read_text().replace("Conv2d(", "Conv2e(", 1))
    done = pre_commit(project, env)
    assert done.returncode == 1
    assert "specs/nin.yaml:" in done.stdout and "error[unknown-layer]" in done.stdout
    assert "ci.yml" not in done.stdout  # other YAML is skipped, never parsed


def test_check_generated_hook_reports_a_stale_file(project, env):
    generated = project / "gen/nin.py"
    generated.write_text(generated.read_text().replace("torch.randn(2,", "torch.randn(3,"))
    done = pre_commit(project, env)
    assert done.returncode == 1
    assert "-    x = torch.randn(3," in done.stdout  # the diff back to what nnspec writes
    assert "error[stale-output]: gen/nin.py is stale" in done.stdout
    assert "util.py" not in done.stdout


def test_a_spec_change_shows_in_its_generated_file(project, capsys):
    spec = project / "specs/nin.yaml"
    spec.write_text(spec.read_text().replace("Conv2d(3, 32, 5, padding=2)",
                                             "Conv2d(3, 32, 3, padding=1)"))
    assert main(["check-generated", str(project / "gen")]) == 1
    out, err = capsys.readouterr()
    assert "+++ " in out and "error[stale-output]" in err


def test_check_generated_finds_the_spec_and_set_values_from_any_directory(project, capsys,
                                                                          monkeypatch):
    variant = project / "gen/nin_dw_x2.py"
    assert main(["build", str(project / "specs/nin_dw.yaml"), "--set", "expand=2", "-o",
                 str(variant)]) == 0
    monkeypatch.chdir(project / "gen")
    assert main(["check-generated", "nin_dw_x2.py", "nin.py", "util.py"]) == 0
    monkeypatch.chdir(project)
    assert main(["check-generated", "gen/nin_dw_x2.py"]) == 0
    text = variant.read_text()  # without the --set it records, the spec gives another model
    variant.write_text(text.replace(" --set expand=2 -o", " -o"))
    assert main(["check-generated", "gen/nin_dw_x2.py"]) == 1


def test_check_generated_runs_without_torch(project):
    (project / "blocker").mkdir()
    done = nnspec("check-generated", str(project / "gen"), block_torch=True,
                  tmp=project / "blocker")
    assert done.returncode == 0, done.stderr


def test_check_generated_usage_errors(project, capsys):
    assert main(["check-generated", str(project / "gen/missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    generated = project / "gen/nin.py"
    text = generated.read_text()
    generated.write_text(text.replace("nnspec build ../specs/nin.yaml -o <this file>",
                                      "nnspec build ../specs/nin.yaml --allow-import evil -o "
                                      "<this file>"))
    assert main(["check-generated", str(generated)]) == 2
    assert "pass --allow-import evil to check it" in capsys.readouterr().err
