"""Drawn arguments and inputs for every catalog entry, for tests/test_shape_rules.py.

Each entry has a draw that gives valid torch arguments and a call (input shapes, and for
layers with a forward rule, masks, initial states and keyword values). `cases` takes a
deterministic series of draws per entry (one seeded generator each) and bends most of them one
way: one argument, or one input dimension or rank, so that both torch's and nnspec's
refusals get exercised.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nnspec.catalog import LAYERS
from nnspec.catalog.types import as_tuple
from nnspec.catalog.values import Tensor

Args = dict[str, Any]
Shape = tuple[int, ...]


# --- drawing arguments and inputs ------------------------------------------------------------


class Gen:
    """Deterministic draws: one seeded generator per catalog entry."""

    def __init__(self, seed: str):
        self.random = random.Random(seed)

    def int(self, lo: int, hi: int) -> int:
        return self.random.randint(lo, hi)

    def flag(self) -> bool:
        return self.random.random() < 0.5

    def pick(self, options: Any) -> Any:
        return self.random.choice(list(options))

    def float(self, lo: float, hi: float) -> float:
        return round(self.random.uniform(lo, hi), 3)

    def sizes(self, n: int, lo: int, hi: int) -> tuple[int, ...]:
        return tuple(self.int(lo, hi) for _ in range(n))

    def int_or_tuple(self, n: int, lo: int, hi: int) -> int | tuple[int, ...]:
        """Either form torch takes for kernel_size, stride, ...: a bare int or one per dim."""
        return self.int(lo, hi) if self.flag() else self.sizes(n, lo, hi)

    def batch(self) -> int:
        # batch norm refuses one value per channel when training; nnspec shapes cannot know the
        # batch a model will see, so its rule does not check that, and draws start at 2
        return self.int(2, 3)

    def any_input(self) -> Shape:
        return (self.batch(), *self.sizes(self.int(0, 3), 1, 5))


Draw = Callable[[Gen], tuple[Args, list[Any]]]


def draw_conv(n: int) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        groups = g.int(1, 3)
        args = {"in_channels": groups * g.int(1, 3), "out_channels": groups * g.int(1, 3),
                "kernel_size": g.int_or_tuple(n, 1, 4), "dilation": g.int_or_tuple(n, 1, 2),
                "groups": groups, "bias": g.flag(),
                "padding_mode": g.pick(["zeros", "reflect", "replicate", "circular"])}
        pad = g.pick(["int", "same", "valid"])
        args["padding"] = g.int_or_tuple(n, 0, 2) if pad == "int" else pad
        args["stride"] = 1 if pad == "same" else g.int_or_tuple(n, 1, 3)
        return args, [(g.batch(), args["in_channels"], *g.sizes(n, 1, 9))]
    return draw


def draw_conv_transpose(n: int) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        groups = g.int(1, 3)
        args = {"in_channels": groups * g.int(1, 3), "out_channels": groups * g.int(1, 3),
                "kernel_size": g.int_or_tuple(n, 1, 4), "stride": g.int_or_tuple(n, 1, 3),
                "padding": g.int_or_tuple(n, 0, 2), "output_padding": g.int_or_tuple(n, 0, 2),
                "groups": groups, "bias": g.flag(), "dilation": g.int_or_tuple(n, 1, 2)}
        return args, [(g.batch(), args["in_channels"], *g.sizes(n, 1, 6))]
    return draw


def draw_linear(g: Gen) -> tuple[Args, list[Shape]]:
    args = {"in_features": g.int(1, 8), "out_features": g.int(1, 8), "bias": g.flag()}
    return args, [(g.batch(), *g.sizes(g.int(0, 2), 1, 4), args["in_features"])]


def draw_bilinear(g: Gen) -> tuple[Args, list[Shape]]:
    args = {"in1_features": g.int(1, 5), "in2_features": g.int(1, 5),
            "out_features": g.int(1, 5), "bias": g.flag()}
    lead = (g.batch(), *g.sizes(g.int(0, 2), 1, 4))
    return args, [(*lead, args["in1_features"]), (*lead, args["in2_features"])]


def draw_embedding(g: Gen) -> tuple[Args, list[Shape]]:
    count = g.int(1, 10)
    args = {"num_embeddings": count, "embedding_dim": g.int(1, 6),
            "padding_idx": g.pick([None, g.int(-count, count - 1)]),
            "max_norm": g.pick([None, g.float(0.5, 2.0)]), "norm_type": g.float(1.0, 3.0),
            "scale_grad_by_freq": g.flag(), "sparse": g.flag()}
    return args, [(g.batch(), *g.sizes(g.int(0, 2), 1, 5))]


def _norm_args(g: Gen, affine: str) -> Args:
    return {"eps": g.float(1e-6, 1e-2), affine: g.flag()}


def draw_batchnorm(n: int) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        args = {"num_features": g.int(1, 6), **_norm_args(g, "affine"),
                "momentum": g.pick([None, g.float(0.0, 1.0)]),
                "track_running_stats": g.flag(), "bias": g.flag()}
        spatial = g.int(0, 1) if n == 1 else n
        return args, [(g.batch(), args["num_features"], *g.sizes(spatial, 1, 5))]
    return draw


def draw_instancenorm(n: int) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        args = {"num_features": g.int(1, 6), **_norm_args(g, "affine"),
                "momentum": g.float(0.0, 1.0), "track_running_stats": g.flag(),
                "bias": g.flag()}
        return args, [(g.batch(), args["num_features"], *g.sizes(n, 1, 4))]
    return draw


def draw_groupnorm(g: Gen) -> tuple[Args, list[Shape]]:
    groups = g.int(1, 3)
    args = {"num_groups": groups, "num_channels": groups * g.int(1, 3),
            **_norm_args(g, "affine"), "bias": g.flag()}
    return args, [(g.batch(), args["num_channels"], *g.sizes(g.int(0, 2), 1, 4))]


def draw_trailing_norm(bias: bool) -> Draw:
    """LayerNorm and RMSNorm: normalized_shape as an int or a list, the input ending in it."""
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        tail = list(g.sizes(g.int(1, 2), 1, 5))
        args = {"normalized_shape": tail[0] if len(tail) == 1 and g.flag() else tail,
                **_norm_args(g, "elementwise_affine")}
        if bias:
            args["bias"] = g.flag()
        return args, [(g.batch(), *g.sizes(g.int(0, 1), 1, 4), *tail)]
    return draw


def draw_elementwise(name: str) -> Draw:
    """Arguments straight from the catalog's kinds: flags, slopes, choices."""
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        args: Args = {}
        for arg in LAYERS[name].args:
            if arg.choices:
                args[arg.name] = g.pick(arg.choices)
            elif arg.accepts == "bool":
                args[arg.name] = g.flag()
            else:
                args[arg.name] = g.pick([g.float(-2.0, 2.0), 0.0])
        return args, [g.any_input()]
    return draw


def draw_dim(nullable: bool) -> Draw:
    """Softmax, LogSoftmax and GLU: a dim inside the input's rank, sometimes just outside it,
    or None where the layer allows it."""
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        x = g.any_input()
        dim = None if nullable and g.flag() else g.int(-len(x) - 1, len(x))
        return {"dim": dim}, [x]
    return draw


def draw_prelu(g: Gen) -> tuple[Args, list[Shape]]:
    x = (g.batch(), *g.sizes(g.int(1, 3), 1, 5))
    return {"num_parameters": g.pick([1, x[1]]), "init": g.float(0.0, 1.0)}, [x]


def draw_dropout(n: int) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        args = {"p": g.float(0.0, 1.0), "inplace": g.flag()}
        return args, [g.any_input() if n == 0 else (g.batch(), *g.sizes(n + 1, 1, 4))]
    return draw


def _pool_input(g: Gen, n: int, smallest: int = 1) -> list[Shape]:
    """Pools take (N, C, *spatial) or (N, *spatial): torch reads both alike."""
    lead = (g.batch(), g.int(1, 3))[:g.int(1, 2)]
    return [(*lead, *g.sizes(n, smallest, 9))]


def draw_pool(n: int, max_pool: bool) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        kernel = g.int_or_tuple(n, 1, 4)
        args = {"kernel_size": kernel,
                "stride": None if g.flag() else g.int_or_tuple(n, 1, 3),
                "padding": g.int_or_tuple(n, 0, min(as_tuple(kernel, n)) // 2 + 1),
                "ceil_mode": g.flag()}
        if max_pool:
            args |= {"dilation": g.int_or_tuple(n, 1, 2), "return_indices": g.flag()}
        else:
            args["count_include_pad"] = g.flag()
            if n > 1:
                args["divisor_override"] = g.pick([None, g.int(1, 3)])
        return args, _pool_input(g, n)
    return draw


def draw_adaptive(n: int, max_pool: bool) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        size = g.int(1, 4) if g.flag() or n == 1 else tuple(
            g.pick([None, g.int(1, 4)]) for _ in range(n))
        args: Args = {"output_size": size}
        if max_pool:
            args["return_indices"] = g.flag()
        return args, _pool_input(g, n)
    return draw


def draw_flatten(g: Gen) -> tuple[Args, list[Shape]]:
    x = g.any_input()
    return {"start_dim": g.int(-len(x), len(x) - 1), "end_dim": g.int(-len(x), len(x) - 1)}, [x]


def draw_unflatten(g: Gen) -> tuple[Args, list[Shape]]:
    sizes = list(g.sizes(g.int(1, 3), 1, 3))
    x = list(g.any_input())
    dim = g.int(0, len(x) - 1)
    x[dim] = sizes[0] * sizes[-1] * (sizes[1] if len(sizes) == 3 else 1)
    if g.flag():
        sizes[g.int(0, len(sizes) - 1)] = -1
    return {"dim": dim - len(x) if g.flag() else dim, "unflattened_size": tuple(sizes)}, \
        [tuple(x)]


def draw_upsample(g: Gen) -> tuple[Args, list[Shape]]:
    mode = g.pick(["nearest", "nearest-exact", "area", "linear", "bilinear", "bicubic",
                   "trilinear"])
    rank = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}.get(mode) or g.int(3, 5)
    n = rank - 2
    scales = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    args: Args = {"mode": mode}
    if g.flag():
        args["size"] = g.int_or_tuple(n, 1, 6)
    else:
        args["scale_factor"] = g.pick(scales) if g.flag() else tuple(
            g.pick(scales) for _ in range(n))
        args["recompute_scale_factor"] = g.pick([None, True, False])
    if mode in ("linear", "bilinear", "bicubic", "trilinear"):
        args["align_corners"] = g.pick([None, True, False])
    return args, [(g.batch(), g.int(1, 3), *g.sizes(n, 1, 5))]


def draw_pixel_shuffle(g: Gen) -> tuple[Args, list[Shape]]:
    r = g.int(1, 3)
    return {"upscale_factor": r}, [(g.batch(), g.int(1, 2) * r * r, *g.sizes(2, 1, 4))]


def draw_pixel_unshuffle(g: Gen) -> tuple[Args, list[Shape]]:
    r = g.int(1, 3)
    return {"downscale_factor": r}, [(g.batch(), g.int(1, 2), *g.sizes(2, 1, 7))]


def draw_zeropad(n: int) -> Draw:
    def draw(g: Gen) -> tuple[Args, list[Shape]]:
        lead = (g.batch(), g.int(1, 3))[:g.int(1, 2)]
        return {"padding": g.int_or_tuple(2 * n, -2, 2)}, [(*lead, *g.sizes(n, 1, 5))]
    return draw


# --- layers with a forward rule: several inputs, call flags, tuple outputs -------------------


@dataclass(frozen=True)
class Mask:
    """A mask argument: boolean (padding) or float (an additive, causal attention mask)."""

    shape: Shape
    causal: bool = False


def draw_rnn(kind: str) -> Draw:
    """`rnn(input, hx)`: batched or not, batch first or not, sometimes with an initial state."""
    def draw(g: Gen) -> tuple[Args, list[Any]]:
        hidden = g.int(1, 4)
        args: Args = {"input_size": g.int(1, 4), "hidden_size": hidden,
                      "num_layers": g.int(1, 2), "bias": g.flag(), "batch_first": g.flag(),
                      "bidirectional": g.flag()}
        if kind == "RNN":
            args["nonlinearity"] = g.pick(["tanh", "relu"])
        out = hidden
        if kind == "LSTM" and hidden > 1 and g.flag():
            args["proj_size"] = out = g.int(1, hidden - 1)
        seq, batch = g.int(1, 3), g.batch()
        batched = g.pick([True, True, False])
        x = ((batch, seq) if args["batch_first"] else (seq, batch)) if batched else (seq,)
        call: list[Any] = [(*x, args["input_size"])]
        if g.flag():
            lead = ((1 + args["bidirectional"]) * args["num_layers"],
                    *((batch,) if batched else ()))
            h = (*lead, out)
            call.append(((h, (*lead, hidden))) if kind == "LSTM" else h)
        return args, call
    return draw


def draw_attention(g: Gen) -> tuple[Args, list[Any]]:
    heads = g.int(1, 3)
    args: Args = {"embed_dim": heads * g.int(1, 3), "num_heads": heads, "bias": g.flag(),
                  "add_bias_kv": g.flag(), "add_zero_attn": g.flag(),
                  "kdim": g.pick([None, g.int(1, 5)]), "vdim": g.pick([None, g.int(1, 5)]),
                  "batch_first": g.flag()}
    e = args["embed_dim"]
    length, source, batch = g.int(1, 3), g.int(1, 3), g.batch()
    batched = g.pick([True, True, False])

    def seq(n: int, size: int) -> Shape:
        if not batched:
            return (n, size)
        return (batch, n, size) if args["batch_first"] else (n, batch, size)

    call: list[Any] = [seq(length, e), seq(source, args["kdim"] or e),
                       seq(source, args["vdim"] or e)]
    kwargs: Args = {"need_weights": g.flag(), "average_attn_weights": g.flag()}
    if g.flag():
        kwargs["key_padding_mask"] = Mask((batch, source) if batched else (source,))
    if g.flag():
        kwargs["attn_mask"] = Mask((length, source))
    return args, [*call, kwargs]


def draw_encoder(g: Gen) -> tuple[Args, list[Any]]:
    heads = g.int(1, 2)
    args: Args = {"d_model": heads * g.int(1, 3), "nhead": heads,
                  "dim_feedforward": g.int(1, 6), "dropout": 0.0,
                  "activation": g.pick(["relu", "gelu"]), "batch_first": g.flag(),
                  "norm_first": g.flag(), "bias": g.flag()}
    length, batch = g.int(1, 3), g.batch()
    batched = g.pick([True, True, False])
    lead = ((batch, length) if args["batch_first"] else (length, batch)) if batched else (
        length,)
    kwargs: Args = {}
    if g.flag():
        kwargs["src_key_padding_mask"] = Mask((batch, length) if batched else (length,))
    if g.flag():
        kwargs["src_mask"] = Mask((length, length), causal=True)
    return args, [(*lead, args["d_model"]), kwargs]


# the layers whose shape rule is the identity; their draws come from the catalog's kinds
ELEMENTWISE = ("ReLU", "ReLU6", "SiLU", "Mish", "Hardswish", "Hardsigmoid", "SELU", "Sigmoid",
               "Tanh", "LogSigmoid", "LeakyReLU", "ELU", "GELU", "Softplus", "CELU", "Identity")


def _draws() -> dict[str, Draw]:
    draws: dict[str, Draw] = {
        "Linear": draw_linear, "Bilinear": draw_bilinear, "Embedding": draw_embedding,
        "GroupNorm": draw_groupnorm, "LayerNorm": draw_trailing_norm(bias=True),
        "RMSNorm": draw_trailing_norm(bias=False), "PReLU": draw_prelu,
        "Softmax": draw_dim(nullable=True), "LogSoftmax": draw_dim(nullable=True),
        "GLU": draw_dim(nullable=False),
        "Flatten": draw_flatten, "Unflatten": draw_unflatten, "Upsample": draw_upsample,
        "PixelShuffle": draw_pixel_shuffle, "PixelUnshuffle": draw_pixel_unshuffle,
        "Dropout": draw_dropout(0), "MultiheadAttention": draw_attention,
        "TransformerEncoderLayer": draw_encoder,
        **{kind: draw_rnn(kind) for kind in ("RNN", "LSTM", "GRU")},
    }
    for n in (1, 2, 3):
        draws |= {f"Conv{n}d": draw_conv(n), f"ConvTranspose{n}d": draw_conv_transpose(n),
                  f"BatchNorm{n}d": draw_batchnorm(n),
                  f"InstanceNorm{n}d": draw_instancenorm(n),
                  f"Dropout{n}d": draw_dropout(n),
                  f"MaxPool{n}d": draw_pool(n, max_pool=True),
                  f"AvgPool{n}d": draw_pool(n, max_pool=False),
                  f"AdaptiveAvgPool{n}d": draw_adaptive(n, max_pool=False),
                  f"AdaptiveMaxPool{n}d": draw_adaptive(n, max_pool=True),
                  f"ZeroPad{n}d": draw_zeropad(n)}
    for name in ELEMENTWISE:
        draws[name] = draw_elementwise(name)
    return draws


DRAWS = _draws()


# --- bending a draw --------------------------------------------------------------------------


def is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_shape(value: Any) -> bool:
    return isinstance(value, tuple) and bool(value) and all(is_size(v) for v in value)


def _bend_value(g: Gen, value: int) -> int:
    return g.pick([0, -1, value + 1, max(value - 1, 1), 2 * value])


def bend_args(g: Gen, args: Args) -> Args:
    """One int argument, or one item of an int tuple, set to another size (0 and -1 too); or
    one float argument (a probability, eps, a scale) set to 0, a negative value or above 1."""
    names = [k for k, v in args.items() if is_size(v) or is_shape(v) or isinstance(v, float)]
    if not names:
        return args
    name = g.pick(names)
    value = args[name]
    if isinstance(value, float):
        return {**args, name: g.pick([0.0, -0.5, 1.5, 2 * value])}
    if is_size(value):
        return {**args, name: _bend_value(g, value)}
    i = g.int(0, len(value) - 1)
    return {**args, name: (*value[:i], _bend_value(g, value[i]), *value[i + 1:])}


def _shapes_in(call: list[Any]) -> list[tuple[int, ...]]:
    """Paths (index into the call, index into a nested tuple) of the input shapes."""
    paths = []
    for i, value in enumerate(call):
        if is_shape(value):
            paths.append((i,))
        elif isinstance(value, tuple):
            paths += [(i, j) for j, v in enumerate(value) if is_shape(v)]
    return paths


def bend_input(g: Gen, call: list[Any]) -> list[Any]:
    """One input shape: a dim resized, the leading dim dropped (unbatched), or one added."""
    paths = _shapes_in(call)
    if not paths:
        return call
    path = g.pick(paths)
    shape = call[path[0]] if len(path) == 1 else call[path[0]][path[1]]
    how = g.pick(["size", "size", "drop", "add"])
    if how == "size":
        # never a batch of 1: BatchNorm refuses one value per channel when training, which
        # depends on the batch a model runs with, not on the spec
        d = g.int(0, len(shape) - 1)
        least = 2 if d == 0 else 1
        size = g.pick([least, shape[d] + 1, max(shape[d] - 1, least)])
        new = (*shape[:d], size, *shape[d + 1:])
    elif how == "drop" and len(shape) > 1:
        new = shape[1:]
    else:
        new = (2, *shape)
    out = list(call)
    if len(path) == 1:
        out[path[0]] = new
    else:
        out[path[0]] = (*call[path[0]][:path[1]], new, *call[path[0]][path[1] + 1:])
    return out


def cases(name: str, count: int) -> list[tuple[Args, list[Any]]]:
    """`count` draws for one entry: the first third as drawn, the rest bent one way."""
    g = Gen(name)
    out = []
    for i in range(count):
        args, call = DRAWS[name](g)
        if i >= count // 3:
            if g.flag():
                args = bend_args(g, args)
            else:
                call = bend_input(g, call)
        out.append((args, call))
    return out


def static_value(value: Any) -> Any:
    """A drawn value as nnspec's forward rules see it."""
    if isinstance(value, Mask):
        return Tensor(value.shape)
    if is_shape(value):
        return Tensor(value)
    if isinstance(value, tuple):
        return tuple(static_value(v) for v in value)
    return value


def split_call(call: list[Any]) -> tuple[list[Any], Args]:
    """A drawn call: positional values, then a dict of keyword values for forward layers."""
    if call and isinstance(call[-1], dict):
        return call[:-1], call[-1]
    return call, {}
