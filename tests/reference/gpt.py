"""A GPT-style decoder (nanoGPT's layout, smaller), hand-written as the reference for
`specs/gpt_mini.yaml`.

Token + position embeddings, `n_layer` pre-LayerNorm blocks of causal self-attention and a GELU
MLP, a final LayerNorm and an LM head whose weight IS the token embedding's (`lm_head.weight is
tok_emb.weight`: one Parameter, two state_dict keys). Attention is
`F.scaled_dot_product_attention(q, k, v, is_causal=True)`; attention-probability dropout is left
out (nanoGPT's `dropout_p=self.dropout if self.training else 0`), so `dropout` acts only on the
embedding sum and on each residual branch. `GPT()` (the defaults) is gpt_mini: 867,072
parameters (the tied weight counted once).

Init, at the end of `GPT.__init__`, AFTER the tie: one loop over `self.modules()` (pre-order;
nanoGPT's `self.apply` is post-order, which visits the leaves in the same order), drawing
`normal_(0, 0.02)` into every Linear and Embedding weight and zeroing Linear biases; LayerNorms
keep their default ones/zeros. The tied tensor is visited twice, as `tok_emb` (first module) and
as `lm_head` (last module), so it is drawn twice and keeps the lm_head draw. nanoGPT's scaled
init of the residual projections (std 0.02 / sqrt(2 * n_layer)) is left out.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GPT", "MLP", "Block", "CausalSelfAttention"]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention with a causal mask: one Linear makes q, k and v."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd {n_embd} is not a multiple of n_head {n_head}")
        self.n_head = n_head
        self.n_embd = n_embd
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        # (b, t, c) -> (b, n_head, t, head_dim)
        q = q.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        k = k.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        v = v.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Sequential):
    """Linear to 4 * n_embd, GELU, Linear back, Dropout: named children, no forward."""

    def __init__(self, n_embd: int, dropout: float = 0.0) -> None:
        super().__init__(OrderedDict(
            c_fc=nn.Linear(n_embd, 4 * n_embd),
            gelu=nn.GELU(),
            c_proj=nn.Linear(4 * n_embd, n_embd),
            dropout=nn.Dropout(dropout),
        ))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd, dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    """idx: int64 [B, T] with T <= block_size, values in [0, vocab_size) -> logits
    [B, T, vocab_size]."""

    def __init__(self, vocab_size: int = 512, block_size: int = 64, n_layer: int = 4,
                 n_head: int = 4, n_embd: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*[Block(n_embd, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # weight tying: one Parameter

        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def forward(self, idx: Tensor) -> Tensor:
        t = idx.size(1)
        pos = torch.arange(t, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        x = self.blocks(x)
        x = self.ln_f(x)
        return self.lm_head(x)

