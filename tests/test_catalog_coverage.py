"""The catalog against the whole of the pinned torch's `torch.nn`.

Every module class torch.nn exports is a catalog entry or on the documented exclusion list
(nnspec/catalog/coverage.py, shown in docs/spec.md), and each exclusion is what it says. Every
entry's signature is torch's: names, order, defaults and keyword-only marks. The layers added to
cover torch.nn are each built through a tiny spec, both by the runtime and as generated code: the
same print and state_dict as torch's own instance, and the static output shapes and parameter
count of a real forward.
"""

from __future__ import annotations

import ast
import inspect
import re
import typing
import warnings
from pathlib import Path
from typing import Any

import pytest
from codegen_util import import_file
from conftest import ROOT

import nnspec
from nnspec.catalog import LAYERS, REQUIRED
from nnspec.catalog.coverage import EXCLUDED, NO_SHAPE_RULE, REASONS

with warnings.catch_warnings():  # torch warns at import when numpy is absent
    warnings.simplefilter("ignore")
    import torch
    from torch.nn.modules.lazy import LazyModuleMixin
    from torch.nn.modules.loss import _Loss

SPEC = ROOT / "docs" / "spec.md"
# torch arguments the catalog leaves out on purpose: placement, and private internals
LEFT_OUT = {"device", "dtype", "_weight", "_freeze", "_random_samples"}


def torch_nn_modules() -> dict[str, type]:
    """Every public module class of torch.nn: its exports, and the parallel wrappers."""
    names = set(torch.nn.modules.__all__) | set(torch.nn.parallel.__all__) | set(dir(torch.nn))
    found = {}
    for name in names:
        value = getattr(torch.nn, name, None) or getattr(torch.nn.parallel, name, None)
        if inspect.isclass(value) and issubclass(value, torch.nn.Module) and \
                not name.startswith("_"):
            found[name] = value
    return found


def test_every_torch_nn_layer_is_in_the_catalog_or_excluded() -> None:
    missing = sorted(set(torch_nn_modules()) - set(LAYERS) - set(EXCLUDED))
    assert not missing, f"add these to the catalog, or to nnspec/catalog/coverage.py: {missing}"


def test_each_exclusion_is_what_it_says() -> None:
    modules = torch_nn_modules()
    assert set(EXCLUDED) <= set(modules), "an exclusion torch.nn no longer has"
    assert not set(EXCLUDED) & set(LAYERS)
    assert set(EXCLUDED.values()) == set(REASONS)
    by_group = {g: {n for n, group in EXCLUDED.items() if group == g} for g in REASONS}
    assert by_group["loss"] == {n for n, c in modules.items() if issubclass(c, _Loss)}
    assert by_group["lazy"] == {n for n, c in modules.items() if issubclass(c, LazyModuleMixin)}
    containers = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict,
                  torch.nn.ParameterList, torch.nn.ParameterDict, torch.nn.Container)
    assert by_group["container"] == {c.__name__ for c in containers}
    for name in by_group["module-argument"]:
        params = inspect.signature(modules[name].__init__).parameters
        assert any(p.annotation in (torch.nn.Module, "TransformerEncoderLayer",
                                    "TransformerDecoderLayer") or "Module" in str(p.annotation)
                   for p in params.values()), name


def test_entries_without_a_shape_rule_are_the_listed_ones() -> None:
    assert {n for n, layer in LAYERS.items() if not (layer.shape or layer.forward)} == \
        set(NO_SHAPE_RULE)


def _coverage_section() -> str:
    text = SPEC.read_text(encoding="utf-8")
    return text.split("### Catalog coverage", 1)[1].split("\n#", 1)[0]


def test_the_docs_list_every_exclusion_and_exception() -> None:
    section = _coverage_section()
    listed = set(re.findall(r"`(\w+)", section))
    assert set(EXCLUDED) | set(NO_SHAPE_RULE) <= listed


# --- signatures ------------------------------------------------------------------------------


def _spelled(default: Any) -> Any:
    """A default torch gives as a function (TransformerEncoderLayer's activation=F.relu) is
    the string a spec names it by, which torch also accepts."""
    return default.__name__ if callable(default) else default


@pytest.mark.parametrize("name", list(LAYERS))
def test_signature_is_torchs(name: str) -> None:
    """Order, defaults and keyword-only marks: a wrong default would silently change a layer,
    because generated code leaves out arguments equal to the catalog's default."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        init = getattr(torch.nn, name).__init__
        # RNN, LSTM and GRU take (*args, **kwargs) and spell their signature as an overload
        overloads = [o for o in typing.get_overloads(init)
                     if "input_size" in inspect.signature(o).parameters]
        params = list(inspect.signature(overloads[0] if overloads else init).parameters.values())
    # an argument after a left-out one cannot be passed by position, so the catalog marks it
    # keyword-only (EmbeddingBag's include_last_offset, after _weight)
    left = [i for i, p in enumerate(params) if p.name in LEFT_OUT] or [len(params)]
    expected = [(p.name, REQUIRED if p.default is p.empty else _spelled(p.default),
                 p.kind is p.KEYWORD_ONLY or i > left[0]) for i, p in enumerate(params)
                if i and p.name not in LEFT_OUT and
                p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    got = [(a.name, a.default, a.kwonly) for a in LAYERS[name].args]
    assert got == expected
    assert all(type(a.default) is type(d) for a, (_, d, _) in zip(LAYERS[name].args, expected))


# --- the added layers, built -----------------------------------------------------------------

Build = tuple[str, dict[str, Any], list[str]]  # a call, the spec's inputs, its forward


def _one(call: str, *shape: int) -> Build:
    return call, {"x": list(shape)}, ["return layer(x)"]


def _unpool(n: int) -> Build:
    return (f"MaxUnpool{n}d(2)", {"x": [3, *(6,) * n]},
            [f"y, i = F.max_pool{n}d(x, 2, return_indices=True)", "return layer(y, i)"])


IDS = {"shape": [5], "dtype": "int64", "range": [0, 10]}
BUILDS: dict[str, Build] = {
    **{name: _one(f"{name}{call}", 3, 4, 4) for name, call in (
        ("Hardshrink", "(0.3)"), ("Softshrink", "(0.3)"), ("Hardtanh", "(-2.0, 2.0)"),
        ("RReLU", "(0.1, 0.3)"), ("Threshold", "(0.1, 20.0)"), ("Softsign", "()"),
        ("Tanhshrink", "()"), ("Softmin", "(1)"), ("Softmax2d", "()"),
        ("AlphaDropout", "(0.2)"), ("FeatureAlphaDropout", "(0.2)"),
        ("UpsamplingNearest2d", "(scale_factor=2.0)"), ("UpsamplingBilinear2d", "(size=(6, 6))"),
        ("LocalResponseNorm", "(2)"), ("CrossMapLRN2d", "(3)"), ("SyncBatchNorm", "(3)"),
        ("FractionalMaxPool2d", "(2, output_ratio=0.5)"), ("Unfold", "(2, padding=1)"))},
    **{f"{kind}Pad{n}d": _one(f"{kind}Pad{n}d({2 if n < 3 else 1}{extra})", 3, *(5,) * n)
       for n in (1, 2, 3) for kind, extra in (("Constant", ", 0.5"), ("Reflection", ""),
                                              ("Replication", ""), ("Circular", ""))},
    **{f"LPPool{n}d": _one(f"LPPool{n}d(2, 2)", 3, *(6,) * n) for n in (1, 2, 3)},
    **{f"MaxUnpool{n}d": _unpool(n) for n in (1, 2, 3)},
    "FractionalMaxPool3d": _one("FractionalMaxPool3d(2, output_size=3)", 2, 6, 6, 6),
    "ChannelShuffle": _one("ChannelShuffle(2)", 4, 3, 3),
    "Fold": _one("Fold((4, 5), 2)", 8, 12),
    "CosineSimilarity": ("CosineSimilarity()", {"x": [4, 6], "y": [4, 6]},
                         ["return layer(x, y)"]),
    "PairwiseDistance": ("PairwiseDistance(keepdim=True)", {"x": [6], "y": [6]},
                         ["return layer(x, y)"]),
    "EmbeddingBag": ("EmbeddingBag(10, 3, mode='sum')", {"x": IDS}, ["return layer(x)"]),
    **{f"{kind}Cell": _one(f"{kind}Cell(6, 8)", 6) for kind in ("RNN", "LSTM", "GRU")},
    "TransformerDecoderLayer": ("TransformerDecoderLayer(16, 4, 32, batch_first=True)",
                                {"x": [5, 16], "m": [7, 16]}, ["return layer(x, m)"]),
    "Transformer": ("Transformer(16, 4, 1, 2, 32, batch_first=True)",
                    {"x": [7, 16], "t": [5, 16]}, ["return layer(x, t)"]),
    "AdaptiveLogSoftmaxWithLoss": (
        "AdaptiveLogSoftmaxWithLoss(8, 10, [2, 5], head_bias=True)",
        {"x": [8], "t": {"shape": [], "dtype": "int64", "range": [0, 10]}},
        ["out, loss = layer(x, t)", "return out"]),
}


def _spec(tmp_path: Path, name: str) -> Path:
    call, inputs, forward = BUILDS[name]
    lines = ["nnspec: 1", "inputs:", *(f"  {k}: {v}" for k, v in inputs.items()),
             "model:", "  name: Net", "  children:", f"    layer: {call}", "  forward:",
             *(f"    - {step}" for step in forward)]
    path = tmp_path / "s.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _torch_layer(call: str) -> torch.nn.Module:
    """torch's own instance of a call written in Python syntax (test data, not spec text)."""
    name, _, rest = call.partition("(")
    args, kwargs = _parse(f"f({rest}")
    return getattr(torch.nn, name)(*args, **kwargs)


def _parse(text: str) -> tuple[list[Any], dict[str, Any]]:
    node = ast.parse(text, mode="eval").body
    assert isinstance(node, ast.Call)
    return ([ast.literal_eval(a) for a in node.args],
            {k.arg: ast.literal_eval(k.value) for k in node.keywords})


def _shapes(value: Any) -> list[tuple[int, ...]]:
    if isinstance(value, torch.Tensor):
        return [tuple(value.shape)]
    return [s for item in value for s in _shapes(item)]


def _static_shapes(value: Any) -> list[tuple[int, ...]]:
    if value and all(isinstance(v, int) for v in value):
        return [tuple(value)]
    if value == []:
        return [()]
    return [s for item in value for s in _static_shapes(item)]


def test_every_added_layer_has_a_build() -> None:
    assert set(BUILDS) <= set(LAYERS)


@pytest.mark.parametrize("name", sorted(BUILDS))
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_added_layer_builds_prints_and_runs_like_torch(name: str, tmp_path: Path) -> None:
    path = _spec(tmp_path, name)
    torch.manual_seed(0)
    built = nnspec.build(str(path))
    generated = tmp_path / "net.py"
    generated.write_text(nnspec.generate(str(path)), encoding="utf-8")
    from_code = import_file(generated, f"generated_{name}").Net()
    expected = _torch_layer(BUILDS[name][0])
    for model in (built, from_code):
        assert repr(model.layer) == repr(expected)
        assert [(k, v.shape) for k, v in model.state_dict().items()] == [
            (f"layer.{k}", v.shape) for k, v in expected.state_dict().items()]
    torch.manual_seed(0)
    out = built(*nnspec.example_inputs(str(path), batch=1))
    summary = nnspec.summary(str(path))
    assert summary["params"] == sum(p.numel() for p in expected.parameters())
    if name in NO_SHAPE_RULE:
        assert summary["outputs"] == [None]
    else:
        assert _static_shapes(summary["outputs"]) == _shapes(out)
