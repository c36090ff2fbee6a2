"""Hand-written, torchvision-faithful VisionTransformer (torch only).

A copy of torchvision 0.29.1's `models/vision_transformer.py` (and the `ops.misc.MLP` that
`MLPBlock` subclasses, folded into it) for `specs/vit_b_16.yaml`: same class and attribute
names, same construction order (which fixes the RNG stream), same init. The spec is checked
against data recorded from the real torchvision in tests/golden/torchvision/vit_b_16/
(tests/test_reference_golden.py), and at vit_mini's size against this class
(tests/test_transformer_specs.py). Left out, as the spec does not need them: the conv stem
(`conv_stem_configs`), `representation_size` (pre_logits + Tanh), custom `norm_layer`, weights,
and MLPBlock's `_load_from_state_dict` shim for version-1 checkpoints.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import Tensor, nn

__all__ = ["Encoder", "EncoderBlock", "MLPBlock", "VisionTransformer", "vit_b_16", "vit_mini"]


def _layer_norm(dim: int) -> nn.LayerNorm:
    """torchvision's default `norm_layer`: `partial(nn.LayerNorm, eps=1e-6)`."""
    return nn.LayerNorm(dim, eps=1e-6)


class MLPBlock(nn.Sequential):
    """Transformer MLP block: Linear, GELU, Dropout, Linear, Dropout (children 0..4)."""

    def __init__(self, in_dim: int, mlp_dim: int, dropout: float) -> None:
        super().__init__(nn.Linear(in_dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(mlp_dim, in_dim), nn.Dropout(dropout))
        # after both Linears drew their default init, as torchvision does
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)


class EncoderBlock(nn.Module):
    """Transformer encoder block: pre-norm self-attention, then a pre-norm MLP, each residual."""

    def __init__(self, num_heads: int, hidden_dim: int, mlp_dim: int, dropout: float,
                 attention_dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads

        # Attention block
        self.ln_1 = _layer_norm(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads,
                                                    dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)

        # MLP block
        self.ln_2 = _layer_norm(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input: Tensor) -> Tensor:
        torch._assert(input.dim() == 3,
                      f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x)
        x = x + input

        y = self.ln_2(x)
        y = self.mlp(y)
        return x + y


class Encoder(nn.Module):
    """Transformer Model Encoder for sequence to sequence translation."""

    def __init__(self, seq_length: int, num_layers: int, num_heads: int, hidden_dim: int,
                 mlp_dim: int, dropout: float, attention_dropout: float) -> None:
        super().__init__()
        # batch first, as nn.MultiheadAttention(batch_first=True) below
        self.pos_embedding = nn.Parameter(
            torch.empty(1, seq_length, hidden_dim).normal_(std=0.02))  # from BERT
        self.dropout = nn.Dropout(dropout)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i in range(num_layers):
            layers[f"encoder_layer_{i}"] = EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout,
                                                        attention_dropout)
        self.layers = nn.Sequential(layers)
        self.ln = _layer_norm(hidden_dim)

    def forward(self, input: Tensor) -> Tensor:
        torch._assert(input.dim() == 3,
                      f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        input = input + self.pos_embedding
        return self.ln(self.layers(self.dropout(input)))


class VisionTransformer(nn.Module):
    """Vision Transformer as per https://arxiv.org/abs/2010.11929."""

    def __init__(self, image_size: int, patch_size: int, num_layers: int, num_heads: int,
                 hidden_dim: int, mlp_dim: int, dropout: float = 0.0,
                 attention_dropout: float = 0.0, num_classes: int = 1000) -> None:
        super().__init__()
        torch._assert(image_size % patch_size == 0, "Input shape indivisible by patch size!")
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.num_classes = num_classes

        self.conv_proj = nn.Conv2d(in_channels=3, out_channels=hidden_dim,
                                   kernel_size=patch_size, stride=patch_size)

        seq_length = (image_size // patch_size) ** 2

        # Add a class token
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        seq_length += 1

        self.encoder = Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                               attention_dropout)
        self.seq_length = seq_length

        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(hidden_dim, num_classes)))

        # Init the patchify stem
        fan_in = (self.conv_proj.in_channels * self.conv_proj.kernel_size[0]
                  * self.conv_proj.kernel_size[1])
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        if self.conv_proj.bias is not None:
            nn.init.zeros_(self.conv_proj.bias)

        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        p = self.patch_size
        torch._assert(h == self.image_size,
                      f"Wrong image height! Expected {self.image_size} but got {h}!")
        torch._assert(w == self.image_size,
                      f"Wrong image width! Expected {self.image_size} but got {w}!")
        n_h = h // p
        n_w = w // p

        # (n, c, h, w) -> (n, hidden_dim, n_h, n_w)
        x = self.conv_proj(x)
        # (n, hidden_dim, n_h, n_w) -> (n, hidden_dim, (n_h * n_w))
        x = x.reshape(n, self.hidden_dim, n_h * n_w)
        # (n, hidden_dim, (n_h * n_w)) -> (n, (n_h * n_w), hidden_dim): attention takes (N, S, E)
        x = x.permute(0, 2, 1)
        return x

    def forward(self, x: Tensor) -> Tensor:
        # Reshape and permute the input tensor
        x = self._process_input(x)
        n = x.shape[0]

        # Expand the class token to the full batch
        batch_class_token = self.class_token.expand(n, -1, -1)
        x = torch.cat([batch_class_token, x], dim=1)

        x = self.encoder(x)

        # Classifier "token" as used by standard language architectures
        x = x[:, 0]

        x = self.heads(x)
        return x


def vit_b_16(num_classes: int = 1000, image_size: int = 224) -> VisionTransformer:
    """ViT-B/16: 12 layers, 12 heads, width 768, MLP 3072; 86,567,656 parameters at 1000
    classes."""
    return VisionTransformer(image_size=image_size, patch_size=16, num_layers=12, num_heads=12,
                             hidden_dim=768, mlp_dim=3072, num_classes=num_classes)


def vit_mini(num_classes: int = 10, image_size: int = 32) -> VisionTransformer:
    """A small ViT of the same layout for fast tests: 32x32 images in 8x8 patches (17 tokens
    with the class token), 2 layers, 2 heads, width 32, MLP 64."""
    return VisionTransformer(image_size=image_size, patch_size=8, num_layers=2, num_heads=2,
                             hidden_dim=32, mlp_dim=64, num_classes=num_classes)
