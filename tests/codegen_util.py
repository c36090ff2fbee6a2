"""Helpers for the code generation tests: ruff, and importing a generated file by its path."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

from conftest import ROOT

CODEGEN_SPECS = ROOT / "tests" / "codegen_specs"
GOLDEN = ROOT / "tests" / "golden" / "generated"


def ruff(*args: str | Path) -> subprocess.CompletedProcess:
    """Run ruff with no configuration (--isolated), so the repository's settings don't apply."""
    return subprocess.run([sys.executable, "-m", "ruff", *map(str, args), "--isolated"],
                          capture_output=True, text=True)


def import_file(path: Path, name: str) -> types.ModuleType:
    """Import a generated module from its file, as another repository would (not via nnspec)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def all_specs() -> list[Path]:
    """The seed specs and the code generation fixtures (long names, hostile strings, ...)."""
    return sorted((ROOT / "specs").glob("*.yaml")) + sorted(CODEGEN_SPECS.glob("*.yaml"))
