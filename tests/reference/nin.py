"""Hand-written references for the three seed networks, following ../shared/seed/README.md.

Written the way micronet writes them, independently of the specs: if a spec misreads the seed,
these disagree with it.
"""

from __future__ import annotations

from torch import nn


class FP_Conv2d(nn.Module):  # noqa: N801 - the seed's class name
    def __init__(self, cin, cout, k=1, pad=0, first=False, separable=False, groups=1, mult=1):
        super().__init__()
        self.first = first
        self.separable = separable
        if separable:
            self.conv1 = nn.Conv2d(cin, cout, k, stride=1, padding=pad, groups=groups)
            self.conv2 = nn.Conv2d(cout, cout * mult, 1, stride=1)
            self.bn = nn.BatchNorm2d(cout * mult)
        else:
            self.conv = nn.Conv2d(cin, cout, k, stride=1, padding=pad)
            self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        if self.first:
            x = self.relu(x)
        if self.separable:
            x = self.conv2(self.conv1(x))
        else:
            x = self.conv(x)
        return self.relu(self.bn(x))


class Net(nn.Module):
    """`nin` (separable=False): plain convolutions, and the first block applies ReLU to its
    input. `nin_dw` (separable=True, mult=1) and `nin_dw_x2` (mult=2): separable blocks."""

    def __init__(self, separable=False, mult=1):
        super().__init__()
        self.tnn_bin = nn.Sequential(*(_dw_layers(mult) if separable else _nin_layers()))

    def forward(self, x):
        x = self.tnn_bin(x)
        return x.view(x.size(0), 10)


def _stem():
    return [nn.Conv2d(3, 32, kernel_size=5, stride=1, padding=2), nn.BatchNorm2d(32)]


def _head(width):
    return [
        nn.Conv2d(width, 10, kernel_size=1, stride=1),
        nn.BatchNorm2d(10),
        nn.ReLU(inplace=True),
        nn.AvgPool2d(kernel_size=8, stride=1, padding=0),
    ]


def _nin_layers():
    return [
        *_stem(),
        FP_Conv2d(32, 64, first=True),
        FP_Conv2d(64, 128),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        FP_Conv2d(128, 256, k=5, pad=2),
        FP_Conv2d(256, 256),
        FP_Conv2d(256, 256),
        nn.AvgPool2d(kernel_size=3, stride=2, padding=1),
        FP_Conv2d(256, 512, k=3, pad=1),
        FP_Conv2d(512, 1024),
        *_head(1024),
    ]


def _dw_layers(m):
    def block(cin, cout, k=1, pad=0):
        # input width is cin * m, except the first block, fed by the stem's 32 channels
        width = cin if cin == 32 else cin * m
        return FP_Conv2d(width, cout, k, pad, separable=True, groups=cin, mult=m)

    return [
        *_stem(),
        block(32, 64),
        block(64, 128),
        nn.MaxPool2d(kernel_size=2, stride=2),
        block(128, 256, 3, 1),
        block(256, 256),
        block(256, 256),
        nn.MaxPool2d(kernel_size=2, stride=2),
        block(256, 512, 3, 1),
        block(512, 1024),
        *_head(1024 * m),
    ]


REFERENCES = {
    "nin": lambda: Net(),
    "nin_dw": lambda: Net(separable=True),
    "nin_dw_x2": lambda: Net(separable=True, mult=2),
}
