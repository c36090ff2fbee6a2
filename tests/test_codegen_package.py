"""A non-editable install generates code: the wheel ships the templates inside the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT, SPECS

import nnspec
from nnspec.codegen.generate import spec_label


def test_installed_wheel_ships_templates_and_generates_code(tmp_path):
    pytest.importorskip("setuptools", minversion="70.1")  # builds wheels without `wheel`
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("nnspec", "templates"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py"):
        shutil.copy(ROOT / name, source)
    (source / "README.md").write_text("nnspec\n")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(tmp_path / "dist")],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    wheel, = (tmp_path / "dist").glob("nnspec-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (ROOT / "templates").glob("*.jinja"):
        assert f"nnspec/templates/{template.name}" in names

    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                                "--target", str(target), str(wheel)],
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    work = tmp_path / "elsewhere"  # no source checkout on the path
    work.mkdir()
    out = work / "model.py"
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-m", "nnspec", "build", str(SPECS / "nin.yaml"),
                             "-o", str(out)], cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    probe = subprocess.run([sys.executable, "-c", "import nnspec; print(nnspec.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True)
    assert probe.stdout.startswith(str(target))
    nin = str(SPECS / "nin.yaml")
    assert out.read_text() == nnspec.generate(nin, spec_label=spec_label(nin, str(out)))
