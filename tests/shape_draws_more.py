"""Drawn arguments and inputs for the rest of torch.nn's layers, for tests/test_shape_rules.py.

The same kind of draws as tests/shape_draws.py (valid torch arguments and a call, later bent one
way), for the entries added to cover torch.nn; importing this module adds them to its `DRAWS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shape_draws import (
    DRAWS,
    Draw,
    Gen,
    Mask,
    draw_batchnorm,
    draw_dim,
    draw_dropout,
    draw_elementwise,
)

from nnspec.catalog.types import as_tuple

Args = dict[str, Any]
Shape = tuple[int, ...]


@dataclass(frozen=True)
class Indices(Mask):
    """An int64 tensor of zeros (valid indices for any unpool or bag): a call argument that is
    not bent like the input shapes."""


def _lead(g: Gen) -> Shape:
    """(N, C) or (N): the leading dims of pools and pads, which take both."""
    return (g.batch(), g.int(1, 3))[:g.int(1, 2)]


def draw_pad(n: int, constant: bool) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        args: Args = {"padding": g.int_or_tuple(2 * n, -2, 3)}
        if constant:
            args["value"] = g.float(-1.0, 1.0)
        return args, [(*_lead(g), *g.sizes(n, 1, 5))]
    return draw


def draw_lp_pool(n: int) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        kernel = g.int(1, 4) if n == 1 else g.int_or_tuple(n, 1, 4)
        args = {"norm_type": g.pick([1.0, 2.0, 3.0]), "kernel_size": kernel,
                "stride": None if g.flag() else g.int_or_tuple(n, 1, 3),
                "ceil_mode": g.flag()}
        return args, [(*_lead(g), *g.sizes(n, 1, 9))]
    return draw


def draw_fractional(n: int) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        args: Args = {"kernel_size": g.int_or_tuple(n, 1, 3), "return_indices": g.flag()}
        if g.flag():
            args["output_size"] = g.int_or_tuple(n, 1, 4)
        else:
            args["output_ratio"] = g.float(0.2, 0.9) if g.flag() else tuple(
                g.float(0.2, 0.9) for _ in range(n))
        return args, [(*_lead(g), *g.sizes(n, 2, 9))]
    return draw


def draw_unpool(n: int) -> Draw:
    """`unpool(input, indices, output_size=None)`, sometimes with an output_size near the
    default."""
    def draw(g: Gen) -> tuple[Args, list[Any]]:
        args = {"kernel_size": g.int_or_tuple(n, 1, 3),
                "stride": None if g.flag() else g.int_or_tuple(n, 1, 3),
                "padding": g.int_or_tuple(n, 0, 1)}
        x = (*_lead(g), *g.sizes(n, 1, 4))
        call: list[Any] = [x, Indices(x)]
        if g.flag():
            k, p = as_tuple(args["kernel_size"], n), as_tuple(args["padding"], n)
            s = as_tuple(args["stride"] or args["kernel_size"], n)
            sizes = tuple((x[-n + i] - 1) * s[i] - 2 * p[i] + k[i] + g.int(-2, 2)
                          for i in range(n))
            # a list: a tuple of ints would be read as an input shape
            call.append({"output_size": [*x[:-n][-2:], *sizes] if g.flag() else [*sizes]})
        return args, call
    return draw


def draw_softmax2d(g: Gen) -> tuple[Args, list[Shape]]:
    return {}, [(g.batch(), *g.sizes(g.int(1, 4), 1, 4))]


def draw_channel_shuffle(g: Gen) -> tuple[Args, list[Shape]]:
    groups = g.int(1, 3)
    return {"groups": groups}, [(g.batch(), groups * g.int(1, 2), *g.sizes(g.int(1, 2), 1, 4))]


def _block_args(g: Gen) -> Args:
    return {"kernel_size": g.int_or_tuple(2, 1, 3), "dilation": g.int_or_tuple(2, 1, 2),
            "padding": g.int_or_tuple(2, 0, 1), "stride": g.int_or_tuple(2, 1, 2)}


def draw_unfold(g: Gen) -> tuple[Args, list[Shape]]:
    return _block_args(g), [(g.batch(), g.int(1, 3), *g.sizes(2, 1, 6))]


def draw_fold(g: Gen) -> tuple[Args, list[Shape]]:
    args = {"output_size": g.int_or_tuple(2, 2, 6), **_block_args(g)}
    k, d, p, s, o = (as_tuple(args[a], 2) for a in ("kernel_size", "dilation", "padding",
                                                     "stride", "output_size"))
    blocks = 1
    for i in range(2):
        blocks *= max((o[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1, 1)
    return args, [(g.batch(), g.int(1, 2) * k[0] * k[1], blocks)]


def draw_upsampling(bilinear: bool) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        n = 2 if bilinear else g.int(1, 3)
        args: Args = {"size": g.int_or_tuple(n, 1, 6)} if g.flag() else {
            "scale_factor": g.pick([0.5, 1.0, 2.0, 3.0])}
        return args, [(g.batch(), g.int(1, 3), *g.sizes(n, 1, 5))]
    return draw


def _pair(g: Gen) -> list[Shape]:
    """Two inputs that broadcast: the same shape, or the second with 1s or fewer dims."""
    x = (g.batch(), *g.sizes(g.int(0, 3), 1, 4))
    how = g.pick(["same", "ones", "fewer"])
    if how == "ones":
        y = tuple(1 if g.flag() else s for s in x)
    elif how == "fewer":
        y = x[g.int(1, len(x) - 1):] if len(x) > 1 else x
    else:
        y = x
    return [x, y] if g.flag() else [y, x]


def draw_cosine(g: Gen) -> tuple[Args, list[Shape]]:
    call = _pair(g)
    rank = max(len(s) for s in call)
    return {"dim": g.int(-rank - 1, rank), "eps": g.float(1e-8, 1e-3)}, call


def draw_pairwise(g: Gen) -> tuple[Args, list[Shape]]:
    return {"p": g.pick([1.0, 2.0, 0.5]), "eps": g.float(1e-8, 1e-3),
            "keepdim": g.flag()}, _pair(g)


def draw_lrn(g: Gen) -> tuple[Args, list[Shape]]:
    args = {"size": g.int(1, 4), "alpha": g.float(1e-4, 1e-2), "beta": g.float(0.5, 1.0),
            "k": g.float(1.0, 2.0)}
    return args, [(g.batch(), g.int(1, 4), *g.sizes(g.int(0, 3), 1, 4))]


def draw_bag(g: Gen) -> tuple[Args, list[Any]]:
    """(B, N) ids, or 1-d ids with 1-d offsets (all zero: every id in the last bag)."""
    count = g.int(1, 10)
    args = {"num_embeddings": count, "embedding_dim": g.int(1, 5),
            "mode": g.pick(["sum", "mean", "max"]), "include_last_offset": g.flag(),
            "padding_idx": g.pick([None, g.int(-count, count - 1)]),
            "max_norm": g.pick([None, 1.0])}
    if g.flag():
        return args, [(g.batch(), g.int(1, 4))]
    # torch 2.13 crashes (a segfault) on a single offset with include_last_offset: no bags
    return args, [(g.int(1, 6),), Indices((g.int(1 + args["include_last_offset"], 4),))]


def draw_cell(kind: str) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Any]]:
        args: Args = {"input_size": g.int(1, 4), "hidden_size": g.int(1, 4), "bias": g.flag()}
        if kind == "RNN":
            args["nonlinearity"] = g.pick(["tanh", "relu"])
        lead = (g.batch(),) if g.pick([True, True, False]) else ()
        call: list[Any] = [(*lead, args["input_size"])]
        if g.flag():
            h = (*lead, args["hidden_size"])
            call.append((h, h) if kind == "LSTM" else h)
        return args, call
    return draw


def _transformer_args(g: Gen) -> Args:
    heads = g.int(1, 2)
    return {"d_model": heads * g.int(1, 3), "nhead": heads, "dim_feedforward": g.int(1, 6),
            "dropout": 0.0, "activation": g.pick(["relu", "gelu"]), "batch_first": g.flag(),
            "norm_first": g.flag(), "bias": g.flag()}


def _sequences(g: Gen, args: Args, *lengths: int) -> list[Shape]:
    batch, batched = g.batch(), g.pick([True, True, False])
    first = args["batch_first"]
    return [((batch, n) if first else (n, batch)) + (args["d_model"],) if batched else
            (n, args["d_model"]) for n in lengths]


def _batch(x: Shape, args: Args) -> int | None:
    """The batch size of a sequence input, None when it is unbatched."""
    return None if len(x) == 2 else x[0] if args["batch_first"] else x[1]


def _masks(g: Gen, kwargs: Args, prefix: str, rows: int, cols: int, batch: int | None,
           causal: bool) -> None:
    """Sometimes a key padding mask and an attention mask for one attention."""
    if g.flag():
        kwargs[f"{prefix}_key_padding_mask"] = Mask((batch, cols) if batch else (cols,))
    if g.flag():
        kwargs[f"{prefix}_mask"] = Mask((rows, cols), causal=causal)


def draw_decoder(g: Gen) -> tuple[Args, list[Any]]:
    args = _transformer_args(g)
    length, source = g.int(1, 3), g.int(1, 3)
    tgt, memory = _sequences(g, args, length, source)
    kwargs: Args = {}
    _masks(g, kwargs, "tgt", length, length, _batch(tgt, args), causal=True)
    _masks(g, kwargs, "memory", length, source, _batch(tgt, args), causal=False)
    return args, [tgt, memory, kwargs]


def draw_transformer(g: Gen) -> tuple[Args, list[Any]]:
    args = {**_transformer_args(g), "num_encoder_layers": g.int(1, 2),
            "num_decoder_layers": g.int(1, 2)}
    source, length = g.int(1, 3), g.int(1, 3)
    src, tgt = _sequences(g, args, source, length)
    kwargs: Args = {}
    _masks(g, kwargs, "src", source, source, _batch(src, args), causal=True)
    _masks(g, kwargs, "tgt", length, length, _batch(src, args), causal=True)
    return args, [src, tgt, kwargs]


def draw_sync_batchnorm(g: Gen) -> tuple[Args, list[Shape]]:
    args, _ = draw_batchnorm(1)(g)
    return args, [(g.batch(), args["num_features"], *g.sizes(g.int(0, 2), 1, 4))]


# the added layers whose shape rule is the identity; their draws come from the catalog's kinds
MORE_ELEMENTWISE = ("Hardshrink", "Softshrink", "Hardtanh", "RReLU", "Threshold", "Softsign",
                    "Tanhshrink")


def _draws() -> dict[str, Draw]:
    draws: dict[str, Draw] = {
        "Softmin": draw_dim(nullable=True), "Softmax2d": draw_softmax2d,
        "AlphaDropout": draw_dropout(0), "FeatureAlphaDropout": draw_dropout(0),
        "ChannelShuffle": draw_channel_shuffle, "Fold": draw_fold, "Unfold": draw_unfold,
        "UpsamplingNearest2d": draw_upsampling(bilinear=False),
        "UpsamplingBilinear2d": draw_upsampling(bilinear=True),
        "CosineSimilarity": draw_cosine, "PairwiseDistance": draw_pairwise,
        "SyncBatchNorm": draw_sync_batchnorm, "LocalResponseNorm": draw_lrn,
        "CrossMapLRN2d": draw_lrn, "EmbeddingBag": draw_bag,
        "TransformerDecoderLayer": draw_decoder, "Transformer": draw_transformer,
        **{f"{kind}Cell": draw_cell(kind) for kind in ("RNN", "LSTM", "GRU")},
    }
    for n in (1, 2, 3):
        draws |= {f"LPPool{n}d": draw_lp_pool(n), f"MaxUnpool{n}d": draw_unpool(n),
                  f"ConstantPad{n}d": draw_pad(n, constant=True),
                  **{f"{kind}Pad{n}d": draw_pad(n, constant=False)
                     for kind in ("Reflection", "Replication", "Circular")}}
    for n in (2, 3):
        draws[f"FractionalMaxPool{n}d"] = draw_fractional(n)
    for name in MORE_ELEMENTWISE:
        draws[name] = draw_elementwise(name)
    return draws


DRAWS.update(_draws())
