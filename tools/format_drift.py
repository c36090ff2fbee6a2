"""Check the in-house formatter against the newest ruff: report any drift in generated files.

A development tool, kept out of CI and out of the test suite (it needs the network and its
answer changes when ruff releases). nnspec lays generated code out itself (nnspec/formatter)
so that generated files' bytes never depend on a user's ruff; the tests pin one ruff version.
This tool asks whether a newer `ruff format` would lay the same files out differently:

    python tools/format_drift.py                  # newest ruff from PyPI, in a scratch venv
    python tools/format_drift.py --venv .drift    # reuse (and upgrade) that venv next time
    python tools/format_drift.py --ruff ~/bin/ruff   # a ruff you already have, no install

Run it from the development environment (the interpreter needs nnspec's dependencies). It
formats, with ruff's default settings (`--isolated`, as a user's repository would):

- every golden generated file, tests/golden/generated/*.py, and
- every spec in specs/ and tests/codegen_specs/, generated fresh (`nnspec build SPEC -o -`),

and prints a unified diff for each file ruff would change, then one summary line per file.
Exit status: 0 no drift, 1 drift (the formatter, or the pinned ruff, needs updating: see
docs/architecture.md, "Why nnspec formats generated code itself"), 2 the check itself failed.
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "generated"
SPEC_DIRS = [ROOT / "specs", ROOT / "tests" / "codegen_specs"]


class CheckFailed(Exception):
    """The check could not run: no ruff, a spec that does not generate, ruff refusing a file."""


def install_ruff(env_dir: Path) -> Path:
    """The newest ruff from the package index, installed (or upgraded) in a venv at env_dir."""
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    if not (bin_dir / "python").exists() and not (bin_dir / "python.exe").exists():
        venv.create(env_dir, with_pip=True)
    python = next(p for p in (bin_dir / "python", bin_dir / "python.exe") if p.exists())
    result = subprocess.run([str(python), "-m", "pip", "install", "-q", "-U", "ruff"],
                            capture_output=True, text=True)
    if result.returncode:
        raise CheckFailed(f"pip install -U ruff failed:\n{result.stderr}")
    return bin_dir / ("ruff.exe" if os.name == "nt" else "ruff")


def ruff_version(ruff: Path | str) -> str:
    result = subprocess.run([str(ruff), "--version"], capture_output=True, text=True)
    if result.returncode:
        raise CheckFailed(f"{ruff} --version failed:\n{result.stderr}")
    return result.stdout.strip()


def sources() -> list[tuple[str, str]]:
    """(label, text) of every golden generated file and every freshly generated spec."""
    out = [(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))
           for path in sorted(GOLDEN.glob("*.py"))]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for spec in sorted(p for d in SPEC_DIRS for p in d.glob("*.yaml")):
        label = str(spec.relative_to(ROOT))
        result = subprocess.run([sys.executable, "-m", "nnspec", "build", label, "-o", "-"],
                                cwd=ROOT, env=env, capture_output=True, text=True)
        if result.returncode:
            raise CheckFailed(f"{label} does not generate:\n{result.stderr}")
        out.append((f"{label} (generated)", result.stdout))
    return out


def formatted(ruff: Path | str, label: str, text: str) -> str:
    """`text` as `ruff format` with default settings writes it."""
    result = subprocess.run([str(ruff), "format", "--isolated", "--stdin-filename",
                             "generated.py", "-"], input=text, capture_output=True, text=True)
    if result.returncode:
        raise CheckFailed(f"ruff format refused {label}:\n{result.stderr}")
    return result.stdout


def drift(ruff: Path | str) -> int:
    """Print the diffs and one summary line per file; the number of files that drift."""
    files = sources()
    summary, drifted = [], 0
    for label, text in files:
        diff = list(difflib.unified_diff(text.splitlines(keepends=True),
                                         formatted(ruff, label, text).splitlines(keepends=True),
                                         f"{label} (nnspec)", f"{label} (ruff format)"))
        if diff:
            drifted += 1
            sys.stdout.writelines(diff)
            changed = sum(line[0] in "+-" for line in diff[2:])
            summary.append(f"DRIFT     {label}: {changed} lines differ")
        else:
            summary.append(f"no drift  {label}")
    print("\n".join(summary))
    return drifted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ruff", help="use this ruff executable instead of installing one")
    parser.add_argument("--venv", type=Path,
                        help="the venv to install (upgrade) ruff in; default: a scratch one")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="nnspec-drift-") as scratch:
            ruff = args.ruff or install_ruff(args.venv or Path(scratch) / "venv")
            print(f"checking against {ruff_version(ruff)}", flush=True)
            drifted = drift(ruff)
    except CheckFailed as e:
        print(f"format_drift: {e}", file=sys.stderr)
        return 2
    print(f"{drifted} file(s) drift" if drifted else "no drift")
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
