"""The generated module and the runtime-built module are the same model.

For every spec in `specs/` (globbed, so specs added later are covered) and the code generation
fixtures: the generated source is written to a file and imported from it with importlib (not
through nnspec), then compared with `nnspec.build`: printed tree, state_dict keys, shapes and
order, bitwise parameters after the same seed, outputs in train and eval mode, gradients, and
the same with root parameters overridden. Both also export and compile without graph breaks,
and `python FILE.py` runs the self-check.
"""

from __future__ import annotations

import inspect
import os
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from codegen_util import CODEGEN_SPECS, import_file
from conftest import ROOT, spec_files, suite_params, torch_math_paths

import nnspec
from nnspec.catalog import REQUIRED
from nnspec.diagnostics import SpecError

SPECS = spec_files() + sorted(CODEGEN_SPECS.glob("*.yaml"))


def _dtype(spec) -> torch.dtype:
    floats = {i.dtype for i in spec.program.inputs if i.dtype.startswith(("float", "bfloat"))}
    return getattr(torch, floats.pop()) if len(floats) == 1 else torch.float32


class Pair:
    """The generated class, imported from its file, and the spec it came from."""

    def __init__(self, path: Path, tmp: Path):
        self.path = path
        self.base = suite_params(path)  # a large spec runs small here
        self.spec = nnspec.load(path, **self.base)
        self.file = tmp / f"{path.stem}_generated.py"
        self.file.write_text(nnspec.generate(path), encoding="utf-8")
        module = import_file(self.file, f"nnspec_parity_{path.stem}")
        self.cls = getattr(module, self.spec.name)
        self.dtype = _dtype(self.spec)

    def generated(self, seed: int = 0, **params) -> torch.nn.Module:
        torch.manual_seed(seed)
        return self.cls(**{**self.base, **params}).to(self.dtype)

    def runtime(self, seed: int = 0, **params) -> torch.nn.Module:
        torch.manual_seed(seed)
        return nnspec.build(self.path, dtype=self.dtype, **{**self.base, **params})

    def inputs(self, batch: int = 2, **params) -> tuple[torch.Tensor, ...]:
        return tuple(t.to(self.dtype) if t.is_floating_point() else t
                     for t in nnspec.example_inputs(self.path, batch, seed=1,
                                                    **{**self.base, **params}))


@pytest.fixture(scope="module", params=SPECS, ids=[p.stem for p in SPECS])
def pair(request, tmp_path_factory) -> Pair:
    return Pair(request.param, tmp_path_factory.mktemp("parity"))


def _flat(value) -> list[torch.Tensor]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def assert_same_model(pair: Pair, **params) -> None:
    ours, theirs = pair.generated(**params), pair.runtime(**params)
    assert str(ours) == str(theirs)
    a, b = ours.state_dict(), theirs.state_dict()
    assert [(k, v.shape) for k, v in a.items()] == [(k, v.shape) for k, v in b.items()]
    assert all(torch.equal(a[k], b[k]) for k in a)
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        torch.manual_seed(5)  # the same dropout masks in train mode
        out_a = _flat(ours(*pair.inputs(**params)))
        torch.manual_seed(5)
        out_b = _flat(theirs(*pair.inputs(**params)))
        assert all(torch.equal(x, y) for x, y in zip(out_a, out_b, strict=True)), mode
        if mode == "train":
            sum(o.float().sum() for o in out_a).backward()
            sum(o.float().sum() for o in out_b).backward()
            for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
                assert (p.grad is None) == (q.grad is None), name
                assert p.grad is None or torch.equal(p.grad, q.grad), name
    # running statistics moved identically in train mode
    assert all(torch.equal(x, y) for x, y in zip(ours.state_dict().values(),
                                                 theirs.state_dict().values()))


def test_printed_tree_state_dict_parameters_outputs_and_gradients_match(pair):
    assert_same_model(pair)


def test_seeded_parameters_are_bitwise_identical(pair):
    ours, theirs = pair.generated(seed=1234), pair.runtime(seed=1234)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, p), q in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert p.dtype == q.dtype and torch.equal(p, q), name
    # some parameter is random (a model's first may be all zeros, like ViT's class token)
    assert not all(torch.equal(p, q) for p, q in zip(pair.generated(seed=1).parameters(),
                                                     pair.generated(seed=2).parameters()))


def _variants(pair: Pair) -> list[dict]:
    """One override per root parameter that still gives a model that runs (ints go to 1, or
    to 2 when they are 1, so that variants stay small)."""
    out = []
    spec = pair.spec
    for p in spec.program.classes[spec.name].params:
        value = p.default
        if isinstance(value, bool):
            new = not value
        elif isinstance(value, int):
            new = 1 if value != 1 else 2
        elif isinstance(value, float):
            new = value / 2
        else:
            continue
        dtype = _dtype(spec)
        try:
            with torch.no_grad():
                params = {**pair.base, p.name: new}
                inputs = [t.to(dtype) if t.is_floating_point() else t
                          for t in nnspec.example_inputs(spec.path, **params)]
                nnspec.build(spec.path, dtype=dtype, **params).eval()(*inputs)
        except (SpecError, RuntimeError):
            continue
        out.append({p.name: new})
    return out


def test_overridden_root_parameters_match(pair):
    """`Net(expand=2)` from the generated file is `nnspec.build(spec, expand=2)`."""
    variants = _variants(pair)
    if not variants:
        pytest.skip("no numeric or boolean root parameter to vary")
    def seen(model: torch.nn.Module) -> tuple:
        return str(model), [t.sum().item() for t in model.state_dict().values()]

    default = seen(pair.generated())
    took_effect = False
    for params in variants:
        assert_same_model(pair, **params)
        # in the tree, or in the weights (an init rule's condition); some overrides change
        # nothing (MobileNetV2's round_nearest=1 at width 1.0), but not all of them
        took_effect |= seen(pair.generated(**params)) != default
    assert took_effect


def test_root_parameters_default_to_the_spec(pair):
    """The generated constructor's defaults are the spec's own (not the suite's small sizes)."""
    spec = nnspec.load(pair.path)
    params = spec.program.classes[spec.name].params
    assert all(p.default is not REQUIRED for p in params)
    signature = inspect.signature(pair.cls)
    # list values are tuples in the generated signature: a default must not be mutable
    assert {n: _listed(q.default) for n, q in signature.parameters.items()} == {
        p.name: p.default for p in params}


def _listed(value):
    return [_listed(v) for v in value] if isinstance(value, tuple) else value


def test_nin_dw_expand_two_is_nin_dw_x2(tmp_path):
    specs = ROOT / "specs"
    nin_dw = Pair(specs / "nin_dw.yaml", tmp_path)
    torch.manual_seed(0)
    doubled = nin_dw.cls(expand=2)
    torch.manual_seed(0)
    reference = nnspec.build(specs / "nin_dw_x2.yaml")
    assert str(doubled) == str(reference)
    assert all(torch.equal(a, b) for a, b in zip(doubled.state_dict().values(),
                                                 reference.state_dict().values()))


# --- item 7: export and compile ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["generated", "runtime"])
def test_export_and_compile_without_graph_breaks(pair, kind):
    model = getattr(pair, kind)().eval()
    inputs = pair.inputs(batch=1)
    # export traces MultiheadAttention's reference path, not the fused eval fast path (one ulp
    # apart), so run eager there too
    with torch.no_grad(), torch_math_paths():
        expected = _flat(model(*inputs))
        # Dynamo refuses RNN, LSTM and GRU modules unless told to trace them (experimental)
        with warnings.catch_warnings(), torch._dynamo.config.patch(allow_rnn=True):
            warnings.simplefilter("ignore")
            exported = torch.export.export(model, inputs)
            compiled = torch.compile(model, backend="eager", fullgraph=True)
            got = _flat(compiled(*inputs))
        torch._dynamo.reset()
        assert all(torch.equal(a, b) for a, b in zip(expected, _flat(
            exported.module()(*inputs)), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))


# --- the self-check ------------------------------------------------------------------------------


def test_self_check_prints_the_output_shape(pair, capsys):
    runpy.run_path(str(pair.file), run_name="__main__")
    out = capsys.readouterr().out.strip()
    model = pair.generated().eval()
    with torch.no_grad():
        shapes = [tuple(o.shape) for o in _flat(model(*pair.inputs()))]
    assert out == " ".join(str(s) for s in shapes)


def test_python_runs_the_generated_file(tmp_path):
    path = tmp_path / "nin.py"
    path.write_text(nnspec.generate(ROOT / "specs" / "nin.yaml"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "(2, 10)\n"
