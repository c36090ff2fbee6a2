"""`repeat` items in Sequential lists: expansion and numbering, generated loops, and errors."""

from __future__ import annotations

import pytest
import torch
from test_language import errors, same_init, same_model
from torch import nn

import nnspec

SPEC = """\
nnspec: 1
inputs:
  x: [3, 8, 8]
blocks:
  Stage:
    base: Sequential
    params: {cfg: list}
    children:
      - repeat: len(cfg)
        as: j
        do:
          - repeat: cfg[j]
            as: i
            call: Conv2d(3 + j, 3 + j + (i == cfg[j] - 1), 3, padding=1)
model:
  params: {n: 3}
  children:
    body:
      - Conv2d(3, 4, 3, padding=1)
      - repeat: n
        as: i
        seq:
          - Conv2d(4, 4, 3, padding=1)
          - {call: "ReLU()", if: "i % 2 == 0"}
      - {repeat: 2, call: "Identity()"}
      - {repeat: n - 1, as: k, do: ["Conv2d(4, 4, 1)", "BatchNorm2d(4)"]}
    stage: Stage([1, 2])
  forward:
    - x = body(x)
    - return stage(x[:, :3])
"""


class Stage(nn.Sequential):
    def __init__(self, cfg):
        layers = []
        for j in range(len(cfg)):
            for i in range(cfg[j]):
                layers.append(nn.Conv2d(3 + j, 3 + j + (i == cfg[j] - 1), 3, padding=1))
        super().__init__(*layers)


class Net(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        layers = [nn.Conv2d(3, 4, 3, padding=1)]
        for i in range(n):
            layers.append(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1),
                                        *([nn.ReLU()] if i % 2 == 0 else [])))
        layers += [nn.Identity(), nn.Identity()]
        for _ in range(n - 1):
            layers += [nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)]
        self.body = nn.Sequential(*layers)
        self.stage = Stage([1, 2])

    def forward(self, x):
        return self.stage(self.body(x)[:, :3])


@pytest.mark.parametrize("n", [3, 1])  # n = 1: a repeat of 0
def test_repeats_expand_like_the_loop_they_stand_for(write_spec, n):
    path = write_spec(SPEC)
    same_model(nnspec.build(path, n=n), Net(n), torch.randn(2, 3, 8, 8))
    same_init(lambda: nnspec.build(path, n=n), lambda: Net(n))


def test_generated_code_is_a_for_loop(write_spec):
    source = nnspec.generate(write_spec(SPEC))
    assert "        for j in range(len(cfg)):\n            for i in range(cfg[j]):\n" in source
    assert "        for _ in range(2):\n            body.append(nn.Identity())\n" in source
    assert "self.body = nn.Sequential(*body)" in source


BAD = """\
nnspec: 1
inputs:
  x: [4]
model:
  params: {n: 2}
  children:
    fc: {repeat: 2, call: "Linear(4, 4)"}
    seq:
      - {repeat: n - 3, call: "Linear(4, 4)"}
      - {repeat: 2, as: n, call: "Linear(4, 4)"}
      - {as: i, call: "Linear(4, 4)"}
      - {repeat: 2, call: "Linear(4, 4)", do: ["ReLU()"]}
      - {repeat: 10 ** 9, call: "Identity()"}
"""


def test_repeat_errors_point_at_the_problem(write_spec):
    found = errors(write_spec(BAD))
    assert ("bad-child", 7, 5) in found  # repeat among named children, without a name template
    assert ("name-clash", 10, 25) in found  # loop variable hides a parameter
    assert ("bad-child", 11, 9) in found  # 'as' without 'repeat'
    assert ("bad-child", 12, 9) in found  # two bodies
    assert ("bad-value", 9, 18) in found and ("too-large", 13, 18) in found


def test_repeat_counts_are_checked(write_spec):
    text = BAD.split("    fc:")[0] + "    seq:\n      - {repeat: n - 3, call: \"Identity()\"}\n"
    assert errors(write_spec(text)) == [("bad-value", 8, 18)]
    huge = text.replace("n - 3", "10 ** 9")
    assert errors(write_spec(huge)) == [("too-large", 8, 18)]
