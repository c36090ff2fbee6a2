"""The layer classes: ordinary torch modules."""

import torch
from torch import nn

from nnspec_demo import record

record(__name__)


class SqueezeExcite(nn.Module):
    """Channel attention: squeeze to one value per channel, excite through a bottleneck."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


class Scale(nn.Module):
    """Multiplies by a learned scalar; declared without shape or parameter rules."""

    def __init__(self, init: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale
