"""Hostile specs: nothing in a spec is executed, imported or injected into generated source, and
every resource bomb is refused promptly with a positioned error (never a RecursionError or a
hang). Each check runs under a hang guard."""

from __future__ import annotations

import ast
import io
import sys
import tokenize

import pytest
from hang_guard import hang_guard

import nnspec
from nnspec.cli.main import main
from nnspec.diagnostics import SpecError
from nnspec.ir.analysis import Analysis, ModuleInfo
from nnspec.static import budget

GUARD_S = 10


def run(*argv: str, capsys) -> tuple[int, str]:
    with hang_guard(GUARD_S):
        code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err and "RecursionError" not in err, err
    return code, err


def errors_of(path: str, **params) -> list:
    with hang_guard(GUARD_S), pytest.raises(SpecError) as caught:
        nnspec.load(path, **params)
    return caught.value.diagnostics


def only(diagnostics: list, code: str):
    assert [d.code for d in diagnostics] == [code], [str(d.pos) + " " + d.message
                                                     for d in diagnostics]
    d = diagnostics[0]
    assert d.pos.line >= 1 and d.pos.col >= 1
    return d


SPEC = """\
nnspec: 1
inputs:
  x: [3, 8, 8]
model:
  children:
    conv: Conv2d(3, 4, 3)
"""


# --- nothing is executed or imported --------------------------------------------------------------

# The canary is a stdlib module nothing imports (torch.compile imports colorsys, say):
# if a spec could import it, it would show up in sys.modules.
@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.mkdir [{target}]",
    "!!python/object/new:os.mkdir [{target}]",
    "!!python/object:pathlib.Path {{}}",
    "!!python/name:os.mkdir",
    "!!python/module:os",
])
def test_python_tags_are_refused_and_never_run(tag, tmp_path, write_spec):
    target = tmp_path / "pwned"
    path = write_spec(SPEC + "  doc: " + tag.format(target=f"'{target}'") + "\n")
    d = only(errors_of(path), "unsafe-tag")
    assert d.pos.line == 7 and "is not allowed" in d.message
    assert not target.exists()


class AuditLog:
    """Records interpreter audit events (PEP 578) while active: real hooks, not mocks."""

    installed: AuditLog | None = None

    def __init__(self) -> None:
        self.events: list[str] = []
        self.active = False

    def hook(self, event: str, args: tuple) -> None:
        if self.active and event in ("exec", "import", "os.system", "subprocess.Popen",
                                     "builtins.input", "socket.connect", "open"):
            self.events.append(f"{event} {args[0] if args else ''}")


@pytest.fixture(scope="session")
def audit() -> AuditLog:
    if AuditLog.installed is None:  # an audit hook cannot be removed: install one per process
        AuditLog.installed = AuditLog()
        sys.addaudithook(AuditLog.installed.hook)
    return AuditLog.installed


HOSTILE_EXPRESSIONS = [
    "__import__('tabnanny')",
    "eval('1')",
    "exec('import tabnanny')",
    "open('/etc/passwd')",
    "(lambda: 1)()",
    "().__class__.__bases__[0].__subclasses__()",
    "getattr(max, '__self__')",
    "[c for c in range(3)]",
]


@pytest.mark.parametrize("expression", HOSTILE_EXPRESSIONS)
def test_expressions_are_never_evaluated(expression, write_spec, audit):
    spec = SPEC.replace("Conv2d(3, 4, 3)", f'"Conv2d(3, {expression}, 3)"')
    path = write_spec(spec)
    errors_of(path)  # a first run may import nnspec's own lazy modules
    audit.events.clear()
    audit.active = True
    try:
        diagnostics = errors_of(path)
    finally:
        audit.active = False
    assert [d.code for d in diagnostics] == ["bad-expression"], diagnostics
    opened = [e for e in audit.events if not e.startswith("open ") or "passwd" in e]
    assert opened == [], "nothing may be executed, imported or run"
    assert "tabnanny" not in sys.modules


@pytest.mark.parametrize("step", [
    "x = __import__('tabnanny')", "import tabnanny", "x = exec('1')", "x = conv.__dict__",
    "x = conv(x).__class__", "x = [c for c in x]", "x = eval('x')", "del x",
])
def test_forward_steps_are_never_executed(step, write_spec, audit):
    spec = SPEC + f"  forward:\n    - \"{step}\"\n    - return conv(x)\n"
    path = write_spec(spec)
    errors_of(path)
    audit.events.clear()
    audit.active = True
    try:
        diagnostics = errors_of(path)
    finally:
        audit.active = False
    assert len(diagnostics) == 1 and diagnostics[0].pos.line == 8, diagnostics
    assert [e for e in audit.events if not e.startswith("open ")] == []
    assert "tabnanny" not in sys.modules


# --- nothing is injected into generated source -------------------------------------------------

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
PAYLOAD = "__import__('pathlib').Path('{sentinel}').touch()"


def hostile_values(sentinel: str) -> list[str]:
    code = PAYLOAD.format(sentinel=sentinel)
    return [
        f'"); {code} #',
        f"'; {code} #",
        f'""" + {code} + """',
        f"\n{code}\n",
        f"\\\n{code}",
        f"\u202e {code} \u2066",
        f"ѕafe {code}",  # Cyrillic 'ѕ', a look-alike
        "\x00\x1b[31m",
    ]


def _yaml_str(text: str) -> str:
    """A double-quoted YAML scalar holding exactly `text`."""
    return '"' + "".join(f"\\u{ord(c):04x}" if not c.isalnum() and c != " " else c
                         for c in text) + '"'


def test_hostile_strings_stay_data_in_generated_source(tmp_path, write_spec):
    """In string parameter defaults and list items, and in docs: never code, never raw bidi."""
    sentinel = tmp_path / "injected"
    values = hostile_values(str(sentinel))
    docs = _yaml_str(f'doc """ {PAYLOAD.format(sentinel=sentinel)} \n """ {BIDI}')
    lines = [
        "nnspec: 1", f"doc: {docs}", "inputs:", "  x: [3, 8, 8]", "blocks:", "  B:",
        f"    doc: {docs}", "    params:",
        *[f"      s{i}: {_yaml_str(v)}" for i, v in enumerate(values)],
        "    children:",
        "      conv: {call: 'Conv2d(3, 3, 3, padding=1)', if: '"
        + " and ".join(f"s{i} != \"\"" for i in range(len(values))) + "'}",
        "model:", f"  doc: {docs}", "  params:",
        f"    labels: [{', '.join(_yaml_str(v) for v in values)}]",
        "  children:", "    b: B()", "    relu: {call: 'ReLU()', if: 'len(labels) > 0'}",
        "    b2: |-",  # hostile strings as call arguments, written as Python literals (B keeps
        # its input's shape, so b2 takes b's output)
        "      B(" + ", ".join(f"s{i}={v!r}" for i, v in enumerate(values)) + ")",
    ]
    path = write_spec("\n".join(lines) + "\n")
    source = nnspec.generate(path)
    _assert_inert(source, values)
    with hang_guard(GUARD_S):
        model = nnspec.build(path)  # the runtime executes this very source
    assert not sentinel.exists()
    assert type(model).__name__ == "Net" and hasattr(model.b, "conv")  # conditions held


def test_hostile_spec_path_stays_in_its_comment(tmp_path):
    folder = tmp_path / "a\nimport os; os.system('false') #\u202e"
    folder.mkdir()
    (folder / "spec.yaml").write_text(SPEC, encoding="utf-8")
    source = nnspec.generate(folder / "spec.yaml")
    _assert_inert(source, [])
    assert "import os" in source.splitlines()[0]  # shown, escaped, inside the first comment


def _assert_inert(source: str, values: list[str]) -> None:
    """The source parses, imports only torch, names nothing dangerous, holds no bidi controls,
    and every hostile value appears only as a string constant."""
    tree = ast.parse(source)
    assert not set(BIDI) & set(source), "bidi control characters in generated source"
    imports = {ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Import,
                                                                      ast.ImportFrom))}
    assert imports <= {"import torch", "from torch import nn", "import torch.nn.functional as F",
                       "from collections import OrderedDict"}, imports
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"__import__", "eval", "exec", "os", "open", "getattr", "compile"}
    constants = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    for value in values:
        assert value in constants, f"{value!r} is not a string constant of the source"
    comments = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)
                if t.type == tokenize.COMMENT]
    assert not any("__import__" in c and "\n" in c for c in comments)


@pytest.mark.parametrize("name", [
    "a\nb", "a b", "a'b", 'a"b', "a;b", "a#b", "__import__", "a\u202eb", "ａ", "import",
])
def test_hostile_names_are_refused(name, write_spec):
    path = write_spec(SPEC.replace("conv:", f"{_yaml_str(name)}:"))
    diagnostics = errors_of(path)
    assert diagnostics and {d.code for d in diagnostics} <= {"bad-name"}, diagnostics


def test_look_alike_string_argument_is_refused(write_spec):
    path = write_spec(SPEC.replace("Conv2d(3, 4, 3)", "Conv2d(3, 4, 3, padding_mode='zeroѕ')"))
    d = only(errors_of(path), "wrong-type")
    assert "should be one of 'zeros'" in d.message


# --- resource bombs ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, line", [
    ("nnspec: 1\nx: " + "[" * 10_000 + "]" * 10_000 + "\n", 2),
    ("nnspec: 1\nx: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n", 2),
    ("nnspec: 1\nx:\n" + "".join("  " * i + "- \n" for i in range(1, 300)), 101),
    ("nnspec: 1\n" + "".join(" " * i + "a:\n" for i in range(1000)), 102),
    ("nnspec: 1\nx: " + "- " * 5_000 + "\n", 2),
])
def test_deep_nesting_is_refused_before_parsing(text, line, write_spec, capsys):
    code, err = run("validate", write_spec(text), capsys=capsys)
    assert code == 1
    assert f"spec.yaml:{line}:" in err and ("too-deep" in err or "yaml-syntax" in err), err


DEEP = "[" * 5_000 + "]" * 5_000


@pytest.mark.parametrize("text, line", [
    (f"nnspec: 1\nx: &anchor {DEEP}\n", 2),  # an anchor or a tag before the bracket
    (f"nnspec: 1\nx: !!seq {DEEP}\n", 2),
    (f"nnspec: 1\ndoc: |\n  it's\nx: {DEEP}\n", 4),  # a quote inside a block scalar
    (f"nnspec: 1\ndoc: it\n  's\nx: {DEEP}\n", 4),  # ... or a plain scalar's next line
    (f'nnspec: 1\ndoc: "a\\"" \nx: {DEEP}\n', 3),  # an escaped quote
    (f"nnspec: 1\nx: 1  # it's\ny: {DEEP}\n", 3),  # a quote in a comment
    (f"nnspec: 1\nx: ['a\n  b', {DEEP}]\n", 3),  # a flow list with a multi-line string
])
def test_nesting_scan_is_not_fooled(text, line, write_spec, capsys):
    """Quotes, comments, block scalars, anchors and tags cannot hide nesting from the scan."""
    code, err = run("validate", write_spec(text), capsys=capsys)
    assert code == 1 and f"spec.yaml:{line}:" in err and "spec nests deeper than 100" in err, err


def test_deep_nesting_inside_an_expression(write_spec, capsys):
    for inner in ("(" * 10_000 + "1" + ")" * 10_000, "-" * 1_500 + "1", "1+" * 900 + "1",
                  "max(" * 200 + "1" + ")" * 200):
        path = write_spec(SPEC.replace("Conv2d(3, 4, 3)", f"Conv2d(3, {inner}, 3)"))
        code, err = run("validate", path, capsys=capsys)
        assert code == 1 and "spec.yaml:6:" in err
        assert "error[too-complex]" in err or "error[syntax]" in err, err


def test_billion_laughs(write_spec):
    lines = ["nnspec: 1", 'a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    d = only(errors_of(write_spec("\n".join(lines) + "\n")), "too-large")
    assert "over 200,000 YAML nodes" in d.message


def test_file_size_limit(write_spec):
    d = only(errors_of(write_spec("# " + "x" * 2_100_000 + "\n" + SPEC)), "too-large")
    assert "over the 2,000,000-byte limit" in d.message and d.pos.line == 1


def test_repeat_counts_are_bounded(write_spec):
    for text, code in (("[1] * 10**9", "out-of-range"), ("'ab' * 10**9", "out-of-range"),
                       ("10**10**10", "out-of-range"), ("2**62 * 4", "out-of-range")):
        spec = SPEC.replace("Conv2d(3, 4, 3)", f'"MaxPool2d({text})"')
        d = only(errors_of(write_spec(spec)), code)
        assert d.pos.line == 6


def test_exponential_module_tree_is_refused(write_spec):
    """Ten blocks that each hold ten of the next: 10**10 modules, refused at 50,000."""
    blocks = [f"  B{i}:\n    children: [" + ", ".join([f"B{i + 1}()"] * 10) + "]\n"
              "    base: Sequential\n" for i in range(10)]
    blocks.append("  B10:\n    children: {relu: ReLU()}\n")
    path = write_spec("nnspec: 1\ninputs: {x: [3, 8, 8]}\nblocks:\n" + "".join(blocks)
                      + "model:\n  children: {b: B0()}\n")
    d = only(errors_of(path), "too-large")
    assert "over 50,000 modules" in d.message


# --- the parameter budget ------------------------------------------------------------------------

HUGE = """\
nnspec: 1
inputs:
  x: [1000000]
model:
  children:
    fc: Linear(10**6, 10**6)
"""


def test_a_trillion_parameters_are_refused_before_building(write_spec):
    with hang_guard(GUARD_S), pytest.raises(SpecError) as caught:
        nnspec.build(write_spec(HUGE))  # would need 4 TB if it got as far as torch
    d = only(caught.value.diagnostics, "too-many-params")
    assert "1,000,001,000,000 parameters" in d.message and "10,000,000,000" in d.message
    assert (d.pos.line, d.pos.col) == (6, 9)


def test_max_params_raises_the_budget(write_spec, capsys):
    """The budget guards allocation: static verbs pass; building is refused by the parameter
    budget, then, with it raised, by the memory check (1 TB is not available)."""
    path = write_spec(HUGE)
    assert run("validate", path, capsys=capsys)[0] == 0
    code, err = run("build", path, capsys=capsys)
    assert code == 1 and "too-many-params" in err
    code, err = run("build", "--max-params", "1e11", path, capsys=capsys)
    assert code == 1 and "over the budget of 100,000,000,000" in err
    code, err = run("build", "--max-params", "1e13", path, capsys=capsys)
    assert code == 1 and "out-of-memory" in err and "4,000,004,000,000 bytes" in err
    assert nnspec.load(path).name == "Net"


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "lots", "1e"])
def test_max_params_must_be_a_positive_count(value, write_spec, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--max-params", value, write_spec(SPEC)])
    assert exited.value.code == 2


def test_layers_without_a_rule_are_skipped_and_named(monkeypatch):
    modules = {"": ModuleInfo("", "Net", "block", 110),
               "a": ModuleInfo("a", "Linear", "layer", 110, own_params=110),
               "b": ModuleInfo("b", "Mystery", "layer", None, own_params=None)}
    counted = budget.count(Analysis({}, None, modules, []))
    assert counted.total == 110 and counted.uncounted == {"Mystery"}
    assert counted.largest is modules["a"]
