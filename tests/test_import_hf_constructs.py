"""What Hugging Face forwards do, reproduced by small modules so that CI (no transformers)
covers each: functional dropout at `training=self.training`, dtype constants, flags passed
through at a value other than the child's default (`interpolate_pos_encoding=None`), and an
attention mask built only under export (`create_bidirectional_mask` returns None in an eager
run). Each import is checked here independently: same tree, strict load, identical outputs."""

from __future__ import annotations

import pytest
import torch
from test_import_tree import build_text
from torch import nn

from nnspec.importers.live import import_model

# torch.export before 2.14 fails on a forward given **kwargs values ("Must provide a tree_name")
OLD_EXPORT = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) < (2, 14)


def assert_round_trip(model: nn.Module, text: str, tmp_path, *inputs) -> nn.Module:
    """Same print, strict load, identical outputs; the rebuilt model."""
    rebuilt = build_text(text, tmp_path)
    assert str(rebuilt) == str(model)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        want = model(*[x.clone() for x in inputs])
        got = rebuilt.eval()(*[x.clone() for x in inputs])
    assert torch.equal(want, got)
    return rebuilt


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(8, 24)
        self.dropout_p = 0.1

    def forward(self, x, attention_mask=None, output_attentions=False):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = (q @ k.transpose(-1, -2)) * 0.25
        if attention_mask is not None:
            scores = scores + attention_mask
        weights = scores.softmax(-1, dtype=torch.float32).to(q.dtype)
        weights = nn.functional.dropout(weights, p=self.dropout_p, training=self.training)
        return weights @ v


class Embed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 8)

    def forward(self, x, interpolate=False):
        if interpolate:
            x = x * 2
        return self.proj(x)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = Embed()
        self.attn = Attention()

    def forward(self, x, interpolate=None, attention_mask=None):
        h = self.embed(x, interpolate=interpolate)
        if torch.compiler.is_exporting():  # as transformers' masks: built only when traced
            attention_mask = torch.zeros(h.size(0), h.size(1), h.size(1))
        return self.attn(h, attention_mask)


def test_hugging_face_constructs_round_trip(tmp_path):
    torch.manual_seed(0)
    model = Model().eval()
    result = import_model(model, "model", {"x": [5, 4]})
    assert result.warnings == []
    text = result.text
    assert "dropout" not in text  # eval: F.dropout(training=False) is the identity
    assert "torch.float32" in text
    assert "embed(x)" in text  # interpolate=None: the value its steps hold fixed
    assert "inputs: [x, attention_mask]" in text  # the mask the exported parent passes
    assert_round_trip(model, text, tmp_path, torch.randn(2, 5, 4))


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


class Layer(nn.Module):
    """Whisper's encoder layer: a required mask passed as None, options through **kwargs,
    and its attention called with keywords only."""

    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.attn = Attention()

    def forward(self, hidden_states, attention_mask, **kwargs):
        out = self.attn(x=self.norm(hidden_states), attention_mask=attention_mask,
                        **kwargs)
        return hidden_states + out


class Encoder(nn.Module):
    def __init__(self, pass_on: bool):
        super().__init__()
        self.layers = nn.ModuleList([Layer(), Layer(), Layer()])
        self.pass_on = pass_on

    def forward(self, x, output_attentions=None):
        for layer in self.layers:
            if self.pass_on:
                x = layer(x, None, output_attentions=False)
            else:
                x = layer(x, None)
        return x


@pytest.mark.parametrize("pass_on", [
    False,
    pytest.param(True, marks=pytest.mark.skipif(OLD_EXPORT, reason="torch.export before 2.14 "
                                                "cannot export a forward given **kwargs values")),
])
def test_arguments_passed_on_and_held_fixed_round_trip(tmp_path, pass_on):
    torch.manual_seed(0)
    model = Encoder(pass_on).eval()
    result = import_model(model, "encoder", {"x": [5, 8]})
    assert result.warnings == []
    assert "for layer in layers: x = layer(x)" in result.text
    assert "out = attn(out)\n" in result.text  # keywords only, and none held fixed
    assert "output_attentions" not in result.text
    assert_round_trip(model, result.text, tmp_path, torch.randn(2, 5, 8))


class Biased(nn.Module):
    """T5's block: the first computes a bias, the others take it."""

    def __init__(self, first: bool):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.bias = nn.Linear(8, 8) if first else None

    def forward(self, x, mask=None, bias=None):
        if bias is None:
            bias = self.bias(x)
        return self.fc(x) + bias, bias


class Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Biased(True), Biased(False)])

    def forward(self, x):
        x, bias = self.blocks[0](x)
        x, _ = self.blocks[1](x, None, bias)
        return x


def test_instances_taking_different_inputs_are_blocks_printing_as_one_class(tmp_path):
    """The first block computes the bias and the second takes it: two blocks, both printing
    as `Biased`; the parent's call leaves out the `None` it passes at the default."""
    model = Stack().eval()
    result = import_model(model, "stack", {"x": [8]})
    assert result.warnings == []
    assert "  Biased:\n" in result.text and "  Biased_2:\n    print_name: Biased\n" in result.text
    assert "    - x = blocks[1](x[0], bias=x[1])\n" in result.text
    rebuilt = assert_round_trip(model, result.text, tmp_path, torch.randn(3, 8))
    assert [type(b).__name__ for b in rebuilt.blocks] == ["Biased", "Biased_2"]


class Positions(nn.Module):
    """BERT's embeddings: positions in a non-persistent buffer, `arange(n).expand((1, -1))`."""

    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(50, 8)
        self.pos = nn.Embedding(16, 8)
        self.register_buffer("position_ids", torch.arange(16).expand((1, -1)), persistent=False)

    def forward(self, input_ids):
        return self.tok(input_ids) + self.pos(self.position_ids[:, :input_ids.size(1)])


def test_position_ids_are_a_computed_buffer(tmp_path):
    from nnspec.importers.inputs import Input

    torch.manual_seed(0)
    model = Positions().eval()
    text = import_model(model, "positions", {"input_ids": Input((10,), "int64")}).text
    assert ('position_ids: {compute: ["return torch.arange(16).reshape([1, 16])"], '
            'persistent: false}') in text
    rebuilt = assert_round_trip(model, text, tmp_path, torch.randint(0, 50, (2, 10)))
    assert torch.equal(rebuilt.position_ids, model.position_ids)  # not loaded: recreated


class TokenTypes(nn.Module):
    """BERT's token types when none are given: a zeros buffer gathered at the positions."""

    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(50, 8)
        self.typ = nn.Embedding(2, 8)
        self.register_buffer("position_ids", torch.arange(16).expand((1, -1)), persistent=False)
        self.register_buffer("token_type_ids", torch.zeros(1, 16, dtype=torch.long),
                             persistent=False)

    def forward(self, input_ids):
        n = input_ids.size(1)
        pos = self.position_ids[:, :n]
        types = torch.gather(self.token_type_ids.expand(pos.shape[0], -1), 1, pos)
        return self.tok(input_ids) + self.typ(types.expand(input_ids.size(0), n))


def test_gather_round_trips(tmp_path):
    from nnspec.importers.inputs import Input

    torch.manual_seed(0)
    model = TokenTypes().eval()
    result = import_model(model, "types", {"input_ids": Input((10,), "int64")})
    assert result.warnings == []
    assert "torch.gather(token_type_ids" in result.text
    assert_round_trip(model, result.text, tmp_path, torch.randint(0, 50, (2, 10)))


class CastNorm(nn.Module):
    """Llama's norm: a cast to float32 first, which for a float32 input is the input itself."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(8))

    def forward(self, x):
        x = x.to(torch.float32)
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))


class Rotary(nn.Module):
    """A decoder layer reading the residual its norm cast (one tensor in export's graph), and
    rotary frequencies in a non-persistent buffer."""

    def __init__(self):
        super().__init__()
        self.norm = CastNorm()
        self.fc = nn.Linear(8, 8)
        inv = 1.0 / (10000.0 ** (torch.arange(0, 8, 2, dtype=torch.int64).float() / 8))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, x, cache=None):
        return x + self.fc(self.norm(x)) * self.inv_freq.repeat(2)


def test_rotary_buffer_and_a_residual_cast_by_a_child(tmp_path):
    torch.manual_seed(0)
    model = Rotary().eval()
    result = import_model(model, "rotary", {"x": [5, 8]})
    assert result.warnings == []
    assert ('inv_freq: {compute: ["return 1.0 / (10000.0 ** (torch.arange(0, 8, 2, '
            'dtype=torch.int64).float() / 8))"], persistent: false}') in result.text
    rebuilt = build_text(result.text, tmp_path)
    assert torch.equal(rebuilt.inv_freq, model.inv_freq)
    assert_round_trip(model, result.text, tmp_path, torch.randn(2, 5, 8))


class Passing(nn.Module):
    """GPT-2's block: a tensor it takes in **kwargs (position_ids) passed on to a child that
    takes **kwargs too and never reads it."""

    def __init__(self):
        super().__init__()
        self.inner = Sink()

    def forward(self, x, mask=None, **kwargs):
        return self.inner(x, None, **kwargs) * 2


class Sink(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x, mask=None, **kwargs):
        return self.fc(x)


class Top(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Passing()

    def forward(self, x, flag=None):  # a default: torch.export traces it, as HF models
        positions = torch.arange(x.size(1)).unsqueeze(0)
        return self.block(x, position_ids=positions)


@pytest.mark.skipif(OLD_EXPORT, reason="torch.export before 2.14 cannot export a forward "
                    "given **kwargs values")
def test_a_tensor_passed_on_in_kwargs_and_never_read_is_left_out(tmp_path):
    torch.manual_seed(0)
    model = Top().eval()
    result = import_model(model, "top", {"x": [5, 8]})
    assert result.warnings == []
    assert "position_ids" not in result.text.split("blocks:")[1].split("model:")[0]
    assert_round_trip(model, result.text, tmp_path, torch.randn(2, 5, 8))


class PastPositions(nn.Module):
    """BERT's embeddings: an int argument, passed at its default, that torch.fx cannot trace
    past (a branch on a size) and torch.export can."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x, past_length=0):
        if x.size(1) > 1:
            x = x * 2
        return self.proj(x[:, past_length:])


class WithPositions(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = PastPositions()

    def forward(self, x):
        return self.pos(x, past_length=0)


def test_an_int_at_its_default_is_a_constant_not_a_size_input(tmp_path):
    """The parent's call leaves `past_length=0` out, so the child's exported steps must not
    take it as an input either."""
    torch.manual_seed(0)
    model = WithPositions().eval()
    result = import_model(model, "model", {"x": [5, 4]})
    assert "past_length" not in result.text
    assert_round_trip(model, result.text, tmp_path, torch.randn(2, 5, 4))
