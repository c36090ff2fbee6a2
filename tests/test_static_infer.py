"""Omitted `in_channels`, `num_features` and `in_features` are inferred into the IR: generated
code spells them out (as parameter expressions where one holds for every instance) and builds
the same model as a spec that writes them explicitly."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT

import nnspec
from nnspec.codegen.generate import generate
from nnspec.elaborate.elaborator import elaborate
from nnspec.elaborate.infer import apply_inferred
from nnspec.elaborate.shapes.walker import analyze
from nnspec.frontend.extends import load_resolved
from nnspec.frontend.validate import validate

INFERRED = """nnspec: 1
inputs:
  x: [3, 16, 16]
blocks:
  Inner:
    params: {cin: int, c: int}
    children:
      conv: Conv2d(cin, c, 3, padding=1)
      bn: BatchNorm2d()
  Outer:
    params: {cin: int, c: int}
    children:
      inner: Inner(cin, c * 2)
      bn: BatchNorm2d()
      conv: Conv2d(out_channels=c, kernel_size=1)
model:
  children:
    body:
      - Conv2d(3, 8, 3, padding=1)
      - BatchNorm2d()
      - Outer(8, 4)
      - Outer(4, 4)
      - Outer(4, 8)
    head: Linear(out_features=10)
  forward:
    - x = body(x)
    - return head(x.mean((2, 3)))
"""

EXPLICIT = """nnspec: 1
inputs:
  x: [3, 16, 16]
blocks:
  Inner:
    params: {cin: int, c: int}
    children:
      conv: Conv2d(cin, c, 3, padding=1)
      bn: BatchNorm2d(c)
  Outer:
    params: {cin: int, c: int}
    children:
      inner: Inner(cin, c * 2)
      bn: BatchNorm2d(c * 2)
      conv: Conv2d(c * 2, c, 1)
model:
  children:
    body:
      - Conv2d(3, 8, 3, padding=1)
      - BatchNorm2d(8)
      - Outer(8, 4)
      - Outer(4, 4)
      - Outer(4, 8)
    head: Linear(8, 10)
  forward:
    - x = body(x)
    - return head(x.mean((2, 3)))
"""

AGREEING = """nnspec: 1
inputs:
  x: [3, 16, 16]
blocks:
  B:
    params: {c: int}
    children:
      conv: Conv2d(out_channels=c, kernel_size=1)
model:
  children:
    body:
      - Conv2d(3, 8, 1)
      - B(4)
      - Conv2d(4, 8, 1)
      - B(6)
"""


def test_inferred_arguments_become_parameter_expressions(write_spec):
    source = nnspec.generate(write_spec(INFERRED))
    assert "self.bn = nn.BatchNorm2d(c)" in source  # Inner: from the conv's out_channels
    assert "self.bn = nn.BatchNorm2d(c * 2)" in source  # Outer: through Inner's result
    assert "self.conv = nn.Conv2d(c * 2, out_channels=c, kernel_size=1)" in source
    assert "nn.BatchNorm2d(8)," in source  # the root: the constant
    assert "self.head = nn.Linear(8, out_features=10)" in source


# The inferred argument comes first; what the spec named by keyword stays a keyword.
def test_first_layer_of_a_block_gets_a_constant_where_all_instances_agree(write_spec):
    source = nnspec.generate(write_spec(AGREEING))
    assert "self.conv = nn.Conv2d(8, out_channels=c, kernel_size=1)" in source


def test_inferred_model_is_the_explicit_model(write_spec):
    inferred = nnspec.build(write_spec(INFERRED, "inferred.yaml"))
    explicit = nnspec.build(write_spec(EXPLICIT, "explicit.yaml"))
    assert str(inferred) == str(explicit)
    torch.manual_seed(0)
    a = nnspec.build(write_spec(INFERRED, "inferred.yaml")).state_dict()
    torch.manual_seed(0)
    b = nnspec.build(write_spec(EXPLICIT, "explicit.yaml")).state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_generated_source_runs_standalone(write_spec, tmp_path):
    source = nnspec.generate(write_spec(INFERRED))
    namespace: dict = {}
    exec(compile(source, str(tmp_path / "model.py"), "exec"), namespace)  # our generated code
    model = namespace["Net"]()
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    assert str(model) == str(nnspec.build(write_spec(EXPLICIT, "explicit.yaml")))


def test_concat_width_is_the_sum_of_its_branches():
    source = nnspec.generate(ROOT / "tests" / "specs" / "static" / "zoo.yaml")
    assert "self.bn = nn.BatchNorm2d(c + c)" in source
    assert ("self.conv2 = nn.Conv2d(c, out_channels=c, kernel_size=3, padding=1, bias=False)"
            in source)


def test_set_override_infers_again(write_spec):
    path = write_spec(INFERRED.replace("model:\n", "model:\n  params: {w: 8}\n").replace(
        "Conv2d(3, 8, 3, padding=1)", "Conv2d(3, w, 3, padding=1)").replace(
        "Outer(8, 4)", "Outer(w, 4)"))
    source = nnspec.generate(path, w=16)
    assert "def __init__(self, w: int = 16)" in source
    assert "nn.BatchNorm2d(w)," in source
    model = nnspec.build(path, w=16)
    assert nnspec.load(path, w=16).analysis.params == sum(p.numel() for p in model.parameters())


def _analyzed(path: str):
    doc = load_resolved(path)
    program, tree = elaborate(doc, validate(doc), path)
    return program, tree, analyze(program, tree)


def test_analysis_records_inferences_without_touching_the_ir(write_spec):
    program, tree, analysis = _analyzed(write_spec(INFERRED))
    bn = program.classes["Inner"].children[1].value
    assert "num_features" not in bn.args and bn.inferred is None
    found = {(item.call.target, item.name, item.expr.text) for item in analysis.inferred}
    assert ("BatchNorm2d", "num_features", "c") in found
    apply_inferred(program, analysis)
    assert bn.args["num_features"].text == "c" and bn.inferred == {"num_features"}
    inner = next(i for i in tree.children[0].children if i.type == "Outer").children[0]
    assert inner.children[1].args["num_features"] == 8  # Outer(8, 4): Inner(8, 4 * 2)


def test_codegen_refuses_a_program_whose_inference_was_skipped(write_spec):
    """Without the inference pass, `nn.Conv2d(out_channels=c, kernel_size=1)` would build
    another model (or none): generation raises instead of emitting it."""
    program, _, analysis = _analyzed(write_spec(INFERRED))
    with pytest.raises(AssertionError, match="inference was skipped"):
        generate(program)
    apply_inferred(program, analysis)
    assert "self.bn = nn.BatchNorm2d(c)" in generate(program)


def test_a_call_never_instantiated_is_emitted_as_written(write_spec):
    """A layer whose condition is false has no instance to infer from; its code never runs
    for these parameters, so the inference pass leaves it (and codegen emits it) as is."""
    text = INFERRED.replace("model:\n", "model:\n  params: {with_head: false}\n")
    path = write_spec(text.replace(
        "    head: Linear(out_features=10)", "    head: {call: Linear(out_features=10), "
        "if: with_head}").replace("return head(x.mean((2, 3)))", "return x.mean((2, 3))"))
    source = nnspec.generate(path)
    assert "nn.Linear(out_features=10)" in source
