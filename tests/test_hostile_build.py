"""Hostile specs against building: every spec that validates generates and builds, and every
input a user can write that nnspec cannot build is refused with a diagnostic (exit 1, or 2 for
the command's own arguments), never an internal error (exit 3)."""

from __future__ import annotations

import ast
import builtins
import pickle
import sys

import pytest
from conftest import spec_files, suite_params
from hang_guard import hang_guard

import nnspec
from nnspec.cli.main import main
from nnspec.diagnostics import SpecError
from nnspec.elaborate.order import MAX_MODULE_DEPTH
from nnspec.language.names import RESERVED
from nnspec.static import budget


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return code, err


def codes(path: str, **params) -> list[str]:
    with pytest.raises(SpecError) as caught:
        nnspec.load(path, **params)
    return [d.code for d in caught.value.diagnostics]


# --- names: validation and generation agree -------------------------------------------------

NAMED = """\
nnspec: 1
inputs:
  {input}: [4]
blocks:
  {block}:
    params:
      {param}: 2
    children:
      layers:
        - repeat: {param}
          as: {var}
          call: Linear(4, 4 + 0 * {var})
    forward:
      - return layers(x)
model:
  name: Net
  children:
    a: {block}(2)
  forward:
    - return a({input})
"""
DEFAULTS = dict(input="x", block="Blk", param="n", var="i")


def named(**names: str) -> str:
    return NAMED.format(**(DEFAULTS | names))


@pytest.mark.parametrize("names", [dict(block="range"), dict(param="range"), dict(var="range"),
                                   dict(param="isinstance"), dict(param="Blk"),
                                   dict(var="Blk"), dict(input="math")])
def test_names_that_would_break_generated_code_are_refused(names, write_spec, capsys):
    path = write_spec(named(**names))
    code, err = run(capsys, "build", path, "-o", "-")
    assert code == 1 and ("bad-name" in err or "name-clash" in err), err


def _generated_module_names(source: str) -> set[str]:
    """The builtins and imported names a generated module reads."""
    tree = ast.parse(source)
    imported = {a.asname or a.name.split(".")[0] for n in ast.walk(tree)
                if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    bound = {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
             for a in [*n.posonlyargs, *n.args, *n.kwonlyargs]}
    bound |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Store)}  # spec names: arguments and locals
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - (bound - imported)
    return {n for n in read if n in imported or (hasattr(builtins, n) and not n.startswith("__"))}


def test_the_reserved_set_covers_what_generated_code_reads():
    """RESERVED is derived from the generated code: every builtin and imported name the
    module of any shipped spec reads is reserved, so no spec name can shadow it."""
    read: set[str] = set()
    for path in spec_files():
        read |= _generated_module_names(nnspec.generate(str(path), **suite_params(path)))
    assert read - RESERVED == set()


SAMPLE_BUILTINS = ["input", "sum", "id", "map", "zip", "dict", "iter", "next", "open",
                   "format", "getattr", "enumerate", "ValueError", "hash", "vars", "slice"]
# names generated code invents for its own locals: it must pick others when a spec has them
GENERATED_LOCALS = ["m", "model", "output", "val", "mask", "layer", "layers", "x_input", "Net"]


@pytest.mark.parametrize("name", sorted(RESERVED) + SAMPLE_BUILTINS + GENERATED_LOCALS)
def test_a_spec_that_validates_always_generates_and_builds(name, write_spec):
    """Property: a name in any position is refused by validation with a diagnostic, or the
    generated code builds and runs."""
    from nnspec.runtime.model import example_inputs

    for position in DEFAULTS:
        path = write_spec(named(**{position: name}), f"{position}.yaml")
        try:
            spec = nnspec.load(path)
        except SpecError as exc:
            assert exc.diagnostics and all(d.pos for d in exc.diagnostics)
            continue
        source = nnspec.generate(spec)
        compile(source, path, "exec")
        model = nnspec.build(spec)
        out = model(*example_inputs(spec.program, batch=1))
        assert tuple(out.shape) == (1, 4), (position, name)


# --- deep module trees ------------------------------------------------------------------------

def chain(n: int) -> str:
    """n blocks, each holding the next: a tree n + 2 levels deep from YAML 4 levels deep."""
    lines = ["nnspec: 1", "inputs:", "  x: [4]", "blocks:", "  B0:", "    children:",
             "      l: Linear(4, 4)", "    forward:", "      - return l(x)"]
    for i in range(1, n):
        lines += [f"  B{i}:", "    children:", f"      c: B{i - 1}()", "    forward:",
                  "      - return c(x)"]
    lines += ["model:", "  name: Net", "  children:", f"    c: B{n - 1}()", "  forward:",
              "    - return c(x)"]
    return "\n".join(lines) + "\n"


def test_a_module_tree_300_deep_is_refused_at_its_bound(write_spec, capsys):
    path = write_spec(chain(300))
    for verb in (["validate"], ["build", "-o", "-"], ["build"], ["summary"], ["graph"]):
        code, err = run(capsys, *verb, path)
        assert code == 1 and "too-deep-modules" in err and f"limit is {MAX_MODULE_DEPTH}" in err
    with pytest.raises(SpecError) as caught:
        nnspec.load(path)
    [d] = caught.value.diagnostics
    assert d.pos.line > 1


def test_a_module_tree_at_the_bound_builds(write_spec):
    path = write_spec(chain(MAX_MODULE_DEPTH - 2))
    model = nnspec.build(path)
    assert len(list(model.modules())) == MAX_MODULE_DEPTH
    assert pickle.loads(pickle.dumps(model)) is not None


# --- declared inputs --------------------------------------------------------------------------

@pytest.mark.parametrize("inputs", ["x: [9223372036854775808]", "x: [1000000, 1000000, 1000]",
                                    "x: {shape: [4], dtype: int8, range: [0, 1000]}",
                                    "x: {shape: [4], dtype: int64, range: [0, 2**70]}"])
def test_inputs_that_cannot_be_made_are_refused_at_validation(inputs, write_spec, capsys):
    path = write_spec(f"nnspec: 1\ninputs:\n  {inputs}\nmodel:\n  children:\n"
                      "    e: Identity()\n")
    code, err = run(capsys, "validate", path)
    assert code == 1 and ("out-of-range" in err or "wrong-type" in err), err
    assert f"{path}:3:" in err


# --- deeply nested parameter values ---------------------------------------------------------

def test_a_deeply_nested_list_default_is_refused(write_spec, capsys):
    deep = "[" * 90 + "1" + "]" * 90
    path = write_spec(named().replace("  name: Net", f"  name: Net\n  params:\n    v: {deep}"))
    code, err = run(capsys, "validate", path)
    assert code == 1 and "too-complex" in err and "limit is 32" in err


def test_a_deeply_nested_set_value_is_refused(write_spec, tmp_path, capsys):
    path = write_spec(named().replace("  name: Net", "  name: Net\n  params:\n    v: list"))
    deep = "[" * 50 + "1" + "]" * 50  # within the YAML reader's depth, over the value's
    code, err = run(capsys, "build", path, "--set", f"v={deep}", "-o", str(tmp_path / "m.py"))
    assert code == 1 and "too-complex" in err
    deeper = "[" * 200 + "1" + "]" * 200  # refused by the reader, as in a spec file
    code, err = run(capsys, "build", path, "--set", f"v={deeper}", "-o", str(tmp_path / "m.py"))
    assert code == 1 and "--set:1:" in err and "too-deep" in err
    ok = "[" * 32 + "1" + "]" * 32
    assert run(capsys, "build", path, "--set", f"v={ok}", "-o", str(tmp_path / "m.py"))[0] == 0


# --- the build budget -------------------------------------------------------------------------

LLM = """\
nnspec: 1
inputs:
  x: [8192]
model:
  name: Net
  children:
    layers:
      - repeat: 1000
        call: Linear(8192, 8192)
"""


def test_static_verbs_are_not_held_to_the_build_budget(write_spec, tmp_path, capsys):
    """67 billion parameters validate, summarise, diff, graph and generate; only building is
    refused."""
    path = write_spec(LLM)
    out = str(tmp_path / "m.py")
    for verb in (["validate"], ["summary"], ["diff", path], ["graph"], ["build", "-o", out],
                 ["build", "--check", "-o", out]):
        assert run(capsys, *verb, path)[0] == 0, verb
    code, err = run(capsys, "build", path)
    assert code == 1 and "too-many-params" in err
    assert nnspec.load(path).name == "Net"


def test_building_compares_bytes_with_memory(write_spec, monkeypatch, capsys):
    monkeypatch.setattr(budget, "available_memory", lambda: 10**6)
    path = write_spec("nnspec: 1\ninputs: {x: [512]}\nmodel:\n  children:\n"
                      "    fc: Linear(512, 512)\n    bn: BatchNorm1d(512)\n")
    with pytest.raises(SpecError) as caught:
        nnspec.build(path)
    [d] = caught.value.diagnostics
    need = (512 * 512 + 512 + 2 * 512) * 4 + (2 * 512 + 1) * 4
    assert d.code == "out-of-memory" and f"{need:,} bytes" in d.message
    assert "1,000,000 bytes" in d.message
    code, err = run(capsys, "build", path)
    assert code == 1 and "out-of-memory" in err
    assert nnspec.build(path, device="meta") is not None  # meta allocates nothing


def test_a_failed_allocation_is_the_same_diagnostic(write_spec, monkeypatch, capsys):
    import torch

    def refuse(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not "
                           "enough memory: you tried to allocate 1 bytes.")

    monkeypatch.setattr(torch.nn.Linear, "reset_parameters", refuse)
    path = write_spec("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  children:\n"
                      "    fc: Linear(4, 4)\n")
    code, err = run(capsys, "build", path)
    assert code == 1 and "out-of-memory" in err and "bytes" in err
    monkeypatch.setattr(torch.nn.Linear, "reset_parameters", lambda self: [][1])
    with pytest.raises(IndexError):  # not about memory: nnspec's own failure, as before
        nnspec.build(path)


def test_unpickling_a_meta_model_over_the_budget(write_spec):
    path = write_spec(LLM.replace("1000", "2"))
    model = nnspec.build(path, device="meta")
    with budget.limit(10):
        copy = pickle.loads(pickle.dumps(model))
    assert type(copy).__name__ == "Net"


# --- user templates ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["{{ 1/0 }}", "{{ m.root | no_such_filter }}",
                                  "{% include 'main.jinja' %}", "{{ m.nothing.deeper }}"])
def test_a_user_template_that_fails_is_a_usage_error(text, write_spec, tmp_path, capsys):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "main.jinja").write_text(text)
    path = write_spec(named())
    code, err = run(capsys, "build", path, "-o", "-", "--templates", str(templates))
    assert code == 2 and "template error" in err and "main.jinja" in err, err


# --- user layers' declarations ----------------------------------------------------------------

LAYER_SPEC = """\
nnspec: 1
inputs:
  x: [4]
layers:
  L: {pkg}.m:L
model:
  children:
    l: L(4)
  forward:
    - return l(x)
"""
DECLARATIONS = {
    "raises": 'raise RuntimeError("broken")',
    "exits": "raise SystemExit(7)",
    "bad_args": 'declare_layer("{pkg}.m:L", 5)',
    "bad_arg_name": 'declare_layer("{pkg}.m:L", [Arg(1, "int")])',
    "bad_rule": 'declare_layer("{pkg}.m:L", [Arg("c", "int")], shape=3)',
    "rule_raises": 'declare_layer("{pkg}.m:L", [Arg("c", "int")], params=lambda a: 1 / 0)',
    "rule_returns": 'declare_layer("{pkg}.m:L", [Arg("c", "int")], shape=lambda a, i: "x")',
    "checks_raise": 'declare_layer("{pkg}.m:L", [Arg("c", "int")], checks=lambda a: 1 / 0)',
    "bad_state": 'declare_layer("{pkg}.m:L", [Arg("c", "int")], state=lambda a: {{"w": 1}})',
}


@pytest.mark.parametrize("fault", sorted(DECLARATIONS))
def test_faulty_declarations_name_the_users_package(fault, write_spec, tmp_path, monkeypatch,
                                                    capsys):
    pkg = f"hostile_decl_{fault}"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / pkg / "nnspec_layers.py").write_text(
        "from nnspec import Arg, declare_layer\n" + DECLARATIONS[fault].format(pkg=pkg) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_spec(LAYER_SPEC.format(pkg=pkg))
    try:
        code, err = run(capsys, "validate", path, "--allow-import", pkg)
    finally:
        for name in [m for m in sys.modules if m.startswith(pkg)]:
            del sys.modules[name]
    assert code == 1 and pkg in err, err
    assert "import-failed" in err or "user-layer-failed" in err


# --- many cheap repeats -----------------------------------------------------------------------

def test_a_hundred_thousand_repeats_are_refused(write_spec, capsys):
    path = write_spec("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  children:\n    body:\n"
                      "      - {repeat: 100000, call: ReLU()}\n  forward: [return body(x)]\n")
    with hang_guard(30):  # a hang guard, not a benchmark (bench/hostile.py shows the time)
        code, err = run(capsys, "build", path)
    assert code == 1 and "too-large" in err


def _children(n: int) -> str:
    return ("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  children:\n    body:\n"
            + "      - ReLU()\n" * n + "  forward: [return body(x)]\n")


def test_a_hundred_thousand_children_are_refused_at_once(write_spec, capsys):
    """How the verbs' cost grows is bench/scaling.py's to show (timings are never asserted in
    a test); here: a model over the module bound is refused, not built."""
    with pytest.raises(SpecError) as caught:
        nnspec.load(write_spec(_children(100000), "huge.yaml"))
    assert {d.code for d in caught.value.diagnostics} <= {"too-large"}


def test_a_loop_variable_named_like_a_user_layers_class(write_spec):
    """The generated file imports a user layer's class under a name no constructor local has."""
    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "tests" / "userpkg"))
    try:
        path = write_spec("nnspec: 1\ninputs: {x: [4, 8, 8]}\n"
                          "layers: {SE: 'nnspec_demo.blocks:SqueezeExcite'}\n"
                          "model:\n  children:\n    body:\n      - {repeat: 2, as: "
                          "SqueezeExcite, call: 'SE(4 + 0 * SqueezeExcite)'}\n"
                          "  forward: [return body(x)]\n")
        model = nnspec.build(path, allow_import=["nnspec_demo"])
        assert "import SqueezeExcite as SqueezeExcite_2" in nnspec.generate(
            path, allow_import=["nnspec_demo"])
        assert len(model.body) == 2
    finally:
        sys.path.remove(str(ROOT / "tests" / "userpkg"))


def test_a_rule_faulty_only_at_other_input_shapes(write_spec, tmp_path, monkeypatch):
    """`summary --input` runs the shape pass again: a faulty rule there is the same diagnostic."""
    pkg = "hostile_decl_late"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / pkg / "nnspec_layers.py").write_text(
        "from nnspec import Arg, declare_layer\n"
        f'declare_layer("{pkg}.m:L", [Arg("c", "int")], '
        'shape=lambda a, i: i[0] if i[0][-1] == 4 else "x")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_spec(LAYER_SPEC.format(pkg=pkg))
    try:
        assert nnspec.summary(path, allow_import=[pkg])["params"] is None
        with pytest.raises(SpecError) as caught:
            nnspec.summary(path, inputs={"x": (8,)}, allow_import=[pkg])
    finally:
        for name in [m for m in sys.modules if m.startswith(pkg)]:
            del sys.modules[name]
    [d] = caught.value.diagnostics
    assert d.code == "user-layer-failed" and pkg in d.message and d.pos.line == 5
