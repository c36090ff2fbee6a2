"""What a command loads: each verb imports what it needs and no more (the catalog, pydantic,
Jinja and the other verbs load only when used), and `import nnspec` loads its names on first
use. Checked by the modules a fresh process holds; the timings are bench/static_speed.py's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from static_cli import ROOT, nnspec

PROBE = """
import json, sys
from nnspec.cli.main import main
code = main({argv!r})
print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in
                  ('nnspec', 'pydantic', 'jinja2', 'torch'))]))
"""


def loaded(tmp_path, *argv: str) -> tuple[int, set[str]]:
    done = nnspec(code=PROBE.format(argv=list(argv)), tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    code, modules = json.loads(done.stdout.splitlines()[-1])
    return code, set(modules)


def test_validate_loads_neither_pydantic_nor_the_code_generator(tmp_path):
    code, modules = loaded(tmp_path, "validate", "specs/nin.yaml")
    assert code == 0
    assert "nnspec.frontend.spec" in modules and "nnspec.catalog" in modules
    for absent in ("pydantic", "jinja2", "torch", "nnspec.frontend.models", "nnspec.codegen",
                   "nnspec.cli.build", "nnspec.cli.summary", "nnspec.static.summary",
                   "nnspec.importers"):
        assert absent not in modules, absent


def test_build_check_loads_the_code_generator_and_no_pydantic(tmp_path):
    out = tmp_path / "nin.py"
    code, modules = loaded(tmp_path, "build", "specs/nin.yaml", "-o", str(out), "--check")
    assert code == 1  # the file is missing: stale
    assert "nnspec.codegen.generate" in modules and "jinja2" in modules
    assert not {"pydantic", "torch", "nnspec.cli.validate"} & modules


@pytest.mark.parametrize("text", ["nnspec: 1\ninputs: {x: [3]}\nmodel: {children: {a: 3}}\n"])
def test_an_invalid_spec_is_judged_by_the_models(tmp_path, text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    code, modules = loaded(tmp_path, "validate", str(bad))
    assert code == 1
    assert "nnspec.frontend.models" in modules and "pydantic" in modules


def test_import_nnspec_loads_names_on_first_use(tmp_path):
    code = ("import sys, nnspec\n"
            "assert [m for m in sys.modules if m.startswith('nnspec.')] == []\n"
            "assert nnspec.SpecError.__module__ == 'nnspec.diagnostics'\n"
            "assert 'nnspec.api' not in sys.modules\n"
            "with nnspec.static.budget.limit(10):\n"
            "    pass\n"
            "assert callable(nnspec.load) and set(nnspec.__all__) <= set(dir(nnspec))\n"
            "assert not hasattr(nnspec, 'frob')\n")
    done = nnspec(code=code, tmp=tmp_path)
    assert done.returncode == 0, done.stderr


EXITS = """
import atexit, sys
atexit.register(lambda: print("exit handlers ran", file=sys.stderr))
from nnspec.cli.entry import main
sys.exit(main())
"""


@pytest.mark.parametrize(("argv", "code", "handlers"), [
    (["summary", "specs/resnet50.yaml"], 0, False),  # torch-free: ends with os._exit
    (["validate", "specs/nin.yaml", "BAD"], 1, False),
    (["build", "specs/nin.yaml"], 0, True),  # imported torch: exit handlers, then os._exit
])
def test_the_console_entry_ends_fast_without_losing_output(tmp_path, argv, code, handlers):
    """The process entry skips the interpreter's teardown only where nothing needs it: output
    sent to files (block-buffered, unlike a terminal) arrives whole, the exit code survives,
    and exit handlers still run once torch is loaded."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("nnspec: 1\ninputs: {x: [3]}\nmodel: {children: {a: 3}}\n")
    argv = [str(bad) if arg == "BAD" else arg for arg in argv]
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:
        done = subprocess.run([sys.executable, "-c", EXITS, *argv], cwd=ROOT, stdout=stdout,
                              stderr=stderr, env={**os.environ, "PYTHONPATH": str(ROOT)})
    same = nnspec(code=IN_PROCESS.format(argv=argv), tmp=tmp_path)
    expected_out, expected_err = json.loads(same.stdout.splitlines()[-1])
    ran = "exit handlers ran\n"
    assert done.returncode == code
    assert out.read_text() == expected_out
    assert err.read_text() == expected_err + (ran if handlers else "")


IN_PROCESS = """
import contextlib, io, json
from nnspec.cli.main import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    main({argv!r})
print(json.dumps([out.getvalue(), err.getvalue()]))
"""
