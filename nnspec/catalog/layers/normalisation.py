"""The normalisation layers: batch (and synchronised batch), instance, group, layer and RMS
norms, and the local response norms."""

from __future__ import annotations

import math

from nnspec.catalog.layers.common import (
    Family,
    Problems,
    State,
    affine_params,
    divides,
    expect_min_rank,
    expect_rank,
    expect_size,
    no_macs,
    no_params,
    positive,
)
from nnspec.catalog.types import Arg, Args, LayerDef, Shape, as_tuple

FAMILY = Family()
register = FAMILY.add

# --- normalisation ---------------------------------------------------------------------------


def _channel_norm_shape(channels: str, ranks: tuple[int, ...] | None = None,
                        min_spatial: int = 0):
    """Norms over (N, C, ...) inputs of the given ranks (None: any from 2 up); instance norm
    needs more than one value per channel."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        if ranks is None:
            expect_min_rank(x, 2)
        else:
            expect_rank(x, *ranks)
        expect_size(x, 1, args[channels], channels)
        if math.prod(x[2:]) < min_spatial:
            raise ValueError(f"input {list(x)} has one value per channel; instance norm needs "
                             f"at least {min_spatial} when training")
        return x
    return rule


def _norm_state(channels: str, affine: str = "affine", running: bool = True):
    """weight and bias when affine (bias may be switched off), then the running statistics."""
    def rule(args: Args) -> State:
        c = _normalized_shape(args) if channels == "normalized_shape" else (args[channels],)
        out: State = {}
        if args[affine]:
            out["weight"] = (c, True)
            if args.get("bias", True):
                out["bias"] = (c, True)
        if running and args.get("track_running_stats"):
            out.update(running_mean=(c, False), running_var=(c, False),
                       num_batches_tracked=((), False))
        return out
    return rule


def _batchnorm_checks(args: Args) -> Problems:
    yield from positive(args, "num_features")
    eps = args.get("eps")
    if isinstance(eps, (int, float)) and not isinstance(eps, bool) and eps <= 0:
        yield "eps", f"eps must be positive: torch refuses {eps!r} when training"


def _batchnorm(n: int) -> LayerDef:
    return register(LayerDef(
        f"BatchNorm{n}d",
        (
            Arg("num_features", "int"),
            Arg("eps", "float", 1e-5),
            Arg("momentum", "float", 0.1, nullable=True),
            Arg("affine", "bool", True),
            Arg("track_running_stats", "bool", True),
            Arg("bias", "bool", True, kwonly=True),
        ),
        checks=_batchnorm_checks,
        shape=_channel_norm_shape("num_features", (2, 3) if n == 1 else (n + 2,)),
        params=lambda a: affine_params(a["num_features"], a["affine"], a["bias"]),
        macs=no_macs,
        infer={"num_features": 1},
        state=_norm_state("num_features"),
    ))


def _instancenorm(n: int) -> LayerDef:
    return register(LayerDef(
        f"InstanceNorm{n}d",
        (
            Arg("num_features", "int"),
            Arg("eps", "float", 1e-5),
            Arg("momentum", "float", 0.1),
            Arg("affine", "bool", False),
            Arg("track_running_stats", "bool", False),
            Arg("bias", "bool", True, kwonly=True),
        ),
        checks=lambda a: positive(a, "num_features"),
        shape=_channel_norm_shape("num_features", (n + 2,), min_spatial=2),
        params=lambda a: affine_params(a["num_features"], a["affine"], a["bias"]),
        macs=no_macs,
        infer={"num_features": 1},
        state=_norm_state("num_features"),
    ))


for _n in (1, 2, 3):
    _batchnorm(_n)
    _instancenorm(_n)


def _groupnorm_checks(args: Args) -> Problems:
    yield from positive(args, "num_groups", "num_channels")
    yield from divides(args, "num_groups", "num_channels")


register(LayerDef(
    "GroupNorm",
    (
        Arg("num_groups", "int"),
        Arg("num_channels", "int"),
        Arg("eps", "float", 1e-5),
        Arg("affine", "bool", True),
        Arg("bias", "bool", True, kwonly=True),
    ),
    checks=_groupnorm_checks,
    shape=_channel_norm_shape("num_channels"),
    params=lambda a: affine_params(a["num_channels"], a["affine"], a["bias"]),
    state=_norm_state("num_channels", running=False),
    macs=no_macs,
    infer={"num_channels": 1},
))


def _normalized_shape(args: Args) -> tuple[int, ...]:
    return tuple(as_tuple(args["normalized_shape"], 1))


def _trailing_norm_shape(args: Args, inputs: list[Shape]) -> Shape:
    """LayerNorm and RMSNorm: the last dims must be normalized_shape, and a batch dim precede."""
    x, tail = inputs[0], _normalized_shape(args)
    expect_min_rank(x, len(tail) + 1)
    if tuple(x[-len(tail):]) != tail:
        raise ValueError(f"input {list(x)} does not end in normalized_shape {list(tail)}")
    return x


register(LayerDef(
    "LayerNorm",
    (
        Arg("normalized_shape", "ints"),
        Arg("eps", "float", 1e-5),
        Arg("elementwise_affine", "bool", True),
        Arg("bias", "bool", True),
    ),
    checks=lambda a: positive(a, "normalized_shape"),
    shape=_trailing_norm_shape,
    params=lambda a: affine_params(math.prod(_normalized_shape(a)), a["elementwise_affine"],
                             a["bias"]),
    state=_norm_state("normalized_shape", "elementwise_affine", running=False),
    macs=no_macs,
))

register(LayerDef(
    "RMSNorm",
    (
        Arg("normalized_shape", "ints"),
        Arg("eps", "float", None, nullable=True),
        Arg("elementwise_affine", "bool", True),
    ),
    checks=lambda a: positive(a, "normalized_shape"),
    shape=_trailing_norm_shape,
    params=lambda a: affine_params(math.prod(_normalized_shape(a)), a["elementwise_affine"], False),
    state=lambda a: {"weight": (_normalized_shape(a), True)} if a["elementwise_affine"] else {},
    macs=no_macs,
))


def _sync_checks(args: Args) -> Problems:
    yield from _batchnorm_checks(args)
    if args.get("process_group") is not None:
        yield "process_group", ("process_group is a runtime object a spec cannot name: nnspec "
                                "builds SyncBatchNorm with the default group (None)")


register(LayerDef(
    "SyncBatchNorm",
    (
        Arg("num_features", "int"),
        Arg("eps", "float", 1e-5),
        Arg("momentum", "float", 0.1, nullable=True),
        Arg("affine", "bool", True),
        Arg("track_running_stats", "bool", True),
        Arg("process_group", "any", None, nullable=True),
        Arg("bias", "bool", True, kwonly=True),
    ),
    checks=_sync_checks,
    shape=_channel_norm_shape("num_features"),
    params=lambda a: affine_params(a["num_features"], a["affine"], a["bias"]),
    macs=no_macs,
    infer={"num_features": 1},
    state=_norm_state("num_features"),
))


def _lrn_shape(rank: int | None):
    """LocalResponseNorm takes (N, C, ...) of 3 dims or more; CrossMapLRN2d only 4-d."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        if rank is None:
            expect_min_rank(inputs[0], 3)
        else:
            expect_rank(inputs[0], rank)
        return inputs[0]
    return rule


for _name, _k, _rank in (("LocalResponseNorm", 1.0, None), ("CrossMapLRN2d", 1, 4)):
    register(LayerDef(
        _name,
        (
            Arg("size", "int"),
            Arg("alpha", "float", 1e-4),
            Arg("beta", "float", 0.75),
            Arg("k", "float", _k),
        ),
        checks=lambda a: positive(a, "size"),
        shape=_lrn_shape(_rank),
        params=no_params,
        macs=no_macs,
    ))
