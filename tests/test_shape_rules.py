"""The catalog's static rules against torch itself, in both directions.

For generated arguments and input shapes per catalog entry, torch on the CPU (tiny real tensors,
not the meta device, which skips checks such as Softmax's `dim`) builds the layer and runs it.
nnspec's verdict is the entry's `checks`, then its `shape` rule (its `forward` rule for layers
whose call takes several tensors). nnspec must accept exactly what torch accepts, with the same
output shape and parameter count, and refuse what torch refuses. The only exceptions are the
cases in `STRICTER`, where nnspec refuses on purpose what torch accepts; each is listed, with its
reason, in docs/spec.md ("Where nnspec is stricter than torch"), and the two lists must agree.

The draws (tests/shape_draws.py, and tests/shape_draws_more.py for the rest of torch.nn) start
from valid arguments and inputs, then bend two in three of them one way (an argument, an input
dimension or rank), so both verdicts get exercised; they are deterministic, one seeded generator
per entry. Every entry needs a draw; a new entry without
one fails. Multiply-accumulates are checked against FlopCounterMode on a few small inputs per
family, and forward rules on hand-picked calls (both in tests/shape_cases.py).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import torch_math_paths
from shape_cases import FORWARD_CASES, FORWARD_REFUSED, MACS_CASES, REFUSED
from shape_draws import (
    DRAWS,
    ELEMENTWISE,
    Mask,
    cases,
    is_shape,
    is_size,
    split_call,
    static_value,
)
from shape_draws_more import MORE_ELEMENTWISE, Indices

from nnspec.catalog import LAYERS, LayerDef
from nnspec.catalog.types import as_tuple
from nnspec.catalog.values import Tensor

with warnings.catch_warnings():  # torch warns at import when numpy is absent
    warnings.simplefilter("ignore")
    import torch
    from torch.utils.flop_counter import FlopCounterMode

Args = dict[str, Any]
Shape = tuple[int, ...]

INT_INPUTS = {"Embedding", "EmbeddingBag"}  # layers that take integer ids
SPEC = Path(__file__).resolve().parent.parent / "docs" / "spec.md"


# --- the two verdicts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Accepted (`out`: the output shape, or the forward's nested shapes; `params`) or refused
    (`error`)."""

    out: Any = None
    params: int | None = None
    error: str | None = None


def _torch_value(value: Any, ids: bool = False) -> Any:
    if isinstance(value, Indices):
        return torch.zeros(value.shape, dtype=torch.long)
    if isinstance(value, Mask):
        if value.causal:
            return torch.nn.Transformer.generate_square_subsequent_mask(value.shape[-1])
        return torch.zeros(value.shape, dtype=torch.bool)
    if is_shape(value):
        return torch.zeros(value, dtype=torch.long) if ids else torch.randn(value)
    if isinstance(value, tuple):
        return tuple(_torch_value(v) for v in value)
    return value


def _static(value: Any) -> Any:
    """A drawn value as nnspec's forward rules see it; indices are int64."""
    if isinstance(value, Indices):
        return Tensor(value.shape, dtype="int64")
    return static_value(value)


def _first(out: Any) -> torch.Tensor:
    """A pool with return_indices gives (values, indices); the rule describes the values."""
    return out[0] if isinstance(out, tuple) else out


def _out_shapes(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, tuple):
        return tuple(_out_shapes(v) for v in value)
    return value


def torch_verdict(name: str, args: Args, call: list[Any]) -> Verdict:
    """Build the layer and run it on tiny real tensors; anything torch raises is a refusal."""
    positional, kwargs = split_call(call)
    torch.manual_seed(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = getattr(torch.nn, name)(**args)
            out = module(*(_torch_value(v, name in INT_INPUTS) for v in positional),
                         **{k: _torch_value(v) for k, v in kwargs.items()})
    except Exception as error:  # whatever torch raises is a refusal
        return Verdict(error=f"{type(error).__name__}: {error}".splitlines()[0])
    shapes = _out_shapes(out) if LAYERS[name].forward else tuple(_first(out).shape)
    return Verdict(shapes, sum(p.numel() for p in module.parameters()))


def nnspec_verdict(layer: LayerDef, args: Args, call: list[Any]) -> Verdict:
    """The entry's checks, then its shape (or forward) rule."""
    bound = layer.bind_defaults(args)
    problems = list(layer.checks(bound)) if layer.checks else []
    if problems:
        return Verdict(error=problems[0][1])
    positional, kwargs = split_call(call)
    try:
        if layer.forward:
            out, _ = layer.forward(bound, *map(_static, positional),
                                   **{k: _static(v) for k, v in kwargs.items()})
        else:
            out = layer.shape(bound, positional)
    except ValueError as error:
        return Verdict(error=str(error))
    return Verdict(out, layer.params(bound))


# --- where nnspec refuses on purpose what torch accepts ---------------------------------------
# Each entry here is documented, with its reason, in docs/spec.md under "Where nnspec is
# stricter than torch"; a refusal that matches none of them is a bug in the catalog.


def _unbatched(layer: LayerDef, args: Args, call: list[Any], torch_out: Any) -> bool:
    """torch read the input as one unbatched sample: nnspec accepts it with a batch of 1."""
    if layer.forward:
        return False
    batched = nnspec_verdict(layer, args, [(1, *shape) for shape in call])
    return batched.error is None and batched.out == (1, *torch_out)


def _empty_output(layer: LayerDef, args: Args, call: list[Any], torch_out: Any) -> bool:
    """torch gave a tensor with a dimension of size 0 (a forward rule's only output too)."""
    return is_shape(torch_out) and 0 in torch_out


def _channels_unused(layer: LayerDef, args: Args, call: list[Any], torch_out: Any) -> bool:
    """A norm with neither affine parameters nor running statistics: torch never compares its
    channel count with the input's. nnspec accepts the input once the count matches it."""
    bound = layer.bind_defaults(args)
    name = next((a for a in ("num_features", "num_channels") if a in bound), None)
    if name is None or bound.get("affine") or bound.get("track_running_stats") or \
            len(call[0]) < 2:
        return False
    fixed = nnspec_verdict(layer, {**args, name: call[0][1]}, call)
    return fixed.error is None and fixed.out == torch_out


def _channel_dropout_rank(layer: LayerDef, args: Args, call: list[Any], torch_out: Any) -> bool:
    """Dropout2d or Dropout3d on an input of another rank: torch warns, and runs it."""
    return layer.name in ("Dropout2d", "Dropout3d") and \
        len(call[0]) not in (int(layer.name[-2]) + 1, int(layer.name[-2]) + 2)


def _negative_conv_padding(layer: LayerDef, args: Args, call: list[Any], torch_out: Any
                           ) -> bool:
    """A convolution with negative padding and a padding_mode other than 'zeros': torch pads
    with F.pad, which crops where the padding is negative."""
    bound = layer.bind_defaults(args)
    padding = bound.get("padding")
    return layer.name.startswith("Conv") and "Transpose" not in layer.name and \
        bound.get("padding_mode") != "zeros" and is_size(min(as_tuple(padding, 1))) and \
        min(as_tuple(padding, 1)) < 0


def _adaptive_mean_rank(layer: LayerDef, args: Args, call: list[Any], torch_out: Any) -> bool:
    """AdaptiveAvgPool2d/3d to all ones: torch takes a mean over the last dims, whatever the
    rank of the input."""
    if not layer.name.startswith("AdaptiveAvgPool"):
        return False
    n = int(layer.name[-2])
    return len(call[0]) > n + 2 and set(torch_out[-n:]) == {1}


def _non_positive_size(layer: LayerDef, args: Args, call: list[Any], torch_out: Any) -> bool:
    """A size argument is 0 or less, and the checks say it must be positive."""
    bound = layer.bind_defaults(args)
    problems = list(layer.checks(bound)) if layer.checks else []
    return any(min(v if isinstance(v, tuple) else (v,)) <= 0 for v in args.values()
               if is_size(v) or is_shape(v)) and any(
        "must be positive" in message for _, message in problems)


STRICTER: dict[str, Callable[[LayerDef, Args, list[Any], Any], bool]] = {
    "unbatched-input": _unbatched,
    "empty-output": _empty_output,
    "channels-unused": _channels_unused,
    "channel-dropout-rank": _channel_dropout_rank,
    "adaptive-mean-rank": _adaptive_mean_rank,
    "negative-conv-padding": _negative_conv_padding,
    "non-positive-size": _non_positive_size,
}


# one case of each, so a documented divergence that torch stops making shows up here
STRICTER_EXAMPLES: list[tuple[str, str, Args, list[Any]]] = [
    ("unbatched-input", "Conv2d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3},
     [(3, 8, 8)]),
    ("empty-output", "ZeroPad2d", {"padding": (0, 0, -2, 0)}, [(2, 3, 2, 4)]),
    ("channels-unused", "InstanceNorm1d", {"num_features": 4}, [(2, 3, 5)]),
    ("channel-dropout-rank", "Dropout2d", {}, [(2, 3, 4, 4, 4)]),
    ("adaptive-mean-rank", "AdaptiveAvgPool2d", {"output_size": 1}, [(2, 3, 4, 5, 5)]),
    ("negative-conv-padding", "Conv1d", {"in_channels": 2, "out_channels": 2, "kernel_size": 1,
                                         "padding": -1, "padding_mode": "replicate"},
     [(2, 2, 5)]),
    ("non-positive-size", "TransformerEncoderLayer",
     {"d_model": 4, "nhead": 2, "dim_feedforward": 0}, [(3, 2, 4)]),
]


@pytest.mark.parametrize(("key", "name", "args", "call"), STRICTER_EXAMPLES,
                         ids=[c[0] for c in STRICTER_EXAMPLES])
def test_each_documented_divergence_happens(key: str, name: str, args: Args,
                                            call: list[Any]) -> None:
    layer, theirs = LAYERS[name], torch_verdict(name, args, call)
    assert theirs.error is None
    assert nnspec_verdict(layer, args, call).error is not None
    assert STRICTER[key](layer, args, call, theirs.out)


def documented_stricter() -> list[str]:
    """The entry names listed in docs/spec.md's section, in order."""
    text = SPEC.read_text(encoding="utf-8")
    section = text.split("## Where nnspec is stricter than torch", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- \*\*([a-z-]+)\*\*", section, re.M)


def test_the_documented_divergences_are_the_tested_ones() -> None:
    assert documented_stricter() == list(STRICTER)
    assert [c[0] for c in STRICTER_EXAMPLES] == list(STRICTER)


# --- the property ----------------------------------------------------------------------------

SHAPED = [name for name, layer in LAYERS.items() if layer.shape or layer.forward]


# torch's refusal that depends on the batch a model runs with, which nnspec does not check (see
# the end of the docs section)
BATCH_OF_ONE = "Expected more than 1 value per channel when training"


def disagreements(name: str, count: int) -> list[str]:
    """Every drawn case where nnspec's verdict is not torch's, described."""
    assert name in DRAWS, f"add a draw for catalog entry {name} to tests/shape_draws.py"
    layer = LAYERS[name]
    found = []
    for args, call in cases(name, count):
        ours, theirs = nnspec_verdict(layer, args, call), torch_verdict(name, args, call)
        case = f"{name}({args}) on {call}"
        if ours.error is None and theirs.error is None:
            if (ours.out, ours.params) != (theirs.out, theirs.params):
                found.append(f"{case}: nnspec gives {ours.out} with {ours.params} parameters, "
                             f"torch {theirs.out} with {theirs.params}")
        elif ours.error is None and BATCH_OF_ONE not in theirs.error:
            found.append(f"{case}: torch refuses ({theirs.error}), nnspec accepts")
        elif theirs.error is None and not any(
                rule(layer, args, call, theirs.out) for rule in STRICTER.values()):
            found.append(f"{case}: nnspec refuses ({ours.error}), torch accepts giving "
                         f"{theirs.out}")
    return found


@pytest.mark.parametrize("name", SHAPED)
def test_rules_agree_with_torch(name: str) -> None:
    """nnspec refuses what torch refuses and accepts the rest (but the STRICTER cases), with
    torch's shapes and parameter counts. Fewer draws where the shape rule is the identity."""
    found = disagreements(name, 8 if name in ELEMENTWISE + MORE_ELEMENTWISE else 24)
    assert not found, "\n".join(found)


def test_every_entry_with_a_rule_has_a_draw() -> None:
    assert set(SHAPED) <= set(DRAWS)


# --- multiply-accumulates --------------------------------------------------------------------

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
    inputs = [_torch_value(s, name in INT_INPUTS) for s in shapes]
    out, counted = _counted(module, *inputs)
    if name == "Bilinear":
        same, counted = _counted(lambda *x: _bilinear_as_matmul(module, *x), *inputs)
        torch.testing.assert_close(same, out)
    layer = LAYERS[name]
    bound = layer.bind_defaults(args)
    assert layer.macs(bound, shapes, tuple(out.shape)) == counted


# --- inputs a rule must refuse ---------------------------------------------------------------

@pytest.mark.parametrize(("name", "args", "shapes"), REFUSED,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(REFUSED)])
def test_rule_refuses_bad_input(name: str, args: Args, shapes: list[Shape]) -> None:
    layer = LAYERS[name]
    with pytest.raises(ValueError):
        layer.shape(layer.bind_defaults(args), shapes)


# --- forward rules: MACs, and inputs they must refuse ------------------------------------------

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
    raw, macs = layer.forward(bound, *(_static(v) for v in inputs),
                              **{k: _static(v) for k, v in kwargs.items()})
    assert raw == _out_shapes(out)
    assert 2 * macs == counter.get_total_flops()
    assert layer.params(bound) == sum(p.numel() for p in module.parameters())


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
        layer.forward(layer.bind_defaults(args), *(_static(v) for v in inputs),
                      **{k: _static(v) for k, v in kwargs.items()})


def test_every_forward_rule_has_a_case() -> None:
    tested = {c[0] for c in FORWARD_CASES}
    assert {name for name, layer in LAYERS.items() if layer.forward} <= tested
