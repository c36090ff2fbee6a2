"""How diagnostics look: carets under the exact span (quoted, flow, multi-line values, tabs,
wide and control characters, long lines), the error limit, JSON output and exit codes."""

from __future__ import annotations

import json

import pytest

from nnspec.cli.main import main

HEAD = "nnspec: 1\ninputs:\n  x: [3, 8, 8]\nmodel:\n  children:\n"


@pytest.fixture
def check(tmp_path, monkeypatch, capsys):
    """Run `nnspec validate` on spec text in a temporary folder; return (exit code, stderr)."""
    monkeypatch.chdir(tmp_path)

    def run(text: str, *args: str, command: str = "validate") -> tuple[int, str]:
        (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
        code = main([command, *args, "spec.yaml"])
        captured = capsys.readouterr()
        run.out = captured.out
        return code, captured.err

    return run


def excerpt(err: str) -> str:
    """The first diagnostic: header, source line and caret line."""
    return "\n".join(err.splitlines()[:3])


def test_caret_under_a_keyword_in_a_quoted_scalar(check):
    code, err = check(HEAD + '    conv: "Conv2d(3, 8, 3, paddin=1)"\n')
    assert code == 1
    assert excerpt(err) == (
        "spec.yaml:6:28: error[unknown-argument]: Conv2d() has no argument 'paddin'\n"
        '    6 |     conv: "Conv2d(3, 8, 3, paddin=1)"\n'
        "      |                            ^^^^^^^^")
    assert "  hint: did you mean 'padding'?" in err


def test_caret_inside_a_flow_sequence(check):
    code, err = check(HEAD + "    body: [ReLU(), 'Lineer(3, 4)', ReLU()]\n")
    assert excerpt(err) == (
        "spec.yaml:6:21: error[unknown-layer]: unknown layer or block 'Lineer'\n"
        "    6 |     body: [ReLU(), 'Lineer(3, 4)', ReLU()]\n"
        "      |                     ^^^^^^")


@pytest.mark.parametrize("value, line, col", [
    (">\n      Conv2d(3,\n        8, 3, paddin=1)\n", 8, 15),  # folded block scalar
    ("|\n      Conv2d(3,\n      8, 3, paddin=1)\n", 8, 13),  # literal block scalar
    ('"Conv2d(3,\n      8, 3, paddin=1)"\n', 7, 13),  # double-quoted over two lines
    ("Conv2d(3,\n      8, 3, paddin=1)\n", 7, 13),  # plain scalar over two lines
])
def test_caret_on_the_right_line_of_a_multi_line_value(check, value, line, col):
    code, err = check(HEAD + "    conv: " + value)
    header, source, caret = err.splitlines()[:3]
    assert header.startswith(f"spec.yaml:{line}:{col}: error[unknown-argument]")
    assert source.endswith("8, 3, paddin=1)" + ('"' if value.startswith('"') else ""))
    assert caret.index("^") == source.index("paddin") and caret.count("^") == len("paddin=1")


def test_tab_before_the_span_keeps_the_caret_aligned(check):
    code, err = check(HEAD + '    conv: "Conv2d(3,\t8, 3, paddin=1)"\n')
    _, source, caret = err.splitlines()[:3]
    assert "\t" in source and caret.replace("^", "").endswith("\t" + " " * 6)
    assert caret.index("^") == source.index("paddin")


def test_tab_outside_indentation(check):
    code, err = check(HEAD + "    conv: Conv2d(3,\t8, 3)\n")
    assert excerpt(err) == (
        "spec.yaml:6:20: error[yaml-tab]: a tab cannot start a YAML token here\n"
        "    6 |     conv: Conv2d(3,\t8, 3)\n"
        "      |                    ^")


def test_wide_characters_take_two_cells(check):
    code, err = check(HEAD + '    conv: {doc: "卷积层", call: "Lineer(3, 4)"}\n')
    _, source, caret = err.splitlines()[:3]
    # each of the three CJK characters is two cells wide on a terminal
    assert len(caret) - caret.count("^") == len(source[:source.index("Lineer")]) + 3
    assert caret.count("^") == len("Lineer")


def test_bidi_characters_in_the_source_line_are_escaped(check):
    code, err = check(HEAD + '    conv: {doc: "a\u202eb\u2066", call: "Lineer(3, 4)"}\n')
    _, source, caret = err.splitlines()[:3]
    assert "\u202e" not in err and "\u2066" not in err
    assert 'doc: "a\\u202eb\\u2066"' in source
    assert caret.index("^") == source.index("Lineer")


def test_control_characters_in_messages_are_escaped(check):
    code, err = check(HEAD + '    "a\\x1b[2Jb": ReLU()\n')
    assert "\x1b" not in err and "'a\\x1b[2Jb' is not a valid Python identifier" in err


def test_raw_control_character_in_the_file(check):
    code, err = check(HEAD + '    conv: {doc: "a\x1b", call: "ReLU()"}\n')
    assert err.startswith("spec.yaml:6:19: error[yaml-syntax]: control character '\\x1b' is "
                          "not allowed in YAML")


def test_long_lines_are_cut_around_the_caret(check):
    code, err = check(HEAD + "    body: [" + "ReLU(), " * 200 + "'Lineer(3, 4)']\n")
    _, source, caret = err.splitlines()[:3]
    assert len(source) < 150 and source.split("| ", 1)[1].startswith("...")
    assert caret.index("^") == source.index("Lineer")


def test_every_error_is_reported_up_to_a_limit(check):
    children = "".join(f"    c{i}: Conv2d(3, 0, 3)\n" for i in range(60))
    code, err = check(HEAD + children)
    headers = [line for line in err.splitlines() if ": error[bad-value]:" in line]
    assert code == 1 and len(headers) == 50
    assert "nnspec: 10 errors more not shown (the first 50 are above)" in err
    assert err.rstrip().endswith("nnspec: 60 errors")


def test_json_lists_every_diagnostic(check, capsys):
    children = "".join(f"    c{i}: Conv2d(3, 0, 3)\n" for i in range(60))
    code, err = check(HEAD + children + "    d: Lineer(1)\n", "--error-format", "json")
    items = json.loads(err)
    assert code == 1 and len(items) == 61
    assert items[-1] == {
        "file": "spec.yaml", "line": 66, "column": 8, "end_line": 66, "end_column": 14,
        "severity": "error", "code": "unknown-layer",
        "message": "unknown layer or block 'Lineer'", "hint": "did you mean 'Linear'?",
        "notes": []}


def test_json_warnings_exit_zero(check):
    code, err = check(HEAD.replace("model:\n", "model:\n  params: {w: 1}\n") + "    r: ReLU()\n",
                      "--error-format", "json")
    assert code == 0
    assert [(d["severity"], d["code"], d["line"]) for d in json.loads(err)] == [
        ("warning", "unused-param", 5)]


def test_json_is_an_empty_list_for_a_clean_spec(check):
    assert check(HEAD + "    r: ReLU()\n", "--error-format", "json") == (0, "[]\n")


def test_build_prints_warnings_and_exits_zero(check):
    code, err = check(HEAD.replace("model:\n", "model:\n  params: {w: 1}\n") + "    r: ReLU()\n",
                      command="build")
    assert code == 0 and "warning[unused-param]" in err
    assert "Net: 0 parameters" in check.out


def test_build_strict_and_json(check):
    text = HEAD.replace("model:\n", "model:\n  params: {w: 1}\n") + "    r: ReLU()\n"
    code, err = check(text, "--strict", "--error-format", "json", command="build")
    assert code == 1
    assert [(d["severity"], d["code"]) for d in json.loads(err)] == [("error", "unused-param")]


def test_exit_codes(check, tmp_path, monkeypatch, capsys):
    assert check(HEAD + "    r: ReLU()\n")[0] == 0
    assert check(HEAD + "    r: Lineer()\n")[0] == 1
    assert main(["validate", "missing.yaml"]) == 2
    assert main(["validate", "spec.yaml", "--set", "nonsense"]) == 2
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--no-such-option", "spec.yaml"])
    assert exited.value.code == 2

    import nnspec.cli.validate as command

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(command, "load_checked", broken)
    capsys.readouterr()
    assert main(["validate", "spec.yaml"]) == 3
    assert "internal error" in capsys.readouterr().err
    assert main(["--debug", "validate", "spec.yaml"]) == 3
    assert "RuntimeError: a bug" in capsys.readouterr().err


def test_the_documented_diagnostic_is_real(check):
    """docs/diagnostics.md shows real output: rerun its first example and compare."""
    from conftest import ROOT

    text = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    spec = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    console = text.split("```console\n", 1)[1].split("```", 1)[0]
    shown = console.split("$ nnspec validate tiny.yaml\n", 1)[1].split("$ echo", 1)[0]
    code, err = check(spec)
    assert code == 1 and err == shown.replace("tiny.yaml", "spec.yaml")
