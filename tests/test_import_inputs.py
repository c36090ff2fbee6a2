"""The importers' `--input NAME=D,D,...[:DTYPE[<HIGH]]`: a dtype per input, integer inputs
bounded below the Embedding that reads them, and the forward's signature picked by the inputs
named (the rest at their defaults), as Hugging Face models are called."""

from __future__ import annotations

import sys

import pytest
import torch
from test_import_tree import build_text
from torch import nn

import nnspec
from nnspec.cli import main as cli
from nnspec.importers.inputs import Input
from nnspec.importers.live import import_model


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


class Tokens(nn.Module):
    """Token ids looked up (through a view, as GPT-2 does) in the smaller of two tables; an
    optional mask and a cache flag that the call leaves at their defaults."""

    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(99, 8)
        self.wpe = nn.Embedding(64, 8)
        self.head = nn.Linear(8, 5)

    def forward(self, input_ids, attention_mask=None, use_cache=True):
        assert not use_cache, "the importer calls with caches off"
        ids = input_ids.view(-1, input_ids.size(-1))
        positions = torch.arange(ids.size(-1), device=ids.device)
        h = self.wte(ids) + self.wpe(positions)
        if attention_mask is not None:
            h = h * attention_mask.unsqueeze(-1)
        return self.head(h)


class Masked(nn.Module):
    """A float input and a bool one."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x, keep):
        return self.fc(x).masked_fill(keep, 0.0)


def test_integer_input_is_bounded_by_the_embedding_that_reads_it(tmp_path):
    torch.manual_seed(0)
    model = Tokens().eval()
    result = import_model(model, "tokens", {"input_ids": Input((16,), "int64")})
    assert "  input_ids: {shape: [16], dtype: int64, range: [0, 99]}" in result.text
    assert "values in [0, 99), below the size of the Embedding that reads it" in result.text
    rebuilt = build_text(result.text, tmp_path)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    rebuilt.eval()
    (ids,) = nnspec.example_inputs(tmp_path / "imported.yaml", batch=3, seed=1)
    assert ids.dtype == torch.int64 and int(ids.max()) < 99
    with torch.no_grad():
        assert torch.equal(rebuilt(ids), model(ids, use_cache=False))


def test_a_given_bound_is_kept(tmp_path):
    result = import_model(Tokens().eval(), "tokens", {"input_ids": Input((16,), "int64", 50)})
    assert "  input_ids: {shape: [16], dtype: int64, range: [0, 50]}" in result.text


def test_bool_and_float_inputs(tmp_path):
    torch.manual_seed(0)
    model = Masked().eval()
    result = import_model(model, "masked", {"x": [3, 4], "keep": Input((3, 4), "bool")})
    assert "  x: [3, 4]\n  keep: {shape: [3, 4], dtype: bool}\n" in result.text
    rebuilt = build_text(result.text, tmp_path)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x, keep = torch.randn(2, 3, 4), torch.rand(2, 3, 4) > 0.5
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x, keep), model(x, keep))


def test_cli_takes_a_dtype_and_a_bound(capsys, tmp_path, monkeypatch):
    (tmp_path / "tokmod.py").write_text(
        "from test_import_inputs import Tokens\n\ndef make():\n    return Tokens()\n",
        encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        code, out, err = run(capsys, "import", "module", "tokmod:make",
                             "--input", "input_ids=16:int64<40")
    finally:
        sys.modules.pop("tokmod", None)
    assert code == 0, err
    assert "  input_ids: {shape: [16], dtype: int64, range: [0, 40]}" in out


@pytest.mark.parametrize("bad, message", [
    ("x=3:complex", "unknown dtype 'complex'"),
    ("x=3:float32<4", "only an integer dtype takes a bound"),
    ("x=3:int64<0", "expected a positive integer bound"),
    ("x=3:int64<a", "expected a positive integer bound"),
])
def test_cli_refuses_bad_dtypes(capsys, tmp_path, bad, message):
    tree = tmp_path / "tree.txt"
    tree.write_text("Net(\n  (fc): Linear(in_features=4, out_features=2, bias=True)\n)\n",
                    encoding="utf-8")
    code, _, err = run(capsys, "import", "tree", str(tree), "--input", bad)
    assert code == 2
    assert f"--input {bad}: {message}" in err


def test_summary_takes_no_dtype(capsys):
    from conftest import SPECS

    code, _, err = run(capsys, "summary", str(SPECS / "nin.yaml"), "--input", "x=3,8,8:int64")
    assert code == 2
    assert "this verb takes no dtype" in err


class FixedGrid(nn.Module):
    """timm's CoaT in small: a size fixed at construction (`grid`), which the traced forward
    holds, so the spec fails its own check on other inputs, as the model fails on them."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(2, 2, 1)
        self.grid = 4

    def forward(self, x):
        return self.proj(x.view(x.shape[0], 2, self.grid, self.grid))


def test_an_input_the_model_itself_fails_on_is_the_users_error_not_a_defect():
    with pytest.raises(nnspec.SpecError) as info:
        import_model(FixedGrid(), "grid", {"x": [2, 9]})
    [diag] = info.value.diagnostics
    assert diag.code == "bad-input"
    assert diag.message.startswith("the model does not run on inputs x [2, 9]: RuntimeError")
    assert import_model(FixedGrid(), "grid", {"x": [2, 16]}).text  # the size it was made for
