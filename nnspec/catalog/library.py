"""Torch-free declarations of common library layers (torchvision, timm, Hugging Face).

A spec references such a class by its import path under `layers:`. These packages ship no
nnspec declarations and import torch, so nnspec declares the most common of their layers here:
arguments in the constructor's order with its defaults, and shape, parameter, MAC and state
rules, so that `validate` and `summary` see through them without importing anything. Keys are
the paths `nnspec import module` writes: the class's defining module and its name.
"""

from __future__ import annotations

import math
from typing import Any

from nnspec.catalog.layers.common import (
    affine_params,
    expect_min_rank,
    expect_rank,
    no_macs,
    no_params,
    no_state,
    positive,
)
from nnspec.catalog.types import Arg, Args, LayerDef, Shape

State = dict[str, tuple[Shape, bool]]


class _Unwritten:
    def __repr__(self) -> str:
        return "<the class's own default>"


class Unmeasured(Exception):
    """A shape rule measured by torch (nnspec.runtime.meta) could not run the layer on the
    meta device (its forward reads values, or returns no tensor): its output is unknown."""


# the default of an argument whose default no spec can write (a class, a function): a call
# that leaves the argument out gets the class's own
UNWRITTEN: Any = _Unwritten()


def _same(args: Args, inputs: list[Shape]) -> Shape:
    return inputs[0]


def _drop(name: str, module: str, args: tuple[Arg, ...], prob: str) -> LayerDef:
    """A per-sample drop of the residual branch: the shape passes through."""
    return LayerDef(name, args, module=module, checks=lambda a: _prob(a, prob), shape=_same,
                    params=no_params, macs=no_macs, state=no_state, input_dtype="any")


def _prob(args: Args, name: str):
    value = args.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not 0 <= value <= 1:
        yield name, f"{name} is a probability between 0 and 1, got {value!r}"


def _channels_first(name: str, module: str, args: tuple[Arg, ...], width: str, affine: str,
                    bias: str | None) -> LayerDef:
    """LayerNorm2d: a LayerNorm over the channels of an (N, C, H, W) input."""
    def channels(a: Args) -> int:
        value = a[width]
        return int(value if isinstance(value, int) else math.prod(value))

    def shape(a: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        expect_rank(x, 4)
        if x[1] != channels(a):
            raise ValueError(f"input has {x[1]} channels, {name} normalises {channels(a)}")
        return x

    def state(a: Args) -> State:
        if not a[affine]:
            return {}
        out: State = {"weight": ((channels(a),), True)}
        if bias is None or a[bias]:
            out["bias"] = ((channels(a),), True)
        return out

    return LayerDef(name, args, module=module, checks=lambda a: positive(a, width), shape=shape,
                    state=state, macs=no_macs,
                    params=lambda a: affine_params(channels(a), a[affine],
                                                   bias is None or bool(a[bias])))


def _rms(name: str, module: str) -> LayerDef:
    """An RMS norm over the last dim with one weight vector (LlamaRMSNorm, T5LayerNorm)."""
    def shape(a: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        expect_min_rank(x, 1)
        if x[-1] != a["hidden_size"]:
            raise ValueError(f"input {list(x)} does not end in hidden_size {a['hidden_size']}")
        return x

    return LayerDef(name, (Arg("hidden_size", "int"), Arg("eps", "float", 1e-6)), module=module,
                    checks=lambda a: positive(a, "hidden_size"), shape=shape,
                    params=lambda a: a["hidden_size"], macs=no_macs,
                    state=lambda a: {"weight": ((a["hidden_size"],), True)})


def _conv1d_shape(a: Args, inputs: list[Shape]) -> Shape:
    """HF Conv1D: a Linear from nx to nf features with a transposed weight."""
    x = inputs[0]
    expect_min_rank(x, 1)
    if x[-1] != a["nx"]:
        raise ValueError(f"input {list(x)} does not end in nx {a['nx']}")
    return (*x[:-1], a["nf"])


def _pool_shape(a: Args, inputs: list[Shape]) -> Shape:
    """SelectAdaptivePool2d, as timm builds it: no pool_type is no pool (then an optional
    flatten); a `fast...` pool or an NHWC input is a mean (or max) over H and W to 1 x 1
    (kept unless flattened); else an adaptive pool of an NCHW input to output_size, then an
    optional flatten. `catavgmax` doubles the channels."""
    x = inputs[0]
    expect_rank(x, 4)
    pool, size, nhwc = a["pool_type"].lower(), a["output_size"], a["input_fmt"] == "NHWC"
    if a["input_fmt"] not in ("NCHW", "NHWC"):
        raise ValueError(f"input_fmt is NCHW or NHWC, got {a['input_fmt']!r}")
    if not pool:
        return (x[0], math.prod(x[1:])) if a["flatten"] else x
    channels = (x[3] if nhwc else x[1]) * (2 if pool.endswith("catavgmax") else 1)
    if pool.startswith("fast") or nhwc:
        if size not in (1, (1, 1), [1, 1]):
            raise ValueError("fast pooling and NHWC inputs take output_size 1")
        if a["flatten"]:
            return (x[0], channels)
        return (x[0], 1, 1, channels) if nhwc else (x[0], channels, 1, 1)
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    return (x[0], channels * h * w) if a["flatten"] else (x[0], channels, h, w)


def _bn_act_shape(a: Args, inputs: list[Shape]) -> Shape:
    """timm's BatchNormAct2d: a BatchNorm2d, then its activation: the shape passes through."""
    x = inputs[0]
    expect_rank(x, 4)
    if x[1] != a["num_features"]:
        raise ValueError(f"input has {x[1]} channels, BatchNormAct2d normalises "
                         f"{a['num_features']}")
    return x


def _bn_act_state(a: Args) -> State:
    c = (a["num_features"],)
    out: State = {"weight": (c, True), "bias": (c, True)} if a["affine"] else {}
    if a["track_running_stats"]:
        out.update({"running_mean": (c, False), "running_var": (c, False),
                    "num_batches_tracked": ((), False)})
    return out


_TIMM_NORM = "timm.layers.norm"
LIBRARY: dict[str, LayerDef] = {
    "torchvision.ops.stochastic_depth:StochasticDepth": _drop(
        "StochasticDepth", "torchvision.ops.stochastic_depth",
        (Arg("p", "float"), Arg("mode", "str", choices=("batch", "row"))), "p"),
    "timm.layers.drop:DropPath": _drop(
        "DropPath", "timm.layers.drop",
        (Arg("drop_prob", "float", 0.0), Arg("scale_by_keep", "bool", True)), "drop_prob"),
    "torchvision.models.convnext:LayerNorm2d": _channels_first(
        "LayerNorm2d", "torchvision.models.convnext",
        (Arg("normalized_shape", "int_or_ints"), Arg("eps", "float", 1e-5),
         Arg("elementwise_affine", "bool", True), Arg("bias", "bool", True)),
        "normalized_shape", "elementwise_affine", "bias"),
    f"{_TIMM_NORM}:LayerNorm2d": _channels_first(
        "LayerNorm2d", _TIMM_NORM,
        (Arg("num_channels", "int"), Arg("eps", "float", 1e-6), Arg("affine", "bool", True)),
        "num_channels", "affine", None),
    "timm.layers.norm_act:BatchNormAct2d": LayerDef(
        "BatchNormAct2d",
        (Arg("num_features", "int"), Arg("eps", "float", 1e-5), Arg("momentum", "float", 0.1),
         Arg("affine", "bool", True), Arg("track_running_stats", "bool", True),
         Arg("apply_act", "bool", True), Arg("act_layer", "any", UNWRITTEN, nullable=True),
         Arg("act_kwargs", "any", None, nullable=True), Arg("inplace", "bool", True),
         Arg("drop_layer", "any", None, nullable=True)),
        module="timm.layers.norm_act", checks=lambda a: positive(a, "num_features"),
        shape=_bn_act_shape, state=_bn_act_state, macs=no_macs,
        params=lambda a: 2 * a["num_features"] if a["affine"] else 0),
    "timm.layers.adaptive_avgmax_pool:SelectAdaptivePool2d": LayerDef(
        "SelectAdaptivePool2d",
        (Arg("output_size", "int_or_ints", 1), Arg("pool_type", "str", "fast"),
         Arg("flatten", "bool", False), Arg("input_fmt", "str", "NCHW")),
        module="timm.layers.adaptive_avgmax_pool", shape=_pool_shape, params=no_params,
        macs=no_macs, state=no_state),
    "transformers.pytorch_utils:Conv1D": LayerDef(
        "Conv1D", (Arg("nf", "int"), Arg("nx", "int")), module="transformers.pytorch_utils",
        checks=lambda a: positive(a, "nf", "nx"), shape=_conv1d_shape,
        params=lambda a: a["nx"] * a["nf"] + a["nf"],
        macs=lambda a, inputs, out: math.prod(out) * a["nx"],
        state=lambda a: {"weight": ((a["nx"], a["nf"]), True), "bias": ((a["nf"],), True)}),
    "transformers.models.llama.modeling_llama:LlamaRMSNorm": _rms(
        "LlamaRMSNorm", "transformers.models.llama.modeling_llama"),
    "transformers.models.t5.modeling_t5:T5LayerNorm": _rms(
        "T5LayerNorm", "transformers.models.t5.modeling_t5"),
}
