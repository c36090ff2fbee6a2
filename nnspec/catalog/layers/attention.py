"""MultiheadAttention and TransformerEncoderLayer, with their forward rules, and the pieces the
decoder layer and the whole Transformer reuse."""

from __future__ import annotations

import math
from typing import Any

from nnspec.catalog.layers.common import (
    Family,
    Problems,
    State,
    divides,
    dropout_check,
    expect_rank,
    expect_size,
    positive,
    state_params,
    tensor_shape,
)
from nnspec.catalog.types import Arg, Args, LayerDef

FAMILY = Family()
register = FAMILY.add

def _mha_checks(args: Args) -> Problems:
    yield from positive(args, "embed_dim", "num_heads", "kdim", "vdim")
    yield from divides(args, "num_heads", "embed_dim")
    yield from dropout_check(args)


def mha_state(args: Args) -> State:
    """One packed in_proj_weight, or q/k/v weights when key or value sizes differ; bias_k and
    bias_v; then the out_proj Linear."""
    e = args["embed_dim"]
    kdim, vdim = args["kdim"] or e, args["vdim"] or e
    if kdim == e and vdim == e:
        state: State = {"in_proj_weight": ((3 * e, e), True)}
    else:
        state = {"q_proj_weight": ((e, e), True), "k_proj_weight": ((e, kdim), True),
                 "v_proj_weight": ((e, vdim), True)}
    if args["bias"]:
        state["in_proj_bias"] = ((3 * e,), True)
    if args["add_bias_kv"]:
        state.update(bias_k=((1, 1, e), True), bias_v=((1, 1, e), True))
    state["out_proj.weight"] = ((e, e), True)
    if args["bias"]:
        state["out_proj.bias"] = ((e,), True)
    return state


def mha_forward(args: Args, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False
                ) -> tuple[Any, int]:
    """(attn_output, attn_weights or None). Sequence first, (L, N, E), unless batch_first."""
    q, k, v = (tensor_shape(t, n) for t, n in ((query, "query"), (key, "key"),
                                                 (value, "value")))
    expect_rank(q, 2, 3)
    if not len(q) == len(k) == len(v):
        raise ValueError(f"query {list(q)}, key {list(k)} and value {list(v)} must all be "
                         "batched (3-d) or all unbatched (2-d)")
    e, heads = args["embed_dim"], args["num_heads"]
    for shape, size, name in ((q, e, "embed_dim"), (k, args["kdim"] or e, "kdim"),
                              (v, args["vdim"] or e, "vdim")):
        expect_size(shape, -1, size, name)
    batched = len(q) == 3
    seq, batch = (1, 0) if args["batch_first"] else (0, 1)
    if batched and not q[batch] == k[batch] == v[batch]:
        raise ValueError(f"query {list(q)}, key {list(k)} and value {list(v)} differ in batch "
                         "size")
    if k[seq if batched else 0] != v[seq if batched else 0]:
        raise ValueError(f"key {list(k)} and value {list(v)} differ in sequence length")
    length, source = (q[seq], k[seq]) if batched else (q[0], k[0])
    n = q[batch] if batched else 1
    lead = (n,) if batched else ()
    if key_padding_mask is not None and \
            tensor_shape(key_padding_mask, "key_padding_mask") != (*lead, source):
        raise ValueError(f"key_padding_mask should be {[*lead, source]}, got "
                         f"{list(key_padding_mask.shape)}")
    if attn_mask is not None and tensor_shape(attn_mask, "attn_mask") not in (
            (length, source), (n * heads, length, source)):
        raise ValueError(f"attn_mask should be {[length, source]} or "
                         f"{[n * heads, length, source]}, got {list(attn_mask.shape)}")
    if is_causal and attn_mask is None:
        raise ValueError("is_causal=True is a hint about attn_mask, which must be given too")
    keys = source + args["add_bias_kv"] + args["add_zero_attn"]
    weights = None
    if need_weights:
        weights = (*lead, *(() if average_attn_weights else (heads,)), length, keys)
    projections = n * (2 * length * e + source * (k[-1] + v[-1])) * e
    return (q, weights), projections + 2 * n * length * keys * e


MULTIHEAD_ATTENTION = register(LayerDef(
    "MultiheadAttention",
    (
        Arg("embed_dim", "int"),
        Arg("num_heads", "int"),
        Arg("dropout", "float", 0.0),
        Arg("bias", "bool", True),
        Arg("add_bias_kv", "bool", False),
        Arg("add_zero_attn", "bool", False),
        Arg("kdim", "int", None, nullable=True),
        Arg("vdim", "int", None, nullable=True),
        Arg("batch_first", "bool", False),
    ),
    checks=_mha_checks,
    params=state_params(mha_state),
    forward=mha_forward,
    infer={"embed_dim": -1},
    ranks=(2, 3),
    state=mha_state,
))


def encoder_checks(args: Args) -> Problems:
    yield from positive(args, "d_model", "nhead", "dim_feedforward")
    yield from divides(args, "nhead", "d_model")
    yield from dropout_check(args)


def encoder_attention(args: Args) -> Args:
    """The self_attn MultiheadAttention a TransformerEncoderLayer builds."""
    return MULTIHEAD_ATTENTION.bind_defaults(
        {"embed_dim": args["d_model"], "num_heads": args["nhead"], "bias": args["bias"],
         "batch_first": args["batch_first"]})


def encoder_state(args: Args) -> State:
    """self_attn, then the feed-forward Linears and the two LayerNorms."""
    state = {f"self_attn.{k}": v for k, v in mha_state(encoder_attention(args)).items()}
    return {**state, **feed_forward_state(args, 2)}


def feed_forward_state(args: Args, norms: int) -> State:
    """linear1, linear2, then norm1 to norm{norms}: weights, with biases unless bias=False."""
    e, f = args["d_model"], args["dim_feedforward"]
    state: State = {}
    for name, shape in (("linear1", (f, e)), ("linear2", (e, f)),
                        *((f"norm{i}", (e,)) for i in range(1, norms + 1))):
        state[f"{name}.weight"] = (shape, True)
        if args["bias"]:
            state[f"{name}.bias"] = ((shape[0],), True)
    return state


def encoder_forward(args: Args, src: Any, src_mask: Any = None,
                    src_key_padding_mask: Any = None, is_causal: bool = False
                    ) -> tuple[Any, int]:
    """Self-attention, then the feed-forward block (two Linears); the output is src's shape."""
    (out, _), attention = mha_forward(
        encoder_attention(args), src, src, src, key_padding_mask=src_key_padding_mask,
        need_weights=False, attn_mask=src_mask, is_causal=is_causal)
    tokens = math.prod(out[:-1])
    return out, attention + 2 * tokens * args["d_model"] * args["dim_feedforward"]


# TransformerEncoderLayer's arguments, which TransformerDecoderLayer shares
LAYER_ARGS = (
    Arg("d_model", "int"),
    Arg("nhead", "int"),
    Arg("dim_feedforward", "int", 2048),
    Arg("dropout", "float", 0.1),
    # torch also takes a function; a spec names one of the two torch accepts as strings
    Arg("activation", "str", "relu", choices=("relu", "gelu")),
    Arg("layer_norm_eps", "float", 1e-5),
    Arg("batch_first", "bool", False),
    Arg("norm_first", "bool", False),
    Arg("bias", "bool", True),
)

register(LayerDef(
    "TransformerEncoderLayer",
    LAYER_ARGS,
    checks=encoder_checks,
    params=state_params(encoder_state),
    forward=encoder_forward,
    infer={"d_model": -1},
    ranks=(2, 3),
    out_dims={-1: "d_model"},
    state=encoder_state,
))
