"""The catalog's static rules against torch: output shapes and parameter counts by property
tests on the meta device (no memory, no compute), multiply-accumulates against
FlopCounterMode on a few small real inputs per family.

Every entry with a shape rule needs a draw here; a new entry without one fails.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import torch_math_paths
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nnspec.catalog import LAYERS, LayerDef, ops
from nnspec.catalog.types import as_tuple

with warnings.catch_warnings():  # torch warns at import when numpy is absent
    warnings.simplefilter("ignore")
    import torch
    from torch.utils.flop_counter import FlopCounterMode

Args = dict[str, Any]
Shape = tuple[int, ...]
Draw = Callable[[st.DataObject], tuple[Args, list[Shape]]]

INT_INPUTS = {"Embedding"}  # layers that take integer ids


# --- drawing arguments and inputs ------------------------------------------------------------


def _int(data: st.DataObject, lo: int, hi: int) -> int:
    return data.draw(st.integers(lo, hi))


def _flag(data: st.DataObject) -> bool:
    return data.draw(st.booleans())


def _sizes(data: st.DataObject, n: int, lo: int, hi: int) -> tuple[int, ...]:
    return tuple(_int(data, lo, hi) for _ in range(n))


def _int_or_tuple(data: st.DataObject, n: int, lo: int, hi: int) -> int | tuple[int, ...]:
    """Either form torch takes for kernel_size, stride, ...: a bare int or one per dim."""
    return _int(data, lo, hi) if _flag(data) else _sizes(data, n, lo, hi)


def _batch(data: st.DataObject) -> int:
    # batch norm refuses one value per channel when training; nnspec shapes cannot know the
    # batch a model will see, so its rule does not check that, and draws start at 2
    return _int(data, 2, 3)


def draw_conv(n: int) -> Draw:
    def draw(data: st.DataObject) -> tuple[Args, list[Shape]]:
        groups = _int(data, 1, 3)
        args = {"in_channels": groups * _int(data, 1, 3),
                "out_channels": groups * _int(data, 1, 3),
                "kernel_size": _int_or_tuple(data, n, 1, 4),
                "dilation": _int_or_tuple(data, n, 1, 2),
                "groups": groups,
                "bias": _flag(data),
                "padding_mode": data.draw(st.sampled_from(
                    ["zeros", "reflect", "replicate", "circular"]))}
        pad = data.draw(st.sampled_from(["int", "same", "valid"]))
        args["padding"] = _int_or_tuple(data, n, 0, 2) if pad == "int" else pad
        args["stride"] = 1 if pad == "same" else _int_or_tuple(data, n, 1, 3)
        return args, [(_batch(data), args["in_channels"], *_sizes(data, n, 1, 9))]
    return draw


def draw_conv_transpose(n: int) -> Draw:
    def draw(data: st.DataObject) -> tuple[Args, list[Shape]]:
        groups = _int(data, 1, 3)
        args = {"in_channels": groups * _int(data, 1, 3),
                "out_channels": groups * _int(data, 1, 3),
                "kernel_size": _int_or_tuple(data, n, 1, 4),
                "stride": _int_or_tuple(data, n, 1, 3),
                "padding": _int_or_tuple(data, n, 0, 2),
                "output_padding": _int_or_tuple(data, n, 0, 2),
                "groups": groups,
                "bias": _flag(data),
                "dilation": _int_or_tuple(data, n, 1, 2)}
        return args, [(_batch(data), args["in_channels"], *_sizes(data, n, 1, 6))]
    return draw


def draw_linear(data: st.DataObject) -> tuple[Args, list[Shape]]:
    args = {"in_features": _int(data, 1, 8), "out_features": _int(data, 1, 8),
            "bias": _flag(data)}
    lead = _sizes(data, _int(data, 0, 2), 1, 4)
    return args, [(_batch(data), *lead, args["in_features"])]


def draw_bilinear(data: st.DataObject) -> tuple[Args, list[Shape]]:
    args = {"in1_features": _int(data, 1, 5), "in2_features": _int(data, 1, 5),
            "out_features": _int(data, 1, 5), "bias": _flag(data)}
    lead = (_batch(data), *_sizes(data, _int(data, 0, 2), 1, 4))
    return args, [(*lead, args["in1_features"]), (*lead, args["in2_features"])]


def draw_embedding(data: st.DataObject) -> tuple[Args, list[Shape]]:
    count = _int(data, 1, 10)
    args = {"num_embeddings": count, "embedding_dim": _int(data, 1, 6),
            "padding_idx": data.draw(st.none() | st.integers(-count, count - 1)),
            "max_norm": data.draw(st.none() | st.floats(0.5, 2.0)),
            "norm_type": data.draw(st.floats(1.0, 3.0)),
            "scale_grad_by_freq": _flag(data), "sparse": _flag(data)}
    return args, [(_batch(data), *_sizes(data, _int(data, 0, 2), 1, 5))]


def _norm_args(data: st.DataObject, affine: str) -> Args:
    return {"eps": data.draw(st.floats(1e-6, 1e-2)), affine: _flag(data)}


def draw_batchnorm(n: int) -> Draw:
    def draw(data: st.DataObject) -> tuple[Args, list[Shape]]:
        args = {"num_features": _int(data, 1, 6), **_norm_args(data, "affine"),
                # not momentum=None: torch then reads a counter with .item(), which a meta
                # tensor cannot give (test_catalog builds that one for real)
                "momentum": data.draw(st.floats(0.0, 1.0)),
                "track_running_stats": _flag(data), "bias": _flag(data)}
        spatial = _int(data, 0, 1) if n == 1 else n
        return args, [(_batch(data), args["num_features"], *_sizes(data, spatial, 1, 5))]
    return draw


def draw_instancenorm(n: int) -> Draw:
    def draw(data: st.DataObject) -> tuple[Args, list[Shape]]:
        args = {"num_features": _int(data, 1, 6), **_norm_args(data, "affine"),
                "momentum": data.draw(st.floats(0.0, 1.0)),
                "track_running_stats": _flag(data), "bias": _flag(data)}
        return args, [(_batch(data), args["num_features"], *_sizes(data, n, 1, 4))]
    return draw


def draw_groupnorm(data: st.DataObject) -> tuple[Args, list[Shape]]:
    groups = _int(data, 1, 3)
    args = {"num_groups": groups, "num_channels": groups * _int(data, 1, 3),
            **_norm_args(data, "affine"), "bias": _flag(data)}
    spatial = _sizes(data, _int(data, 0, 2), 1, 4)
    return args, [(_batch(data), args["num_channels"], *spatial)]


def draw_trailing_norm(bias: bool) -> Draw:
    """LayerNorm and RMSNorm: normalized_shape as an int or a list, the input ending in it."""
    def draw(data: st.DataObject) -> tuple[Args, list[Shape]]:
        tail = list(_sizes(data, _int(data, 1, 2), 1, 5))
        args = {"normalized_shape": tail[0] if len(tail) == 1 and _flag(data) else tail,
                **_norm_args(data, "elementwise_affine")}
        if bias:
            args["bias"] = _flag(data)
        return args, [(_batch(data), *_sizes(data, _int(data, 0, 1), 1, 4), *tail)]
    return draw


def _any_input(data: st.DataObject) -> list[Shape]:
    return [(_batch(data), *_sizes(data, _int(data, 0, 3), 1, 5))]


def draw_elementwise(name: str) -> Draw:
    """Arguments straight from the catalog's kinds: flags, slopes, choices."""
    def draw(data: st.DataObject) -> tuple[Args, list[Shape]]:
        args = {}
        for arg in LAYERS[name].args:
            if arg.choices:
                args[arg.name] = data.draw(st.sampled_from(arg.choices))
            elif arg.kind == "bool":
                args[arg.name] = _flag(data)
            else:
                args[arg.name] = data.draw(st.floats(-2.0, 2.0))
        return args, _any_input(data)
    return draw


def draw_dim(nullable: bool) -> Draw:
    """Softmax, LogSoftmax and GLU: a dim inside the input's rank (torch's meta kernels do not
    check it), or None where the layer allows it."""
    def draw(data: st.DataObject) -> tuple[Args, list[Shape]]:
        x = _any_input(data)[0]
        dim = None if nullable and _flag(data) else _int(data, -len(x), len(x) - 1)
        return {"dim": dim}, [x]
    return draw


def draw_prelu(data: st.DataObject) -> tuple[Args, list[Shape]]:
    x = (_batch(data), *_sizes(data, _int(data, 1, 3), 1, 5))
    count = data.draw(st.sampled_from([1, x[1]]))
    return {"num_parameters": count, "init": data.draw(st.floats(0.0, 1.0))}, [x]


def draw_dropout(n: int) -> Draw:
    def draw(data: st.DataObject) -> tuple[Args, list[Shape]]:
        args = {"p": data.draw(st.floats(0.0, 1.0)), "inplace": _flag(data)}
        x = _any_input(data) if n == 0 else [(_batch(data), *_sizes(data, n + 1, 1, 4))]
        return args, x
    return draw


def _pool_input(data: st.DataObject, n: int, smallest: int = 1) -> list[Shape]:
    """Pools take (N, C, *spatial) or (N, *spatial): torch reads both alike."""
    lead = (_batch(data), _int(data, 1, 3))[:_int(data, 1, 2)]
    return [(*lead, *_sizes(data, n, smallest, 9))]


def draw_pool(n: int, max_pool: bool) -> Draw:
    def draw(data: st.DataObject) -> tuple[Args, list[Shape]]:
        kernel = _int_or_tuple(data, n, 1, 4)
        args = {"kernel_size": kernel,
                "stride": None if _flag(data) else _int_or_tuple(data, n, 1, 3),
                # at most half the kernel: the checks refuse more, so drawing it is wasted
                "padding": _int_or_tuple(data, n, 0, min(as_tuple(kernel, n)) // 2),
                "ceil_mode": _flag(data)}
        if max_pool:
            args |= {"dilation": _int_or_tuple(data, n, 1, 2), "return_indices": _flag(data)}
        else:
            args["count_include_pad"] = _flag(data)
            if n > 1:
                args["divisor_override"] = data.draw(st.none() | st.integers(1, 3))
        # avg_pool3d wants the kernel to fit the unpadded input: start big enough to mostly do
        return args, _pool_input(data, n, 1 if max_pool or n < 3 else 3)
    return draw


def draw_adaptive(n: int, max_pool: bool) -> Draw:
    def draw(data: st.DataObject) -> tuple[Args, list[Shape]]:
        item = st.integers(1, 4) if n == 1 else st.none() | st.integers(1, 4)
        size = _int(data, 1, 4) if _flag(data) else tuple(data.draw(item) for _ in range(n))
        args: Args = {"output_size": size}
        if max_pool:
            args["return_indices"] = _flag(data)
        return args, _pool_input(data, n)
    return draw


def draw_flatten(data: st.DataObject) -> tuple[Args, list[Shape]]:
    x = _any_input(data)[0]
    return {"start_dim": _int(data, -len(x), len(x) - 1),
            "end_dim": _int(data, -len(x), len(x) - 1)}, [x]


def draw_unflatten(data: st.DataObject) -> tuple[Args, list[Shape]]:
    sizes = list(_sizes(data, _int(data, 1, 3), 1, 3))
    x = list(_any_input(data)[0])
    dim = _int(data, 0, len(x) - 1)
    x[dim] = math.prod(sizes)
    if _flag(data):
        sizes[_int(data, 0, len(sizes) - 1)] = -1
    return {"dim": dim - len(x) if _flag(data) else dim, "unflattened_size": tuple(sizes)}, \
        [tuple(x)]


def draw_upsample(data: st.DataObject) -> tuple[Args, list[Shape]]:
    mode = data.draw(st.sampled_from(["nearest", "nearest-exact", "area", "linear",
                                      "bilinear", "bicubic", "trilinear"]))
    rank = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}.get(mode) \
        or _int(data, 3, 5)
    n = rank - 2
    scale = st.sampled_from([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    args: Args = {"mode": mode}
    if _flag(data):
        args["size"] = _int_or_tuple(data, n, 1, 6)
    else:
        args["scale_factor"] = data.draw(scale) if _flag(data) else tuple(
            data.draw(scale) for _ in range(n))
        args["recompute_scale_factor"] = data.draw(st.none() | st.booleans())
    if mode in ("linear", "bilinear", "bicubic", "trilinear"):
        args["align_corners"] = data.draw(st.none() | st.booleans())
    return args, [(_batch(data), _int(data, 1, 3), *_sizes(data, n, 1, 5))]


def draw_pixel_shuffle(data: st.DataObject) -> tuple[Args, list[Shape]]:
    r = _int(data, 1, 3)
    return {"upscale_factor": r}, [(_batch(data), _int(data, 1, 2) * r * r,
                                    *_sizes(data, 2, 1, 4))]


def draw_pixel_unshuffle(data: st.DataObject) -> tuple[Args, list[Shape]]:
    r = _int(data, 1, 3)
    return {"downscale_factor": r}, [(_batch(data), _int(data, 1, 2), *_sizes(data, 2, 1, 7))]


def draw_zeropad(n: int) -> Draw:
    def draw(data: st.DataObject) -> tuple[Args, list[Shape]]:
        lead = (_batch(data), _int(data, 1, 3))[:_int(data, 1, 2)]
        return {"padding": _int_or_tuple(data, 2 * n, -2, 2)}, \
            [(*lead, *_sizes(data, n, 1, 5))]
    return draw


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
        "Dropout": draw_dropout(0),
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


# --- running torch ---------------------------------------------------------------------------


def _inputs(name: str, shapes: list[Shape], device: str) -> list[torch.Tensor]:
    if name in INT_INPUTS:
        return [torch.zeros(s, dtype=torch.long, device=device) for s in shapes]
    if device == "meta":
        return [torch.empty(s, device=device) for s in shapes]
    return [torch.randn(s) for s in shapes]


def _first(out: Any) -> torch.Tensor:
    """A pool with return_indices gives (values, indices); the rule describes the values."""
    return out[0] if isinstance(out, tuple) else out


def _refuses(layer: LayerDef, args: Args, shapes: list[Shape]) -> bool:
    """The rule raises, or gives a size no tensor can have: it refuses the input."""
    try:
        out = layer.shape(args, shapes)
    except ValueError:
        return True
    return any(s <= 0 for s in out)


SHAPED = [name for name, layer in LAYERS.items() if layer.shape and name not in ELEMENTWISE]


def check_against_torch(name: str, data: st.DataObject) -> None:
    """Draw arguments and inputs, run torch on meta, compare the rule's shape and params.
    Where torch refuses, the checks (arguments) or the rule (inputs) must refuse too."""
    assert name in DRAWS, f"add a draw for catalog entry {name} to tests/test_shape_rules.py"
    args, shapes = DRAWS[name](data)
    layer = LAYERS[name]
    bound = layer.bind_defaults(args)
    problems = list(layer.checks(bound)) if layer.checks else []
    try:
        with torch.device("meta"):
            module = getattr(torch.nn, name)(**args)
    except Exception as error:
        assert problems, f"torch refused {args} ({error}) but the checks passed them"
        assume(False)
    assume(not problems)
    try:
        out = tuple(_first(module(*_inputs(name, shapes, "meta"))).shape)
    except Exception as error:
        assert _refuses(layer, bound, shapes), f"torch refused {shapes}: {error}"
        assume(False)
    if 0 in out:  # torch makes an empty tensor; nnspec may call that input too small
        assert _refuses(layer, bound, shapes) or layer.shape(bound, shapes) == out
        assume(False)
    assert layer.shape(bound, shapes) == out
    assert layer.params(bound) == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", SHAPED)
@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_shape_and_params_match_torch(name: str, data: st.DataObject) -> None:
    check_against_torch(name, data)


@pytest.mark.parametrize("name", ELEMENTWISE)
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_elementwise_keeps_the_shape(name: str, data: st.DataObject) -> None:
    """Fewer draws: the shape rule is the identity, and torch's meta kernels for pointwise ops
    run through slow Python decompositions (about 10 ms a call)."""
    check_against_torch(name, data)


# --- multiply-accumulates --------------------------------------------------------------------

IMAGE = [(2, 4, 9, 9)]
MACS_CASES: list[tuple[str, Args, list[Shape]]] = [
    ("Conv1d", {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "padding": 1},
     [(2, 4, 10)]),
    ("Conv2d", {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "stride": 2,
                "groups": 2}, IMAGE),
    ("Conv2d", {"in_channels": 4, "out_channels": 8, "kernel_size": (2, 3), "dilation": 2,
                "padding": "same", "bias": False}, IMAGE),
    ("Conv2d", {"in_channels": 4, "out_channels": 2, "kernel_size": 3, "padding": 2,
                "padding_mode": "circular"}, IMAGE),
    ("Conv3d", {"in_channels": 2, "out_channels": 4, "kernel_size": (1, 2, 3), "stride": 2},
     [(1, 2, 5, 6, 7)]),
    ("ConvTranspose1d", {"in_channels": 4, "out_channels": 2, "kernel_size": 3, "stride": 2},
     [(2, 4, 7)]),
    ("ConvTranspose2d", {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "stride": 2,
                         "padding": 1, "output_padding": 1, "groups": 2}, IMAGE),
    ("ConvTranspose3d", {"in_channels": 2, "out_channels": 2, "kernel_size": 2,
                         "dilation": 2}, [(1, 2, 3, 4, 5)]),
    ("Linear", {"in_features": 9, "out_features": 5}, IMAGE),
    ("Linear", {"in_features": 3, "out_features": 7, "bias": False}, [(4, 3)]),
    ("Bilinear", {"in1_features": 3, "in2_features": 4, "out_features": 5},
     [(2, 6, 3), (2, 6, 4)]),
    ("BatchNorm2d", {"num_features": 4}, IMAGE),
    ("GroupNorm", {"num_groups": 2, "num_channels": 4}, IMAGE),
    ("LayerNorm", {"normalized_shape": [9, 9]}, IMAGE),
    ("InstanceNorm2d", {"num_features": 4, "affine": True}, IMAGE),
    ("GELU", {}, IMAGE),
    ("PReLU", {"num_parameters": 4}, IMAGE),
    ("Softmax", {"dim": 1}, IMAGE),
    ("MaxPool2d", {"kernel_size": 3, "stride": 2}, IMAGE),
    ("AvgPool2d", {"kernel_size": 2}, IMAGE),
    ("AdaptiveAvgPool2d", {"output_size": 1}, IMAGE),
    ("Upsample", {"scale_factor": 2.0, "mode": "bilinear"}, IMAGE),
    ("Embedding", {"num_embeddings": 10, "embedding_dim": 4}, [(2, 5)]),
    ("Dropout", {"p": 0.3}, IMAGE),
    ("Flatten", {}, IMAGE),
    ("PixelShuffle", {"upscale_factor": 2}, IMAGE),
    ("ZeroPad2d", {"padding": 1}, IMAGE),
]


def _bilinear_as_matmul(module: torch.nn.Bilinear, x1: torch.Tensor,
                        x2: torch.Tensor) -> torch.Tensor:
    """nn.Bilinear's products written as one matmul: FlopCounterMode does not see
    torch.bilinear at all (it counts 0), but it does count this."""
    out_f, in1, in2 = module.weight.shape
    t = x1 @ module.weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    return (t.unflatten(-1, (out_f, in2)) * x2.unsqueeze(-2)).sum(-1) + module.bias


def _counted(fn: Callable[..., Any], *inputs: torch.Tensor) -> tuple[Any, int]:
    with FlopCounterMode(display=False) as counter:
        out = fn(*inputs)
    return _first(out), counter.get_total_flops() // 2


@pytest.mark.parametrize(("name", "args", "shapes"), MACS_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(MACS_CASES)])
def test_macs_match_flop_counter(name: str, args: Args, shapes: list[Shape]) -> None:
    torch.manual_seed(0)
    module = getattr(torch.nn, name)(**args)
    inputs = _inputs(name, shapes, "cpu")
    out, counted = _counted(module, *inputs)
    if name == "Bilinear":
        same, counted = _counted(lambda *x: _bilinear_as_matmul(module, *x), *inputs)
        torch.testing.assert_close(same, out)
    layer = LAYERS[name]
    bound = layer.bind_defaults(args)
    assert layer.macs(bound, shapes, tuple(out.shape)) == counted


# --- inputs a rule must refuse ---------------------------------------------------------------

REFUSED: list[tuple[str, Args, list[Shape]]] = [
    ("Conv2d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3}, [(2, 4, 8, 8)]),
    ("Conv2d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3}, [(3, 8, 8)]),
    ("Conv2d", {"in_channels": 3, "out_channels": 4, "kernel_size": 5}, [(2, 3, 4, 8)]),
    ("Conv1d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 4,
                "padding_mode": "reflect"}, [(2, 3, 4)]),
    ("ConvTranspose2d", {"in_channels": 3, "out_channels": 4, "kernel_size": 1,
                         "padding": 1}, [(2, 3, 1, 1)]),
    ("Linear", {"in_features": 8, "out_features": 4}, [(2, 7)]),
    ("Bilinear", {"in1_features": 2, "in2_features": 3, "out_features": 4},
     [(2, 5, 2), (2, 1, 3)]),
    ("BatchNorm2d", {"num_features": 4}, [(2, 4, 8)]),
    ("InstanceNorm1d", {"num_features": 4}, [(2, 4, 1)]),
    ("LayerNorm", {"normalized_shape": [4, 8]}, [(2, 8, 8)]),
    ("PReLU", {"num_parameters": 3}, [(2, 4, 5)]),
    ("Softmax", {"dim": 3}, [(2, 4, 5)]),
    ("GLU", {"dim": -1}, [(2, 5)]),
    ("Dropout2d", {}, [(4, 8, 8)]),
    ("MaxPool2d", {"kernel_size": 5}, [(2, 3, 4, 4)]),
    ("Flatten", {"start_dim": 2, "end_dim": 1}, [(2, 3, 4)]),
    ("Unflatten", {"dim": 1, "unflattened_size": (2, 3)}, [(2, 5)]),
    ("Upsample", {"scale_factor": 2.0, "mode": "bilinear"}, [(2, 3, 4)]),
    ("Upsample", {"size": (4, 4, 4)}, [(2, 3, 4, 4)]),
    ("PixelShuffle", {"upscale_factor": 2}, [(2, 6, 4, 4)]),
    ("PixelUnshuffle", {"downscale_factor": 2}, [(2, 6, 5, 4)]),
    ("ZeroPad2d", {"padding": -2}, [(2, 3, 4, 4)]),
]


@pytest.mark.parametrize(("name", "args", "shapes"), REFUSED,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(REFUSED)])
def test_rule_refuses_bad_input(name: str, args: Args, shapes: list[Shape]) -> None:
    layer = LAYERS[name]
    with pytest.raises(ValueError):
        layer.shape(layer.bind_defaults(args), shapes)


# --- layers with a forward rule: several inputs, call flags, tuple outputs -------------------


@dataclass(frozen=True)
class Mask:
    """A mask argument: boolean (padding) or float (an additive, causal attention mask)."""

    shape: Shape
    causal: bool = False


def _torch_value(value: Any) -> Any:
    if isinstance(value, Mask):
        if value.causal:
            return torch.nn.Transformer.generate_square_subsequent_mask(value.shape[-1])
        return torch.zeros(value.shape, dtype=torch.bool)
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return torch.randn(value)
    if isinstance(value, tuple):
        return tuple(_torch_value(v) for v in value)
    return value


def _static_value(value: Any) -> Any:
    if isinstance(value, Mask):
        return ops.Tensor(value.shape)
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return ops.Tensor(value)
    if isinstance(value, tuple):
        return tuple(_static_value(v) for v in value)
    return value


def _out_shapes(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, tuple):
        return tuple(_out_shapes(v) for v in value)
    return value


SEQ, BATCH = 5, 2
FORWARD_CASES: list[tuple[str, Args, list[Any], Args]] = [
    ("LSTM", {"input_size": 6, "hidden_size": 8, "num_layers": 2, "batch_first": True,
              "bidirectional": True}, [(BATCH, SEQ, 6)], {}),
    ("LSTM", {"input_size": 6, "hidden_size": 8, "num_layers": 2, "proj_size": 3,
              "bidirectional": True}, [(SEQ, BATCH, 6)], {}),
    ("LSTM", {"input_size": 6, "hidden_size": 8, "bias": False}, [(SEQ, 6)],
     {"hx": ((1, 8), (1, 8))}),
    ("LSTM", {"input_size": 6, "hidden_size": 8, "num_layers": 3, "dropout": 0.2},
     [(SEQ, BATCH, 6), ((3, BATCH, 8), (3, BATCH, 8))], {}),
    ("GRU", {"input_size": 6, "hidden_size": 8}, [(SEQ, 6)], {}),
    ("GRU", {"input_size": 6, "hidden_size": 8, "num_layers": 2, "bidirectional": True,
             "bias": False, "batch_first": True}, [(BATCH, SEQ, 6), (4, BATCH, 8)], {}),
    ("RNN", {"input_size": 6, "hidden_size": 4, "nonlinearity": "relu"}, [(SEQ, BATCH, 6)],
     {}),
    ("MultiheadAttention", {"embed_dim": 16, "num_heads": 4}, [(SEQ, BATCH, 16)] * 3, {}),
    ("MultiheadAttention", {"embed_dim": 16, "num_heads": 4, "batch_first": True},
     [(BATCH, SEQ, 16)] * 3, {"need_weights": False}),
    ("MultiheadAttention", {"embed_dim": 16, "num_heads": 4, "batch_first": True,
                            "kdim": 8, "vdim": 6},
     [(BATCH, SEQ, 16), (BATCH, 7, 8), (BATCH, 7, 6)], {"average_attn_weights": False}),
    ("MultiheadAttention", {"embed_dim": 16, "num_heads": 2, "kdim": 8, "vdim": 6},
     [(SEQ, BATCH, 16), (7, BATCH, 8), (7, BATCH, 6)], {"need_weights": False}),
    ("MultiheadAttention", {"embed_dim": 12, "num_heads": 3}, [(SEQ, 12)] * 3,
     {"average_attn_weights": False}),
    ("MultiheadAttention", {"embed_dim": 12, "num_heads": 3}, [(SEQ, 12)] * 3,
     {"need_weights": False, "attn_mask": Mask((SEQ, SEQ), causal=True), "is_causal": True}),
    ("MultiheadAttention", {"embed_dim": 16, "num_heads": 4, "add_bias_kv": True,
                            "add_zero_attn": True, "bias": False},
     [(SEQ, BATCH, 16), (7, BATCH, 16), (7, BATCH, 16)],
     {"key_padding_mask": Mask((BATCH, 7))}),
    ("TransformerEncoderLayer", {"d_model": 16, "nhead": 4, "dim_feedforward": 32},
     [(SEQ, BATCH, 16)], {}),
    ("TransformerEncoderLayer", {"d_model": 16, "nhead": 2, "dim_feedforward": 24,
                                 "batch_first": True, "norm_first": True,
                                 "activation": "gelu", "bias": False},
     [(BATCH, SEQ, 16)], {"src_key_padding_mask": Mask((BATCH, SEQ))}),
    ("TransformerEncoderLayer", {"d_model": 8, "nhead": 2, "dim_feedforward": 16},
     [(SEQ, 8)], {"src_mask": Mask((SEQ, SEQ), causal=True), "is_causal": True}),
]


@pytest.mark.parametrize(("name", "args", "inputs", "kwargs"), FORWARD_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(FORWARD_CASES)])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_forward_rule_matches_torch(name: str, args: Args, inputs: list[Any],
                                    kwargs: Args) -> None:
    """Output structure (tuples, None), parameters and MACs against a real forward, measured
    on torch's reference paths (see conftest.torch_math_paths)."""
    torch.manual_seed(0)
    module = getattr(torch.nn, name)(**args).eval()
    call_args = [_torch_value(v) for v in inputs]
    call_kwargs = {k: _torch_value(v) for k, v in kwargs.items()}
    with torch_math_paths(), torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = module(*call_args, **call_kwargs)
    layer = LAYERS[name]
    bound = layer.bind_defaults(args)
    raw, macs = layer.forward(bound, *(_static_value(v) for v in inputs),
                              **{k: _static_value(v) for k, v in kwargs.items()})
    assert raw == _out_shapes(out)
    assert 2 * macs == counter.get_total_flops()
    assert layer.params(bound) == sum(p.numel() for p in module.parameters())


FORWARD_REFUSED: list[tuple[str, Args, list[Any], Args]] = [
    ("LSTM", {"input_size": 6, "hidden_size": 8}, [(SEQ, BATCH, 5)], {}),
    ("LSTM", {"input_size": 6, "hidden_size": 8}, [(SEQ, BATCH, 6, 1)], {}),
    ("LSTM", {"input_size": 6, "hidden_size": 8}, [(SEQ, BATCH, 6), (1, BATCH, 8)], {}),
    ("LSTM", {"input_size": 6, "hidden_size": 8}, [(SEQ, BATCH, 6), ((1, 3, 8), (1, 3, 8))],
     {}),
    ("GRU", {"input_size": 6, "hidden_size": 8, "bidirectional": True},
     [(SEQ, BATCH, 6), (1, BATCH, 8)], {}),
    ("MultiheadAttention", {"embed_dim": 16, "num_heads": 4}, [(SEQ, BATCH, 12)] * 3, {}),
    ("MultiheadAttention", {"embed_dim": 16, "num_heads": 4},
     [(SEQ, BATCH, 16), (SEQ, BATCH, 16), (SEQ, 16)], {}),
    ("MultiheadAttention", {"embed_dim": 16, "num_heads": 4},
     [(SEQ, BATCH, 16), (SEQ, BATCH, 16), (6, BATCH, 16)], {}),
    ("MultiheadAttention", {"embed_dim": 16, "num_heads": 4}, [(SEQ, BATCH, 16)] * 3,
     {"key_padding_mask": Mask((SEQ, BATCH))}),
    ("MultiheadAttention", {"embed_dim": 16, "num_heads": 4}, [(SEQ, BATCH, 16)] * 3,
     {"is_causal": True}),
    ("TransformerEncoderLayer", {"d_model": 16, "nhead": 4}, [(SEQ, BATCH, 8)], {}),
]


@pytest.mark.parametrize(("name", "args", "inputs", "kwargs"), FORWARD_REFUSED,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(FORWARD_REFUSED)])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_forward_rule_refuses_what_torch_refuses(name: str, args: Args, inputs: list[Any],
                                                 kwargs: Args) -> None:
    module = getattr(torch.nn, name)(**args).eval()
    with pytest.raises((RuntimeError, ValueError, AssertionError, IndexError)):
        module(*(_torch_value(v) for v in inputs), **{k: _torch_value(v)
                                                      for k, v in kwargs.items()})
    layer = LAYERS[name]
    with pytest.raises(ValueError):
        layer.forward(layer.bind_defaults(args), *(_static_value(v) for v in inputs),
                      **{k: _static_value(v) for k, v in kwargs.items()})


def test_every_forward_rule_has_a_case() -> None:
    tested = {c[0] for c in FORWARD_CASES}
    assert {name for name, layer in LAYERS.items() if layer.forward} <= tested
