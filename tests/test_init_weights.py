"""Deferred initialisation: a model built on the meta device, moved with `to_empty()` and given
`init_weights()` under a seed equals one built under that seed, bit for bit, for every spec
(parameters and buffers, non-persistent ones included), ties kept; and the generated file's
method is the runtime's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from codegen_util import CODEGEN_SPECS, import_file
from conftest import ROOT, spec_files, suite_params

import nnspec

SPECS = spec_files() + sorted(CODEGEN_SPECS.glob("*.yaml"))


def tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers by name, non-persistent buffers and both names of a tie too."""
    out = dict(model.named_parameters(remove_duplicate=False))
    out.update(model.named_buffers(remove_duplicate=False))
    return out


def assert_identical(built: torch.nn.Module, late: torch.nn.Module) -> None:
    a, b = tensors(built), tensors(late)
    assert list(a) == list(b)
    different = [k for k in a if a[k].dtype != b[k].dtype or not torch.equal(a[k], b[k])]
    assert different == []
    assert not any(t.is_meta for t in b.values())


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_meta_then_init_weights_equals_a_seeded_build(path: Path, seed: int = 7):
    params = suite_params(path)
    spec = nnspec.load(path, **params)
    torch.manual_seed(seed)
    built = nnspec.build(spec)
    late = nnspec.build(spec, device="meta")
    late.to_empty(device="cpu")
    torch.manual_seed(seed)
    late.init_weights()
    assert_identical(built, late)


def test_ties_survive_to_empty_and_init_weights():
    late = nnspec.build(ROOT / "specs" / "gpt_mini.yaml", device="meta")
    late.to_empty(device="cpu")
    assert late.lm_head.weight is not late.tok_emb.weight  # to_empty unties them
    late.init_weights()
    assert late.lm_head.weight is late.tok_emb.weight


def test_the_generated_files_method_is_the_runtimes(tmp_path):
    path = ROOT / "specs" / "vit_b_16.yaml"  # MultiheadAttention, own tensors, block init rules
    params = suite_params(path)
    target = tmp_path / "vit_generated.py"
    target.write_text(nnspec.generate(nnspec.load(path, **params)))
    module = import_file(target, "vit_generated_init_weights")
    torch.manual_seed(3)
    built = nnspec.build(path, **params)
    with torch.device("meta"):
        late = module.VisionTransformer()
    late.to_empty(device="cpu")
    torch.manual_seed(3)
    late.init_weights()
    assert_identical(built, late)


def test_every_catalog_layer_replays_its_construction():
    """replay_init on each torch layer the catalog offers (arguments as tests/shape_draws.py
    draws them) draws what its constructor drew."""
    from shape_draws import DRAWS, Gen

    from nnspec.catalog import LAYERS

    module = sys.modules[type(nnspec.build(ROOT / "specs" / "nin.yaml")).__module__]
    checked = 0
    for name, draw in sorted(DRAWS.items()):
        if LAYERS[name].module != "nn":
            continue
        args, _ = draw(Gen(name))
        layer = getattr(torch.nn, name)
        torch.manual_seed(5)
        built = layer(**args)
        with torch.device("meta"):
            late = layer(**args)
        late.to_empty(device="cpu")
        torch.manual_seed(5)
        module.replay_init(late)
        assert_identical(built, late)
        checked += 1
    assert checked >= 50
