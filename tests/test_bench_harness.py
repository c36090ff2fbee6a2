"""bench/forward_overhead.py keeps working before its specs exist: its pieces on small models.
Timings are printed by the harness, never asserted."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from bench.forward_overhead import CASES, Case, compare, run_case


def test_compare_reports_every_contestant_against_the_reference():
    reference = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
    timings = compare(reference, {"other": nn.Sequential(nn.Linear(8, 8))}, torch.randn(1, 8),
                      inner=1, warmup=1)
    assert [t.label for t in timings] == ["reference", "control (reference copy)", "other"]
    assert timings[0].ratio == 1.0
    assert all(t.median_s > 0 and t.ratio > 0 for t in timings)


def test_compare_refuses_too_few_runs():
    with pytest.raises(ValueError, match="at least 15"):
        compare(nn.Identity(), {}, torch.zeros(1), runs=5)


def test_absent_spec_is_skipped(capsys):
    case = Case("missing", Path(CASES["nin"].spec).with_name("no_such_spec.yaml"), nn.Identity)
    assert run_case(case) is None
    assert "missing: skipped, specs/no_such_spec.yaml does not exist yet" in capsys.readouterr().out


TINY_SPEC = """\
nnspec: 1
inputs:
  x: [8]
model:
  name: Tiny
  children:
    fc: Linear(8, 4)
    act: ReLU()
"""


def test_case_runs_build_and_generated_code_on_the_reference_weights(write_spec, capsys):
    """A tiny spec keeps this fast; the cases in CASES go through the same run_case."""
    def reference() -> nn.Module:
        return nn.Sequential(OrderedDict(fc=nn.Linear(8, 4), act=nn.ReLU()))

    timings = run_case(Case("tiny", Path(write_spec(TINY_SPEC)), reference), inner=1, warmup=1)
    assert timings is not None
    assert [t.label for t in timings] == [
        "reference", "control (reference copy)", "nnspec.build", "nnspec.generate"]
    notes = {t.label: t.note for t in timings}
    same = "same weights, max |out diff| 0.00e+00"
    assert notes["nnspec.build"] == notes["nnspec.generate"] == same
    assert "tiny: input (1, 8), 15 rounds x 1 forwards" in capsys.readouterr().out


def test_default_cases_compare_against_the_torchvision_references():
    assert [CASES[n].spec.name for n in ("resnet18", "resnet50")] == [
        "resnet18.yaml", "resnet50.yaml"]
    assert type(CASES["resnet18"].reference()).__name__ == "ResNet"


TOKEN_SPEC = """\
nnspec: 1
inputs:
  idx: {shape: [8], dtype: int64, range: [0, 16]}
model:
  name: Tokens
  inputs: [idx]
  children:
    emb: Embedding(16, 4)
"""


def test_token_inputs_come_from_the_spec(write_spec, capsys):
    """gpt_mini and lstm_classifier take int64 tokens: with no input_shape, the case times the
    spec's declared input, which the reference accepts too."""
    def reference() -> nn.Module:
        return nn.Sequential(OrderedDict(emb=nn.Embedding(16, 4)))

    timings = run_case(Case("tokens", Path(write_spec(TOKEN_SPEC)), reference), inner=1, warmup=1)
    assert timings is not None
    assert {t.note for t in timings[2:]} == {"same weights, max |out diff| 0.00e+00"}
    assert "tokens: input (1, 8), 15 rounds x 1 forwards" in capsys.readouterr().out


def test_transformer_cases_compare_against_their_references():
    """ViT, GPT and the LSTM classifier are timed like the others, on their specs' inputs."""
    want = {"vit_b_16": ("VisionTransformer", (3, 224, 224)), "gpt_mini": ("GPT", None),
            "lstm_classifier": ("LSTMClassifier", None)}
    for name, (cls, shape) in want.items():
        case = CASES[name]
        assert case.spec.name == f"{name}.yaml" and case.input_shape == shape
        assert case.spec.is_file()  # timed, not skipped
        with torch.device("meta"):
            assert type(case.reference()).__name__ == cls
