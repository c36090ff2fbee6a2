"""Library layers by reference: classes `import module` cannot expand (a library leaf, a layer
subclass with children, an untraceable forward) are written as `layers:` entries with their
signature, rebuild the model exactly when their package is allowed, and leave the static verbs
torch-free. The stand-in library is tests/libpkg/fakelib (CI has no torchvision or timm).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from static_cli import BLOCKER

import nnspec
from nnspec.catalog.library import LIBRARY
from nnspec.cli.main import main
from nnspec.diagnostics import SpecError
from nnspec.importers.draft import check_rebuild
from nnspec.importers.live import import_model
from nnspec.importers.printed import import_tree
from nnspec.static.summary import render

LIBPKG = ROOT / "tests" / "libpkg"
if str(LIBPKG) not in sys.path:
    sys.path.insert(0, str(LIBPKG))

import libmodels  # noqa: E402

ALLOW = ["fakelib"]


def run(*args: str, tmp: Path, block_torch: bool = False) -> subprocess.CompletedProcess:
    """`python -m nnspec ARGS` with fakelib on the path (and `import torch` blocked)."""
    path = [str(ROOT), str(LIBPKG)]
    if block_torch:
        (tmp / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
        path.insert(0, str(tmp))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "nnspec", *args], cwd=tmp,
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def imported() -> tuple[torch.nn.Module, str]:
    torch.manual_seed(0)
    model = libmodels.net()
    for m in model.modules():  # batch norm statistics that are not the defaults
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return model, import_model(model, "libmodels:net", {"x": [3, 8, 8]}).text


def test_unexpandable_classes_become_references_with_their_signature(imported):
    text = imported[1]
    assert "# References: 3 (classes written as layers: below)\n" \
           "# Reference BatchNormAct2d: layer subclass with children\n" \
           "# Reference Gate: neither torch.fx nor torch.export traces its forward\n" \
           "# Reference StochasticDepth: library leaf\n" in text
    assert '  StochasticDepth: {class: "fakelib.ops:StochasticDepth", args: {p: float, ' \
           'mode: str}}\n' in text
    assert '  Gate: {class: "fakelib.ops:Gate", args: {channels: int, threshold: {type: ' \
           'float, default: 0.0}}}\n' in text
    assert "      act_layer: {type: any, optional: true}\n" in text
    assert "      bn: BatchNormAct2d(8, eps=0.001)\n" in text
    assert '      drop: StochasticDepth(p, "row")\n' in text
    assert "forward: unknown" not in text


def test_the_spec_rebuilds_the_model_when_its_package_is_allowed(imported, tmp_path):
    model, text = imported
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    rebuilt = nnspec.build(path, allow_import=ALLOW)
    assert str(rebuilt) == str(model)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    model.eval()
    rebuilt.eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))
    again = pickle.loads(pickle.dumps(rebuilt))  # the pickle carries the allowed package
    assert str(again) == str(model)
    generated = nnspec.generate(path, allow_import=ALLOW)
    assert "from fakelib.ops import BatchNormAct2d, Gate, StochasticDepth\n" in generated


def test_building_needs_the_package_allowed(imported, tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(imported[1], encoding="utf-8")
    with pytest.raises(SpecError) as info:
        nnspec.build(path)
    codes = {(d.code, d.pos.line) for d in info.value.diagnostics}
    assert {c for c, _ in codes} == {"import-not-allowed"}
    assert len(codes) == 3


def test_validate_and_summary_read_the_signature_without_torch(imported, tmp_path):
    (tmp_path / "net.yaml").write_text(imported[1], encoding="utf-8")
    done = run("validate", "net.yaml", tmp=tmp_path, block_torch=True)
    assert (done.returncode, done.stdout) == (0, "net.yaml: ok (Net)\n"), done.stderr
    done = run("summary", "net.yaml", "--json", tmp=tmp_path, block_torch=True)
    assert done.returncode == 0, done.stderr
    rows = {row["path"]: row for row in json.loads(done.stdout)[0]["layers"]}
    assert rows["blocks.0.conv"]["output"] == [1, 8, 8, 8]  # before the first reference
    assert (rows["blocks.0.bn"]["type"], rows["blocks.0.bn"]["output"]) == (
        "fakelib.ops:BatchNormAct2d", None)
    assert rows["fc"]["output"] is None  # after it: unknown, never guessed


def test_a_declared_shape_rule_is_used_when_the_package_is_allowed(write_spec):
    spec = write_spec(
        "nnspec: 1\ninputs:\n  x: [4, 6, 6]\nlayers:\n"
        "  Drop: {class: \"fakelib.ops:StochasticDepth\", args: {p: float, mode: str}}\n"
        "model:\n  children:\n    conv: Conv2d(4, 4, 3)\n    drop: Drop(0.1, \"row\")\n"
        "    pool: AdaptiveAvgPool2d(1)\n")
    opaque = nnspec.summary(spec)["layers"]
    assert [r["output"] for r in opaque] == [[1, 4, 4, 4], None, None]
    declared = nnspec.summary(spec, allow_import=ALLOW)["layers"]  # fakelib declares it
    assert [r["output"] for r in declared] == [[1, 4, 4, 4], [1, 4, 4, 4], [1, 4, 1, 1]]


def test_library_layers_nnspec_declares_give_shapes_without_any_import(write_spec):
    spec = write_spec(
        "nnspec: 1\ninputs:\n  x: [8, 6, 6]\nlayers:\n"
        "  SD: \"torchvision.ops.stochastic_depth:StochasticDepth\"\n"
        "  LN: \"timm.layers.norm:LayerNorm2d\"\n"
        "  Pool: \"timm.layers.adaptive_avgmax_pool:SelectAdaptivePool2d\"\n"
        "  C1D: \"transformers.pytorch_utils:Conv1D\"\n"
        "model:\n  children:\n    sd: SD(0.1, \"row\")\n    ln: LN(8)\n"
        "    pool: Pool(pool_type=\"avg\", flatten=True)\n    proj: C1D(5, 8)\n")
    rows = nnspec.summary(spec)["layers"]
    assert [r["output"] for r in rows] == [[1, 8, 6, 6], [1, 8, 6, 6], [1, 8], [1, 5]]
    assert [r["params"] for r in rows] == [0, 16, 0, 45]
    assert set(LIBRARY) >= {"timm.layers.drop:DropPath",
                            "torchvision.models.convnext:LayerNorm2d",
                            "transformers.models.llama.modeling_llama:LlamaRMSNorm",
                            "transformers.models.t5.modeling_t5:T5LayerNorm"}


def test_malformed_layer_entries_are_reported_where_they_are(write_spec):
    spec = write_spec(
        "nnspec: 1\ninputs:\n  x: [4]\nlayers:\n"
        "  A: {class: \"fakelib.ops:Hidden\", args: {size: integer}}\n"
        "  B: {class: \"fakelib.ops:Gate\", args: {threshold: 0.5, channels: int}}\n"
        "  C: {class: \"fakelib.ops:Gate\", arguments: {}}\n"
        "model:\n  children:\n    fc: Linear(4, 4)\n")
    with pytest.raises(SpecError) as info:
        nnspec.load(spec)
    found = sorted((d.pos.line, d.code, d.message) for d in info.value.diagnostics)
    assert found[0][:2] == (7, "unknown-key")
    text = Path(spec).read_text().replace('  C: {class: "fakelib.ops:Gate", arguments: {}}\n', "")
    Path(spec).write_text(text)
    with pytest.raises(SpecError) as info:
        nnspec.load(spec)
    found = sorted((d.pos.line, d.pos.col, d.code, d.message) for d in info.value.diagnostics)
    assert found == [
        (5, 49, "bad-value", "layer 'A': argument 'size': unknown kind 'integer'"),
        (6, 67, "bad-value", "layer 'B': argument 'channels': a required argument follows "
                             "one with a default")]


def test_what_cannot_be_verified_is_refused_with_the_class_and_argument():
    with pytest.raises(SpecError) as info:
        import_model(libmodels.with_hidden(), "libmodels:with_hidden", {"x": [4]})
    [diag] = info.value.diagnostics
    assert (diag.code, diag.pos.line) == ("not-referenceable", 3)
    assert diag.message == ("'Hidden' (fakelib.ops:Hidden) cannot be written as a layer "
                            "reference: argument 'size' is not recovered: the instance has no "
                            "attribute of that name or a known alias")


def test_a_class_named_like_a_torch_layer_is_referenced_under_another_name(tmp_path):
    model = libmodels.named_like_torch()
    text = import_model(model, "libmodels:named_like_torch", {"x": [4]}).text
    assert '  FakelibGELU: {class: "fakelib.ops:GELU", args: {inplace: {type: bool, default: ' \
           'false}}}\n' in text
    assert "    act: FakelibGELU()\n    last: GELU()\n" in text
    assert "# Reference FakelibGELU: library leaf\n" in text  # it prints its settings


def test_a_reference_whose_outputs_differ_is_refused_at_its_line():
    with pytest.raises(SpecError) as info:
        import_model(libmodels.doubled(), "libmodels:doubled", {"x": [4]})
    [diag] = info.value.diagnostics
    assert (diag.code, diag.pos.line) == ("not-referenceable", 4)
    assert diag.message == ("'Doubled' (fakelib.ops:Doubled) rebuilt with {'scale': 3.0} "
                            "gives different outputs")


def test_an_untraceable_class_that_cannot_be_a_reference_keeps_forward_unknown():
    result = import_model(libmodels.moody(), "libmodels:moody", {"x": [4]})
    assert "  Moody:\n    children:\n      fc: Linear(4, 4)\n    forward: unknown\n" \
        in result.text
    assert '"fakelib.ops:Moody"' not in result.text and "Reference Moody" not in result.text
    assert result.warnings[0].startswith("Moody: torch.fx cannot trace it")


def test_expand_refuses_what_cannot_be_expanded_and_reference_keeps_classes_opaque():
    model = libmodels.net()
    with pytest.raises(SpecError) as info:
        import_model(model, "libmodels:net", {"x": [3, 8, 8]}, expand=("fakelib",))
    assert {d.code for d in info.value.diagnostics} == {"unknown-layer", "not-rebuildable"}
    default = import_model(model, "libmodels:net", {"x": [3, 8, 8]}).text
    assert "  ConvAct:\n    children:\n" in default  # an ordinary block: expanded
    opaque = import_model(model, "libmodels:net", {"x": [3, 8, 8]}, reference=("fakelib",))
    assert '  ConvAct: {class: "fakelib.ops:ConvAct", args: {in_channels: int, ' \
           'out_channels: int}}\n' in opaque.text
    assert "    stem: ConvAct(3, 8)\n" in opaque.text
    assert "# Reference ConvAct: --reference fakelib\n" in opaque.text


def test_the_cli_takes_reference(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["import", "module", "libmodels:net", "--input", "x=3,8,8", "--reference",
                 "fakelib", "-o", "net.yaml"])
    assert code == 0
    assert "# References: 4 (classes" in (tmp_path / "net.yaml").read_text()
    assert main(["import", "module", "libmodels:net", "--input", "x=3,8,8", "--expand",
                 "fakelib"]) == 1


def test_summary_measures_undeclared_layers_on_the_meta_device_when_allowed(write_spec):
    spec = write_spec(
        "nnspec: 1\ninputs:\n  x: [4, 6, 6]\nlayers:\n"
        "  BNAct: {class: \"fakelib.ops:BatchNormAct2d\", args: {num_features: int}}\n"
        "  Gate: {class: \"fakelib.ops:Gate\", args: {channels: int}}\n"
        "model:\n  children:\n    bn: BNAct(4)\n    pool: AvgPool2d(2)\n    gate: Gate(4)\n"
        "    fc: Conv2d(4, 2, 1)\n")
    opaque = nnspec.summary(spec)
    assert [r["output"] for r in opaque["layers"]] == [None, None, None, None]
    assert opaque["params"] is None
    data = nnspec.summary(spec, allow_import=ALLOW)
    rows = data["layers"]
    assert [r["output"] for r in rows] == [[1, 4, 6, 6], [1, 4, 3, 3], None, None]
    assert [r.get("measured", False) for r in rows] == [True, False, True, False]
    assert [r["params"] for r in rows] == [8, 0, 20, 10]  # torch's count, measured
    text = render(data)
    assert "bn    fakelib.ops:BatchNormAct2d  [1, 4, 6, 6] *" in text
    assert text.endswith(
        "* output measured by torch on the meta device: the layer declares no shape rule\n"
        "note: shapes are unknown from gate on: fakelib.ops:Gate torch cannot run it on the "
        "meta device; MACs shown count only the layers before")


TREE = """Net(
  (conv): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
  (bn): BatchNormAct2d(
    8, eps=0.001, momentum=0.1, affine=True, bias=True, track_running_stats=True
    (act): ReLU()
  )
  (drop): StochasticDepth(p=0.1, mode=row)
)
"""
TREE_LAYERS = {"StochasticDepth": "fakelib.ops:StochasticDepth",
               "BatchNormAct2d": "fakelib.ops:BatchNormAct2d"}


def test_import_tree_reads_referenced_arguments_from_the_printed_repr(tmp_path):
    result = import_tree(TREE, "tree.txt", layers=TREE_LAYERS)
    assert "# References: 2 (classes written as layers: below)\n" \
           "# Reference BatchNormAct2d: --layer\n# Reference StochasticDepth: --layer\n" \
        in result.text
    assert "    bn: BatchNormAct2d(8, eps=0.001)\n" in result.text
    assert '    drop: StochasticDepth(0.1, "row")\n' in result.text
    check_rebuild(result.text, TREE, "tree.txt", allow=("fakelib",))
    path = tmp_path / "net.yaml"
    path.write_text(result.text, encoding="utf-8")
    assert str(nnspec.build(path, allow_import=ALLOW)) + "\n" == TREE


def test_import_tree_refuses_a_repr_the_class_does_not_print():
    tree = TREE.replace("mode=row)", "mode=row, scale=2)")
    with pytest.raises(SpecError) as info:
        import_tree(tree, "tree.txt", layers=TREE_LAYERS)
    [diag] = info.value.diagnostics
    assert (diag.code, diag.pos.line) == ("not-referenceable", 7)
    assert diag.message == ("'StochasticDepth' (fakelib.ops:StochasticDepth) cannot be "
                            "written as a layer reference: rebuilt with {'p': 0.1, 'mode': "
                            "'row'} it prints 'p=0.1, mode=row'")


RECORDED = json.loads((ROOT / "tests" / "golden" / "library" / "layers.json").read_text())


@pytest.mark.parametrize("case", RECORDED["cases"], ids=lambda c: c["class"].split(":")[1])
def test_library_declarations_agree_with_the_recorded_classes(case):
    """Shape, parameter and state rules against the real classes (tools/record_library_layers.py
    recorded them with torchvision, timm and transformers, which CI does not have)."""
    layer = LIBRARY[case["class"]]
    bound = layer.bind_defaults(case["args"])
    assert list(layer.shape(bound, [tuple(case["input"])])) == case["output"]
    assert layer.params(bound) == case["params"]
    assert [[k, list(s), p] for k, (s, p) in layer.state(bound).items()] == case["state"]
    assert list(layer.checks(bound) if layer.checks else []) == []


def test_summary_measures_a_layer_given_a_class_whose_train_returns_none(write_spec):
    """The class argument is imported for the meta build, as a build imports it, and the
    module is put in eval mode without relying on `train` returning it."""
    spec = write_spec(
        "nnspec: 1\ninputs:\n  x: [5, 4]\nlayers:\n"
        "  CachedMix: {class: \"fakelib.ops:CachedMix\", args: {channels: int, act_layer: "
        "{type: class, default: \"torch.nn:SiLU\"}}}\n"
        "model:\n  children:\n    mix: CachedMix(4, act_layer=\"torch.nn:Hardswish\")\n"
        "    fc: Linear(8, 3)\n")
    rows = nnspec.summary(spec, allow_import=ALLOW)["layers"]
    assert [r["output"] for r in rows] == [[1, 5, 8], [1, 5, 3]]
    built = nnspec.build(spec, allow_import=ALLOW)
    assert type(built.mix.act) is torch.nn.Hardswish
    assert [r["params"] for r in rows] == [sum(p.numel() for p in m.parameters())
                                           for m in (built.mix, built.fc)]
