"""The bad-spec corpus: every case in tests/bad_specs/*.test runs through the CLI in-process.

A `.test` file holds cases, mypy-style:

    [case unknown_layer]
    nnspec: 1
    ...spec text (written to spec.yaml)...
    [file parent.yaml]
    ...another file beside it, for `extends`...
    -- expect: unknown-layer 7:8 unknown layer or block 'Lineer'
    -- hint: did you mean 'Linear'?

`-- expect: CODE [FILE:]LINE:COL FRAGMENT` is one error (FILE defaults to spec.yaml);
`-- warning: ...` one warning. `-- hint:` / `-- note:` lines check the hint / a note of the
expectation above them. `-- args: ...` adds CLI arguments, `-- exit: N` changes the expected
exit code (default 1), `-- verb: build` runs another verb than `validate` (the build budget is
checked only when building). Directive lines do not count as spec lines. Every diagnostic
printed must be expected and every expectation printed: nothing missing, nothing extra.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nnspec.cli.main import main

CORPUS = Path(__file__).parent / "bad_specs"
MAIN_FILE = "spec.yaml"

_SECTION = re.compile(r"^\[(case|file) ([\w./-]+)\]\s*$")
_EXPECT = re.compile(r"^(expect|warning): ([\w-]+) (?:([\w./-]+):)?(\d+):(\d+) (.+)$")
_HEADER = re.compile(r"^(.+?):(\d+):(\d+): (error|warning)\[([\w-]+)\]: (.*)$")


@dataclass
class Expected:
    severity: str
    code: str
    file: str
    line: int
    col: int
    fragment: str
    hints: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def where(self) -> tuple:
        return (self.severity, self.code, self.file, self.line, self.col)


@dataclass
class Case:
    name: str
    files: dict[str, list[str]] = field(default_factory=dict)
    expected: list[Expected] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    exit: int = 1
    verb: str = "validate"


def parse_corpus(path: Path) -> list[Case]:
    cases: list[Case] = []
    current: list[str] | None = None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        section = _SECTION.match(line)
        if section and section.group(1) == "case":
            cases.append(Case(section.group(2)))
            current = cases[-1].files.setdefault(MAIN_FILE, [])
        elif section:
            current = cases[-1].files.setdefault(section.group(2), [])
        elif line.startswith("-- "):
            _directive(cases[-1], line[3:], f"{path.name}:{lineno}")
        elif current is not None:
            current.append(line)
    return cases


def _directive(case: Case, text: str, where: str) -> None:
    kind, _, value = text.partition(": ")
    if kind in ("expect", "warning"):
        match = _EXPECT.match(text)
        assert match, f"{where}: malformed expectation: {text}"
        severity = "error" if kind == "expect" else "warning"
        case.expected.append(Expected(severity, match.group(2), match.group(3) or MAIN_FILE,
                                      int(match.group(4)), int(match.group(5)), match.group(6)))
    elif kind in ("hint", "note"):
        assert case.expected, f"{where}: '{kind}' needs an expectation above it"
        getattr(case.expected[-1], kind + "s").append(value)
    elif kind == "args":
        case.args += shlex.split(value)
    elif kind == "exit":
        case.exit = int(value)
    elif kind == "verb":
        case.verb = value
    else:
        raise AssertionError(f"{where}: unknown directive '{kind}'")


@dataclass
class Reported:
    severity: str
    code: str
    file: str
    line: int
    col: int
    message: str
    hints: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def where(self) -> tuple:
        return (self.severity, self.code, self.file, self.line, self.col)


def parse_output(text: str) -> list[Reported]:
    """The diagnostics in rendered text: header lines, then their `note:` and `hint:` lines."""
    found: list[Reported] = []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            file, row, col, severity, code, message = header.groups()
            found.append(Reported(severity, code, file, int(row), int(col), message))
        elif line.startswith("  note: ") and found:
            found[-1].notes.append(line[8:])
        elif line.startswith("  hint: ") and found:
            found[-1].hints.append(line[8:])
    return found


def all_cases() -> list:
    params = []
    for path in sorted(CORPUS.glob("*.test")):
        for case in parse_corpus(path):
            params.append(pytest.param(case, id=f"{path.stem}::{case.name}"))
    return params


CASES = all_cases()


def test_corpus_is_large_enough():
    names = [p.id for p in CASES]
    assert len(names) == len(set(names)), "case names must be unique within a file"
    assert len(CASES) >= 60
    per_file: dict[str, int] = {}
    for name in names:
        per_file[name.split("::")[0]] = per_file.get(name.split("::")[0], 0) + 1
    assert min(per_file.values()) >= 3, per_file


@pytest.mark.parametrize("case", CASES)
def test_bad_spec(case: Case, tmp_path, monkeypatch, capsys):
    assert case.expected or case.exit == 0, "a case needs at least one expectation"
    for name, lines in case.files.items():
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = main([case.verb, *case.args, MAIN_FILE])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    reported = parse_output(err)
    shown = "\n".join(f"  {r.severity} {r.code} {r.file}:{r.line}:{r.col} {r.message}"
                      for r in reported)
    assert [e.where() for e in case.expected] == [r.where() for r in reported], \
        f"diagnostics differ; printed:\n{shown}\n\nfull output:\n{err}"
    for want, got in zip(case.expected, reported):
        assert want.fragment in got.message, f"'{want.fragment}' not in '{got.message}'"
        for hint in want.hints:
            assert any(hint in h for h in got.hints), f"hint '{hint}' not in {got.hints}"
        for note in want.notes:
            assert any(note in n for n in got.notes), f"note '{note}' not in {got.notes}"
    assert code == case.exit, err
