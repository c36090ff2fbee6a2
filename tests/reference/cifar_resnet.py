"""He et al.'s CIFAR-10 ResNet-20, option A shortcuts, as akamaster/pytorch_resnet_cifar10.

That repository's `resnet.py` is the copy most CIFAR ResNet code descends from: children
`conv1, bn1, layer1..layer3, linear`, blocks `conv1, bn1, conv2, bn2, shortcut`, 269,722
parameters for ResNet-20. Its option A shortcut is `LambdaLayer(lambda x: F.pad(x[:, :, ::2,
::2], (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0))`, and a lambda is not something a
spec can hold. Layout used here: the same class name `LambdaLayer`, but holding `planes` and
doing that fixed padding in its own forward instead of calling a stored function. It has no
parameters, buffers or children, so the printed tree (`(shortcut): LambdaLayer()`) and the
state_dict are exactly akamaster's; an nnspec block `LambdaLayer` with a `planes` param and a
forward-only body prints the same. Blocks that keep their shape use an empty `nn.Sequential()`
shortcut, as akamaster does.

Init follows akamaster's `_weights_init`: kaiming_normal_ (fan_in, leaky_relu a=0) on every
Conv2d and Linear weight, applied with `self.apply` (children before parents); Linear bias
keeps its default init.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn import init

__all__ = ["BasicBlock", "LambdaLayer", "ResNet", "resnet20"]


def _weights_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Linear, nn.Conv2d)):
        init.kaiming_normal_(m.weight)


class LambdaLayer(nn.Module):
    """Option A shortcut: subsample by 2 and zero-pad `planes // 4` channels on each side."""

    def __init__(self, planes: int) -> None:
        super().__init__()
        self.planes = planes

    def forward(self, x: Tensor) -> Tensor:
        pad = self.planes // 4
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad), "constant", 0)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = LambdaLayer(planes)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, block: type[BasicBlock], num_blocks: list[int],
                 num_classes: int = 10) -> None:
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(block, 16, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 32, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 64, num_blocks[2], stride=2)
        self.linear = nn.Linear(64, num_classes)
        self.apply(_weights_init)

    def _make_layer(self, block: type[BasicBlock], planes: int, num_blocks: int,
                    stride: int) -> nn.Sequential:
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for stride in strides:
            layers.append(block(self.in_planes, planes, stride))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = F.avg_pool2d(out, out.size()[3])
        out = out.view(out.size(0), -1)
        out = self.linear(out)
        return out


def resnet20(num_classes: int = 10) -> ResNet:
    return ResNet(BasicBlock, [3, 3, 3], num_classes)
