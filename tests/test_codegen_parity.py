"""The generated module and the runtime-built module are the same model.

`nnspec.build` executes the source that `nnspec build -o` writes, so the two are one path by
construction. What this file proves, once per spec in `specs/` (globbed, so specs added later
are covered) and per code generation fixture: the generated source, written to a file and
imported from it with importlib (not through nnspec), gives what `nnspec.build` gives: printed
tree, state_dict keys, shapes and order, bitwise parameters after the same seed, outputs in
train and eval mode, gradients and running statistics. Per spec too, because they depend on
the spec and not on the path taken: the constructor's defaults are the spec's, and the
generated module exports and compiles without graph breaks.

One representative each, where the rest follows from the construction:
- overridden root parameters: one case per kind of use of a parameter (see OVERRIDES), not
  every parameter of every spec;
- export and compile: on the generated module only, not again on the runtime one (same code),
  and not for a spec whose code is another's but for a default (SAME_CODE_AS);
- the `python FILE.py` self-check: one spec per kind of declared input (SELF_CHECK), in process,
  and nin once in a fresh interpreter.
"""

from __future__ import annotations

import contextlib
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

    def generated(self, seed: int = 0, device: str | None = None, **params) -> torch.nn.Module:
        torch.manual_seed(seed)
        with torch.device(device) if device else contextlib.nullcontext():
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


def assert_same_model(pair: Pair, **params) -> torch.nn.Module:
    """Compare the two models built after `torch.manual_seed(0)`; return the generated one
    (parameters as built: gradients are computed, never applied)."""
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
    return ours


def test_generated_file_is_the_runtime_model(pair):
    """The one check per spec of the construction: same tree, state_dict, seeded parameters,
    outputs (train and eval), gradients and running statistics."""
    seed0 = assert_same_model(pair)
    # the seeded comparison says something: some parameter is random (a model's first may be
    # all zeros, like ViT's class token)
    assert not all(torch.equal(p, q) for p, q in zip(pair.generated(seed=1).parameters(),
                                                     seed0.parameters()))


# Overrides: `Net(expand=2)` from the generated file evaluates the root parameters in Python,
# where `nnspec.build(spec, expand=2)` elaborates the spec with them. One representative case
# per kind of use, named here: a list driving repeats and a bool in an init rule's condition
# (resnet18), a float through make_divisible (mobilenet_v2), a named repeat's count
# (named_repeat), int arithmetic and bools in `if:` (layout_stress), a bool that drops a child
# and a forward branch (defaults_and_inputs), repeats, a division in attention and an input
# shape that follows a parameter (gpt_mini). Each changes the printed tree, so that the test
# sees it took effect. Every other spec is left out on purpose, by name (nothing is skipped at
# run time); nin_dw's `Net(expand=2)` is checked against nin_dw_x2 below.
OVERRIDES: dict[str, dict] = {
    "resnet18": dict(layers=[1, 1, 1, 1], zero_init_residual=True, num_classes=10),
    "mobilenet_v2": dict(width_mult=0.5),
    "named_repeat": dict(depth=4),
    "layout_stress": dict(width=4, deep=False),
    "defaults_and_inputs": dict(gated=False),
    "gpt_mini": dict(n_layer=1, n_head=2, block_size=16),
}


def _spec_path(name: str) -> Path:
    path, = [p for p in SPECS if p.stem == name]
    return path


@pytest.mark.parametrize("name", list(OVERRIDES))
def test_overridden_root_parameters_match(name, tmp_path):
    pair = Pair(_spec_path(name), tmp_path)
    params = OVERRIDES[name]
    assert str(assert_same_model(pair, **params)) != str(pair.generated(device="meta"))


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


# --- export and compile ----------------------------------------------------------------------


# A spec whose generated code is another's but for a default (checked below) is exported
# through that other spec only.
SAME_CODE_AS = {"nin_dw_x2": "nin_dw"}  # extends nin_dw, setting expand's default to 2
EXPORTED = [p for p in SPECS if p.stem not in SAME_CODE_AS]


def test_nin_dw_x2_is_nin_dws_code_but_for_the_default_of_expand():
    def body(name: str) -> list[str]:
        return [line for line in nnspec.generate(_spec_path(name)).splitlines()
                if not line.startswith("#")]

    changed = [(x, y) for x, y in zip(body("nin_dw_x2"), body("nin_dw"), strict=True) if x != y]
    assert changed == [("    def __init__(self, expand: int = 2) -> None:",
                        "    def __init__(self, expand: int = 1) -> None:")]


@pytest.mark.parametrize("path", EXPORTED, ids=[p.stem for p in EXPORTED])
def test_export_and_compile_without_graph_breaks(path, tmp_path):
    """On the generated module only: the runtime model runs the same source."""
    pair = Pair(path, tmp_path)
    model = pair.generated().eval()
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


# the self-check's inputs per kind of declared input: one float image, int64 tokens in a range,
# several inputs of float64, int64 and bool, a float image beside tokens
SELF_CHECK = ["nin", "gpt_mini", "defaults_and_inputs", "raw_tensors"]


@pytest.mark.parametrize("name", SELF_CHECK)
def test_self_check_prints_the_output_shape(name, tmp_path, capsys):
    pair = Pair(_spec_path(name), tmp_path)
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
