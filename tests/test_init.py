"""`model.init`: weight-init rules run after construction, as the torch code they stand for."""

from __future__ import annotations

import pytest
import torch
from test_language import errors
from torch import nn

import nnspec

SPEC = """\
nnspec: 1
inputs:
  x: [3, 8, 8]
blocks:
  Block:
    children:
      conv: Conv2d(4, 4, 3, padding=1, bias=False)
      bn: BatchNorm2d(4)
model:
  params: {zero_last: false}
  children:
    conv: Conv2d(3, 4, 3)
    block: Block()
    gn: GroupNorm(2, 4)
    fc: Linear(4, 2)
  init:
    - {type: Conv2d, weight: {kaiming_normal: {mode: fan_out, nonlinearity: relu}}, bias: zeros}
    - {type: [BatchNorm2d, GroupNorm], weight: ones, bias: zeros}
    - {type: Linear, weight: {normal: {std: 0.01}}, bias: {constant: {val: 0.5}}}
    - {if: zero_last, type: Block, child: bn, weight: zeros}
  forward:
    - x = block(conv(x))
    - return fc(gn(x).mean((2, 3)))
"""


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)


class Net(nn.Module):
    def __init__(self, zero_last=False):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.block = Block()
        self.gn = nn.GroupNorm(2, 4)
        self.fc = nn.Linear(4, 2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.constant_(m.bias, 0.5)
        if zero_last:
            nn.init.zeros_(self.block.bn.weight)


@pytest.mark.parametrize("zero_last", [False, True])
def test_init_rules_match_the_torch_loops(write_spec, zero_last):
    path = write_spec(SPEC)
    torch.manual_seed(3)
    ours = nnspec.build(path, zero_last=zero_last).state_dict()
    torch.manual_seed(3)
    theirs = Net(zero_last).state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    assert bool((ours["block.bn.weight"] == 0).all()) is zero_last
    assert bool((ours["fc.bias"] == 0.5).all())


def test_generated_init_is_a_loop_over_modules(write_spec):
    source = nnspec.generate(write_spec(SPEC))
    assert ("        for m in self.modules():\n"
            "            if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):\n") in source
    assert ("        if zero_last:\n            for m in self.modules():\n"
            "                if isinstance(m, Block):\n"
            "                    nn.init.zeros_(m.bn.weight)\n") in source


BAD_RULES = """\
    - {type: Conv2dd, weight: zeros}
    - {type: Linear, weight: {normall: {std: 1}}}
    - {type: Linear, weight: {normal: {sd: 1}}}
    - {type: Conv2d, weight: {kaiming_normal: {mode: fan_up}}}
    - {type: Block, child: bnn, weight: zeros}
    - {type: Linear}
    - {type: Linear, weight: {constant: {}}}
    - {if: zero_lst, type: Linear, weight: zeros}
"""


def test_init_errors_point_at_the_problem(write_spec):
    head, tail = SPEC.split("  init:\n")[0], SPEC.split("bn, weight: zeros}\n")[1]
    found = errors(write_spec(head + "  init:\n" + BAD_RULES + tail))
    assert found == [("unknown-layer", 17, 14), ("unknown-init", 18, 31),
                     ("unknown-argument", 19, 40), ("wrong-type", 20, 54),
                     ("unknown-child", 21, 28), ("bad-init", 22, 7),
                     ("missing-argument", 23, 31), ("unknown-name", 24, 12)]
