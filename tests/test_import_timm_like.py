"""Forward recovery on constructs met in timm's and torchvision's models, each reproduced by a
small module written here: block calls with keyword arguments. Each import is checked here as
well as by the importer: same print, strict state_dict load, equal outputs."""

from __future__ import annotations

import torch
from test_import_forward import forward_of, same
from test_import_tree import build_text
from torch import nn

from nnspec.importers.live import import_model


def round_trip(model: nn.Module, tmp_path, shape: list[int]) -> str:
    torch.manual_seed(0)
    result = import_model(model, type(model).__name__, {"x": shape})
    assert result.warnings == []
    rebuilt = build_text(result.text, tmp_path)
    assert str(rebuilt) == str(model)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    model.eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        assert same(model(x), rebuilt(x))
    return result.text


class Sized(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x, size):
        h, w = size
        return self.fc(x).reshape(x.shape[0], h, w, 4)


class KeywordCalls(nn.Module):
    """Blocks called with a keyword argument, in a loop and alone (as CoaT calls its blocks)."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Sized(), Sized()])
        self.last = Sized()

    def forward(self, x):
        y = x
        for blk in self.blocks:
            y = blk(x, size=(2, 3)).flatten(1, 2)
        return self.last(y, size=(3, 2))


def test_blocks_called_with_keyword_arguments(tmp_path):
    text = round_trip(KeywordCalls(), tmp_path, [6, 4])
    assert any("size=(3, 2)" in step for step in forward_of(text, "KeywordCalls"))
