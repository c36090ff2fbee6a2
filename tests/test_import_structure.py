"""`nnspec import module` on what real models hold: tensors any class owns, shared submodules,
different classes at one child, nested ModuleLists, unusual child names, library classes named
like torch layers. Each construct is reproduced by a small model here (as torchvision, timm and
Hugging Face models hold it) and checked by rebuilding: same print, strict state_dict load,
the same values where the state_dict does not carry them."""

from __future__ import annotations

import pytest
import torch
from test_import_tree import build_text
from torch import nn

import nnspec
from nnspec.diagnostics import SpecError
from nnspec.importers.live import import_model
from nnspec.importers.printed import import_tree


def rebuilt_from(model: nn.Module, tmp_path, inputs=None) -> tuple[str, nn.Module]:
    """The imported spec and its model, checked against `model`: same print, strict load."""
    text = import_model(model, "model", inputs).text
    rebuilt = build_text(text, tmp_path)
    assert str(rebuilt) == str(model)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    assert [k for k in rebuilt.state_dict()] == [k for k in model.state_dict()]
    return text, rebuilt


def import_tree_text(tree: str) -> str:
    return import_tree(tree, "tree.txt", inputs={"x": [4]}).text


def refusal(model: nn.Module, inputs=None) -> str:
    with pytest.raises(SpecError) as info:
        import_model(model, "model", inputs)
    return "\n".join(f"[{d.code}] {d.message}" for d in info.value.diagnostics)


# --- tensors a class holds itself ---------------------------------------------------------------


class Embed(nn.Module):
    """ViT's class token and position embedding, BERT's position ids (persistent, int64), a
    GPT-style causal mask and rotary-style constants (non-persistent, recreated by an init)."""

    def __init__(self, width: int = 8, length: int = 5):
        super().__init__()
        self.class_token = nn.Parameter(torch.randn(1, 1, width))
        self.register_buffer("position_ids", torch.arange(length).expand((1, -1)).clone())
        self.register_buffer("mask", torch.tril(torch.ones(length, length)), persistent=False)
        self.register_buffer("scale", torch.full((width,), 0.125), persistent=False)
        self.register_buffer("offset", torch.zeros(width), persistent=False)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        return self.proj(x)


class T5LayerNorm(nn.Module):
    """T5LayerNorm: a class whose only state is its own `weight` (ones)."""

    def __init__(self, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return x * self.weight


class Scaled(nn.Module):
    """ConvNeXt's layer_scale, different sizes in different instances."""

    def __init__(self, width: int):
        super().__init__()
        self.layer_scale = nn.Parameter(torch.rand(width, 1, 1))
        self.conv = nn.Conv2d(width, width, 1)

    def forward(self, x):
        return self.conv(x)


class Holds(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = Embed()
        self.norm = T5LayerNorm(8)
        self.stages = nn.Sequential(Scaled(4), Scaled(6))
        self.pos_embedding = nn.Parameter(torch.randn(1, 5, 8))

    def forward(self, x):
        return self.norm(self.embed(x)) + self.pos_embedding


def test_parameters_and_buffers_of_any_class_round_trip(tmp_path):
    torch.manual_seed(0)
    model = Holds()
    text, rebuilt = rebuilt_from(model, tmp_path, {"x": [5, 8]})
    assert "      class_token: {shape: [1, 1, 8], init: zeros}\n" in text
    assert "position_ids: {shape: [1, 5], dtype: int64, init: zeros}" in text
    assert "mask: {shape: [5, 5], init: tril, persistent: false}" in text
    assert "scale: {shape: [8], init: {constant: {val: 0.125}}, persistent: false}" in text
    assert "weight: {shape: [8], init: ones}" in text  # T5LayerNorm's: its init is recovered
    # the non-persistent buffers are not in the state_dict: the spec recreates them
    for name in ("mask", "scale", "offset"):
        assert torch.equal(getattr(rebuilt.embed, name), getattr(model.embed, name))
        assert f"embed.{name}" not in rebuilt.state_dict()
    assert sum(p.numel() for p in rebuilt.parameters()) == \
        sum(p.numel() for p in model.parameters())
    assert rebuilt.stages[0].layer_scale.shape == (4, 1, 1)
    assert rebuilt.stages[1].layer_scale.shape == (6, 1, 1)


class Shuffled(nn.Module):
    """An index table: non-persistent, values no spec init or computed buffer recreates."""

    def __init__(self):
        super().__init__()
        self.register_buffer("order", torch.tensor([3, 1, 2, 0]), persistent=False)
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        return self.proj(x)


def test_a_non_persistent_buffer_no_init_recreates_is_refused_by_name():
    # the model's own class (a library's is a layer reference: test_import_construct.py)
    message = refusal(Shuffled(), {"x": [8]})
    assert "'Shuffled.order' is a non-persistent buffer" in message
    assert "[4]" in message


def test_a_parameter_that_does_not_train_is_refused():
    model = T5LayerNorm(4)
    model.weight.requires_grad_(False)
    assert "requires_grad=False" in refusal(nn.Sequential(model), {"x": [4]})


# --- a library class named like a torch layer ---------------------------------------------------


class GELU(nn.Module):
    """timm's own GELU: a class of a library, named as torch's layer is."""

    def forward(self, x):
        return nn.functional.gelu(x)


def test_a_class_named_like_a_torch_layer_is_not_taken_for_it(tmp_path):
    """It is told apart by its identity and expanded as a block under a name that is not
    torch's, which prints as the class does (the import checks print and outputs)."""
    model = nn.Sequential(nn.Linear(4, 4), GELU())
    text = import_model(model, "model", {"x": [4]}).text
    assert "  Test_import_structureGELU:\n    print_name: GELU\n" in text
    assert "    - Test_import_structureGELU()\n" in text and "layers:" not in text
    assert str(build_text(text, tmp_path)) == str(model)


class Tree(nn.Module):
    """timm's DlaTree: a tree of `levels` holds two trees of `levels - 1`, the last level two
    blocks, each with a root that joins its branches."""

    def __init__(self, levels: int, dim: int):
        super().__init__()
        make = (lambda: Tree(levels - 1, dim)) if levels > 1 else (lambda: nn.Linear(dim, dim))
        self.tree1, self.tree2 = make(), make()
        self.root = nn.Linear(2 * dim, dim)

    def forward(self, x):
        a = self.tree1(x)
        return self.root(torch.cat([a, self.tree2(a)], -1))


class Transformer(nn.Module):
    """DistilBERT's: a class with children, named like torch's nn.Transformer."""

    def __init__(self):
        super().__init__()
        self.layer = nn.ModuleList([Tree(1, 4), Tree(3, 4)])

    def forward(self, x):
        for layer in self.layer:
            x = layer(x)
        return x


def test_a_class_holding_itself_and_one_named_like_a_torch_layer_are_blocks(tmp_path):
    """One block per nesting height, each printing as `Tree`; `Transformer` is a block under
    another name that prints as it. Same print, strict load, identical outputs."""
    model = nn.Sequential(Transformer()).eval()
    text, rebuilt = rebuilt_from(model, tmp_path, {"x": [4]})
    for name in ("Tree_2", "Tree_3", "Test_import_structureTransformer"):
        printed = "Transformer" if "Transformer" in name else "Tree"
        assert f"  {name}:\n    print_name: {printed}\n" in text
    assert "  Tree:\n    children:\n" in text and "layers:" not in text
    x = torch.randn(2, 4)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model(x))


# --- shared submodules and parameters -----------------------------------------------------------


class Stack(nn.Module):
    def __init__(self, embed: nn.Linear):
        super().__init__()
        self.embed_tokens = embed
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(self.embed_tokens(x))


class EncoderDecoder(nn.Module):
    """T5's layout: one embedding registered at the root and in both stacks; an LM head whose
    weight is the embedding's (GPT-2's `lm_head.weight = wte.weight`)."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(8, 8)
        self.encoder = Stack(self.shared)
        self.decoder = Stack(self.shared)
        self.lm_head = nn.Linear(8, 8, bias=False)
        self.lm_head.weight = self.shared.weight

    def forward(self, x):
        return self.lm_head(self.decoder(x) + self.encoder(x))


def test_a_module_registered_twice_is_one_module_and_a_shared_parameter_a_tie(tmp_path):
    model = EncoderDecoder()
    text, rebuilt = rebuilt_from(model, tmp_path, {"x": [8]})
    assert "  tie:  # registered in both places: one module or parameter\n" \
        "    encoder.embed_tokens: shared\n    decoder.embed_tokens: shared\n" \
        "    lm_head.weight: shared.weight\n" in text
    assert rebuilt.encoder.embed_tokens is rebuilt.shared
    assert rebuilt.decoder.embed_tokens is rebuilt.shared
    assert rebuilt.lm_head.weight is rebuilt.shared.weight
    count = sum(p.numel() for p in model.parameters())
    assert count == 3 * (8 * 8 + 8)
    assert sum(p.numel() for p in rebuilt.parameters()) == count
    assert nnspec.summary(tmp_path / "imported.yaml")["params"] == count


# --- an unknown forward feeding a known one -----------------------------------------------------


class Branchy(nn.Module):
    """A forward torch.fx cannot trace (control flow on a value)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(x) if x.sum() > 0 else x


class Mixer(nn.Module):
    """timm's Mixer: a known forward whose input comes from a class with an unknown one."""

    def __init__(self):
        super().__init__()
        self.stem = Branchy()
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.norm(self.stem(x)).mean(1))


def test_an_unknown_forward_feeding_a_known_one_gives_a_spec_that_checks(tmp_path):
    text, rebuilt = rebuilt_from(Mixer(), tmp_path, {"x": [4, 8]})
    assert "  Branchy:\n" in text and "    forward: unknown\n" in text
    assert "    - x = norm(x)\n    - x = head(x.mean(1))\n" in text
    summary = nnspec.summary(tmp_path / "imported.yaml")
    assert summary["params"] == sum(p.numel() for p in Mixer().parameters())


# --- child names: `-`, `self` -------------------------------------------------------------------


class AnyStage(nn.Sequential):
    """torchvision's RegNet stage: a Sequential whose children are named `block1-0`, ..."""

    def __init__(self, width: int, depth: int, index: int):
        super().__init__()
        for i in range(depth):
            self.add_module(f"block{index}-{i}", nn.Linear(width, width))


class SelfOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(8, 8)

    def forward(self, x):
        return self.dense(x)


class Attention(nn.Module):
    """Hugging Face's BertAttention: a child named `self`."""

    def __init__(self):
        super().__init__()
        self.self = SelfOutput()
        self.output = nn.Linear(8, 8)

    def forward(self, x):
        return self.output(self.self(x))


class Dashed(nn.Module):
    """A Module (not a Sequential) with a child named with `-`: reached by get_submodule."""

    def __init__(self):
        super().__init__()
        self.add_module("conv-1", nn.Linear(8, 8))

    def forward(self, x):
        return self.get_submodule("conv-1")(x)


class Named(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(AnyStage(8, 2, 1), AnyStage(8, 3, 2))
        self.attention = Attention()
        self.dashed = Dashed()

    def forward(self, x):
        return self.attention(self.trunk(x)) + self.dashed(x)


def test_children_named_with_a_dash_or_self_round_trip(tmp_path):
    model = Named()
    text, rebuilt = rebuilt_from(model, tmp_path, {"x": [8]})
    assert "(block2-1): Linear(in_features=8, out_features=8, bias=True)" in str(rebuilt)
    assert "  AnyStage:\n    base: Sequential\n" in text  # runs its children in order
    assert isinstance(rebuilt.attention.self, SelfOutput.__base__) and \
        type(rebuilt.attention.self).__name__ == "SelfOutput"
    assert "    - x = self(x)\n" in text  # the child `self`, called in a forward step
    assert "Dashed: a forward step cannot call its child 'conv-1' by name" in text
    code = nnspec.generate(tmp_path / "imported.yaml")
    compile(code, "generated.py", "exec")  # valid Python
    assert 'self.add_module("conv-1", nn.Linear(8, 8))' in code
    assert 'layers["block1-0"] = nn.Linear(8, 8)' in code or '"block1-0"' in code
    x = torch.randn(2, 8)
    with torch.no_grad():  # the rebuilt forward runs up to the class whose forward is unknown
        assert torch.equal(rebuilt.attention(rebuilt.trunk(x)), model.attention(model.trunk(x)))


def test_a_printed_child_named_with_a_dash_is_a_child_not_the_parent_s_arguments(tmp_path):
    tree = str(nn.Sequential(AnyStage(4, 2, 1)))
    result = import_tree_text(tree)
    assert "(block1-1)" in str(build_text(result, tmp_path))


# --- different classes at one child -------------------------------------------------------------


class Subsample(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        return self.proj(x)


class Stage(nn.Module):
    """LeViT's stage: `downsample` is Identity in the first stage and a block in the others."""

    def __init__(self, width: int, first: bool, pool: bool = False):
        super().__init__()
        self.downsample = nn.Identity() if first else Subsample(width)
        self.pool = nn.Sequential(nn.Linear(width, width), nn.ReLU()) if pool else \
            nn.Linear(width, width)
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return self.fc(self.pool(self.downsample(x)))


class LeViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.stages = nn.Sequential(Stage(8, True), Stage(8, False, pool=True),
                                    Stage(8, False))

    def forward(self, x):
        return self.stages(x)


def test_different_classes_at_one_child_become_if_else(tmp_path):
    torch.manual_seed(0)
    model = LeViT().eval()
    text, rebuilt = rebuilt_from(model, tmp_path, {"x": [8]})
    assert "      downsample: {if: \"downsample_is_subsample\", call: \"Subsample()\", else: " \
        "{call: \"Identity()\"}}\n" in text
    assert "      pool: {if: \"pool_is_linear\", call: \"Linear(8, 8)\", else: {seq: " \
        "[\"Linear(8, 8)\", \"ReLU()\"]}}\n" in text
    x = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model(x))


# --- one parameter for values of different types -------------------------------------------------


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)

    def forward(self, x):
        return self.conv(x)


class InceptionC(nn.Module):
    """Inception v3: BasicConv2d with kernel_size 3 in one place, (1, 7) and (7, 1) in others."""

    def __init__(self):
        super().__init__()
        self.a = BasicConv2d(3, 4, kernel_size=3, padding=1)
        self.b = BasicConv2d(4, 4, kernel_size=(1, 7), padding=(0, 3))
        self.c = BasicConv2d(4, 4, kernel_size=(7, 1), padding=(3, 0))

    def forward(self, x):
        return self.c(self.b(self.a(x)))


def test_an_int_and_a_tuple_for_one_argument_fold_into_one_list_parameter(tmp_path):
    model = InceptionC().eval()
    text, rebuilt = rebuilt_from(model, tmp_path, {"x": [3, 9, 9]})
    assert "    params: {kernel_size: \"list[int]\", padding: \"list[int]\", in_channels: 4}\n" \
        in text
    assert "    a: BasicConv2d([3, 3], [1, 1], in_channels=3)\n" in text
    x = torch.randn(1, 3, 9, 9)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model(x))


class Up(nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.up = nn.Upsample(scale_factor=scale)

    def forward(self, x):
        return self.up(x)


def test_values_no_one_parameter_type_takes_are_refused_not_folded_wrongly():
    model = nn.Sequential(Up(2.0), Up((2.0, 1.0)))
    message = refusal(model, {"x": [3, 8, 8]})
    assert "instances of 'Up' give 'scale_factor' values of different types (2.0 and " \
        "[2.0, 1.0]); no one block parameter takes them all" in message


# --- what an importer writes passes nnspec's own checks, or is not written ---------------------


def broken(render):
    """The emitter with a slip: every spec it writes calls its first Linear with an argument
    Linear does not take."""
    def wrapped(*args, **kwargs):
        return render(*args, **kwargs).replace("Linear(", "Linear(2, 3, 4, 5, ", 1)
    return wrapped


def test_a_spec_that_fails_its_own_checks_is_a_defect_never_output(monkeypatch, tmp_path,
                                                                   capsys):
    from nnspec.cli.main import main
    from nnspec.importers import live, printed
    from nnspec.importers.draft import ImportDefect

    monkeypatch.setattr(live, "render", broken(live.render))
    monkeypatch.setattr(printed, "render", broken(printed.render))
    with pytest.raises(ImportDefect, match="too-many-arguments"):
        import_model(Mixer(), "model", {"x": [4, 8]})
    out = tmp_path / "spec.yaml"
    code = main(["import", "module", "test_import_structure:Mixer", "--input", "x=4,8", "-o",
                 str(out)])
    assert code == 3 and not out.exists()  # nnspec's own bug: exit 3, nothing written
    assert "internal error" in capsys.readouterr().err
    # a tree file may hold values torch refuses: the same check reports them as the file's
    tree = "Net(\n  (a): Linear(in_features=4, out_features=8, bias=True)\n" \
        "  (b): Linear(in_features=8, out_features=2, bias=True)\n)"
    path = tmp_path / "t.txt"
    path.write_text(tree, encoding="utf-8")
    assert main(["import", "tree", str(path), "-o", str(out)]) == 1
    assert not out.exists()
    assert "too-many-arguments" in capsys.readouterr().err


# --- a torch layer subclass with children --------------------------------------------------------


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's BatchNormAct2d: a BatchNorm2d that holds an activation child."""

    def __init__(self, width: int):
        super().__init__(width)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(super().forward(x))


def test_a_torch_layer_subclass_with_children_is_refused_by_name():
    """It would be a layer reference, but its constructor's `width` is nowhere on the instance:
    refused, naming the class and the argument, never a wrong spec."""
    message = refusal(nn.Sequential(nn.Conv2d(3, 4, 1), BatchNormAct2d(4)), {"x": [3, 8, 8]})
    assert "[not-referenceable] 'BatchNormAct2d' (test_import_structure:BatchNormAct2d) cannot " \
        "be written as a layer reference: argument 'width' is not recovered" in message
    assert "prints its own arguments" not in message  # one diagnostic for it, the first cause


def test_a_printed_layer_subclass_with_children_is_refused_by_name():
    tree = str(nn.Sequential(nn.Conv2d(3, 4, 1), BatchNormAct2d(4)))
    with pytest.raises(SpecError) as info:
        import_tree(tree, "tree.txt", inputs={"x": [3, 8, 8]})
    [diag] = info.value.diagnostics
    assert (diag.pos.line, diag.code) == (3, "not-rebuildable")
    assert diag.message.startswith("'BatchNormAct2d' prints its own arguments ('4, eps=1e-05")


class LayerNorm(nn.LayerNorm):
    """timm's LayerNorm: a subclass of torch's, with a forward of its own."""

    def forward(self, x):
        return nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias,
                                        self.eps)


def test_a_subclass_named_as_its_torch_layer_is_not_taken_for_it():
    text = import_model(nn.Sequential(nn.Linear(4, 4), LayerNorm(4)), "model", {"x": [4]}).text
    assert f'    class: "{__name__}:LayerNorm"\n' in text
    assert "    - Test_import_structureLayerNorm([4])\n" in text


class TiedHead(nn.Module):
    """A module that ties its own parameters, itself registered in two places."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(8, 8, bias=False)
        self.head = nn.Linear(8, 8, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, x):
        return self.head(self.embed(x))


class TwoPaths(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = TiedHead()
        self.b = nn.Sequential(self.a, nn.ReLU())

    def forward(self, x):
        return self.b(self.a(x))


def test_a_shared_module_with_ties_of_its_own_keeps_them_at_each_path(tmp_path):
    model = TwoPaths()
    text, rebuilt = rebuilt_from(model, tmp_path, {"x": [8]})
    assert "    tie:  # registered in both places: one module or parameter\n" \
        "      head.weight: embed.weight\n" in text
    assert "    b.0: a\n" in text
    assert rebuilt.b[0] is rebuilt.a and rebuilt.a.head.weight is rebuilt.a.embed.weight
    assert sum(p.numel() for p in rebuilt.parameters()) == 64


def test_a_module_tie_between_two_classes_or_a_module_and_a_parameter_is_refused(tmp_path):
    spec = """\
nnspec: 1
inputs:
  x: [8]
model:
  name: Net
  children:
    a: Linear(8, 8)
    b: ReLU()
    c: Linear(8, 8)
  tie: {TIE}
  forward:
    - return c(b(a(x)))
"""
    for tie, message in (("{b: a}", "cannot tie b (ReLU) to a (Linear): a shared module has "
                          "one class"),
                         ("{c: a.weight}", "a tie joins two parameters or two modules")):
        path = tmp_path / "net.yaml"
        path.write_text(spec.replace("{TIE}", tie), encoding="utf-8")
        with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
            nnspec.load(path)
    path.write_text(spec.replace("{TIE}", "{c: a}"), encoding="utf-8")
    model = nnspec.build(path)
    assert model.c is model.a and nnspec.summary(path)["params"] == 72


# --- nested ModuleLists: refused, and said so ----------------------------------------------------


class T5Block(nn.Module):
    """T5's block: a ModuleList of layers, inside the stack's ModuleList of blocks."""

    def __init__(self):
        super().__init__()
        self.layer = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])

    def forward(self, x):
        for layer in self.layer:
            x = layer(x)
        return x


class T5Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = nn.ModuleList([T5Block(), T5Block()])

    def forward(self, x):
        for block in self.block:
            x = block(x)
        return x


def test_nested_module_lists_are_module_list_children(tmp_path):
    model = T5Stack()
    text, rebuilt = rebuilt_from(model, tmp_path, {"x": [4]})
    assert "  T5Block:\n    children:\n      layer:\n        modules:\n" \
        "          - Linear(4, 4)\n          - Linear(4, 4)\n    forward:\n" \
        '      - "for block in layer: x = block(x)"\n' in text
    assert "    block:\n      modules:\n        - T5Block()\n        - T5Block()\n" in text
    assert type(rebuilt.block) is nn.ModuleList and type(rebuilt.block[0].layer) is nn.ModuleList
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 4)
    assert torch.equal(rebuilt(x), model(x))  # the loops are recovered
    tree_text = import_tree(str(model), "tree.txt", inputs={"x": [4]}).text
    assert str(build_text(tree_text, tmp_path, "tree.yaml")) == str(model)


def test_a_module_list_child_cannot_be_called(tmp_path):
    spec = """\
nnspec: 1
inputs:
  x: [4]
model:
  name: Net
  children:
    layers: {modules: ["Linear(4, 4)"]}
  forward:
    - return layers(x)
"""
    path = tmp_path / "net.yaml"
    path.write_text(spec, encoding="utf-8")
    with pytest.raises(SpecError, match="an nn.ModuleList has no forward: call its items"):
        nnspec.load(path)
