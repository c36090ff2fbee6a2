"""A model whose forward neither torch.fx nor torch.export gives as spec steps: fx stops at
the argument with a default, and torch.export's graph holds `logcumsumexp`, outside nnspec's ops."""

from __future__ import annotations

import torch
from torch import nn


class Cumulative(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x, scale=None):
        return torch.logcumsumexp(self.fc(x), 1)
