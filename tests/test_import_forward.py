"""Forward recovery on the shapes real code has: dict, dataclass and namedtuple outputs, loops
over a ModuleList, ModuleDict items, Sequential and ModuleDict subclasses with their own
forward, checks (`torch._assert`), and the spec language that expresses them. Each import is
checked here as well as by the importer: same print, strict state_dict load, equal outputs."""

from __future__ import annotations

import collections
import dataclasses

import pytest
import torch
from reference.untraceable import Cumulative
from test_import_tree import ROOT, build_text
from torch import nn

import nnspec
from nnspec.cli.main import main
from nnspec.importers.export_trace import export_steps
from nnspec.importers.live import import_model
from nnspec.importers.loops import fold_loops
from nnspec.importers.trace import Untraceable

Pair = collections.namedtuple("Pair", ["logits", "aux"])


@dataclasses.dataclass
class Output:
    logits: torch.Tensor
    aux: torch.Tensor


class TwoHeads(nn.Module):
    def __init__(self, returns: str = "dict"):
        super().__init__()
        self.body, self.head, self.aux = nn.Linear(8, 8), nn.Linear(8, 4), nn.Linear(8, 2)
        self.returns = returns

    def forward(self, x):
        f = torch.relu(self.body(x))
        out, aux = self.head(f), self.aux(f)
        if self.returns == "dict":
            return {"out": out, "aux": aux}
        if self.returns == "namedtuple":
            return Pair(out, aux)
        return Output(out, aux)


class Block(nn.Module):
    def __init__(self, d: int = 8):
        super().__init__()
        self.norm, self.fc = nn.LayerNorm(d), nn.Linear(d, d)

    def forward(self, x):
        return x + self.fc(self.norm(x))


class Stack(nn.Module):
    def __init__(self, n: int = 6):
        super().__init__()
        self.blocks = nn.ModuleList([Block() for _ in range(n)])
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
            x = torch.relu(x)
        return self.head(x)


class Keyed(nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleDict({"cls": nn.Linear(8, 3), "box": nn.Linear(8, 4)})

    def forward(self, x):
        return self.heads["cls"](x), self.heads["box"](x)


class Residual(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Linear(8, 8), nn.ReLU())

    def forward(self, x):
        y = x
        for m in self:
            x = m(x)
        return x + y


class Getter(nn.ModuleDict):
    """torchvision's IntermediateLayerGetter: runs its items, returns some by name."""

    def __init__(self):
        super().__init__({"a": nn.Linear(8, 8), "b": nn.ReLU(), "c": nn.Linear(8, 2)})

    def forward(self, x):
        out = {}
        for name, m in self.items():
            x = m(x)
            if name in ("a", "c"):
                out[name] = x
        return out


class Segmenter(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool, self.backbone = Residual(), Getter()

    def forward(self, x):
        features = self.backbone(self.pool(x))
        torch._assert(x.shape[-1] == 8, "eight features")  # a check, not a computation
        return {"out": features["c"], "low": features["a"]}


def same(a, b) -> bool:
    if dataclasses.is_dataclass(a):
        a = dataclasses.asdict(a)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return torch.equal(a, b)


def round_trip(model: nn.Module, tmp_path) -> str:
    torch.manual_seed(0)
    result = import_model(model, type(model).__name__, {"x": [8]})
    assert result.warnings == []
    rebuilt = build_text(result.text, tmp_path)
    assert str(rebuilt) == str(model)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    model.eval()
    x = torch.randn(2, 8)
    with torch.no_grad():
        assert same(model(x), rebuilt(x))
    return result.text


def forward_of(text: str, name: str) -> list[str]:
    """The forward steps of one class of an imported spec, as written."""
    lines = text.split(f"  name: {name}\n" if "model:\n  name: " + name in text
                       else f"  {name}:\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "forward:")
    steps = []
    for line in lines[start + 1:]:
        if not line.strip().startswith("- "):
            break
        steps.append(line.strip()[2:])
    return steps


def test_a_returned_dict_is_a_returned_mapping(tmp_path):
    text = round_trip(TwoHeads("dict"), tmp_path)
    assert forward_of(text, "TwoHeads")[-1] == "\"return {'out': out, 'aux': x}\""


def test_a_dataclass_output_is_a_mapping_of_its_fields(tmp_path):
    text = round_trip(TwoHeads("dataclass"), tmp_path)
    assert forward_of(text, "TwoHeads")[-1] == "\"return {'logits': out, 'aux': x}\""


def test_a_namedtuple_output_is_a_tuple(tmp_path):
    text = round_trip(TwoHeads("namedtuple"), tmp_path)
    assert forward_of(text, "TwoHeads")[-1] == "return (out, x)"


def test_a_loop_over_a_module_list_is_one_for_step(tmp_path):
    text = round_trip(Stack(6), tmp_path)
    assert forward_of(text, "Stack") == [
        '"for layer in blocks: x = layer(x); x = torch.relu(x)"', "x = head(x)", "return x"]


def test_module_dict_items_are_called_by_key(tmp_path):
    text = round_trip(Keyed(), tmp_path)
    assert forward_of(text, "Keyed") == [
        "out = heads['cls'](x)", "x = heads['box'](x)", "return (out, x)"]


def test_sequential_and_module_dict_subclasses_keep_their_forward(tmp_path):
    text = round_trip(Segmenter(), tmp_path)
    assert forward_of(text, "Residual") == [
        "out = self[0](x)", "out = self[1](out)", "return out + x"]
    assert "base: Sequential" in text
    assert forward_of(text, "Getter")[-1] == "\"return {'a': x, 'c': out}\""
    assert "_assert" not in text and "== 8" not in text
    assert forward_of(text, "Segmenter")[-1] == "\"return {'out': x['c'], 'low': x['a']}\""


LANGUAGE = """\
nnspec: 1
inputs:
  x: [8]
blocks:
  Layers:
    base: ModuleList
    children: ["Linear(8, 8)", "Linear(8, 8)", "Linear(8, 16)"]
  Named:
    children: {out: "Linear(16, 4)", aux: "Linear(16, 2)"}
  Pool:
    base: Sequential
    children: ["Linear(16, 16)", ReLU()]
    forward:
      - y = self[0](x)
      - "for m in self: x = m(x)"
      - return x + y
model:
  name: Net
  children: {layers: Layers(), named: Named(), pool: Pool()}
  forward:
    - x = layers[-1](layers[0](x))
    - |
      for layer in layers:
          x = layer(x) if False else x
    - x = pool(x)
    - "for head in named: y = head(x)"
    - 'return {"out": named["out"](x), "aux": named["aux"](x), "last": y}'
"""


def test_the_language_loops_over_containers_and_returns_mappings(tmp_path):
    path = tmp_path / "lang.yaml"
    path.write_text(LANGUAGE, encoding="utf-8")
    summary = nnspec.summary(path)
    assert summary["outputs"] == [[1, 4], [1, 2], [1, 2]]
    model = nnspec.build(path).eval()
    x = torch.randn(2, 8)
    out = model(x)
    assert list(out) == ["out", "aux", "last"]
    h = model.layers[2](model.layers[0](x))
    h = model.pool[1](model.pool[0](h)) + model.pool[0](h)
    assert torch.equal(out["out"], model.named.out(h))
    assert torch.equal(out["last"], model.named.aux(h))


@pytest.mark.parametrize("step, message", [
    ("'for m in x: y = m(x)'", "a loop runs over a child"),
    ("'for layers in layers: x = layers(x)'", "already a name here"),
    ("'for m in layers: return m(x)'", "a loop's body is assignments"),
    ("'x = layers[i](x)'", "picked by an int or a string"),
    ("'return {1: x}'", "keys are strings"),
    ("'return {\"a\": x, \"a\": x}'", "returned twice"),
])
def test_loops_items_and_mappings_are_checked(step, message, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(LANGUAGE.replace("    - x = pool(x)\n", f"    - {step}\n    - x = pool(x)\n"),
                    encoding="utf-8")
    with pytest.raises(nnspec.SpecError, match=message):
        nnspec.summary(path)


def test_an_item_that_is_not_there_is_a_static_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(LANGUAGE.replace("layers[-1]", "layers[7]"), encoding="utf-8")
    with pytest.raises(nnspec.SpecError, match=r"'layers\[7\]': Layers has no item 7"):
        nnspec.summary(path)


class Pairwise(nn.Module):
    """fx cannot trace it (it branches on a size); torch.export can (it also unpacks an input
    tuple, and takes **kwargs it does not read)."""

    def __init__(self):
        super().__init__()
        self.fc, self.fc2 = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x, pair, mask=None, **kwargs):
        if x.shape[-1] != 8:
            raise ValueError("takes 8 features")
        a, b = pair
        h = self.fc(x).view(x.shape[0], -1, 4).transpose(1, 2)
        h = h.transpose(1, 2).reshape(x.shape[0], 8)
        return self.fc2(h * a + b)[:, 1:5]


class CallsPairwise(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Pairwise()

    def forward(self, x):
        return self.inner(x, (x, x * 2))


def test_torch_export_traces_what_fx_cannot(tmp_path):
    text = round_trip(CallsPairwise(), tmp_path)
    assert "#   torch.export where fx cannot: Pairwise.\n" in text
    assert forward_of(text, "Pairwise") == [
        "out = pair[1]", "out2 = out.size(0)", "out3 = pair[0]", "x = fc(x)",
        "x = fc2(x.view([out2, -1, 4]).transpose(1, 2).transpose(1, 2).reshape([out2, 8]) * "
        "out3 + out)", "return x[:, 1:5]"]
    rebuilt = build_text(text, tmp_path)
    rebuilt.load_state_dict(CallsPairwise().state_dict())  # another batch size works too
    assert rebuilt(torch.randn(5, 8)).shape == (5, 4)


def test_what_neither_tracer_can_write_is_reported_with_both_reasons():
    result = import_model(Cumulative(), "cumulative", {"x": [8]})
    assert result.warnings == [
        "Cumulative: forward calls torch.logcumsumexp, which is not among nnspec's ops; "
        "torch.export traced it, but aten.logcumsumexp has no spelling among nnspec's ops"]
    assert "forward: unknown" in result.text


def test_the_cli_warns_with_a_code_for_each_untraceable_class(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["import", "module", "tests.reference.untraceable:Cumulative", "--input",
                 "x=8"]) == 0
    assert capsys.readouterr().err.startswith(
        "<tests.reference.untraceable:Cumulative>:1:1: warning[forward-untraceable]: forward "
        "unknown in Cumulative: forward calls torch.logcumsumexp, which is not among "
        "nnspec's ops; torch.export traced it, but aten.logcumsumexp has no spelling among "
        "nnspec's ops\n"
        "  hint: write its forward in the spec\n")


class Cached(nn.Module):
    """A Hugging Face style signature: optional mask, a cache unless told otherwise."""

    def __init__(self):
        super().__init__()
        self.embed, self.fc = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x, attention_mask=None, use_cache=True, output_attentions=False):
        h = self.embed(x)
        if attention_mask is not None:
            h = h * attention_mask
        out = self.fc(h)
        return (out, h) if use_cache else out


def test_the_picked_inputs_are_traced_with_defaults_and_no_cache(tmp_path):
    model = Cached()
    result = import_model(model, "cached", {"x": [8]})
    assert result.warnings == []
    assert forward_of(result.text, "Cached") == ["x = embed(x)", "x = fc(x)", "return x"]
    rebuilt = build_text(result.text, tmp_path)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(3, 8)
    assert torch.equal(rebuilt(x), model(x, use_cache=False))


class NamedItems(nn.Module):
    """An OrderedDict Sequential called item by item."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(collections.OrderedDict(
            [("fc0", nn.Linear(8, 8)), ("act", nn.ReLU()), ("fc1", nn.Linear(8, 4))]))

    def forward(self, x):
        return self.features.fc1(self.features.act(self.features[0](x)))


class FirstAndLast(NamedItems):
    def forward(self, x):
        return self.features.fc1(self.features[0](x))


def test_named_sequential_items_are_called_by_name(tmp_path):
    text = round_trip(NamedItems(), tmp_path)
    assert fold_loops(["x = a[0](x)"], {"a": []}) == ["x = a[0](x)"]  # an empty container
    assert forward_of(text, "NamedItems") == ['"for layer in features: x = layer(x)"',
                                              "return x"]  # each item in turn: a loop
    text = round_trip(FirstAndLast(), tmp_path)
    assert forward_of(text, "FirstAndLast") == [
        "x = features['fc0'](x)", "x = features['fc1'](x)", "return x"]


class InPlace(nn.Module):
    """timm's DlaBasic: a default argument stops fx; export shows `out += x` as aten.add_,
    and one in-place ReLU child called twice."""

    def __init__(self):
        super().__init__()
        self.fc, self.relu, self.fc2 = nn.Linear(8, 8), nn.ReLU(inplace=True), nn.Linear(8, 8)

    def forward(self, x, shortcut=None):
        out = self.fc2(self.relu(self.fc(x)))
        out += x
        return self.relu(out)


def test_in_place_updates_and_children_called_twice_from_torch_export(tmp_path):
    text = round_trip(InPlace(), tmp_path)
    assert forward_of(text, "InPlace") == [
        "out = fc(x)", "out = relu(out)", "out = fc2(out)", "out = relu(out + x)", "return out"]


class SizeBranch(nn.Module):
    """fx stops at a branch on a size; export takes the branch the example takes."""

    def __init__(self, on_batch: bool):
        super().__init__()
        self.fc, self.on_batch = nn.Linear(4, 4), on_batch

    def forward(self, x):
        if self.on_batch and x.shape[0] == 2:
            x = x * 2
        if x.shape[2] % 2:
            x = x[:, :, :-1]
        return self.fc(x.reshape(x.shape[0], x.shape[1], x.shape[2] // 2, x.shape[3] * 2))


def test_sizes_stay_sizes_and_a_fixed_batch_is_refused():
    x = torch.randn(2, 3, 4, 2)
    assert export_steps(SizeBranch(False), (x,), {}) == (["x"], [
        "x = fc(x.reshape([x.size(0), x.size(1), x.size(2) // 2, x.size(3) * 2]))",
        "return x"])
    with pytest.raises(Untraceable, match="fixed the batch size of 'x' to 2"):
        export_steps(SizeBranch(True), (x,), {})


class Scaled(nn.Module):
    """ConvNeXt's layer_scale, ViT's class_token: a forward that reads the class's own
    parameter and buffer."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.gamma = nn.Parameter(torch.full((8,), 0.5))
        self.register_buffer("scale", torch.ones(8))

    def forward(self, x):
        return x + self.gamma * self.fc(x) * self.scale


class WithToken(nn.Module):
    def __init__(self):
        super().__init__()
        self.token = nn.Parameter(torch.randn(1, 8))
        self.blocks = nn.Sequential(Scaled(), Scaled())

    def forward(self, x):
        return self.blocks(x + self.token)


def test_a_forward_reading_the_class_own_tensors_is_recovered(tmp_path):
    text = round_trip(WithToken(), tmp_path)
    assert forward_of(text, "Scaled") == ["out = fc(x)", "return x + gamma * out * scale"]
    assert forward_of(text, "WithToken") == ["x = blocks(x + token)", "return x"]


class Variant(nn.Module):
    """Three forwards in one class: one block, its variants under conditions."""

    def __init__(self, mode: int):
        super().__init__()
        self.mode = mode
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        x = self.fc(x)
        if self.mode == 1:
            x = torch.relu(x)
        elif self.mode == 2:
            x = torch.sigmoid(x)
        return x


def test_three_forwards_of_one_class_merge_into_a_spec_that_checks(tmp_path):
    text = round_trip(nn.Sequential(Variant(0), Variant(1), Variant(2)), tmp_path)
    assert "then" in text and "- if:" in text
