"""The static pass against torch, for every spec in specs/: parameter counts, every module's
output shape and dtype (forward hooks on every module), and FLOPs (FlopCounterMode), batch 1."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT, spec_files, suite_params, torch_math_paths
from torch.utils.flop_counter import FlopCounterMode

import nnspec
from nnspec.catalog.values import Tensor
from nnspec.ir.analysis import shape_of

# every spec of the project, and ours that exercise functional ops and inferred arguments
SPECS = spec_files() + sorted((ROOT / "tests" / "specs" / "static").glob("*.yaml"))


def _shapes(value):
    if isinstance(value, torch.Tensor):
        return list(value.shape)
    if isinstance(value, (tuple, list)):
        return [_shapes(v) for v in value]
    return None


def _dtypes(value):
    """torch's dtype names, nested like the value; the static side uses the same names."""
    if isinstance(value, (torch.Tensor, Tensor)):
        return str(value.dtype).removeprefix("torch.")
    if isinstance(value, (tuple, list)):
        return [_dtypes(v) for v in value]
    return None


@pytest.fixture(scope="module", params=SPECS, ids=[p.stem for p in SPECS])
def compiled(request):
    spec = nnspec.load(request.param, **suite_params(request.param))
    model = nnspec.build(spec).eval()
    return spec, model


def _modules(spec, model):
    """The model's modules that nnspec knows: not the inner modules of a catalog layer (the
    out_proj of a MultiheadAttention, the linear1 of a TransformerEncoderLayer)."""
    known = spec.analysis.modules
    return [(name, m) for name, m in model.named_modules()
            if not any(a in known and known[a].kind == "layer" for a in _ancestors(name))]


def _ancestors(name):
    parts = name.split(".") if name else []
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def test_params_are_torchs_count(compiled):
    spec, model = compiled
    assert spec.analysis.params == sum(p.numel() for p in model.parameters())
    for name, module in _modules(spec, model):
        own = sum(p.numel() for p in module.parameters())
        assert spec.analysis.modules[name].params == own, name


def test_every_module_output_shape_matches_a_real_forward(compiled):
    spec, model = compiled
    seen: dict[str, list] = {}
    handles = [m.register_forward_hook(
        lambda mod, args, out, name=name: seen.setdefault(name, []).append(
            (_shapes(out), _dtypes(out))))
        for name, m in _modules(spec, model)]
    try:
        with torch.no_grad():
            output = model(*nnspec.example_inputs(spec, batch=1))
    finally:
        for h in handles:
            h.remove()
    static = {path: [(shape_of(o), _dtypes(o)) for o in info.outputs]
              for path, info in spec.analysis.modules.items() if info.outputs}
    assert static == seen
    assert shape_of(spec.analysis.output) == _shapes(output)
    assert _dtypes(spec.analysis.output) == _dtypes(output)


def test_flops_match_flop_counter_mode(compiled):
    """On torch's reference paths: FlopCounterMode sees nothing of fused attention or LSTM
    kernels, while nnspec counts their matmuls."""
    spec, model = compiled
    inputs = nnspec.example_inputs(spec, batch=1)
    with torch_math_paths(), torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    assert 2 * spec.analysis.macs == counter.get_total_flops()


def test_checkpoint_layout_is_the_state_dict(compiled):
    spec, model = compiled
    static = {f"{path}.{name}" if path else name: list(shape)
              for path, info in spec.analysis.modules.items() if info.state
              for name, (shape, _) in info.state.items()}
    # in torch's order too: a module's own parameters, then its buffers, then its children's
    assert list(static.items()) == [(k, list(v.shape)) for k, v in model.state_dict().items()]
