"""The layer catalog against torch itself.

Every entry needs a `Case` here (a new entry without one fails): its arguments built through a
spec must give the very layer torch builds from the same arguments, as keywords and in
positional form, and its out-of-range examples must be caught by the entry's `checks` without
torch. The catalog's signatures are compared with torch's own in test_catalog_coverage.py.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import nnspec
from nnspec.catalog import LAYERS, LayerDef, check_accepts
from nnspec.language.types import VALUE_KINDS

with warnings.catch_warnings():  # torch warns at import when numpy is absent
    warnings.simplefilter("ignore")
    import torch

Args = dict[str, Any]

@dataclass(frozen=True)
class Case:
    """Test data for one entry. `base` holds the required arguments (and any others a valid
    layer needs); `each` gives one non-default value per argument, tried one at a time on top
    of `base`; `combos` are variants that need several arguments together; `bad` are
    out-of-range variants that the entry's `checks` must report."""

    base: Args = field(default_factory=dict)
    each: Args = field(default_factory=dict)
    combos: tuple[Args, ...] = ()
    bad: tuple[Args, ...] = ()

    def variants(self) -> list[tuple[str, Args]]:
        """(id, arguments) of every valid build to try."""
        out = [("base", dict(self.base))]
        out += [(name, {**self.base, name: value}) for name, value in self.each.items()]
        out += [(f"combo{i}", {**self.base, **combo}) for i, combo in enumerate(self.combos)]
        return out


def _ints(n: int, *values: int) -> tuple[int, ...]:
    """The first n of values: one tuple argument for a 1-, 2- or 3-d layer."""
    return values[:n]


def conv(n: int) -> Case:
    return Case(
        base={"in_channels": 4, "out_channels": 8, "kernel_size": 3},
        each={"stride": 2, "padding": 1, "dilation": 2, "groups": 2, "bias": False,
              "padding_mode": "reflect"},
        combos=({"padding": "same"}, {"padding": "valid"},
                {"kernel_size": _ints(n, 3, 2, 1), "stride": _ints(n, 1, 2, 2),
                 "padding": _ints(n, 0, 1, 2)}),
        bad=({"groups": 3}, {"out_channels": 0}, {"padding": -1},
             {"padding": "same", "stride": 2}),
    )


def conv_transpose(n: int) -> Case:
    return Case(
        base={"in_channels": 4, "out_channels": 8, "kernel_size": 3},
        each={"stride": 2, "padding": 1, "groups": 2, "bias": False, "dilation": 2},
        combos=({"stride": 2, "output_padding": 1},
                {"kernel_size": _ints(n, 3, 2, 1), "stride": _ints(n, 2, 1, 3),
                 "output_padding": _ints(n, 1, 0, 2)}),
        # the only padding_mode torch accepts for these is the default
        # torch checks output_padding per dimension: here the second one is too large
        bad=({"padding_mode": "reflect"}, {"output_padding": 1}, {"groups": 3},
             {"in_channels": 0},
             *(({"output_padding": 1, "dilation": _ints(n, 2, 1, 1)},) if n > 1 else ())),
    )


def batchnorm() -> Case:
    return Case(base={"num_features": 4},
                each={"eps": 1e-3, "momentum": None, "affine": False,
                      "track_running_stats": False, "bias": False},
                # torch refuses eps <= 0 when training
                combos=({"momentum": 0.2},), bad=({"num_features": 0}, {"eps": 0.0}))


def instancenorm() -> Case:
    return Case(base={"num_features": 4},
                each={"eps": 1e-3, "momentum": 0.2, "affine": True, "track_running_stats": True,
                      "bias": False},
                combos=({"affine": True, "bias": False},), bad=({"num_features": -1},))


def inplace() -> Case:
    return Case(each={"inplace": True})


def dropout() -> Case:
    return Case(each={"p": 0.2, "inplace": True}, bad=({"p": 1.5}, {"p": -0.1}))


def maxpool(n: int) -> Case:
    return Case(base={"kernel_size": 3},
                each={"stride": 1, "padding": 1, "dilation": 2, "return_indices": True,
                      "ceil_mode": True},
                combos=({"kernel_size": _ints(n, 3, 2, 4), "stride": _ints(n, 1, 2, 3)},),
                bad=({"padding": 2}, {"kernel_size": 0}, {"stride": 0}))


def avgpool(n: int) -> Case:
    each = {"stride": 1, "padding": 1, "ceil_mode": True, "count_include_pad": False}
    bad: tuple[Args, ...] = ({"padding": 2}, {"kernel_size": _ints(n, 0, 2, 2)})
    if n > 1:
        each["divisor_override"] = 2
        bad += ({"divisor_override": 0},)
    return Case(base={"kernel_size": 3}, each=each,
                combos=({"kernel_size": _ints(n, 3, 2, 4), "stride": _ints(n, 1, 2, 3)},),
                bad=bad)


def adaptive(n: int, max_pool: bool) -> Case:
    combos = ({"output_size": _ints(n, 3, 2, 1)},)
    if n > 1:
        combos += ({"output_size": (None, 3, None)[:n]},)
    return Case(base={"output_size": 2}, each={"return_indices": True} if max_pool else {},
                combos=combos, bad=({"output_size": 0},))


def zeropad(n: int) -> Case:
    return Case(base={"padding": 1}, combos=({"padding": _ints(2 * n, 1, 2, 0, 3, 1, 1)},
                                             {"padding": -1}))


def rnn(kind: str) -> Case:
    each: Args = {"num_layers": 2, "bias": False, "batch_first": True, "bidirectional": True}
    if kind == "LSTM":
        each["proj_size"] = 3
    if kind == "RNN":
        each["nonlinearity"] = "relu"
    bad: tuple[Args, ...] = ({"hidden_size": 0}, {"num_layers": 0}, {"dropout": 1.5})
    return Case(base={"input_size": 6, "hidden_size": 8}, each=each,
                # torch warns about dropout with one layer: it acts between layers
                combos=({"num_layers": 2, "dropout": 0.2},
                        {"num_layers": 3, "bidirectional": True, **(
                            {"proj_size": 4} if kind == "LSTM" else {})}),
                bad=bad + (({"proj_size": 8},) if kind == "LSTM" else ()))


CASES: dict[str, Case] = {
    **{f"Conv{n}d": conv(n) for n in (1, 2, 3)},
    **{f"ConvTranspose{n}d": conv_transpose(n) for n in (1, 2, 3)},
    "Linear": Case(base={"in_features": 8, "out_features": 4}, each={"bias": False},
                   bad=({"out_features": 0},)),
    "Bilinear": Case(base={"in1_features": 3, "in2_features": 4, "out_features": 5},
                     each={"bias": False}, bad=({"in1_features": 0},)),
    "Embedding": Case(base={"num_embeddings": 10, "embedding_dim": 4},
                      each={"padding_idx": -1, "max_norm": 1.0, "norm_type": 1.0,
                            "scale_grad_by_freq": True, "sparse": True},
                      bad=({"padding_idx": 10}, {"embedding_dim": 0})),
    **{f"BatchNorm{n}d": batchnorm() for n in (1, 2, 3)},
    **{f"InstanceNorm{n}d": instancenorm() for n in (1, 2, 3)},
    "GroupNorm": Case(base={"num_groups": 2, "num_channels": 4},
                      each={"eps": 1e-3, "affine": False, "bias": False},
                      bad=({"num_groups": 3}, {"num_channels": 0})),
    "LayerNorm": Case(base={"normalized_shape": 8},
                      each={"eps": 1e-3, "elementwise_affine": False, "bias": False},
                      combos=({"normalized_shape": [8, 8]}, {"normalized_shape": (4, 8)}),
                      bad=({"normalized_shape": 0}, {"normalized_shape": [8, -1]})),
    "RMSNorm": Case(base={"normalized_shape": 8},
                    each={"eps": 1e-6, "elementwise_affine": False},
                    combos=({"normalized_shape": [8, 8]},), bad=({"normalized_shape": 0},)),
    **{name: inplace() for name in ("ReLU", "ReLU6", "SiLU", "Mish", "Hardswish",
                                    "Hardsigmoid", "SELU")},
    **{name: Case() for name in ("Sigmoid", "Tanh", "LogSigmoid", "Identity")},
    "LeakyReLU": Case(each={"negative_slope": 0.2, "inplace": True}),
    "ELU": Case(each={"alpha": 0.5, "inplace": True}),
    "CELU": Case(each={"alpha": 0.5, "inplace": True}, bad=({"alpha": 0.0},)),
    "GELU": Case(each={"approximate": "tanh"}),
    "Softplus": Case(each={"beta": 2.0, "threshold": 10.0}),
    "Softmax": Case(each={"dim": 1}, combos=({"dim": -1},)),
    "LogSoftmax": Case(each={"dim": 1}),
    "GLU": Case(each={"dim": 1}),
    "PReLU": Case(each={"num_parameters": 3, "init": 0.1}, bad=({"num_parameters": 0},)),
    **{name: dropout() for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d")},
    **{f"MaxPool{n}d": maxpool(n) for n in (1, 2, 3)},
    **{f"AvgPool{n}d": avgpool(n) for n in (1, 2, 3)},
    **{f"AdaptiveAvgPool{n}d": adaptive(n, max_pool=False) for n in (1, 2, 3)},
    **{f"AdaptiveMaxPool{n}d": adaptive(n, max_pool=True) for n in (1, 2, 3)},
    "Flatten": Case(each={"start_dim": 0, "end_dim": 2}),
    "Unflatten": Case(base={"dim": 1, "unflattened_size": (2, 4)},
                      combos=({"unflattened_size": [2, -1]},),
                      bad=({"unflattened_size": (2, 0)}, {"unflattened_size": (-1, -1)})),
    "Upsample": Case(base={"scale_factor": 2.0},
                     each={"mode": "bilinear", "recompute_scale_factor": True},
                     combos=({"size": (4, 4), "scale_factor": None},
                             {"size": 5, "scale_factor": None, "mode": "bicubic"},
                             {"mode": "bilinear", "align_corners": True},
                             {"scale_factor": (2.0, 3.0)}),
                     bad=({"size": (4, 4)}, {"align_corners": True}, {"scale_factor": 0.0},
                          {"mode": "bilinear", "size": (4, 4), "scale_factor": None,
                           "recompute_scale_factor": True})),
    "PixelShuffle": Case(base={"upscale_factor": 2}, bad=({"upscale_factor": 0},)),
    "PixelUnshuffle": Case(base={"downscale_factor": 2}, bad=({"downscale_factor": -2},)),
    **{f"ZeroPad{n}d": zeropad(n) for n in (1, 2, 3)},
    **{name: rnn(name) for name in ("RNN", "LSTM", "GRU")},
    "MultiheadAttention": Case(
        base={"embed_dim": 16, "num_heads": 4},
        each={"dropout": 0.1, "bias": False, "add_bias_kv": True, "add_zero_attn": True,
              "kdim": 8, "vdim": 6, "batch_first": True},
        combos=({"kdim": 16, "vdim": 16}, {"kdim": 8, "bias": False, "add_bias_kv": True}),
        bad=({"num_heads": 3}, {"embed_dim": 0}, {"kdim": 0}, {"dropout": 1.5})),
    "TransformerEncoderLayer": Case(
        base={"d_model": 16, "nhead": 4},
        each={"dim_feedforward": 32, "dropout": 0.0, "activation": "gelu",
              "layer_norm_eps": 1e-6, "batch_first": True, "norm_first": True, "bias": False},
        bad=({"nhead": 3}, {"dim_feedforward": 0}, {"dropout": -0.5})),
}


def pad(n: int, kind: str) -> Case:
    value = {"value": 0.5} if kind == "Constant" else {}
    return Case(base={"padding": 1, **value},
                combos=({"padding": _ints(2 * n, 1, 2, 0, 3, 1, 1)}, {"padding": 2}))


def cell(kind: str) -> Case:
    each: Args = {"bias": False, **({"nonlinearity": "relu"} if kind == "RNN" else {})}
    return Case(base={"input_size": 6, "hidden_size": 8}, each=each,
                bad=({"hidden_size": 0}, {"input_size": -1}))


def decoder() -> Case:
    case = CASES["TransformerEncoderLayer"]
    return Case(base=case.base, each=case.each, bad=case.bad)


# the rest of torch.nn
CASES |= {
    "Hardshrink": Case(each={"lambd": 0.3}),
    "Softshrink": Case(each={"lambd": 0.3}, bad=({"lambd": -0.5},)),
    "Hardtanh": Case(each={"min_val": -2.0, "max_val": 2.0, "inplace": True},
                     combos=({"min_value": -3.0}, {"max_value": 3.0}),
                     bad=({"max_val": -1.0}, {"max_value": -2.0})),
    "RReLU": Case(each={"lower": 0.1, "upper": 0.2, "inplace": True},
                  bad=({"lower": 0.5},)),
    "Threshold": Case(base={"threshold": 0.1, "value": 20.0}, each={"inplace": True}),
    **{name: Case() for name in ("Softsign", "Tanhshrink", "Softmax2d")},
    "Softmin": Case(each={"dim": 1}),
    **{name: dropout() for name in ("AlphaDropout", "FeatureAlphaDropout")},
    **{f"{kind}Pad{n}d": pad(n, kind) for n in (1, 2, 3)
       for kind in ("Constant", "Reflection", "Replication", "Circular")},
    **{f"LPPool{n}d": Case(base={"norm_type": 2.0, "kernel_size": 3},
                           each={"stride": 2, "ceil_mode": True},
                           combos=({"norm_type": 1, "kernel_size": (
                               _ints(n, 3, 2, 1) if n > 1 else 2), "stride": _ints(n, 1, 2, 3)},),
                           bad=({"kernel_size": 0}, {"stride": 0}, {"norm_type": 0.0}))
       for n in (1, 2, 3)},
    **{f"MaxUnpool{n}d": Case(base={"kernel_size": 2}, each={"stride": 3, "padding": 1},
                              combos=({"kernel_size": _ints(n, 2, 3, 1)},),
                              bad=({"kernel_size": 0}, {"stride": 0})) for n in (1, 2, 3)},
    **{f"FractionalMaxPool{n}d": Case(
        base={"kernel_size": 2, "output_ratio": 0.5},
        each={"return_indices": True},
        combos=({"output_size": 3, "output_ratio": None},
                {"kernel_size": _ints(n, 2, 3, 1), "output_ratio": _ints(n, 1, 1, 1) and
                 (0.5, 0.25, 0.75)[:n]}),
        bad=({"output_size": 3}, {"output_ratio": 1.0}, {"kernel_size": 0})) for n in (2, 3)},
    "ChannelShuffle": Case(base={"groups": 2}, bad=({"groups": 0},)),
    "Fold": Case(base={"output_size": (4, 5), "kernel_size": 2},
                 each={"dilation": 2, "padding": 1, "stride": 2},
                 bad=({"kernel_size": 0}, {"padding": -1})),
    "Unfold": Case(base={"kernel_size": 2}, each={"dilation": 2, "padding": 1, "stride": 2},
                   combos=({"kernel_size": (2, 3)},), bad=({"stride": 0},)),
    **{name: Case(base={"scale_factor": 2.0},
                  combos=({"size": (4, 4), "scale_factor": None},),
                  bad=({"size": 4},)) for name in ("UpsamplingNearest2d",
                                                   "UpsamplingBilinear2d")},
    "CosineSimilarity": Case(each={"dim": 0, "eps": 1e-6}),
    "PairwiseDistance": Case(each={"p": 1.0, "eps": 1e-8, "keepdim": True}),
    "SyncBatchNorm": Case(base={"num_features": 4},
                          each={"eps": 1e-3, "momentum": None, "affine": False,
                                "track_running_stats": False, "bias": False},
                          bad=({"num_features": 0}, {"process_group": "world"})),
    **{name: Case(base={"size": 3}, each={"alpha": 1e-3, "beta": 0.5, "k": 2.0},
                  bad=({"size": 0},)) for name in ("LocalResponseNorm", "CrossMapLRN2d")},
    "EmbeddingBag": Case(base={"num_embeddings": 10, "embedding_dim": 4},
                         each={"max_norm": 1.0, "norm_type": 1.0, "scale_grad_by_freq": True,
                               "mode": "sum", "sparse": True, "include_last_offset": True,
                               "padding_idx": -1},
                         bad=({"padding_idx": 10}, {"embedding_dim": 0})),
    **{f"{kind}Cell": cell(kind) for kind in ("RNN", "LSTM", "GRU")},
    "TransformerDecoderLayer": decoder(),
    "Transformer": Case(
        base={"d_model": 16, "nhead": 4, "num_encoder_layers": 1, "num_decoder_layers": 1,
              "dim_feedforward": 32},
        # together, to keep the builds few: each is an argument torch passes on to the layers
        combos=({"d_model": 8, "nhead": 2, "num_encoder_layers": 2, "dropout": 0.0,
                 "activation": "gelu", "batch_first": True},
                {"num_decoder_layers": 2, "layer_norm_eps": 1e-6, "norm_first": True,
                 "bias": False}),
        bad=({"nhead": 3}, {"num_encoder_layers": 0}, {"custom_encoder": "encoder"},
             {"custom_decoder": "decoder"})),
    "AdaptiveLogSoftmaxWithLoss": Case(
        base={"in_features": 8, "n_classes": 10, "cutoffs": [2, 5]},
        each={"div_value": 2.0, "head_bias": True},
        combos=({"cutoffs": (3,)}, {"in_features": 16, "cutoffs": [1, 2, 3]}),
        bad=({"cutoffs": [5, 2]}, {"cutoffs": [2, 10]}, {"cutoffs": [0, 3]},
             {"n_classes": 0})),
}

# --- rendering a call both ways --------------------------------------------------------------


def keyword_form(layer: LayerDef, args: Args) -> tuple[list[Any], Args]:
    return [], dict(args)


def positional_form(layer: LayerDef, args: Args) -> tuple[list[Any], Args]:
    """Every non-kwonly argument up to the last one given, in order (torch's default fills a
    gap); keyword-only ones stay keywords."""
    positional = layer.positional
    given = [i for i, a in enumerate(positional) if a.name in args]
    upto = positional[:given[-1] + 1] if given else []
    values = [args.get(a.name, a.default) for a in upto]
    rest = {k: v for k, v in args.items() if k not in {a.name for a in upto}}
    return values, rest


FORMS = {"kw": keyword_form, "pos": positional_form}


def render(name: str, values: list[Any], keywords: Args) -> str:
    parts = [repr(v) for v in values] + [f"{k}={v!r}" for k, v in keywords.items()]
    return f"{name}({', '.join(parts)})"


def build_through_spec(call: str, tmp_path: Path) -> Any:
    """The layer as a spec builds it. The forward is left unknown: this test is about
    construction, and no one input shape suits every argument variant."""
    path = tmp_path / "s.yaml"
    path.write_text(f"""nnspec: 1
inputs:
  x: [3, 8, 8]
model:
  name: Net
  children:
    layer: {call}
  forward: unknown
""")
    return nnspec.build(str(path)).layer


def tensors(module: Any, kind: str) -> list[tuple[str, tuple[int, ...], Any]]:
    items = module.named_parameters() if kind == "parameters" else module.named_buffers()
    return [(n, tuple(t.shape), t.dtype) for n, t in items]


# --- tests -----------------------------------------------------------------------------------


def _build_params() -> list[Any]:
    params = []
    for name in LAYERS:
        case = CASES.get(name)
        if case is None:  # collected anyway, so that the test fails and names the entry
            params.append(pytest.param(name, "base", {}, "kw", id=f"{name}-NO-CASE"))
            continue
        for variant, args in case.variants():
            for form in FORMS:
                params.append(pytest.param(name, variant, args, form,
                                           id=f"{name}-{variant}-{form}"))
    return params


@pytest.mark.parametrize(("name", "variant", "args", "form"), _build_params())
def test_spec_builds_the_torch_layer(name: str, variant: str, args: Args, form: str,
                                     tmp_path: Path) -> None:
    assert name in CASES, f"add a Case for catalog entry {name} to tests/test_catalog.py"
    values, keywords = FORMS[form](LAYERS[name], args)
    torch.manual_seed(0)
    built = build_through_spec(render(name, values, keywords), tmp_path)
    torch.manual_seed(0)
    expected = getattr(torch.nn, name)(*values, **keywords)

    assert repr(built) == repr(expected)
    for kind in ("parameters", "buffers"):
        assert tensors(built, kind) == tensors(expected, kind)
    for (_, got), (_, want) in zip(built.state_dict().items(), expected.state_dict().items()):
        assert torch.equal(got, want)
    # the static checkpoint layout (what `nnspec diff` reads) is torch's, key by key
    layer = LAYERS[name]
    bound = layer.bind_defaults({**dict(zip(layer.arg_names, values)), **keywords})
    assert [(k, tuple(shape)) for k, (shape, _) in layer.state(bound).items()] == [
        (k, tuple(t.shape)) for k, t in expected.state_dict().items()]
    assert [k for k, (_, is_param) in layer.state(bound).items() if is_param] == [
        k for k, _ in expected.named_parameters()]


@pytest.mark.parametrize("name", list(LAYERS))
def test_case_gives_every_argument_a_non_default_value(name: str) -> None:
    case = CASES.get(name)
    assert case is not None, f"add a Case for catalog entry {name}"
    tried = [case.base, case.each, *case.combos, *case.bad]
    for arg in LAYERS[name].args:
        assert any(arg.name in d and (arg.required or d[arg.name] != arg.default)
                   for d in tried), f"{name}: no non-default value for {arg.name}"


@pytest.mark.parametrize("name", list(LAYERS))
def test_checks_pass_valid_and_report_bad_values(name: str) -> None:
    layer, case = LAYERS[name], CASES.get(name)
    assert case is not None, f"add a Case for catalog entry {name}"
    if layer.checks is None:
        assert not case.bad, f"{name} has bad examples but no checks"
        return
    assert case.bad, f"{name}: give at least one out-of-range example"
    for _, args in case.variants():
        assert list(layer.checks(layer.bind_defaults(args))) == []
    for bad in case.bad:
        problems = list(layer.checks(layer.bind_defaults({**case.base, **bad})))
        assert problems, f"{name}{bad} passed its checks"
        assert {n for n, _ in problems} <= set(bad) | set(layer.arg_names)
        assert {n for n, _ in problems} & set(bad), f"{name}{bad}: {problems}"


@pytest.mark.parametrize("name", list(LAYERS))
def test_entry_is_well_formed(name: str) -> None:
    """Known kinds (check_accepts passes an unknown one silently), defaults of their own kind,
    and `infer` naming required arguments."""
    layer = LAYERS[name]
    for arg in layer.args:
        assert arg.accepts in VALUE_KINDS, f"{name}.{arg.name}: unknown kind {arg.accepts}"
        if arg.required or (arg.default is None and arg.nullable):
            continue
        assert check_accepts(arg.accepts, arg.default) is None, f"{name}.{arg.name}"
        assert arg.choices is None or arg.default in arg.choices
    for arg_name in layer.infer:
        assert layer.arg(arg_name) is not None and layer.arg(arg_name).required


@pytest.mark.parametrize(("kind", "value"), [
    ("int", 3), ("int", -1), ("float", 0.5), ("float", 2), ("bool", False), ("str", "same"),
    ("int2", 3), ("int2", (3, 1)), ("int2", [3, 1]), ("int3", (1, 2, 3)), ("int4", (1, 2, 3, 4)),
    ("int6", 1), ("pad2", "same"), ("pad2", "valid"), ("pad1", (2,)), ("opt_int2", (None, 3)),
    ("opt_int3", 4), ("ints", 8), ("ints", [4, 8]), ("int_list", (2, -1)),
    ("int_list", [2, 4]), ("float_or_floats", 2), ("float_or_floats", (2.0, 1.5)),
    ("any", object()),
])
def test_check_kind_accepts(kind: str, value: Any) -> None:
    assert check_accepts(kind, value) is None


@pytest.mark.parametrize(("kind", "value"), [
    ("int", True), ("int", 3.0), ("int", "3"), ("float", True), ("float", "0.5"),
    ("bool", 1), ("str", 3), ("int2", (3, 1, 1)), ("int2", (3, 1.0)), ("int2", "3"),
    ("int3", (1, 2)), ("int4", (1, 2)), ("int6", (1, 2, 3, 4)), ("pad2", "full"),
    ("pad2", (1,)), ("opt_int2", (None,)), ("opt_int2", (None, 2.0)), ("opt_int3", None),
    ("ints", [4, "8"]), ("ints", 8.0), ("int_list", 8), ("int_list", [2, None]),
    ("float_or_floats", "2"), ("float_or_floats", [2.0, None]), ("float_or_floats", True),
])
def test_check_kind_rejects(kind: str, value: Any) -> None:
    assert isinstance(check_accepts(kind, value), str)
