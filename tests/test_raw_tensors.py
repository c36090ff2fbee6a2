"""Parameters and buffers a class creates itself, weight tying, and block / child-path init:
the spec-built model is the torch code a person writes (torchvision's ViT, a GPT's tied head),
down to the seeded numbers, and a tie survives everything a model goes through."""

from __future__ import annotations

import copy
import io
import math
import pickle
from collections import OrderedDict

import pytest
import torch
from codegen_util import CODEGEN_SPECS, import_file
from torch import nn

import nnspec
from nnspec.diagnostics import SpecError
from nnspec.static import budget
from nnspec.static.diff import layout

SPEC = CODEGEN_SPECS / "raw_tensors.yaml"


class MLPBlock(nn.Sequential):
    def __init__(self, dim, hidden):
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        for m in self.modules():  # torchvision's MLPBlock
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)


class Encoder(nn.Module):
    def __init__(self, seq_length, dim):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, dim).normal_(std=0.02))
        mask = torch.tril(torch.ones(seq_length, seq_length)).view(1, seq_length, seq_length)
        self.register_buffer("mask", mask, persistent=False)
        self.register_buffer("scale", torch.full((dim,), 0.5))
        self.register_buffer("seen", torch.zeros(1, dtype=torch.long))
        self.ln = nn.LayerNorm(dim)
        self.mlp = MLPBlock(dim, 2 * dim)

    def forward(self, x):
        x = x + self.pos_embedding
        x = (self.mask @ x) * self.scale
        return x + self.mlp(self.ln(x))


class TinyViT(nn.Module):
    def __init__(self, patch=4, dim=8):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))  # after conv_proj, as in ViT
        self.tok_emb = nn.Embedding(16, dim)
        self.encoder = Encoder((8 // patch) ** 2 + 1 + 6, dim)
        self.heads = nn.Sequential(OrderedDict([("head", nn.Linear(dim, 10))]))
        self.lm_head = nn.Linear(dim, 16, bias=False)
        self.lm_head.weight = self.tok_emb.weight
        fan_in = 3 * patch * patch
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def forward(self, x, tokens):
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, self.class_token.shape[-1], -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x, self.tok_emb(tokens)], dim=1)
        x = self.encoder(x)
        return self.heads(x[:, 0]), self.lm_head(x[:, 1:])


def _seeded(make, seed=0):
    torch.manual_seed(seed)
    return make()


@pytest.mark.parametrize("params", [{}, {"patch": 2, "dim": 6}])
def test_the_spec_is_the_hand_written_model(params):
    ours = _seeded(lambda: nnspec.build(SPEC, **params))
    theirs = _seeded(lambda: TinyViT(**params))
    assert str(ours) == str(theirs)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, v.shape) for k, v in theirs.state_dict().items()]
    assert "encoder.mask" not in ours.state_dict()  # persistent=False
    for (name, a), (_, b) in zip([*ours.named_parameters(), *ours.named_buffers()],
                                 [*theirs.named_parameters(), *theirs.named_buffers()]):
        assert a.dtype == b.dtype and torch.equal(a, b), name  # bitwise: same RNG draws
    inputs = nnspec.example_inputs(SPEC, batch=2, **params)
    with torch.no_grad():
        for a, b in zip(ours(*inputs), theirs(*inputs)):
            assert torch.equal(a, b)


def _tied(model: nn.Module) -> bool:
    return model.lm_head.weight is model.tok_emb.weight


def test_a_tie_shares_one_parameter_under_two_names():
    model = nnspec.build(SPEC)
    assert _tied(model)
    assert {"lm_head.weight", "tok_emb.weight"} <= set(model.state_dict())
    names = [name for name, _ in model.named_parameters()]
    assert "tok_emb.weight" in names and "lm_head.weight" not in names  # yielded once
    spec = nnspec.load(SPEC)
    assert spec.analysis.params == sum(p.numel() for p in model.parameters())
    assert spec.analysis.modules["lm_head"].params == 16 * 8  # its own view: torch's too
    assert spec.analysis.modules[""].params == spec.analysis.modules["tok_emb"].params + sum(
        spec.analysis.modules[p].params for p in ("conv_proj", "encoder", "heads")) + 8


def test_a_tie_survives_copies_saves_and_conversions(tmp_path):
    model = nnspec.build(SPEC)
    assert _tied(copy.deepcopy(model))
    assert _tied(pickle.loads(pickle.dumps(model)))
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    assert _tied(torch.load(buffer, weights_only=False))
    assert _tied(model.to(torch.float64))
    fresh = nnspec.build(SPEC)
    fresh.load_state_dict(model.to(torch.float32).state_dict())
    assert _tied(fresh) and torch.equal(fresh.lm_head.weight, model.tok_emb.weight)
    path = tmp_path / "tiny_vit.py"
    path.write_text(nnspec.generate(SPEC), encoding="utf-8")
    assert _tied(import_file(path, "nnspec_raw_tensors_generated").TinyViT())


def test_generated_code_creates_them_as_torchvision_does():
    source = nnspec.generate(SPEC)
    for line in [
        "self.class_token = nn.Parameter(torch.zeros(1, 1, dim))",
        "torch.empty(1, seq_length, dim).normal_(std=0.02)",
        '"mask", torch.tril(torch.ones(1, seq_length, seq_length)), persistent=False',
        'self.register_buffer("seen", torch.zeros(1, dtype=torch.int64))',
        "self.lm_head.weight = self.tok_emb.weight",
        "nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / (3 * patch**2)))",
        "nn.init.zeros_(self.heads.head.weight)",
        "x = x + self.pos_embedding",
    ]:
        assert line in source, line
    # own tensors come first in __init__ (RNG order), the tie after the children
    init = source[source.index("class Encoder"):]
    assert init.index("self.pos_embedding =") < init.index("self.ln =")
    assert source.index("self.lm_head = nn.Linear") < source.index("self.lm_head.weight =")


def test_the_checkpoint_layout_holds_own_tensors_in_torchs_order():
    spec = nnspec.load(SPEC)
    model = nnspec.build(spec)
    assert list(layout(spec.analysis).keys.items()) == [
        (k, tuple(v.shape)) for k, v in model.state_dict().items()]


def test_own_parameters_count_against_the_budget(write_spec):
    path = write_spec("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  params: {n: 1000}\n"
                      "  parameters:\n    w: {shape: [n, n], init: zeros}\n"
                      "  forward: [return x]\n")
    with budget.limit(10**5), pytest.raises(SpecError) as info:
        nnspec.build(path)
    [diagnostic] = info.value.diagnostics
    assert diagnostic.code == "too-many-params" and "1,000,000 parameters" in diagnostic.message


GPT_SPEC = """\
nnspec: 1
inputs:
  tokens: {shape: [5], dtype: int64, range: [0, 32]}
blocks:
  Attention:
    params: {n: int, causal: true}
    buffers:
      mask: {shape: [1, n, n], init: tril}
    children: {proj: "Linear(8, 8)"}
    init:
      - {if: causal, child: proj, weight: {normal: {std: "0.02 / math.sqrt(2 * n)"}}}
    forward:
      - a = x @ x.transpose(1, 2)
      - a = torch.where(mask > 0, a, a - 100.0)
      - return proj(a.softmax(-1) @ x)
model:
  children:
    wte: Embedding(32, 8)
    attn: Attention(5)
    lm_head: Linear(8, 32, bias=False)
  tie: {wte.weight: lm_head.weight}
  forward: [return lm_head(attn(wte(tokens)))]
"""


class Attention(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.register_buffer("mask", torch.tril(torch.ones(n, n)).view(1, n, n))
        self.proj = nn.Linear(8, 8)
        nn.init.normal_(self.proj.weight, std=0.02 / math.sqrt(2 * n))

    def forward(self, x):
        a = x @ x.transpose(1, 2)
        a = torch.where(self.mask > 0, a, a - 100.0)
        return self.proj(a.softmax(-1) @ x)


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(32, 8)
        self.attn = Attention(5)
        self.lm_head = nn.Linear(8, 32, bias=False)
        self.wte.weight = self.lm_head.weight  # nanoGPT's direction

    def forward(self, tokens):
        return self.lm_head(self.attn(self.wte(tokens)))


def test_a_gpt_with_a_causal_mask_buffer_and_a_tied_head(write_spec):
    path = write_spec(GPT_SPEC)
    ours, theirs = _seeded(lambda: nnspec.build(path)), _seeded(GPT)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), name
    assert ours.wte.weight is ours.lm_head.weight
    tokens = nnspec.example_inputs(path, batch=2)
    with torch.no_grad():
        assert torch.equal(ours(*tokens), theirs(*tokens))
    spec = nnspec.load(path)
    assert spec.analysis.params == sum(p.numel() for p in ours.parameters()) == 32 * 8 + 72
    assert spec.analysis.modules["attn"].params == 72  # the mask is a buffer


def test_a_tie_below_a_child_counts_once_in_that_child_too(write_spec):
    """torch's `pair.parameters()` yields the shared tensor once, though the root declares the
    tie; a Sequential index in a path is a number."""
    path = write_spec("""\
nnspec: 1
inputs:
  tokens: {shape: [3], dtype: int64, range: [0, 10]}
blocks:
  Pair:
    children:
      emb: Embedding(10, 4)
      head: {seq: ["Linear(4, 10, bias=False)"]}
    forward: [return head(emb(x))]
model:
  children:
    pair: Pair()
    extra: Linear(10, 10)
  tie: {pair.head.0.weight: pair.emb.weight}
  forward: [return extra(pair(tokens))]
""")
    spec, model = nnspec.load(path), nnspec.build(path)
    assert model.pair.head[0].weight is model.pair.emb.weight
    assert "self.pair.head[0].weight = self.pair.emb.weight" in nnspec.generate(path)
    for name, module in model.named_modules():
        assert spec.analysis.modules[name].params == sum(
            p.numel() for p in module.parameters()), name


def test_a_scalar_parameter(write_spec):
    """CLIP's `nn.Parameter(torch.ones([]) * np.log(1 / 0.07))`: shape [] is a 0-d tensor."""
    path = write_spec("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  parameters:\n"
                      "    logit_scale:\n      shape: []\n"
                      "      init: {constant: {val: 'math.log(1 / 0.07)'}}\n"
                      "  forward: [return x * torch.exp(logit_scale)]\n")
    model = nnspec.build(path)
    expected = torch.ones([]) * math.log(1 / 0.07)
    assert model.logit_scale.shape == () and torch.equal(model.logit_scale.data, expected)
    spec = nnspec.load(path)
    assert spec.analysis.params == 1 and list(spec.analysis.output.shape) == [1, 4]
