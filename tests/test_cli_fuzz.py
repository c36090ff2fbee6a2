"""The command's failure contract, held for every verb on hostile input.

Fuzzing: every verb (`validate`, `summary`, `graph`, `diff`, `schema --check`, `build -o`,
`build --check`, `import tree`) runs as a real process (`python -m nnspec`) on byte- and
line-level mutations of the specs in specs/ and tests/specs/ and of printed module trees, on
hostile bytes, with hostile `--set` values and hostile output targets (a foreign file, a
directory, a null device, a path in a missing directory, the spec itself). Each case runs in a
fresh folder holding copies of its inputs, under a memory limit and a timeout, and must:

- exit 0, 1 or 2 (3 is a defect in nnspec; a signal or the timeout is a crash or a hang);
- print no Python traceback (it runs with --debug, so an internal error shows one);
- change no file outside its output folder (the repository's specs, its copied inputs, the
  foreign file it was told to write over) and leave no temporary file behind.

The budget is bounded for CI (the search 30 s, plus the case running then; the whole file
about 50 s); NNSPEC_FUZZ_EXAMPLES and NNSPEC_FUZZ_SECONDS search longer (README.md, "Fuzzing
for longer"). Failing cases are printed with the command and the input's first bytes; the
case's folder is kept under NNSPEC_FUZZ_KEEP when that is set. The cases the search has found
run every time, each as its own test (FOUND).

The JSON contract: with `--error-format json` a usage error (exit 2) and an internal error
(exit 3) print one JSON object on stderr, as diagnostics do; so does a stale `--check`.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT
from hostile_inputs import HOSTILE_BYTES, HOSTILE_LINES, HOSTILE_TREE_LINES, mutated, set_option
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import nnspec.api
from nnspec.cli import main as cli

EXAMPLES = int(os.environ.get("NNSPEC_FUZZ_EXAMPLES", "60"))
BUDGET_S = float(os.environ.get("NNSPEC_FUZZ_SECONDS", "30"))  # wall time of the search
KEEP = os.environ.get("NNSPEC_FUZZ_KEEP")  # a folder to copy failing cases' folders into
TIMEOUT_S = 20  # one case: a hang guard, not a benchmark (a case takes about 0.5 s, torch 4 s)
MEMORY_BYTES = 2 * 2**30  # RLIMIT_AS of one case: enough to import torch, not for a bomb
OK_EXITS = (0, 1, 2)

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking costs minutes
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

# what each case gets a copy of: every spec with the parents they extend, and printed trees
INPUT_DIRS = ["specs", "tests/specs", "tests/codegen_specs"]
SPEC_SOURCES = sorted(p.relative_to(ROOT).as_posix() for p in
                      [*(ROOT / "specs").glob("*.yaml"), *(ROOT / "tests/specs").rglob("*.yaml")])
TREE_SOURCES = sorted(p.relative_to(ROOT).as_posix() for p in
                      [*(ROOT / "tests/golden").rglob("tree.txt"),
                       ROOT / "tests/golden/seed/nin_variants.md"])
# the repository's own inputs, which no case may touch
WATCHED = [ROOT / d for d in INPUT_DIRS] + [ROOT / "tests/golden", ROOT / "schema"]


# --- one case --------------------------------------------------------------------------------

VERBS = ["validate", "summary", "graph", "diff", "schema-check", "build-o", "build-check",
         "import-tree"]
TARGETS = ["fresh", "foreign", "directory", "null", "missing-dir", "the-input"]
FOREIGN = "print('a file nnspec did not write')\n"


@dataclass
class Case:
    verb: str
    source: str  # the input it mutates, relative to the repository (or "hostile bytes")
    data: bytes
    mutations: list[str]
    sets: list[str]
    target: str

    def describe(self, argv: list[str]) -> str:
        return (f"verb {self.verb}, input {self.source} mutated by {self.mutations}, "
                f"target {self.target}\n  argv: {argv!r}\n  input (first 300 bytes): "
                f"{self.data[:300]!r}")


@st.composite
def cases(draw) -> Case:
    verb = draw(st.sampled_from(VERBS))
    tree = verb == "import-tree"
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "hostile", "pristine"]))
    if kind == "hostile":
        source, mutations = "hostile bytes", []
        data = draw(st.one_of(st.sampled_from(HOSTILE_BYTES), st.binary(max_size=512)))
    else:
        source = draw(st.sampled_from(TREE_SOURCES if tree else SPEC_SOURCES))
        data = (ROOT / source).read_bytes()
        mutations = []
        if kind == "mutated":
            data, mutations = draw(mutated(data, HOSTILE_TREE_LINES if tree else HOSTILE_LINES))
    sets = [] if tree or verb == "schema-check" else \
        draw(st.lists(set_option(), max_size=2 if kind == "pristine" else 1))
    target = draw(st.sampled_from(TARGETS))
    return Case(verb, source, data, mutations, sets, target)


def _limit() -> None:
    """In the child, before exec: cap its address space, so a bomb fails in it, not here."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def _null_device(out: Path) -> str:
    """A null device to write to. As root, a private one in `out` (os.mknod): a write path
    that replaced the real /dev/null by renaming over it would break the machine."""
    if os.geteuid() != 0:
        return os.devnull
    path = out / "null"
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except OSError:
        pytest.skip("cannot make a private null device as root (and will not risk /dev/null)")
    return str(path)


def _snapshot(roots: list[Path]) -> dict[str, tuple[int, int, bytes | None]]:
    """Every file under `roots`: mtime, size, and the bytes of small ones."""
    found = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(root.rglob("*")) if root.exists() else []
        for path in paths:
            if path.is_file() and not path.is_symlink():
                info = path.stat()
                small = info.st_size <= 4_000_000
                found[str(path)] = (info.st_mtime_ns, info.st_size,
                                    path.read_bytes() if small else None)
    return found


def _changed(before: dict, after: dict) -> list[str]:
    return sorted({p for p in before.keys() | after.keys() if before.get(p) != after.get(p)})


def _leftovers(folder: Path, out: Path) -> list[str]:
    """Temporary files anywhere in the case's folder, and hidden files in its output folder."""
    found = [p for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name]
    found += [p for p in out.rglob(".*")]
    return sorted({str(p.relative_to(folder)) for p in found})


def _argv(case: Case, spec: str, target: str) -> list[str]:
    sets = [w for s in case.sets for w in ("--set", s)]
    if case.verb == "validate":
        return ["validate", spec, *sets]
    if case.verb == "summary":
        return ["summary", spec, *sets]
    if case.verb == "graph":
        return ["graph", spec, *sets]
    if case.verb == "diff":
        other = ["specs/nin.yaml"] if not sets else []
        return ["diff", spec, *other, *sets]
    if case.verb == "schema-check":
        return ["schema", "--check", "-o", target]
    if case.verb == "build-o":
        return ["build", spec, "-o", target, *sets]
    if case.verb == "build-check":
        return ["build", spec, "--check", "-o", target, *sets]
    return ["import", "tree", spec, "-o", target]


def run_case(case: Case, folder: Path, template: Path) -> None:
    """Run one case in `folder` and check the contract; fail with a reproducible message."""
    shutil.copytree(template, folder, symlinks=True)
    out = folder / "out"
    out.mkdir()
    if case.source.startswith(("specs/", "tests/")):
        spec = case.source  # its own copy, so that `extends` finds the parents beside it
    else:
        spec = "specs/hostile.yaml" if case.verb != "import-tree" else "tree.txt"
    (folder / spec).write_bytes(case.data)
    foreign = out / "foreign.py"
    foreign.write_text(FOREIGN, encoding="utf-8")
    (out / "directory").mkdir()
    target = {"fresh": "out/model.py", "foreign": "out/foreign.py",
              "directory": "out/directory", "null": "",
              "missing-dir": "out/missing/deeper/model.py", "the-input": spec}[case.target]
    if case.target == "null":
        target = _null_device(out)
    argv = _argv(case, spec, target)

    watched = [p for p in folder.iterdir() if p.name != "out"] + [foreign]
    before_repo, before = _snapshot(WATCHED), _snapshot(watched)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run([sys.executable, "-m", "nnspec", "--debug", *argv], cwd=folder,
                              env=env,
                              capture_output=True, timeout=TIMEOUT_S, preexec_fn=_limit)
        code, text = done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        code, text = None, ((exc.stdout or b"") + (exc.stderr or b"")).decode("utf-8",
                                                                              "replace")
    problems = []
    if code not in OK_EXITS:
        problems.append(f"exit {code}" if code is not None else f"no answer in {TIMEOUT_S} s")
    if "Traceback" in text:
        problems.append("a traceback")
    changed = _changed(before, _snapshot(watched)) + _changed(before_repo, _snapshot(WATCHED))
    if changed:
        problems.append(f"changed files outside its output folder: {changed}")
    left = _leftovers(folder, out)
    if left:
        problems.append(f"left temporary files: {left}")
    if problems:
        if KEEP:
            shutil.copytree(folder, Path(KEEP) / folder.name, dirs_exist_ok=True, symlinks=True)
        pytest.fail(f"{'; '.join(problems)}\n  {case.describe(argv)}\n  output (last 1500 "
                    f"characters):\n{text[-1500:]}", pytrace=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The inputs every case gets a copy of, laid out as in the repository."""
    path = tmp_path_factory.mktemp("fuzz-inputs") / "case"
    for name in INPUT_DIRS:
        shutil.copytree(ROOT / name, path / name)
    for source in TREE_SOURCES:
        (path / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / source, path / source)
    return path


class Clock:
    """The fuzz run's wall-time budget: once spent, the remaining examples are skipped (but a
    failing case found before is still replayed in full)."""

    start: float | None = None
    failed = False


@FUZZ
@given(case=cases())
def test_every_verb_keeps_the_contract_on_hostile_input(case, template, tmp_path_factory):
    if Clock.start is None:
        Clock.start = time.monotonic()
    if time.monotonic() - Clock.start > BUDGET_S and not Clock.failed:
        return
    folder = tmp_path_factory.mktemp("case", numbered=True) / "run"
    try:
        run_case(case, folder, template)
    except BaseException:
        Clock.failed = True
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Hostile cases the fuzz has found, each run every time as its own test: the checklist of what
# the contract must hold on, whatever the random search happens to draw.
LSTM_TREE = "tests/golden/reference/lstm_classifier/tree.txt"


def _case(verb: str, source: str, target: str = "fresh", data: bytes | None = None,
          sets: tuple[str, ...] = ()) -> Case:
    return Case(verb, source, (ROOT / source).read_bytes() if data is None else data, [],
                list(sets), target)


FOUND = {
    "set-deep-list": _case("validate", "specs/nin.yaml", sets=("expand=" + "[" * 500,)),
    "set-deep-list-diff": _case("diff", "specs/nin_dw.yaml", sets=("expand=" + "[" * 500,)),
    "int-of-5000-digits": _case("validate", "specs/nin.yaml", data=(ROOT / "specs/nin.yaml")
                                .read_bytes().replace(b"nnspec: 1", b"k: " + b"9" * 5000, 1)),
    "schema-check-non-utf8": _case("schema-check", "specs/nin.yaml", "the-input",
                                   data=b"nnspec: 1\n\xbd\xff\n"),
    "import-non-utf8": _case("import-tree", "hostile bytes", data=b"Net(\xdc\xcf\n)\n"),
    "import-over-foreign": _case("import-tree", LSTM_TREE, "foreign"),
    "import-over-its-input": _case("import-tree", LSTM_TREE, "the-input"),
    "import-to-directory": _case("import-tree", LSTM_TREE, "directory"),
    "import-to-missing-dir": _case("import-tree", LSTM_TREE, "missing-dir"),
    "build-to-null": _case("build-o", "specs/nin.yaml", "null"),
    "build-over-foreign": _case("build-o", "specs/nin.yaml", "foreign"),
    "build-over-its-input": _case("build-o", "specs/nin.yaml", "the-input"),
    "build-to-directory": _case("build-o", "specs/nin.yaml", "directory"),
    "build-to-missing-dir": _case("build-o", "specs/nin.yaml", "missing-dir"),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_found_hostile_case(name, template, tmp_path):
    run_case(FOUND[name], tmp_path / "run", template)


# --- the JSON contract, in process ----------------------------------------------------------

def _run(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    return code, capsys.readouterr().err


def _one_object(err: str, code: str) -> dict:
    [found] = json.loads(err)
    assert set(found) >= {"file", "line", "column", "severity", "code", "message", "hint",
                          "notes"}
    assert (found["code"], found["severity"]) == (code, "error")
    return found


@pytest.mark.parametrize("argv", [
    ["validate", "specs/nope.yaml"],
    ["summary", "specs/nin.yaml", "--set", "expand"],
    ["graph", "specs/nin.yaml", "--depth", "-1"],
    ["build", "specs/nin.yaml", "--check"],
    ["diff", "specs/nin.yaml"],
    ["schema", "--check"],
    ["import", "tree", "no-such-tree.txt"],
    ["validate", "specs/nin.yaml", "--frob"],  # argparse's own
    ["build", "specs/nin.yaml", "--max-params", "lots"],
    ["frob"],
])
@pytest.mark.parametrize("form", [["--error-format", "json"], ["--error-format=json"]])
def test_a_usage_error_is_one_json_object(capsys, monkeypatch, argv, form):
    monkeypatch.chdir(ROOT)
    code, err = _run(capsys, *argv, *form)
    assert code == 2
    found = _one_object(err, "usage")
    assert found["message"] and (found["line"], found["column"]) == (0, 0)


def test_a_usage_error_stays_text_without_json(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, err = _run(capsys, "validate", "specs/nope.yaml")
    assert (code, err) == (2, "nnspec: error: no such spec file: specs/nope.yaml\n")


@pytest.mark.parametrize("verb", ["validate", "summary", "graph", "build"])
@pytest.mark.parametrize("debug", [False, True])
def test_an_internal_error_is_one_json_object(capsys, monkeypatch, verb, debug):
    def boom(*args, **kwargs):
        raise KeyError("an nnspec bug")

    monkeypatch.setattr(nnspec.api, "load", boom)
    monkeypatch.setattr(nnspec.api, "summary", boom)
    monkeypatch.chdir(ROOT)
    argv = [verb, "specs/nin.yaml", "--error-format", "json"] + (["--debug"] if debug else [])
    code, err = _run(capsys, *argv)
    assert code == 3
    found = _one_object(err, "internal")
    assert "bug in nnspec" in found["message"]
    assert found["notes"][0] == "KeyError: 'an nnspec bug'"
    assert ("Traceback" in "".join(found["notes"])) is debug


def test_spec_errors_are_json_in_every_verb(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nnspec: 1\ninputs: {x: [3]}\nmodel:\n  children:\n    a: Lineer(3, 3)\n",
                   encoding="utf-8")
    for argv in (["validate"], ["summary"], ["graph"], ["build"]):
        code, err = _run(capsys, *argv, str(bad), "--error-format", "json")
        assert code == 1
        assert [d["code"] for d in json.loads(err)] == ["unknown-layer"], argv


@pytest.mark.parametrize("verb", [["build", "specs/nin.yaml"], ["schema"]])
def test_a_stale_check_is_json(capsys, monkeypatch, tmp_path, verb):
    """A stale or missing --check target is a failure (exit 1) like any other: in JSON too."""
    monkeypatch.chdir(ROOT)
    code, err = _run(capsys, *verb, "--check", "-o", str(tmp_path / "missing.py"),
                     "--error-format", "json")
    assert code == 1
    found = json.loads(err)
    assert isinstance(found, list) and found and all(d["severity"] == "error" for d in found)


@pytest.mark.parametrize("argv,expected", [
    (["validate", "a", "--error-format", "json"], "json"),
    (["validate", "a", "--error-format=json"], "json"),
    (["validate", "a", "--error-f", "json"], "json"),
    (["validate", "--error-format", "json", "--error-format", "text"], "text"),
    (["validate", "--", "--error-format", "json"], "text"),
    (["validate", "--error-format"], "text"),
    (["validate", "--set", "error-format=json"], "text"),
])
def test_the_format_is_read_from_argv_before_parsing(argv, expected):
    assert cli.requested_format(argv) == expected
