"""The wheel of this repository, installed in a fresh virtual environment outside it, works.

One test, so the environment (torch included, about 900 MB) is built once: the wheel is built
from a copy of the repository (every file but git's data and build outputs, so a stale
`build/` cannot add what the sources lack, and parallel runs don't write into the checkout),
must hold every package under nnspec/ and the templates, and is installed with the runtime
dependencies at the versions requirements-dev.txt pins. Then every verb of the installed
`nnspec` console script runs from a temporary directory that holds no checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT, SEED, SPECS

import nnspec

# what `pip wheel` must not see from a working checkout
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                     "__pycache__", "*.pyc", ".*_cache", ".hypothesis")

TINY_FACTORY = """\
from torch import nn


def make():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
"""


def runtime_requirements() -> list[str]:
    """requirements-dev.txt's lines for the packages pyproject.toml depends on."""
    deps = re.search(r"^dependencies = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(
        encoding="utf-8"), re.S | re.M).group(1)
    names = {_canonical(name) for name in re.findall(r'^\s*"([A-Za-z0-9_.-]+)', deps, re.M)}
    pinned = {}
    for line in (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            pinned[_canonical(re.match(r"[A-Za-z0-9_.-]+", line).group(0))] = line
    assert names <= set(pinned), f"runtime dependencies not in requirements-dev.txt: " \
        f"{sorted(names - set(pinned))}"
    assert pinned["torch"] == "torch==2.13.0"
    return [pinned[n] for n in sorted(names)]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def source_packages() -> set[str]:
    return {str(p.parent.relative_to(ROOT)).replace(os.sep, "/")
            for p in (ROOT / "nnspec").rglob("__init__.py") if "__pycache__" not in p.parts}


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=600)


def test_the_wheel_installs_in_a_fresh_venv_and_every_verb_runs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    # --- build: every package and every template is in the wheel
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    dist = tmp_path / "dist"
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source),
                 "-w", str(dist)], tmp_path, env)
    assert built.returncode == 0, built.stderr
    wheel, = dist.glob("nnspec-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    in_wheel = {n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")}
    packages = source_packages()
    assert {"nnspec", "nnspec/cli", "nnspec/runtime"} <= packages
    assert packages - in_wheel == set()
    templates = sorted((ROOT / "templates").glob("*.jinja"))
    assert templates
    assert {f"nnspec/templates/{t.name}" for t in templates} <= names

    # --- install: a venv outside the repository, the wheel and the pinned runtime deps
    # (this pip installs into it, so the venv needs none of its own; --no-compile: compiling
    # torch's sources to bytecode would take most of this test's time)
    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    assert made.returncode == 0, made.stderr
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python, cli = str(bindir / "python"), str(bindir / "nnspec")
    installed = run([sys.executable, "-m", "pip", "--python", python, "install", "-q",
                     "--no-compile", str(wheel), *runtime_requirements()], tmp_path, env)
    assert installed.returncode == 0, installed.stderr

    work = tmp_path / "work"  # no checkout here, nor on the path
    work.mkdir()
    probe = run([python, "-c", "import nnspec, torch; print(nnspec.__file__, torch.__version__)"],
                work, env)
    where, version = probe.stdout.split()
    assert Path(where).is_relative_to(venv) and version.startswith("2.13.0"), probe.stdout
    spec = work / "nin.yaml"
    shutil.copy(SPECS / "nin.yaml", spec)
    assert spec.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=")

    def nnspec_(*args: str, code: int = 0) -> str:
        result = run([cli, *args], work, env)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        return result.stdout

    assert nnspec_("validate", "nin.yaml").strip() == "nin.yaml: ok (Net)"

    summary, = json.loads(nnspec_("summary", "--json", "nin.yaml"))
    assert (summary["model"], summary["params"]) == ("Net", 2_684_702)
    assert summary["inputs"] == {"x": [1, 3, 32, 32]}

    assert nnspec_("graph", "nin.yaml").startswith("flowchart TD\n")

    wider = work / "wider.yaml"
    wider.write_text(spec.read_text(encoding="utf-8").replace(
        "FP_Conv2d(32, 64, pre_relu=True)", "FP_Conv2d(32, 96, pre_relu=True)")
        .replace("FP_Conv2d(64, 128)", "FP_Conv2d(96, 128)"), encoding="utf-8")
    assert "same keys and shapes" in nnspec_("diff", "nin.yaml", "nin.yaml")
    # exit 1: a checkpoint of A does not load into B
    changed = nnspec_("diff", "nin.yaml", "wider.yaml", code=1)
    assert "reshaped" in changed and "2,684,702 (2.68M) -> 2,689,918 (2.69M)" in changed

    schema = json.loads(nnspec_("schema"))
    assert schema["title"] == "nnspec spec"
    assert schema == json.loads((ROOT / "schema" / "nnspec.schema.json").read_text(
        encoding="utf-8"))

    nnspec_("build", "nin.yaml", "-o", "model.py")
    # the installed package writes what the checkout's writes (templates found in the wheel)
    assert (work / "model.py").read_text(encoding="utf-8") == nnspec.generate(
        spec, spec_label="nin.yaml")
    nnspec_("build", "nin.yaml", "-o", "model.py", "--check")
    with (work / "model.py").open("a", encoding="utf-8") as f:
        f.write("# edited\n")
    assert "--- model.py" in nnspec_("build", "nin.yaml", "-o", "model.py", "--check", code=1)
    ran = run([python, "model.py"], work, env)
    assert (ran.returncode, ran.stdout) == (0, "(2, 10)\n"), ran.stderr

    shutil.copy(SEED, work / "seed.md")
    nnspec_("import", "tree", "seed.md", "--fence", "1", "-o", "seed.yaml")
    (work / "tiny.py").write_text(TINY_FACTORY, encoding="utf-8")
    nnspec_("import", "module", "tiny:make", "--input", "x=3,16,16", "-o", "tiny.yaml")
    tiny = (work / "tiny.yaml").read_text(encoding="utf-8")
    assert "- Conv2d(3, 8, 3)\n    - ReLU()\n" in tiny
    assert nnspec_("validate", "seed.yaml", "tiny.yaml").splitlines() == [
        "seed.yaml: ok (Net)", "tiny.yaml: ok (Sequential)"]
