"""What generated modules say: imports, classes, signatures, calls, header, determinism,
templates, and that no spec content can become code."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from codegen_util import CODEGEN_SPECS, GOLDEN, all_specs, import_file, ruff
from conftest import ROOT, SEED_SPECS, SPECS, spec_files

import nnspec
from nnspec.catalog import REQUIRED
from nnspec.codegen import generate as codegen
from nnspec.codegen.generate import spec_label
from nnspec.diagnostics import SpecError
from nnspec.ir.program import If, Repeat, Seq
from nnspec.language.expr import FUNCTIONS
from nnspec.output import write


def _tree(text: str) -> ast.Module:
    return ast.parse(text)


def _classes(text: str) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in _tree(text).body if isinstance(n, ast.ClassDef)}


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef:
    return next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == name)


@pytest.fixture(scope="module")
def sources() -> dict[Path, str]:
    """Generated text for every spec, as if written to the repository root."""
    return {path: nnspec.generate(path, spec_label=spec_label(path, str(ROOT / "model.py")))
            for path in all_specs()}


# --- what the module contains ----------------------------------------------------------------


def test_imports_only_torch_and_the_standard_library(sources):
    for path, text in sources.items():
        for node in ast.walk(_tree(text)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [
                    a.name for a in node.names]
                for name in names:
                    root = name.split(".")[0]
                    assert root == "torch" or root in sys.stdlib_module_names, (path, name)
        assert "nnspec" not in text.split("# nnspec-body-sha256:")[1], path


def test_one_class_per_block_and_the_root_in_dependency_order(sources):
    for path, text in sources.items():
        program = nnspec.load(path).program
        classes = _classes(text)
        assert list(classes) == list(program.classes), path
        for name, cls in program.classes.items():
            base = ast.unparse(classes[name].bases[0])
            assert base == ("nn.Sequential" if cls.base == "Sequential" else
                            f"nn.{cls.layer}" if cls.layer else "nn.Module")


def test_block_parameters_are_constructor_arguments_with_the_spec_defaults(sources):
    for path, text in sources.items():
        program = nnspec.load(path).program
        for name, node in _classes(text).items():
            if program.classes[name].layer:  # a subclass of a torch layer keeps its __init__
                assert "__init__" not in {n.name for n in node.body
                                          if isinstance(n, ast.FunctionDef)}
                continue
            init = _method(node, "__init__")
            params = program.classes[name].params
            assert [a.arg for a in init.args.args] == ["self", *(p.name for p in params)]
            # list defaults are written as tuples (a list default is shared between calls)
            assert [ast.literal_eval(d) for d in init.args.defaults] == [
                tuple(p.default) if isinstance(p.default, list) else p.default
                for p in params if p.default is not REQUIRED]


def test_seed_signatures_read_like_hand_written_code():
    text = nnspec.generate(SPECS / "nin.yaml")
    assert ("def __init__(self, cin: int, cout: int, k: int = 1, pre_relu: bool = False)"
            " -> None:") in text
    dw = nnspec.generate(SPECS / "nin_dw.yaml")
    assert "def __init__(self, expand: int = 1) -> None:" in dw
    assert "FP_Conv2d(32, 64, groups=32, expand=expand)," in dw  # keywords where the spec had


def test_layer_calls_spell_out_only_what_differs_from_torch_defaults():
    nin = nnspec.generate(SPECS / "nin.yaml")
    for call in ["nn.Conv2d(3, 32, 5, padding=2)", "nn.MaxPool2d(3, stride=2, padding=1)",
                 "nn.AvgPool2d(8, stride=1)", "nn.ReLU(inplace=True)",
                 "nn.Conv2d(cin, cout, k, padding=k // 2)", "nn.BatchNorm2d(cout)"]:
        assert call in nin
    stress = nnspec.generate(CODEGEN_SPECS / "layout_stress.yaml")
    # stride=1, dilation=1, groups=1, bias=True are torch's defaults: dropped
    assert "self.stem = nn.Conv2d(3, width, 3, padding=1)\n" in stress
    assert "nn.BatchNorm2d(c, eps=0.001, momentum=None)" in stress


def test_conditional_children_and_steps_become_if_statements():
    text = nnspec.generate(CODEGEN_SPECS / "layout_stress.yaml")
    assert ("        if use_batch_norm_after_every_convolution:\n"
            "            self.bn = nn.BatchNorm2d(") in text
    assert "        if self.use_batch_norm_after_every_convolution:\n" in text
    assert "        else:\n            x = x * 1.0\n" in text
    # a Sequential with conditional items is built as a list, in tree order
    assert "        layers = []\n        layers.append(nn.Conv2d(c, c, 3, padding=1))\n" \
           "        if deep:\n            layers.append(nn.ReLU(inplace=True))\n" in text
    assert "        super().__init__(*layers)\n" in text
    assert 'body_3 = OrderedDict()\n        body_3["conv"] = ' in text
    assert "self.named = nn.Sequential(\n            OrderedDict(a=nn.Conv2d(" in text


def test_default_forward_keeps_the_parameters_its_conditions_read():
    text = nnspec.generate(CODEGEN_SPECS / "defaults_and_inputs.yaml")
    assert "        self.use_act = use_act\n        self.slope = slope\n" in text
    assert "        if self.use_act and self.slope < 0:\n            x = self.act(x)\n" in text


def _container_loop(node: ast.AST) -> bool:
    """`for layer in self.layers:` or `for m in self:`, the loop a spec's forward step writes."""
    target = node.iter if isinstance(node, ast.For) else None
    if isinstance(target, ast.Attribute):
        target = target.value
    return isinstance(target, ast.Name) and target.id == "self"


def test_forward_is_straight_line_code_but_for_container_loops(sources):
    for path, text in sources.items():
        for cls in _classes(text).values():
            forward = [n for n in cls.body if isinstance(n, ast.FunctionDef)
                       and n.name == "forward"]
            for node in (n for f in forward for n in ast.walk(f)):
                assert _container_loop(node) or not isinstance(
                    node, (ast.For, ast.While, ast.Try, ast.Lambda, ast.ListComp,
                           ast.GeneratorExp)), path


# --- header ----------------------------------------------------------------------------------


def test_header_names_the_spec_relative_to_the_output_with_posix_separators():
    out = ROOT / "elsewhere" / "models" / "model.py"  # need not exist
    label = spec_label(str(SPECS / "nin.yaml"), str(out))
    assert label == "../../specs/nin.yaml"
    text = nnspec.generate(SPECS / "nin.yaml", spec_label=label)
    assert text.splitlines()[0] == f"# Generated by nnspec from {label}; do not edit by hand."
    assert text.splitlines()[2] == f"#     nnspec build {label} -o <this file>"
    assert str(ROOT) not in text


def test_header_digest_is_of_the_resolved_spec_with_parents_and_overrides():
    def digest(text: str) -> str:
        return write.read_header(text).spec_digest

    base = nnspec.generate(SPECS / "nin_dw.yaml")
    doubled = nnspec.generate(SPECS / "nin_dw.yaml", expand=2)
    child = nnspec.generate(SPECS / "nin_dw_x2.yaml")  # extends nin_dw.yaml, expand: 2
    assert digest(base) == nnspec.load(SPECS / "nin_dw.yaml").document.digest()
    assert digest(base) != digest(doubled) == digest(child)
    assert "--set expand=2" in doubled.splitlines()[2]
    body = doubled.split("# nnspec-body-sha256:")[1].split("\n", 1)[1]
    assert body == child.split("# nnspec-body-sha256:")[1].split("\n", 1)[1]


def test_header_records_the_body_digest(sources):
    for text in sources.values():
        header = write.read_header(text)
        assert header is not None and header.body_matches
        edited = text.replace("super().__init__()", "super().__init__()  # tweak", 1)
        assert not write.read_header(edited).body_matches


def test_generated_text_has_no_timestamp_or_absolute_path(sources):
    for text in sources.values():
        assert str(ROOT) not in text and "/tmp" not in text
        # \butc\b: UNet's child `outc` contains "utc"
        assert not re.search(r"\b(?:202[4-6]-|utc\b)", text, re.IGNORECASE)


# --- determinism -----------------------------------------------------------------------------


def test_output_is_byte_identical_across_runs(sources):
    for path, text in sources.items():
        assert nnspec.generate(path, spec_label=spec_label(path, str(ROOT / "model.py"))) == text


def test_output_is_byte_identical_across_hash_seeds(sources):
    script = ("import sys, nnspec\n"
              "for p in sys.argv[1:]: sys.stdout.write(nnspec.generate(p, spec_label=p) + '\\0')")
    expected = "".join(nnspec.generate(path, spec_label=str(path)) + "\0" for path in sources)
    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        result = subprocess.run([sys.executable, "-c", script, *map(str, sources)], cwd=ROOT,
                                env=env, capture_output=True, text=True, encoding="utf-8")
        assert result.returncode == 0, result.stderr
        assert result.stdout == expected


# --- ruff -----------------------------------------------------------------------------------


def test_ruff_check_and_format_accept_every_generated_module(sources, tmp_path):
    for i, text in enumerate(sources.values()):
        (tmp_path / f"generated_{i}.py").write_text(text, encoding="utf-8")
    check = ruff("check", tmp_path)
    assert check.returncode == 0, check.stdout
    strict = ruff("check", "--select", "E,F,W,I,UP,B", "--ignore", "E501", "--target-version",
                  "py310", tmp_path)  # long strings and paths cannot be split
    assert strict.returncode == 0, strict.stdout
    fmt = ruff("format", "--check", "--diff", tmp_path)
    assert fmt.returncode == 0, fmt.stdout


# --- golden files ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SEED_SPECS)
def test_golden_generated_source(name):
    """Regenerate with `python tools/regen_golden.py` after an intended change."""
    golden = GOLDEN / f"{name}.py"
    spec = str(SPECS / f"{name}.yaml")
    assert nnspec.generate(spec, spec_label=spec_label(spec, str(golden))) == \
        golden.read_text(encoding="utf-8")


def test_golden_files_cover_the_seed_specs():
    assert sorted(p.stem for p in GOLDEN.glob("*.py")) == sorted(SEED_SPECS)
    assert {p.stem for p in spec_files()} >= set(SEED_SPECS)


# --- templates ------------------------------------------------------------------------------


def test_user_templates_replace_packaged_ones_by_name(tmp_path):
    (tmp_path / "header.jinja").write_text(
        "# SPDX-License-Identifier: Apache-2.0\n# Model generated from {{ m.spec }}.\n")
    custom = nnspec.generate(SPECS / "nin.yaml", templates=tmp_path)
    default = nnspec.generate(SPECS / "nin.yaml")
    assert custom.startswith("# SPDX-License-Identifier: Apache-2.0\n# Model generated from")
    def after_markers(text: str) -> str:  # the digest covers the header too: it differs
        return text.split("# nnspec-body-sha256:")[1].split("\n", 1)[1]

    assert after_markers(custom) == after_markers(default)
    assert write.read_header(custom).body_matches


def test_undefined_template_variables_are_errors(tmp_path):
    (tmp_path / "header.jinja").write_text("# {{ m.licence }}\n")
    with pytest.raises(codegen.TemplateError, match="licence"):
        nnspec.generate(SPECS / "nin.yaml", templates=tmp_path)


def test_templates_must_keep_the_markers(tmp_path):
    (tmp_path / "module.py.jinja").write_text("{% include 'header.jinja' %}\nimport torch\n")
    with pytest.raises(codegen.TemplateError, match="markers"):
        nnspec.generate(SPECS / "nin.yaml", templates=tmp_path)


def test_jinja_environment_is_strict_and_does_not_escape():
    env = codegen.environment()
    assert env.undefined is __import__("jinja2").StrictUndefined and not env.autoescape


# --- injection -------------------------------------------------------------------------------


HOSTILE = CODEGEN_SPECS / "hostile.yaml"


def test_hostile_strings_arrive_as_the_same_values():
    spec = nnspec.load(HOSTILE)
    text = nnspec.generate(HOSTILE)
    tagged = _method(_classes(text)["Tagged"], "__init__")
    defaults = dict(zip([a.arg for a in tagged.args.args][-2:],
                        [ast.literal_eval(d) for d in tagged.args.defaults]))
    params = {p.name: p.default for p in spec.program.classes["Tagged"].params}
    assert defaults == {"tag": params["tag"], "mode": "zeros"}
    assert "\n'''" in params["tag"] and "\u202e" in params["tag"]


def test_hostile_docs_become_inert_docstrings(tmp_path):
    path = tmp_path / "hostile_model.py"
    path.write_text(nnspec.generate(HOSTILE), encoding="utf-8")
    module = import_file(path, "hostile_model")
    spec = nnspec.load(HOSTILE).program.classes
    for name in ("Tagged", "Net"):
        doc = getattr(module, name).__doc__
        assert " ".join(doc.split()) == " ".join(spec[name].doc.split())
    assert not hasattr(module, "os")


def test_generated_text_has_no_invisible_or_control_characters(sources):
    for path, text in sources.items():
        for ch in text:
            assert ch == "\n" or unicodedata.category(ch)[0] not in "CZ" or ch == " ", (
                path, hex(ord(ch)))


def _loop_variables(children) -> set[str]:
    out = set()
    for child in children:
        if isinstance(child.value, (Repeat, Seq)):
            out |= _loop_variables(child.value.items)
        if isinstance(child.value, Repeat) and child.value.var:
            out.add(child.value.var)
    return out


def _forward_nodes(steps: list):
    """Every statement and condition of a forward, through its `if` steps."""
    for step in steps:
        if isinstance(step, If):
            yield step.cond.node
            yield from _forward_nodes(step.then)
            yield from _forward_nodes(step.orelse)
        else:
            yield step.node


def test_only_expected_names_are_bound_or_called(sources):
    """Every name in the module is a spec identifier, or one nnspec itself writes."""
    own = {"self", "nn", "torch", "F", "OrderedDict", "super", "print", "tuple", "model",
           "output", "__name__", "make_divisible", "v", "divisor", "min_value", "new_v",
           "int", "float", "bool", "str", "list", "object", "layers", *FUNCTIONS,
           "range", "isinstance", "m", "_", "tuple", "math",  # repeat loops and init rules
           "replay_init", "module", "child", "hasattr", "layer"}  # init_weights
    for path, text in sources.items():
        program = nnspec.load(path).program
        allowed = own | set(program.classes) | {i.name for i in program.inputs}
        children = set()
        for cls in program.classes.values():
            children |= {c.name for c in cls.children}
            allowed |= {p.name for p in cls.params} | children | set(cls.inputs)
            allowed |= _loop_variables(cls.children)
            allowed |= {n.id for step in _forward_nodes(cls.forward)
                        for n in ast.walk(step) if isinstance(n, ast.Name)}
            allowed |= {n.id for t in cls.tensors for step in _forward_nodes(t.compute)
                        for n in ast.walk(step) if isinstance(n, ast.Name)}
        tree = _tree(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id not in allowed:
                # a list built in __init__ for a conditional Sequential, named after it
                assert node.id.split("_")[0] in children | {"layers"} or any(
                    node.id.startswith(f"{c}_") for c in children), (path, node.id)


@pytest.mark.parametrize("name", ["__import__", "import", "forward", "сonv", "_\u202e",
                                  "torch", "max", "OrderedDict"])
def test_hostile_identifiers_are_rejected(write_spec, name):
    path = write_spec(f"nnspec: 1\ninputs: {{x: [3]}}\nmodel:\n  children:\n"
                      f"    '{name}': Identity()\n")
    with pytest.raises(SpecError) as info:
        nnspec.load(path)
    assert any(d.code == "bad-name" for d in info.value.diagnostics)


def test_spec_expressions_cannot_call_arbitrary_functions(write_spec):
    path = write_spec("nnspec: 1\ninputs: {x: [3]}\nmodel:\n  params: {n: 3}\n  children:\n"
                      "    lin: \"Linear(__import__('os').getpid(), n)\"\n")
    with pytest.raises(SpecError):
        nnspec.load(path)


def test_comment_text_cannot_break_out_of_the_header():
    assert codegen.comment_safe("specs/a b.yaml") == "specs/a b.yaml"
    hostile = codegen.comment_safe("x.yaml\nimport os\r\u2028\u202e")
    assert hostile.isprintable() and "\n" not in hostile and "\r" not in hostile
    text = nnspec.generate(SPECS / "nin.yaml", spec_label="a\nimport os\n#.yaml")
    assert "\nimport os\n" not in text and write.read_header(text).body_matches


def test_make_divisible_helper_is_ruff_clean_and_matches_the_evaluator(tmp_path):
    from nnspec.language.expr import make_divisible

    namespace: dict = {}
    exec(codegen.make_divisible_source(), namespace)  # nnspec's own helper source
    for v in [1, 7.5, 8, 15.9, 31, 100.0, 0.3]:
        for d in [1, 3, 8]:
            assert namespace["make_divisible"](v, d) == make_divisible(v, d)
    path = tmp_path / "helper.py"
    path.write_text(codegen.make_divisible_source() + "\n", encoding="utf-8")
    assert ruff("format", "--check", path).returncode == 0


def test_generating_code_does_not_import_torch(tmp_path):
    script = ("import sys, nnspec\n"
              "from nnspec.cli import build\n"
              "nnspec.generate('specs/nin_dw.yaml', expand=2)\n"
              "assert 'torch' not in sys.modules, 'torch was imported'\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_unused_unpacked_values_become_dummies(write_spec):
    """ruff (RUF059) wants unused unpacked names to look unused: `out, (h, c)` reading only h
    is written `_, (h, _)`; where the spec itself reads `_`, the dummies are `_out`, `_c`."""
    head = ("nnspec: 1\ninputs: {x: [5, 4]}\nmodel:\n  children:\n"
            "    lstm: LSTM(4, 8, batch_first=True)\n  forward:\n")
    plain = nnspec.generate(write_spec(head + "    - out, (h, c) = lstm(x)\n"
                                              "    - return h[-1]\n"))
    assert "        _, (h, _) = self.lstm(x)\n" in plain
    shadowed = nnspec.generate(write_spec(head + "    - _ = x[:, 0]\n"
                                                 "    - out, (h, c) = lstm(x)\n"
                                                 "    - return h[-1], _\n"))
    assert "        _out, (h, _c) = self.lstm(x)\n" in shadowed
