"""TransformerDecoderLayer and the whole Transformer (encoder and decoder stacks with their
final LayerNorms), with their forward rules."""

from __future__ import annotations

import math
from typing import Any

from nnspec.catalog.layers.attention import (
    LAYER_ARGS,
    encoder_attention,
    encoder_checks,
    encoder_forward,
    encoder_state,
    feed_forward_state,
    mha_forward,
    mha_state,
)
from nnspec.catalog.layers.common import (
    Family,
    Problems,
    State,
    expect_rank,
    positive,
    state_params,
    tensor_shape,
)
from nnspec.catalog.types import Arg, Args, LayerDef
from nnspec.catalog.values import Tensor

FAMILY = Family()
register = FAMILY.add


def _decoder_state(args: Args) -> State:
    """self_attn, multihead_attn (cross-attention), the two Linears, then norm1 to norm3."""
    attention = mha_state(encoder_attention(args))
    return {**{f"self_attn.{k}": v for k, v in attention.items()},
            **{f"multihead_attn.{k}": v for k, v in attention.items()},
            **feed_forward_state(args, 3)}


def _decoder_forward(args: Args, tgt: Any, memory: Any, tgt_mask: Any = None,
                     memory_mask: Any = None, tgt_key_padding_mask: Any = None,
                     memory_key_padding_mask: Any = None, tgt_is_causal: bool = False,
                     memory_is_causal: bool = False) -> tuple[Any, int]:
    """Self-attention over tgt, attention from tgt to memory, then the feed-forward block; the
    output is tgt's shape."""
    attention = encoder_attention(args)
    (out, _), own = mha_forward(attention, tgt, tgt, tgt, key_padding_mask=tgt_key_padding_mask,
                                need_weights=False, attn_mask=tgt_mask, is_causal=tgt_is_causal)
    _, cross = mha_forward(attention, tgt, memory, memory,
                           key_padding_mask=memory_key_padding_mask, need_weights=False,
                           attn_mask=memory_mask, is_causal=memory_is_causal)
    return out, own + cross + 2 * math.prod(out[:-1]) * args["d_model"] * args["dim_feedforward"]


register(LayerDef(
    "TransformerDecoderLayer",
    LAYER_ARGS,
    checks=encoder_checks,
    params=state_params(_decoder_state),
    forward=_decoder_forward,
    infer={"d_model": -1},
    ranks=(2, 3),
    out_dims={-1: "d_model"},
    state=_decoder_state,
))


# --- the whole Transformer -------------------------------------------------------------------


def _transformer_checks(args: Args) -> Problems:
    yield from encoder_checks(args)
    yield from positive(args, "num_encoder_layers", "num_decoder_layers")
    for name in ("custom_encoder", "custom_decoder"):
        if args.get(name) is not None:
            yield name, (f"{name} takes a module, which a spec cannot pass: nnspec builds "
                         "Transformer with its own encoder and decoder")


def _final_norm(args: Args, prefix: str) -> State:
    e = args["d_model"]
    return {f"{prefix}.norm.weight": ((e,), True),
            **({f"{prefix}.norm.bias": ((e,), True)} if args["bias"] else {})}


def _transformer_state(args: Args) -> State:
    """encoder.layers.i (encoder layers), encoder.norm, decoder.layers.i, decoder.norm."""
    state: State = {}
    for stack, count, layer in (("encoder", args["num_encoder_layers"], encoder_state),
                                ("decoder", args["num_decoder_layers"], _decoder_state)):
        for i in range(count):
            state |= {f"{stack}.layers.{i}.{k}": v for k, v in layer(args).items()}
        state |= _final_norm(args, stack)
    return state


def _transformer_forward(args: Args, src: Any, tgt: Any, src_mask: Any = None,
                         tgt_mask: Any = None, memory_mask: Any = None,
                         src_key_padding_mask: Any = None, tgt_key_padding_mask: Any = None,
                         memory_key_padding_mask: Any = None, src_is_causal: Any = None,
                         tgt_is_causal: Any = None, memory_is_causal: bool = False
                         ) -> tuple[Any, int]:
    """The encoder stack over src gives memory; the decoder stack over tgt attends to it. The
    output is tgt's shape. A causal flag left None is read from its mask, as torch does, so it
    only matters when set without one."""
    s, t = tensor_shape(src, "src"), tensor_shape(tgt, "tgt")
    expect_rank(s, 2, 3)
    batch = 0 if args["batch_first"] else 1
    if len(s) == 3 and len(t) == 3 and s[batch] != t[batch]:
        raise ValueError(f"src {list(s)} and tgt {list(t)} differ in batch size")
    if s[-1] != args["d_model"] or t[-1] != args["d_model"]:
        raise ValueError(f"src {list(s)} and tgt {list(t)} must both end in "
                         f"d_model={args['d_model']}")
    memory, macs = src, 0
    for _ in range(args["num_encoder_layers"]):
        shape, step = encoder_forward(args, memory, src_mask, src_key_padding_mask,
                                      bool(src_is_causal))
        memory, macs = Tensor(shape), macs + step
    out = tgt
    for _ in range(args["num_decoder_layers"]):
        shape, step = _decoder_forward(args, out, memory, tgt_mask, memory_mask,
                                       tgt_key_padding_mask, memory_key_padding_mask,
                                       bool(tgt_is_causal), memory_is_causal)
        out, macs = Tensor(shape), macs + step
    return out.shape, macs


register(LayerDef(
    "Transformer",
    (
        Arg("d_model", "int", 512),
        Arg("nhead", "int", 8),
        Arg("num_encoder_layers", "int", 6),
        Arg("num_decoder_layers", "int", 6),
        Arg("dim_feedforward", "int", 2048),
        Arg("dropout", "float", 0.1),
        Arg("activation", "str", "relu", choices=("relu", "gelu")),
        Arg("custom_encoder", "any", None, nullable=True),
        Arg("custom_decoder", "any", None, nullable=True),
        Arg("layer_norm_eps", "float", 1e-5),
        Arg("batch_first", "bool", False),
        Arg("norm_first", "bool", False),
        Arg("bias", "bool", True),
    ),
    checks=_transformer_checks,
    params=state_params(_transformer_state),
    forward=_transformer_forward,
    ranks=(2, 3),
    out_dims={-1: "d_model"},
    state=_transformer_state,
))
