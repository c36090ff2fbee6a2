"""A bidirectional-LSTM text classifier, hand-written as the reference for
`specs/lstm_classifier.yaml`.

Embedding (row `padding_idx` zero) -> 2-layer bidirectional LSTM (batch_first) -> the final
hidden state of the last layer in both directions, `torch.cat((h[-2], h[-1]), dim=1)` ->
Linear. `h` is [num_layers * 2, B, hidden_dim], layer-major, forward direction first, so
`h[-2]` is the last layer's forward state after the last token and `h[-1]` its backward state
after the first token. Every module keeps torch's default init. With the defaults: 658,948
parameters.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["LSTMClassifier"]


class LSTMClassifier(nn.Module):
    """x: int64 [B, T], values in [0, vocab_size) -> logits [B, num_classes]."""

    def __init__(self, vocab_size: int = 1000, embed_dim: int = 64, hidden_dim: int = 128,
                 num_layers: int = 2, num_classes: int = 4, padding_idx: int = 0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, num_layers=num_layers, batch_first=True,
                            bidirectional=True)
        self.fc = nn.Linear(2 * hidden_dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out, (h, c) = self.lstm(self.embedding(x))
        return self.fc(torch.cat((h[-2], h[-1]), dim=1))
