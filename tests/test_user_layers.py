"""User layers: a spec calls a layer class of the user's own package (tests/userpkg/nnspec_demo).

Static analysis reads the package's torch-free declarations (nnspec_demo.nnspec_layers) and must
agree with torch; the runtime build, the generated file and a hand-written model are one model;
nothing of the package is imported unless the user allows it, which the package's import marker
proves in subprocesses.
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
from codegen_util import import_file, ruff
from conftest import ROOT
from static_cli import BLOCKER
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import nnspec
from nnspec.elaborate.user_layers import allowed
from nnspec.ir.analysis import shape_of

USERPKG = ROOT / "tests" / "userpkg"
SE_NET = USERPKG / "se_net.yaml"
ALLOW = ["nnspec_demo"]

if str(USERPKG) not in sys.path:
    sys.path.insert(0, str(USERPKG))

from nnspec_demo.blocks import SqueezeExcite  # noqa: E402


def run(*args: str, tmp: Path, block_torch: bool = False,
        code: str | None = None) -> subprocess.CompletedProcess:
    """`python -m nnspec ARGS` (or `python -c CODE`) with the user package on the path; the
    package records each of its modules imported in tmp/marker."""
    path = [str(ROOT), str(USERPKG)]
    if block_torch:
        (tmp / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
        path.insert(0, str(tmp))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path),
           "NNSPEC_DEMO_MARKER": str(tmp / "marker")}
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "nnspec", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=120)


def imported(tmp: Path) -> set[str]:
    marker = tmp / "marker"
    return set(marker.read_text().split()) if marker.exists() else set()


def spec_with(write_spec, layers: str, children: str, forward: str = "") -> str:
    return write_spec("nnspec: 1\ninputs:\n  x: [8, 6, 6]\nlayers:\n" + layers
                      + "model:\n  children:\n" + children + forward)


# --- static analysis, without torch ---------------------------------------------------------


@pytest.mark.parametrize("args, shows", [
    (["validate", str(SE_NET)], "ok (SENet)"),
    (["summary", str(SE_NET), "--json"], '"type": "nnspec_demo.blocks:SqueezeExcite"'),
    (["graph", str(SE_NET)], "se: nnspec_demo.blocks:SqueezeExcite"),
    (["diff", str(SE_NET), str(SE_NET)], "params: 5,906 (5.91K) -> 5,906"),
    (["build", str(SE_NET), "-o", "-"], "from nnspec_demo.blocks import SqueezeExcite"),
], ids=lambda a: a[0] if isinstance(a, list) else "")
def test_static_verbs_import_declarations_only_and_no_torch(tmp_path, args, shows):
    result = run(*args, "--allow-import", "nnspec_demo", tmp=tmp_path, block_torch=True)
    assert result.returncode == 0, result.stderr
    assert shows in result.stdout
    assert imported(tmp_path) == {"nnspec_demo", "nnspec_demo.nnspec_layers"}


@pytest.fixture(scope="module")
def se_net():
    spec = nnspec.load(SE_NET, allow_import=ALLOW)
    torch.manual_seed(0)
    return spec, nnspec.build(spec).eval()


def test_static_params_shapes_macs_and_layout_match_torch(se_net):
    spec, model = se_net
    assert spec.analysis.params == sum(p.numel() for p in model.parameters()) == 5906
    modules = dict(model.named_modules())
    for path, info in spec.analysis.modules.items():  # the user layer's insides are its own
        assert info.params == sum(p.numel() for p in modules[path].parameters()), path
    seen: dict[str, list] = {}
    hooks = [m.register_forward_hook(lambda mod, a, out, name=name: seen.setdefault(
        name, []).append(list(out.shape))) for name, m in modules.items()]
    x = nnspec.example_inputs(spec, batch=1)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(*x)
    for hook in hooks:
        hook.remove()
    static = {path: [shape_of(o) for o in info.outputs]
              for path, info in spec.analysis.modules.items() if info.outputs}
    assert static == {path: seen[path] for path in static}
    assert "features.1.se" in static and shape_of(spec.analysis.output) == list(out.shape)
    assert 2 * spec.analysis.macs == counter.get_total_flops()
    layout = {f"{path}.{name}": list(shape) for path, info in spec.analysis.modules.items()
              if info.state for name, (shape, _) in info.state.items()}
    assert layout == {k: list(v.shape) for k, v in model.state_dict().items()}


def test_layer_without_rules_stops_static_shapes(write_spec, tmp_path):
    """Scale is declared with arguments only: without torch, shapes after it and the total
    are unknown; with torch, summary measures it on the meta device and marks the row."""
    path = spec_with(write_spec, '  Scale: "nnspec_demo.blocks:Scale"\n',
                     "    conv: Conv2d(8, 4, 3)\n    scale: Scale(0.5)\n    act: ReLU()\n")
    done = run("summary", path, "--json", "--allow-import", "nnspec_demo", tmp=tmp_path,
               block_torch=True)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)[0]
    rows = {row["path"]: row for row in data["layers"]}
    assert rows["conv"]["output"] == [1, 4, 4, 4] and rows["conv"]["params"] == 292
    assert rows["scale"]["params"] is None and rows["scale"]["output"] is None
    assert rows["act"]["output"] is None
    assert data["params"] is None and data["outputs"] == [None]
    measured = nnspec.summary(path, allow_import=ALLOW)
    rows = {row["path"]: row for row in measured["layers"]}
    assert (rows["scale"]["output"], rows["scale"]["params"], rows["scale"].get("measured")) \
        == ([1, 4, 4, 4], 1, True)
    assert rows["act"]["output"] == [1, 4, 4, 4] and measured["params"] == 293


def test_declared_checks_and_shape_rule_report_at_the_call(write_spec):
    path = spec_with(write_spec, '  SE: "nnspec_demo.blocks:SqueezeExcite"\n',
                     "    a: SE(8, reduction=0)\n    b: SE(4)\n")
    with pytest.raises(nnspec.SpecError) as err:
        nnspec.load(path, allow_import=ALLOW)
    [diag] = err.value.diagnostics
    assert (diag.code, diag.pos.line, diag.pos.col) == ("bad-value", 8, 24)  # at the 0
    assert diag.message == "SqueezeExcite(): reduction must be positive, got 0"
    path = spec_with(write_spec, '  SE: "nnspec_demo.blocks:SqueezeExcite"\n',
                     "    b: SE(4)\n")
    with pytest.raises(nnspec.SpecError) as err:
        nnspec.load(path, allow_import=ALLOW)
    [diag] = err.value.diagnostics
    assert diag.code == "shape-mismatch" and "expected 4 channels, got 8" in diag.message
    assert (diag.pos.line, diag.pos.col) == (8, 8)


# --- runtime build, generated code, hand-written model --------------------------------------


class ConvSE(nn.Module):
    def __init__(self, cin: int, cout: int, reduction: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU(inplace=True)
        self.se = SqueezeExcite(cout, reduction=reduction)

    def forward(self, x):
        return self.se(self.act(self.bn(self.conv(x))))


class SENet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(ConvSE(3, 16), ConvSE(16, 32, reduction=8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


def test_runtime_equals_generated_equals_hand_written(tmp_path):
    source = nnspec.generate(SE_NET, allow_import=ALLOW)
    (tmp_path / "se_net_gen.py").write_text(source, encoding="utf-8")
    generated = import_file(tmp_path / "se_net_gen.py", "se_net_gen").SENet
    models = []
    for make in (lambda: nnspec.build(SE_NET, allow_import=ALLOW), generated, SENet):
        torch.manual_seed(7)
        models.append(make().eval())
    x = torch.randn(2, 3, 16, 16)
    built, gen, hand = models
    assert type(built.features[0].se) is SqueezeExcite
    for other in (gen, hand):
        assert str(other) == str(built)
        state, expected = other.state_dict(), built.state_dict()
        assert list(state) == list(expected)
        assert all(torch.equal(state[k], expected[k]) for k in expected)
        with torch.no_grad():
            assert torch.equal(other(x), built(x))


def test_generated_file_imports_the_user_module_and_passes_ruff(tmp_path, write_spec):
    """A block that takes the class's own name makes the import an alias."""
    clash = write_spec("nnspec: 1\ninputs:\n  x: [8, 6, 6]\nlayers:\n"
                       '  SE: "nnspec_demo.blocks:SqueezeExcite"\n'
                       '  Scale: "nnspec_demo.blocks:Scale"\n'
                       "blocks:\n  SqueezeExcite:\n    params: {c: int}\n"
                       "    children: {se: SE(c), scale: Scale()}\n"
                       "model:\n  children:\n    a: SqueezeExcite(8)\n    b: SE(8, reduction=2)\n")
    texts = {"se_net": nnspec.generate(SE_NET, allow_import=ALLOW),
             "clash": nnspec.generate(clash, allow_import=ALLOW)}
    assert "\nimport torch\nfrom nnspec_demo.blocks import SqueezeExcite\nfrom torch import nn\n" \
        in texts["se_net"]
    assert "--allow-import nnspec_demo -o <this file>" in texts["se_net"]
    assert ("\nimport torch\nfrom nnspec_demo.blocks import Scale\n"
            "from nnspec_demo.blocks import SqueezeExcite as SqueezeExcite_2\n"
            "from torch import nn\n") in texts["clash"]
    assert "self.se = SqueezeExcite_2(c)" in texts["clash"]
    for name, text in texts.items():
        (tmp_path / f"{name}.py").write_text(text, encoding="utf-8")
    for args in (["check"], ["check", "--select", "E,F,W,I,UP,B", "--ignore", "E501"],
                 ["format", "--check", "--diff"]):
        result = ruff(*args, tmp_path)
        assert result.returncode == 0, result.stdout
    model = nnspec.build(clash, allow_import=ALLOW)
    assert type(model.a.se) is SqueezeExcite and model(torch.randn(1, 8, 6, 6)).shape == (
        1, 8, 6, 6)


# --- allowing imports -------------------------------------------------------------------------


@pytest.mark.parametrize("verb, allow", [
    ("validate", []), ("build", []), ("validate", ["--allow-import", "nnspec_dem"]),
    ("validate", ["--allow-import", "nnspec_demo.other"]),
], ids=["validate", "build", "prefix", "sibling"])
def test_not_allowed_is_a_positioned_error_and_imports_nothing(tmp_path, verb, allow):
    result = run(verb, str(SE_NET), *allow, tmp=tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"{SE_NET}:6:19: error[import-not-allowed]: layer 'SqueezeExcite' comes from " \
        "nnspec_demo.blocks" in result.stderr
    assert "hint: pass --allow-import nnspec_demo" in result.stderr
    assert imported(tmp_path) == set()


def test_allowing_is_by_package_name_not_by_prefix():
    assert allowed("pkg", ["pkg"]) and allowed("pkg.sub.mod", ["pkg"])
    assert allowed("pkg.sub.mod", ["pkg.sub"])
    assert not allowed("pkgx.mod", ["pkg"]) and not allowed("pkg", ["pkg.sub"])
    assert not allowed("pkg.mod", ["pk"]) and not allowed("pkg.mod", [])


def test_allowing_in_one_call_does_not_allow_the_next(write_spec):
    nnspec.load(SE_NET, allow_import=ALLOW)  # declarations imported by nnspec
    with pytest.raises(nnspec.SpecError) as err:
        nnspec.load(SE_NET)
    assert [d.code for d in err.value.diagnostics] == ["import-not-allowed"]


def test_build_imports_the_class_module_only_when_building(tmp_path):
    result = run("build", str(SE_NET), "--allow-import", "nnspec_demo", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(se): SqueezeExcite(" in result.stdout
    assert imported(tmp_path) == {"nnspec_demo", "nnspec_demo.nnspec_layers",
                                  "nnspec_demo.blocks"}


def test_layers_declared_by_the_users_code_need_no_allowing(tmp_path):
    code = ("import nnspec, nnspec_demo.nnspec_layers, sys; "
            f"m = nnspec.build({str(SE_NET)!r}); print(type(m.features[0].se).__module__)")
    result = run(tmp=tmp_path, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "nnspec_demo.blocks"


@pytest.mark.parametrize("layers, code, message, hint", [
    ('  X: "nnspec_demo.blocks:Transformer"\n', "unknown-layer",
     "layer 'X': nnspec_demo.blocks:Transformer is not declared (looked in "
     "nnspec_demo.nnspec_layers)", "nnspec_demo.blocks declares SqueezeExcite, Scale, Ghost"),
    ('  X: "nnspec_demo.blocks:SqueezeExcit"\n', "unknown-layer", "is not declared",
     "did you mean 'SqueezeExcite'?"),
    ('  X: "nnspec_broken.layers:X"\n', "import-failed",
     "importing nnspec_broken.nnspec_layers failed: RuntimeError: broken on purpose", None),
    ('  X: "nnspec_absent.layers:X"\n', "import-failed", "no module named 'nnspec_absent'",
     "is the package installed, or on PYTHONPATH?"),
    ('  X: "nnspec_demo.blocks.SqueezeExcite"\n', "bad-value",
     "an import path is 'package.module:Class'", None),
], ids=["unknown-class", "misspelt", "broken", "absent", "no-colon"])
def test_bad_layer_entries(write_spec, layers, code, message, hint):
    path = spec_with(write_spec, layers, "    x: X()\n")
    with pytest.raises(nnspec.SpecError) as err:
        nnspec.load(path, allow_import=["nnspec_demo", "nnspec_broken", "nnspec_absent"])
    [diag] = err.value.diagnostics  # the call of X is not reported again
    assert (diag.code, diag.pos.line, diag.pos.col) == (code, 5, 7)
    assert message in diag.message
    if hint:
        assert diag.hint == hint


def test_import_errors_are_diagnostics_without_traceback(tmp_path, write_spec):
    path = spec_with(write_spec, '  X: "nnspec_broken.layers:X"\n', "    x: X()\n")
    result = run("validate", path, "--allow-import", "nnspec_broken", tmp=tmp_path)
    assert result.returncode == 1
    assert "error[import-failed]" in result.stderr and "Traceback" not in result.stderr
    assert "note: at " in result.stderr and "nnspec_broken/nnspec_layers.py:1" in result.stderr


def test_declared_class_missing_from_its_module_fails_the_build(write_spec):
    path = spec_with(write_spec, '  Ghost: "nnspec_demo.blocks:Ghost"\n', "    g: Ghost()\n")
    nnspec.load(path, allow_import=ALLOW)  # the declaration is fine
    with pytest.raises(nnspec.SpecError) as err:
        nnspec.build(path, allow_import=ALLOW)
    [diag] = err.value.diagnostics
    assert (diag.code, diag.message) == ("import-failed", "nnspec_demo.blocks has no class Ghost")
    assert (diag.pos.line, diag.pos.col) == (5, 11)


@pytest.mark.parametrize("layers, message", [
    ('  Conv2d: "nnspec_demo.blocks:SqueezeExcite"\n',
     "user layer 'Conv2d' hides the torch layer of that name"),
    ('  Net: "nnspec_demo.blocks:SqueezeExcite"\n', "user layer 'Net' hides the model"),
    ('  forward: "nnspec_demo.blocks:SqueezeExcite"\n', "invalid layer name"),
])
def test_layer_names_must_not_hide_other_names(write_spec, layers, message):
    path = spec_with(write_spec, layers, "    r: ReLU()\n")
    with pytest.raises(nnspec.SpecError) as err:
        nnspec.load(path, allow_import=ALLOW)
    [diag] = err.value.diagnostics
    assert message in diag.message and (diag.pos.line, diag.pos.col) == (5, 3)


def test_block_names_must_not_hide_user_layers(write_spec):
    path = write_spec("nnspec: 1\ninputs:\n  x: [8, 6, 6]\nlayers:\n"
                      '  Unit: "nnspec_demo.blocks:SqueezeExcite"\n'
                      "blocks:\n  Unit:\n    children: {r: ReLU()}\n"
                      "model:\n  children:\n    u: Unit()\n")
    with pytest.raises(nnspec.SpecError) as err:
        nnspec.load(path, allow_import=ALLOW)
    [diag] = err.value.diagnostics
    assert diag.message == "user layer 'Unit' hides block 'Unit' of that name"


def test_declare_layer_refuses_malformed_declarations():
    with pytest.raises(ValueError, match="package.module:Class"):
        nnspec.declare_layer("nnspec_demo.blocks.SqueezeExcite")
    with pytest.raises(ValueError, match="unknown kind 'integer'"):
        nnspec.declare_layer("nnspec_demo.blocks:X", [nnspec.Arg("c", "integer")])
    with pytest.raises(ValueError, match="duplicate"):
        nnspec.declare_layer("nnspec_demo.blocks:X", [nnspec.Arg("c", "int")] * 2)


# --- pickling ---------------------------------------------------------------------------------


LOADER = """
import pickle, sys, torch
x, expected = torch.load(sys.argv[2])
model = pickle.load(open(sys.argv[1], "rb"))
with torch.no_grad():
    assert torch.equal(model(x), expected), "outputs differ"
print(type(model).__name__, type(model.features[1].se).__module__)
"""


def test_pickle_round_trip_in_a_fresh_process(tmp_path, se_net):
    """The pickle carries the allowed packages: a fresh interpreter that never declared the
    layer rebuilds the classes, importing the declarations and the class module."""
    _, model = se_net
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected = model(x)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    torch.save((x, expected), tmp_path / "io.pt")
    result = run(tmp=tmp_path, code=LOADER.replace("sys.argv[1]", repr(str(tmp_path / "model.pkl")))
                 .replace("sys.argv[2]", repr(str(tmp_path / "io.pt"))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["SENet", "nnspec_demo.blocks"]
    assert imported(tmp_path) == {"nnspec_demo", "nnspec_demo.nnspec_layers",
                                  "nnspec_demo.blocks"}


def test_the_documented_example_is_valid(write_spec):
    """docs/spec.md's *User layers* spec, with the docs' mypkg standing for nnspec_demo."""
    docs = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    section = docs[docs.index("## User layers"):]
    yaml_text = section[section.index("```yaml\n") + 8:section.index("```\n", 8)]
    path = write_spec(yaml_text.replace("mypkg.blocks", "nnspec_demo.blocks"))
    spec = nnspec.load(path, allow_import=ALLOW)
    assert spec.analysis.modules["features.1.se"].params == 2 * 32 * 8 + 8 + 32


def test_init_rules_pick_user_layers_by_their_spec_name(tmp_path, write_spec):
    """`type: SqueezeExcite` is an isinstance test on the imported class; `child` reaches into
    the user's own module (not declared, so checked only when building)."""
    text = SE_NET.read_text(encoding="utf-8").replace(
        "  forward:\n    - x = features(x)",
        "  init:\n    - {type: SqueezeExcite, child: fc2, weight: zeros, bias: ones}\n"
        "  forward:\n    - x = features(x)")
    spec = write_spec(text, "se_init.yaml")
    source = nnspec.generate(spec, allow_import=ALLOW)
    assert "            if isinstance(m, SqueezeExcite):\n" in source
    (tmp_path / "se_init_gen.py").write_text(source, encoding="utf-8")
    generated = import_file(tmp_path / "se_init_gen.py", "se_init_gen").SENet()
    for model in (nnspec.build(spec, allow_import=ALLOW), generated):
        ses = [m for m in model.modules() if isinstance(m, SqueezeExcite)]
        assert len(ses) == 2
        assert all(se.fc2.weight.eq(0).all() and se.fc2.bias.eq(1).all() for se in ses)
        assert not ses[0].fc1.weight.eq(0).all()


def test_init_rule_child_missing_from_a_user_layer_is_a_build_error(write_spec):
    text = SE_NET.read_text(encoding="utf-8").replace(
        "  forward:\n    - x = features(x)",
        "  init:\n    - {type: SqueezeExcite, child: fc9, weight: zeros}\n"
        "  forward:\n    - x = features(x)")
    spec = write_spec(text, "se_bad.yaml")
    nnspec.load(spec, allow_import=ALLOW)  # statically fine: the class's children are unknown
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.build(spec, allow_import=ALLOW)
    [d] = info.value.diagnostics
    assert (d.code, d.pos.line, d.pos.col) == ("build-failed", 24, 36)
    assert d.message == ("building the model fails: AttributeError: 'SqueezeExcite' object "
                         "has no attribute 'fc9'")
