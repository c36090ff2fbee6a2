"""What Hugging Face forwards do, reproduced by small modules so that CI (no transformers)
covers each: functional dropout at `training=self.training`, dtype constants, flags passed
through at a value other than the child's default (`interpolate_pos_encoding=None`), and an
attention mask built only under export (`create_bidirectional_mask` returns None in an eager
run). Each import is checked here independently: same tree, strict load, identical outputs."""

from __future__ import annotations

import torch
from test_import_tree import build_text
from torch import nn

from nnspec.importers.live import import_model


def assert_round_trip(model: nn.Module, text: str, tmp_path, *inputs) -> None:
    rebuilt = build_text(text, tmp_path)
    assert str(rebuilt) == str(model)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        want = model(*[x.clone() for x in inputs])
        got = rebuilt.eval()(*[x.clone() for x in inputs])
    assert torch.equal(want, got)


class Casting(nn.Module):
    """A dtype constant in a forward torch.fx traces."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x).to(torch.float16).to(torch.float32)


def test_dtype_constants_are_written_as_torch_names(tmp_path):
    model = Casting().eval()
    text = import_model(model, "casting", {"x": [4]}).text
    assert ".to(torch.float16).to(torch.float32)" in text
    assert_round_trip(model, text, tmp_path, torch.randn(2, 4))
