"""`nnspec import tree`: printed module trees to specs that print the same tree."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from conftest import ROOT, SEED, SEED_SPECS, SPECS, seed_trees, strip_bn_bias
from reference.mobilenet import mobilenet_v2
from reference.nin import REFERENCES
from reference.resnet import resnet
from test_seed import PARAMS

import nnspec
from nnspec.diagnostics import SpecError
from nnspec.importers.draft import check_rebuild
from nnspec.importers.printed import import_tree
from nnspec.importers.tree import parse_tree


def build_text(text: str, tmp_path, name: str = "imported.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return nnspec.build(path)


def with_bn_bias(tree: str) -> str:
    """The same tree as torch >= 2.13 prints it."""
    return tree.replace(", affine=True, track_running_stats", ", affine=True, bias=True, "
                        "track_running_stats")


def spec_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.lstrip()
               .startswith("#"))


# --- the seed networks ------------------------------------------------------------------------


@pytest.mark.parametrize("name", SEED_SPECS)
def test_seed_tree_round_trips(name, tmp_path):
    tree = seed_trees()[name]
    model = build_text(import_tree(tree, "seed").text, tmp_path)
    assert strip_bn_bias(str(model)) + "\n" == tree
    assert sum(p.numel() for p in model.parameters()) == PARAMS[name]


@pytest.mark.parametrize("name", SEED_SPECS)
def test_seed_tree_loads_the_reference_state_dict(name, tmp_path):
    model = build_text(import_tree(seed_trees()[name], "seed").text, tmp_path)
    reference = REFERENCES[name]()
    model.load_state_dict(reference.state_dict(), strict=True)
    ours = {k: v.shape for k, v in model.state_dict().items()}
    assert ours == {k: v.shape for k, v in reference.state_dict().items()}


@pytest.mark.parametrize("name", SEED_SPECS)
def test_trees_from_torch_before_and_after_2_13_give_one_spec(name):
    old = seed_trees()[name]
    assert with_bn_bias(old) != old
    assert import_tree(with_bn_bias(old), "seed").text == import_tree(old, "seed").text


def test_repeated_class_is_one_block_with_parameters():
    text = import_tree(seed_trees()["nin"], "seed").text
    assert "blocks:\n  FP_Conv2d:\n" in text
    assert text.count("FP_Conv2d:") == 1
    # differing values are parameters; equal ones stay literals
    assert "params: {in_channels: int, out_channels: int, kernel_size: 1}" in text
    assert "relu: ReLU(inplace=True)" in text
    assert "conv: Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)" in text
    assert "- FP_Conv2d(128, 256, kernel_size=5)" in text


def test_doubled_widths_become_an_expression():
    text = import_tree(seed_trees()["nin_dw_x2"], "seed").text
    assert "conv2: Conv2d(out_channels, out_channels * 2, 1)" in text
    assert "groups=groups" in text  # grouped, not depthwise: groups is its own parameter


@pytest.mark.parametrize("name", SEED_SPECS)
def test_import_is_at_most_one_and_a_half_times_the_hand_written_spec(name):
    imported = import_tree(seed_trees()[name], "seed").text
    hand = (SPECS / f"{name}.yaml").read_text(encoding="utf-8")
    if "extends:" in hand:  # the whole model: the variant and the spec it extends
        hand += (SPECS / "nin_dw.yaml").read_text(encoding="utf-8")
    assert len(imported.splitlines()) <= 1.5 * len(hand.splitlines())
    assert spec_lines(imported) <= 1.5 * spec_lines(hand)


# --- forward -----------------------------------------------------------------------------------


def test_unknown_forward_still_builds_prints_and_loads_but_raises(tmp_path):
    text = import_tree(seed_trees()["nin"], "seed").text
    assert text.count("\n    forward: unknown\n") == 1 and text.endswith("\n  forward: unknown\n")
    model = build_text(text, tmp_path)
    model.load_state_dict(REFERENCES["nin"]().state_dict(), strict=True)
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(NotImplementedError, match=r"^Net: forward is unknown"):
        model(x)
    with pytest.raises(NotImplementedError, match=r"^FP_Conv2d: forward is unknown"):
        model.tnn_bin[2](x)


def test_build_summarises_a_model_with_unknown_forward(tmp_path):
    path = tmp_path / "nin.yaml"
    path.write_text(import_tree(seed_trees()["nin"], "seed").text, encoding="utf-8")
    out = run_cli("build", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == ("Net: 2,684,702 parameters; forward unknown in "
                                           "FP_Conv2d, Net")


MLP = """\
Net(
  (body): MLP(
    (fc1): Linear(in_features=8, out_features=16, bias=True)
    (fc2): Linear(in_features=16, out_features=4, bias=True)
  )
  (head): Head(
    (fc): Linear(in_features=4, out_features=4, bias=True)
    (act): ReLU()
  )
)
"""


def test_forward_is_children_in_order_only_when_shapes_allow_no_other(tmp_path):
    text = import_tree(MLP, "mlp").text
    assert "Forward of MLP: the children in printed order" in text
    blocks = text.split("\n  Head:")[0]
    assert "forward" not in blocks.split("MLP:")[1]  # the default: children in order
    model = build_text(text, tmp_path)
    x = torch.randn(2, 8)
    assert torch.equal(model.body(x), model.body.fc2(model.body.fc1(x)))
    with pytest.raises(NotImplementedError, match="Head: forward is unknown"):
        model.head(torch.randn(2, 4))  # the ReLU fits before or after fc


# --- the reference models (trees printed by torch) ---------------------------------------------


@pytest.mark.parametrize("factory", [resnet, mobilenet_v2], ids=["resnet", "mobilenet_v2"])
def test_reference_tree_round_trips(factory, tmp_path):
    original = factory()
    tree = str(original)
    text = import_tree(tree, factory.__name__, inputs={"x": [3, 64, 64]}).text
    model = build_text(text, tmp_path)
    assert str(model) == tree
    model.load_state_dict(original.state_dict(), strict=True)


def test_optional_child_becomes_a_condition():
    text = import_tree(str(resnet()), "resnet", inputs={"x": [3, 64, 64]}).text
    assert "      downsample:\n        if: with_downsample\n        seq:\n" in text
    assert text.count("BasicBlock:") == 1
    assert "- BasicBlock(8, stride=1, with_downsample=False)" in text


def test_optional_sequential_item_becomes_a_condition():
    text = import_tree(str(mobilenet_v2()), "mobilenet", inputs={"x": [3, 64, 64]}).text
    assert '- {call: "ConvBNReLU(in_channels, in_channels * 6, kernel_size=1)", if: ' \
        '"with_conv_0"}' in text
    assert "  ConvBNReLU:\n    base: Sequential\n" in text


class Nested(torch.nn.Module):
    """Sequentials in Sequentials, named and numbered, some present in some instances only."""

    def __init__(self, extra: bool, named: bool):
        super().__init__()
        nn = torch.nn
        items = [nn.Sequential(nn.Linear(2, 2), nn.ReLU())]
        items += [nn.Sequential(OrderedDict(a=nn.Linear(2, 3)))] if extra else []
        items += [nn.Sequential()]
        items += [nn.Sequential(OrderedDict(p=nn.ReLU(), q=nn.Identity()))] if named else []
        self.body = nn.Sequential(*items)
        self.named = nn.Sequential(OrderedDict(x1=nn.Linear(2, 2), x2=nn.Sequential(nn.ReLU())))


def test_nested_and_optional_sequentials_round_trip(tmp_path):
    original = torch.nn.Sequential(Nested(True, False), Nested(False, True), Nested(True, True))
    text = import_tree(str(original), "nested", inputs={"x": [2]}).text
    assert text.count("Nested:") == 1
    assert "        - if: with_body_1\n          seq:\n            a: Linear(2, 3)\n" in text
    assert "      named:\n        seq:\n          x1: Linear(2, 2)\n" in text
    model = build_text(text, tmp_path)
    assert str(model) == str(original)
    model.load_state_dict(original.state_dict(), strict=True)


def test_sequential_root_and_empty_class(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Module())
    tree = str(model)
    assert "(1): Module()" in tree
    text = import_tree(tree, "seq").text
    assert "printed as 'Module()' (line 3)" in text
    assert "model:\n  name: Sequential\n  base: Sequential\n  children:\n" in text
    assert text.endswith("    - Module()\n")  # nn.Sequential's forward: children in order
    model = build_text(text, tmp_path)
    assert str(model) == tree
    with pytest.raises(NotImplementedError, match="^Module: forward is unknown"):
        model(torch.randn(1, 4))  # the Linear runs, then the empty class raises


# --- printed defaults, inputs ------------------------------------------------------------------


def test_hidden_arguments_are_assumed_defaults_and_said_so():
    text = import_tree(seed_trees()["nin"], "seed").text
    assert "# Not shown in a printed tree, so torch's defaults are assumed:\n" \
        "#   AvgPool2d: ceil_mode=False, count_include_pad=True, divisor_override=None\n" \
        "#   MaxPool2d: return_indices=False\n" in text


def test_any_catalog_layer_imports_with_its_hidden_arguments_named(monkeypatch, tmp_path):
    """Upsample is not in the catalog today; declared the catalog's way, it imports."""
    from nnspec.catalog import LAYERS, Arg, LayerDef

    upsample = LayerDef("Upsample", (
        Arg("size", "int_or_ints", None, nullable=True),
        Arg("scale_factor", "float_or_floats", None, nullable=True),
        Arg("mode", "str", "nearest", choices=("nearest", "linear", "bilinear", "bicubic")),
        Arg("align_corners", "bool", None, nullable=True),
        Arg("recompute_scale_factor", "bool", None, nullable=True),
    ), shape=lambda a, x: x[0])
    monkeypatch.setitem(LAYERS, "Upsample", upsample)
    original = torch.nn.Sequential(torch.nn.Upsample(scale_factor=2.0, mode="bilinear"),
                                   torch.nn.Upsample(size=(4, 6)))
    text = import_tree(str(original), "up", inputs={"x": [3, 8, 8]}).text
    # what a repr shows depends on the others: size is not printed beside scale_factor
    assert "#   Upsample: size=None, align_corners=None, recompute_scale_factor=None\n" in text
    assert "    - Upsample(scale_factor=2.0, mode=\"bilinear\")\n" in text
    assert "    - Upsample(size=(4, 6))\n" in text  # mode='nearest' is the default
    assert str(build_text(text, tmp_path)) == str(original)


def test_values_equal_to_torch_defaults_are_dropped():
    text = import_tree(seed_trees()["nin_dw"], "seed").text
    assert "- MaxPool2d(2)\n" in text  # stride=2 is MaxPool2d's default for kernel_size=2
    assert "- AvgPool2d(8, stride=1)\n" in text
    assert "- BatchNorm2d(32)\n" in text
    assert "stride=(1, 1)" not in text and "eps=" not in text


def test_input_is_guessed_and_commented_unless_given():
    text = import_tree(seed_trees()["nin"], "seed").text
    assert "  x: [3, 32, 32]  # assumed from the Conv2d on line 3; 32x32 is a placeholder\n" \
        in text
    given = import_tree(seed_trees()["nin"], "seed", inputs={"x": [3, 64, 64]}).text
    assert "  x: [3, 64, 64]\n" in given


# --- the tree parser ---------------------------------------------------------------------------


def test_collapsed_repeats_are_expanded():
    tree = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.ReLU()])
    printed = str(tree)
    assert "(0-2): 3 x Linear(" in printed
    node = parse_tree(printed)
    assert [k for k, _ in node.children] == ["0", "1", "2", "3"]
    assert [c.cls for _, c in node.children] == ["Linear", "Linear", "Linear", "ReLU"]
    assert node.children[2][1].args == "in_features=2, out_features=2, bias=True"


def test_collapsed_repeat_of_a_container_is_expanded():
    block = "  (0-1): 2 x Block(\n    (fc): Linear(in_features=2, out_features=2, bias=True)\n  )"
    node = parse_tree(f"ModuleList(\n{block}\n)")
    assert [(k, c.cls, len(c.children)) for k, c in node.children] == [("0", "Block", 1),
                                                                        ("1", "Block", 1)]


# --- what cannot be rebuilt is reported, with its line -----------------------------------------


def errors_of(tree: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(SpecError) as info:
        import_tree(textwrap.dedent(tree), "t.txt")
    return [(d.pos.line, d.pos.col, d.code, d.message) for d in info.value.diagnostics]


def test_unknown_layers_are_reported_with_their_lines():
    found = errors_of("""\
        Net(
          (a): CrossEntropyLoss()
          (b): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))
          (c): StochasticDepth(p=0.1, mode=row)
        )
        """)
    assert found == [
        (2, 8, "unknown-layer", "torch layer 'CrossEntropyLoss' is not in nnspec's layer catalog, "
         "so this line cannot be rebuilt"),
        (4, 8, "unknown-layer", "layer 'StochasticDepth' is not in nnspec's layer catalog, so "
         "this line cannot be rebuilt"),
    ]


def test_unreadable_reprs_are_reported_with_their_lines():
    found = errors_of("""\
        Net(
          (a): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), frobnicate=2)
          (b): Conv2d(3, 8, kernel_size=x)
          (c): BatchNorm2d(-3, eps=1e-05)
        )
        """)
    assert [(line, col, code) for line, col, code, _ in found] == [
        (2, 56, "bad-repr"), (3, 33, "bad-repr"), (4, 8, "not-rebuilt")]
    assert found[0][3] == "Conv2d has no argument 'frobnicate' in the catalog"
    assert found[1][3] == "cannot read Conv2d's kernel_size: 'x' is not a literal"


def test_malformed_trees_are_reported_with_their_lines():
    cases = {
        "Net(\n  (a): ReLU()\n": (1, "'Net(' is never closed"),
        "Net(\n (a): ReLU()\n)": (2, "unexpected indentation inside 'Net(' (opened on line 1)"),
        "Net(\n  (a): ReLU(\n)": (3, "unexpected indentation inside 'ReLU(' (opened on line 2)"),
        "Net(\n  (a): ReLU(\n  )": (1, "'Net(' is never closed"),
        "hello world": (1, "expected a module such as 'Conv2d(...)' or 'Net('"),
        "Net(\n  (0-2): 2 x ReLU()\n)": (2, "a collapsed repeat (0-2) must say 3 x"),
    }
    for tree, (line, message) in cases.items():
        with pytest.raises(SpecError) as info:
            parse_tree(tree, "t.txt")
        [diag] = info.value.diagnostics
        assert (diag.pos.line, diag.message) == (line, message), tree


def test_instances_with_three_classes_at_one_child_are_reported():
    found = errors_of("""\
        Net(
          (a): Block(
            (act): ReLU()
          )
          (b): Block(
            (act): Identity()
          )
          (c): Block(
            (act): GELU(approximate='none')
          )
        )
        """)
    assert found == [(6, 12, "not-rebuildable", "instances of 'Block' differ at child 'act': "
                      "ReLU (line 3) and Identity (line 6)")]


def test_instances_with_two_classes_at_one_child_choose_one_with_if_else(tmp_path):
    tree = """\
Net(
  (a): Block(
    (act): ReLU()
  )
  (b): Block(
    (act): Identity()
  )
  (c): Block(
    (act): ReLU()
  )
)"""
    text = import_tree(tree, "t.txt", inputs={"x": [4]}).text
    assert '    act: {if: "act_is_relu", call: "ReLU()", else: {call: "Identity()"}}\n' in text
    assert str(build_text(text, tmp_path)) == tree


class Attention(torch.nn.Module):
    def __init__(self, bias: bool = True):
        super().__init__()
        self.ln = torch.nn.LayerNorm(8)
        self.attn = torch.nn.MultiheadAttention(8, 2, bias=bias, batch_first=True)


def test_multihead_attention_printed_with_its_out_proj_is_rebuilt(tmp_path):
    original = torch.nn.Sequential(Attention(), Attention(), Attention(bias=False))
    tree = str(original)
    assert "(attn): MultiheadAttention(\n" in tree  # torch prints it as a container
    result = import_tree(tree, "t.txt", inputs={"x": [4, 8]})
    text = result.text
    # embed_dim and bias come from out_proj; num_heads is a root parameter, marked unknown
    assert "      attn: MultiheadAttention(8, num_heads, bias=bias)\n" in text
    assert "    - Attention(num_heads, bias=False)\n" in text
    assert "  params:\n    num_heads: 1  # not printed; 1 is a placeholder: --set " \
        "num_heads=N\n" in text
    assert "#   MultiheadAttention: dropout=0.0, add_bias_kv=False, add_zero_attn=False, " \
        "kdim=None, vdim=None,\n#   batch_first=False\n" in text
    assert result.warnings == ["num_heads is not printed by MultiheadAttention (line 4, 10, "
                               "16): it is a root parameter, 1 until you set it (--set "
                               "num_heads=N), shared by every MultiheadAttention in the tree"]
    model = build_text(text, tmp_path)
    assert str(model) == tree
    model.load_state_dict(original.state_dict(), strict=True)
    path = tmp_path / "imported.yaml"
    assert nnspec.build(path, num_heads=2)[0].attn.num_heads == 2


MHA_OUT = "(out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)"


@pytest.mark.parametrize("body,line", [
    (f"    {MHA_OUT}\n    (extra): ReLU()", 2),                 # another child
    ("    (out_proj): Linear(in_features=8, out_features=8, bias=True)", 2),  # another class
    ("    (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=4, "
     "bias=True)", 2),                                          # not square
    ("    (proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)",
     2),                                                        # another name
    (f"    batch_first=True\n    {MHA_OUT}", 2),               # printed arguments
])
def test_other_forms_of_multihead_attention_are_refused_with_their_lines(body, line):
    found = errors_of(f"Net(\n  (attn): MultiheadAttention(\n{body}\n  )\n)\n")
    assert [(row[0], row[2]) for row in found] == [(line, "not-rebuildable")]


def test_other_torch_layers_with_children_are_refused():
    tree = str(torch.nn.Sequential(torch.nn.TransformerEncoderLayer(8, 2)))
    found = errors_of(tree)
    assert found == [(2, 8, "not-rebuildable", "the torch layer 'TransformerEncoderLayer' is "
                      "printed with children")]


def test_names_a_spec_cannot_hold_are_reported():
    found = errors_of("""\
        Net(
          (training): Linear(in_features=2, out_features=2, bias=True)
          (ok): self(
            (fc): Linear(in_features=2, out_features=2, bias=True)
          )
        )
        """)
    assert found == [
        (2, 15, "not-rebuildable", "child 'training' of 'Net' cannot be named in a spec: "
         "'training' would shadow the nn.Module attribute of the same name"),
        (3, 9, "not-rebuildable", "class 'self' cannot be a spec block: 'self' is reserved in "
         "generated code"),
    ]


class Blocks(torch.nn.ModuleList):
    """A ModuleList subclass: only its collapsed repeats tell it from a Sequential."""


class Lists(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)] + [nn.ReLU()])
        self.heads = nn.ModuleList([nn.Linear(4, 2), nn.Linear(4, 3)])
        self.blocks = Blocks([nn.Linear(4, 4) for _ in range(2)])
        self.table = nn.ModuleDict({"a": nn.Linear(4, 4), "b": nn.ReLU()})


def test_module_lists_and_dicts_round_trip_with_collapsed_repeats(tmp_path):
    original = Lists()
    tree = str(original)
    assert "(0-2): 3 x Linear(" in tree and "(0-1): 2 x Linear(" in tree
    text = import_tree(tree, "lists", inputs={"x": [4]}).text
    assert "  ModuleList:\n    base: ModuleList\n" in text
    assert "  Blocks:\n    base: ModuleList\n" in text
    assert "  ModuleDict:\n    children:\n" in text
    model = build_text(text, tmp_path)
    assert str(model) == tree
    model.load_state_dict(original.state_dict(), strict=True)


def test_parameter_lists_are_reported_not_guessed():
    model = torch.nn.Module()
    model.one = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2))])
    model.two = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2))] * 2)
    found = errors_of(str(model))
    assert [(line, code) for line, _, code, _ in found] == [(2, "not-rebuildable"),
                                                            (3, "not-rebuildable")]


def test_a_class_printing_arguments_besides_children_is_reported():
    found = errors_of("""\
        Net(
          (a): Odd(
            width=3
            (fc): Linear(in_features=2, out_features=2, bias=True)
          )
        )
        """)
    assert found == [(2, 8, "not-rebuildable", "'Odd' prints its own arguments ('width=3') "
                      "besides its children; a spec block cannot hold those")]


# --- the command --------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "nnspec", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_imports_a_fenced_tree_from_the_seed_document(tmp_path):
    out = tmp_path / "nin_dw.yaml"
    result = run_cli("import", "tree", str(SEED), "--fence", "2", "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith(f"# Imported from {SEED} by `nnspec import tree`.\n")
    assert strip_bn_bias(str(nnspec.build(out))) + "\n" == seed_trees()["nin_dw"]


def test_cli_needs_a_fence_number_for_several_trees():
    result = run_cli("import", "tree", str(SEED))
    assert result.returncode == 2
    assert "holds 3 fenced trees; choose one with --fence N" in result.stderr


def test_cli_reports_unknown_layers_with_positions(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("Net(\n  (a): CrossEntropyLoss()\n)\n", encoding="utf-8")
    result = run_cli("import", "tree", str(path))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{path}:2:8: error[unknown-layer]: torch layer "
                                    "'CrossEntropyLoss' is not in nnspec's layer catalog")
    assert "    2 |   (a): CrossEntropyLoss()\n" in result.stderr


def test_rebuild_check_names_the_first_line_that_differs():
    tree = seed_trees()["nin"]
    text = import_tree(tree, "seed").text.replace("- BatchNorm2d(10)", "- BatchNorm2d(12)")
    with pytest.raises(SpecError) as info:
        check_rebuild(text, tree, "nin.txt", first_line=5)
    [diag] = info.value.diagnostics
    assert diag.pos.line == 5 + 42  # the 43rd line of the tree
    assert diag.message.startswith("the imported spec prints this line as '(12): BatchNorm2d(12")


def test_recurrent_layers_round_trip(tmp_path, recwarn):
    """RNN reprs print only non-default arguments; the import rebuilds the same layers, and
    probing dropout values for a one-layer GRU does not leak torch's warning."""
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(10, 20, num_layers=2, batch_first=True,
                                      bidirectional=True)
            self.gru = torch.nn.GRU(40, 8, bias=False)
            self.rnn = torch.nn.RNN(8, 4, num_layers=3)

    reference = Net()
    text = import_tree(repr(reference), "tree").text
    assert "lstm: LSTM(10, 20, num_layers=2, batch_first=True, bidirectional=True)" in text
    assert "gru: GRU(40, 8, bias=False)" in text
    model = build_text(text, tmp_path)
    assert repr(model) == repr(reference)
    model.load_state_dict(reference.state_dict(), strict=True)
    assert not [w for w in recwarn if "dropout" in str(w.message)]


# --- tensors a class holds itself, from a recorded state_dict layout ---------------------------


def write_state(module: torch.nn.Module, path, edit=None) -> str:
    """The text layout of tests/golden/torchvision/*/state_dict.txt for this module."""
    lines = [f"{k}\t{','.join(map(str, v.shape))}\t{str(v.dtype).removeprefix('torch.')}"
             for k, v in module.state_dict().items()]
    path.write_text("\n".join(edit(lines) if edit else lines) + "\n", encoding="utf-8")
    return str(path)


class Token(torch.nn.Module):
    def __init__(self, length: int):
        super().__init__()
        self.pos = torch.nn.Parameter(torch.zeros(1, length, 8))
        self.register_buffer("steps", torch.zeros(length, dtype=torch.int64))
        self.ln = torch.nn.LayerNorm(8)


class Holder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, 8))
        self.a = Token(5)
        self.b = Token(9)
        self.head = torch.nn.Linear(8, 2)


def test_state_dict_gives_the_tensors_classes_hold_themselves(tmp_path):
    original = Holder()
    state = write_state(original, tmp_path / "state.txt")
    tree = str(original)
    assert "pos" not in tree and "cls_token" not in tree
    text = import_tree(tree, "t.txt", inputs={"x": [8]}, state_dict=state).text
    # one block; the dimension that differs between its instances is a parameter
    assert "  Token:\n    params: {pos_size1: int}\n    parameters:  # from the state_dict; " \
        "init unknown: zeros assumed\n      pos: {shape: [1, pos_size1, 8], init: zeros}\n" \
        "    buffers:  # from the state_dict; init unknown: zeros assumed\n" \
        "      steps: {shape: [pos_size1], dtype: int64, init: zeros}\n" in text
    assert "    cls_token: {shape: [1, 1, 8], init: zeros}\n" in text
    assert "    a: Token(5)\n    b: Token(9)\n" in text
    header = " ".join(line.strip("# ") for line in text.splitlines() if line.startswith("#"))
    assert f"keys no layer has in {state} (a printed tree does not show them): floating keys " \
        "are parameters, others buffers; their init is unknown." in header
    model = build_text(text, tmp_path)
    assert str(model) == tree
    assert list(model.state_dict()) == list(original.state_dict())
    model.load_state_dict(original.state_dict(), strict=True)
    assert [n for n, _ in model.named_buffers()] == ["a.steps", "b.steps"]


def test_state_dict_checkpoint_is_read_too(tmp_path):
    original = Holder()
    torch.save(original.state_dict(), tmp_path / "holder.pt")
    text = import_tree(str(original), "t.txt", inputs={"x": [8]},
                       state_dict=tmp_path / "holder.pt").text
    build_text(text, tmp_path).load_state_dict(original.state_dict(), strict=True)


def state_errors(module, tmp_path, edit) -> list[tuple[str, int, int, str, str]]:
    state = write_state(module, tmp_path / "state.txt", edit)
    with pytest.raises(SpecError) as info:
        import_tree(str(module), "t.txt", inputs={"x": [8]}, state_dict=state)
    return [(Path(d.pos.file).name, d.pos.line, d.pos.col, d.code, d.message)
            for d in info.value.diagnostics]


def test_state_dict_disagreeing_with_the_layers_is_reported(tmp_path):
    def edit(lines):
        lines = [x.replace("head.weight\t2,8", "head.weight\t3,8") for x in lines]
        lines = [x for x in lines if not x.startswith("a.ln.bias")]
        return lines + ["head.scale\t2\tfloat32", "nowhere.w\t2\tfloat32"]

    found = state_errors(Holder(), tmp_path, edit)
    assert found == [
        ("state.txt", 12, 1, "state-mismatch", "no printed class holds 'nowhere.w': 'nowhere' "
         "is not a printed module"),
        ("t.txt", 3, 11, "state-mismatch", "the state_dict has no 'a.ln.bias', which this layer "
         "has"),
        ("t.txt", 8, 11, "state-mismatch", "the state_dict gives 'head.weight' the shape "
         f"[3, 8] ({tmp_path}/state.txt line 9); this layer has [2, 8]"),
        ("t.txt", 8, 11, "state-mismatch", "the state_dict has 'head.scale' "
         f"({tmp_path}/state.txt line 11), which this layer does not have"),
    ]


def test_tensors_of_a_sequential_or_of_differing_instances_are_refused(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU())
    found = state_errors(model, tmp_path, lambda lines: ["scale\t8\tfloat32"] + lines)
    assert found == [("t.txt", 1, 1, "not-rebuildable", "'Sequential' holds 'scale' itself "
                      f"({tmp_path}/state.txt line 1), but has numbered children; a Sequential "
                      "or ModuleList block cannot hold tensors")]
    found = state_errors(Holder(), tmp_path, lambda lines: [x for x in lines
                                                            if not x.startswith("b.steps")])
    assert found == [("t.txt", 5, 8, "not-rebuildable", "instances of 'Token' hold different "
                      "tensors themselves: [pos: float32[1, 5, 8], steps: int64[5]] (line 2) "
                      "and [pos: float32[1, 9, 8]]")]


def test_cli_takes_a_state_dict_and_warns_of_num_heads(tmp_path):
    original = torch.nn.Sequential(Attention(), Holder())
    tree = tmp_path / "tree.txt"
    tree.write_text(str(original), encoding="utf-8")
    state = write_state(original, tmp_path / "state.txt")
    out = tmp_path / "spec.yaml"
    result = run_cli("import", "tree", str(tree), "--state-dict", state, "--input", "x=8",
                     "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr.endswith("nnspec: warning: num_heads is not printed by "
                                  "MultiheadAttention (line 4): it is a root parameter, 1 until "
                                  "you set it (--set num_heads=N), shared by every "
                                  "MultiheadAttention in the tree\n")
    model = nnspec.build(out)
    model.load_state_dict(original.state_dict(), strict=True)
    missing = run_cli("import", "tree", str(tree), "--state-dict", str(tmp_path / "no.txt"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("w\t2,x\tfloat32\n", encoding="utf-8")
    result = run_cli("import", "tree", str(tree), "--state-dict", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{bad}:1:1: error[bad-state-dict]: expected "
                                    "`key<TAB>shape<TAB>dtype`")


def test_children_named_self_or_with_a_dash_are_children(tmp_path):
    tree = """\
Net(
  (self): Attention(
    (dense): Linear(in_features=4, out_features=4, bias=True)
  )
  (block1-0): Linear(in_features=4, out_features=4, bias=True)
  (0-1): 2 x ReLU()
)"""
    with pytest.raises(SpecError, match="'Net' mixes numbered and named children"):
        import_tree(tree, "t.txt", inputs={"x": [4]})
    tree = tree.replace("  (0-1): 2 x ReLU()\n", "")
    text = import_tree(tree, "t.txt", inputs={"x": [4]}).text
    assert "    self: Attention()\n    block1-0: Linear(4, 4)\n" in text
    assert str(build_text(text, tmp_path)) == tree
