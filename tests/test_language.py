"""Every spec-language feature, each through a small spec built with `nnspec.build` and compared
with the hand-written torch module it stands for: printed tree, state_dict keys and shapes,
outputs with the same weights, and weights from the same seed (construction order)."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import nnspec


def same_model(model: nn.Module, reference: nn.Module, *inputs: torch.Tensor) -> None:
    """Same printed tree, same parameters and buffers, same outputs, same seeded init."""
    assert str(model) == str(reference)
    ours, theirs = model.state_dict(), reference.state_dict()
    assert [(k, v.shape) for k, v in ours.items()] == [(k, v.shape) for k, v in theirs.items()]
    reference.load_state_dict(ours, strict=True)
    for mode in ("train", "eval"):
        getattr(model, mode)()
        getattr(reference, mode)()
        with torch.no_grad():
            a, b = model(*[t.clone() for t in inputs]), reference(*[t.clone() for t in inputs])
        assert torch.equal(a, b), mode


def same_init(build, reference_cls) -> None:
    torch.manual_seed(7)
    ours = build().state_dict()
    torch.manual_seed(7)
    theirs = reference_cls().state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def errors(path: str, **params) -> list[tuple[str, int, int]]:
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.build(path, **params)
    return [(d.code, d.pos.line, d.pos.col) for d in info.value.diagnostics]


def col(text: str, line: int, needle: str) -> int:
    """1-based column of `needle` on 1-based `line` of `text`."""
    return text.splitlines()[line - 1].index(needle) + 1


# --- the format version ----------------------------------------------------------------------


def test_format_version_is_required_and_checked(write_spec):
    text = "nnspec: 2\ninputs: {x: [4]}\nmodel:\n  children: {fc: 'Linear(4, 2)'}\n"
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load(write_spec(text))
    [diag] = info.value.diagnostics
    assert (diag.code, diag.pos.line, diag.pos.col) == ("unsupported-version", 1, 9)
    assert diag.hint == "this nnspec reads format versions 1"
    assert errors(write_spec(text.replace("nnspec: 2\n", ""))) == [("missing-key", 1, 1)]
    assert nnspec.build(write_spec(text.replace("nnspec: 2", "nnspec: 1"))) is not None


# --- inputs ----------------------------------------------------------------------------------

TWO_INPUTS = """\
nnspec: 1
inputs:
  x1: [3, 8, 8]
  x2: {shape: [5], doc: side features}
model:
  name: Fuse
  children:
    conv: Conv2d(3, 4, 3, padding=1)
    pool: AvgPool2d(8)
    side: Linear(5, 4)
    out: Linear(8, 2)
  forward:
    - a = pool(conv(x1)).flatten(1)
    - b = side(x2)
    - return out(torch.cat([a, b], 1))
"""


class Fuse(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.AvgPool2d(8)
        self.side = nn.Linear(5, 4)
        self.out = nn.Linear(8, 2)

    def forward(self, x1, x2):
        a = self.pool(self.conv(x1)).flatten(1)
        return self.out(torch.cat([a, self.side(x2)], 1))


def test_several_inputs(write_spec):
    path = write_spec(TWO_INPUTS)
    x1, x2 = nnspec.example_inputs(path, batch=3)
    assert (x1.shape, x2.shape) == ((3, 3, 8, 8), (3, 5))
    same_model(nnspec.build(path), Fuse(), x1, x2)
    same_init(lambda: nnspec.build(path), Fuse)
    assert [i.name for i in nnspec.load(path).program.inputs] == ["x1", "x2"]


def test_bilinear_takes_two_inputs(write_spec):
    path = write_spec("nnspec: 1\ninputs:\n  x1: [4]\n  x2: [5]\nmodel:\n  children:\n"
                      "    bil: Bilinear(4, 5, 3)\n  forward:\n    - return bil(x1, x2)\n")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.bil = nn.Bilinear(4, 5, 3)

        def forward(self, x1, x2):
            return self.bil(x1, x2)

    same_model(nnspec.build(path), Net(), *nnspec.example_inputs(path))


def test_embedding_of_token_ids(write_spec):
    path = write_spec("nnspec: 1\ninputs:\n  ids: {shape: [7], dtype: int64, range: [0, 50]}\n"
                      "model:\n  children:\n    emb: Embedding(50, 8)\n")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 8)

        def forward(self, ids):
            return self.emb(ids)

    (ids,) = nnspec.example_inputs(path, batch=4)
    assert ids.dtype == torch.int64 and 0 <= ids.min() and ids.max() < 50
    same_model(nnspec.build(path), Net(), ids)


TYPED_INPUTS = """\
nnspec: 1
inputs:
  ids: {shape: [6], dtype: int64, range: [10, 20]}
  mask: {shape: [6], dtype: bool}
  x: {shape: [2, 6], dtype: float64}
model:
  children:
    fc: Linear(6, 2)
  forward:
    - y = ids.float() * mask.float() + x.float().sum(1)
    - return fc(y)
"""


def test_example_inputs_follow_the_declarations(write_spec):
    path = write_spec(TYPED_INPUTS)
    ids, mask, x = nnspec.example_inputs(path, batch=64, seed=0)
    assert (ids.shape, ids.dtype) == ((64, 6), torch.int64)
    assert ids.min() >= 10 and ids.max() < 20 and len(ids.unique()) == 10
    assert (mask.shape, mask.dtype) == ((64, 6), torch.bool)
    assert mask.any() and not mask.all()
    assert (x.shape, x.dtype) == ((64, 2, 6), torch.float64)
    again = nnspec.example_inputs(path, batch=64, seed=0)
    assert all(torch.equal(a, b) for a, b in zip((ids, mask, x), again))
    other = nnspec.example_inputs(path, batch=64, seed=1)
    assert not torch.equal(x, other[2]) and not torch.equal(ids, other[0])
    assert nnspec.build(path)(*nnspec.example_inputs(path, batch=2)).shape == (2, 2)


def test_input_sizes_follow_root_parameters(write_spec):
    """`x: [3, image_size, image_size]`: the declared input follows the parameter's default
    and its overrides, in the static pass, example inputs, and the generated self-check."""
    path = write_spec("nnspec: 1\ninputs:\n  x: [3, image_size, image_size]\n"
                      "  ids: {shape: [n * 2], dtype: int64, range: [0, 5]}\nmodel:\n"
                      "  params: {image_size: 32, n: 3}\n  children: {conv: \"Conv2d(3, 4, 3)\"}\n"
                      "  forward: [\"return conv(x), ids\"]\n")
    assert [i.shape for i in nnspec.load(path).program.inputs] == [(3, 32, 32), (6,)]
    small = nnspec.load(path, image_size=8, n=1)
    assert [i.shape for i in small.program.inputs] == [(3, 8, 8), (2,)]
    assert small.analysis.output[0].shape == (1, 4, 6, 6)
    x, ids = nnspec.example_inputs(path, batch=1, image_size=8)
    assert (x.shape, ids.shape) == ((1, 3, 8, 8), (1, 6))
    assert "torch.randn(2, 3, 32, 32)" in nnspec.generate(path)


def test_parameters_read_only_by_inputs_are_used(write_spec):
    path = write_spec("nnspec: 1\ninputs:\n  x: [size]\n"
                      "  ids: {shape: [4], dtype: int64, range: [0, vocab]}\nmodel:\n"
                      "  params: {size: 8, vocab: 5, spare: 1}\n"
                      "  children: {fc: \"Linear(8, 2)\"}\n"
                      "  forward: [\"return fc(x), ids\"]\n")
    assert [(d.code, d.message) for d in nnspec.load(path).document.warnings] == [
        ("unused-param", "parameter 'spare' of 'Net' is never used")]


def test_example_inputs_default_batch_is_two(write_spec):
    (x,) = nnspec.example_inputs(write_spec("nnspec: 1\ninputs: {x: [3, 4]}\nmodel:\n"
                                            "  children: {f: Flatten()}\n"))
    assert (x.shape, x.dtype) == ((2, 3, 4), torch.float32)


# --- blocks, parameters, expressions ---------------------------------------------------------

BLOCKS = """\
nnspec: 1
inputs:
  x: [3, 16, 16]
blocks:
  Unit:
    doc: a conv unit with every parameter type
    params:
      cin: int
      cout: int
      k: 3
      widen: {type: int, default: 1}
      use_bn: true
      mode: zeros
      momentum: 0.1
      dil: [1, 1]
    children:
      conv: Conv2d(cin, cout * widen, k, padding=k // 2, dilation=dil,
        bias=not use_bn, padding_mode=mode)
      bn: {call: "BatchNorm2d(cout * widen, momentum=momentum)", if: use_bn}
      act: ReLU(inplace=True)
model:
  name: Net
  params: {cfg: [8, 16, 24, 32], width: 0.5}
  children:
    a: Unit(3, cfg[0])
    b: Unit(cfg[0], cfg[1] // 2, k=5, widen=2, mode='reflect')
    c: Unit(cfg[1], cfg[3], use_bn=False, momentum=0.5, dil=[2, 1], k=1)
    d: Conv2d(cfg[3], int(cfg[2] * width), 1)
    e: Conv2d(int(cfg[2] * width), make_divisible(cfg[3] * width * 0.7, 8), 1)
"""


class Unit(nn.Module):
    def __init__(self, cin, cout, k=3, widen=1, use_bn=True, mode="zeros", momentum=0.1,
                 dil=(1, 1)):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * widen, k, padding=k // 2, dilation=list(dil),
                              bias=not use_bn, padding_mode=mode)
        if use_bn:
            self.bn = nn.BatchNorm2d(cout * widen, momentum=momentum)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.conv(x)
        if hasattr(self, "bn"):
            x = self.bn(x)
        return self.act(x)


class BlocksNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Unit(3, 8)
        self.b = Unit(8, 8, k=5, widen=2, mode="reflect")
        self.c = Unit(16, 32, use_bn=False, momentum=0.5, dil=[2, 1], k=1)
        self.d = nn.Conv2d(32, 12, 1)
        self.e = nn.Conv2d(12, 16, 1)

    def forward(self, x):
        return self.e(self.d(self.c(self.b(self.a(x)))))


def test_blocks_with_typed_params_and_expressions(write_spec):
    path = write_spec(BLOCKS)
    model = nnspec.build(path)
    reference = BlocksNet()
    reference.__class__.__name__ = "Net"
    same_model(model, reference, *nnspec.example_inputs(path))
    assert model.b.conv.padding_mode == "reflect" and model.c.conv.bias is not None
    assert not hasattr(model.c, "bn") and model.c.conv.dilation == (2, 1)


def test_error_in_a_folded_call_points_at_its_line(write_spec):
    text = BLOCKS.replace("padding_mode=mode)", "padding_mode=mdoe)")
    assert errors(write_spec(text)) == [("unknown-name", 18, col(text, 18, "mdoe"))]
    quoted = BLOCKS.replace("conv: Conv2d(cin", 'conv: "Conv2d(cin').replace(
        "padding_mode=mode)", 'padding_mode=mdoe)"')
    assert errors(write_spec(quoted)) == [("unknown-name", 18, col(quoted, 18, "mdoe"))]


@pytest.mark.parametrize("decl,message", [
    ("{type: int, default: 1.5}", "default of 'k' should be an int, got float 1.5"),
    ("{type: bool, default: 1}", "default of 'k' should be a bool, got int 1"),
    ("{type: str, default: 3}", "default of 'k' should be a string, got int 3"),
    ("{type: 'list[int]', default: [1, 2.0]}", "default of 'k' should be a list[int], got "
     "item 2.0"),
    ("{type: float, default: true}", "default of 'k' should be a number, got bool True"),
])
def test_wrong_default_type(write_spec, decl, message):
    text = ("nnspec: 1\ninputs: {x: [4]}\nblocks:\n  B:\n    params:\n"
            f"      k: {decl}\n    children: {{fc: 'Linear(4, 4)'}}\n"
            "model:\n  children: {b: B()}\n")
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load(write_spec(text))
    [diag] = info.value.diagnostics
    # the caret is on the default value itself, not on the declaration's mapping
    col = len("      k: ") + decl.index("default: ") + len("default: ") + 1
    assert (diag.code, diag.pos.line, diag.pos.col, diag.message) == ("wrong-type", 6, col,
                                                                      message)


def test_block_argument_of_the_wrong_type(write_spec):
    text = BLOCKS.replace("Unit(3, cfg[0])", "Unit(3, cfg[0], use_bn=cfg)")
    assert errors(write_spec(text)) == [("wrong-type", 25, col(text, 25, "cfg)"))]


def test_required_param_after_default_is_refused(write_spec):
    text = BLOCKS.replace("      cout: int\n      k: 3\n", "      k: 3\n      cout: int\n")
    assert ("param-order", 10, 7) in errors(write_spec(text))


# --- Sequentials -----------------------------------------------------------------------------

SEQUENTIALS = """\
nnspec: 1
inputs:
  x: [2, 8, 8]
blocks:
  Stack:
    base: Sequential
    params: {c: int, bn: true}
    children:
      - Conv2d(c, c, 3, padding=1)
      - {call: "BatchNorm2d(c)", if: bn}
      - ReLU()
  Named:
    base: Sequential
    params: {c: int}
    children:
      conv: Conv2d(c, c, 1)
      act: ReLU()
model:
  children:
    numbered:
      - Stack(2)
      - Stack(2, bn=False)
    named:
      seq:
        first: Named(2)
        second: Conv2d(2, 4, 1)
    deep:
      - - - - - Conv2d(4, 4, 1)
              - Stack(4)
          - Identity()
    tail:
      seq:
        pool: AvgPool2d(8)
        flat: Flatten()
"""


class Stack(nn.Sequential):
    def __init__(self, c, bn=True):
        layers = [nn.Conv2d(c, c, 3, padding=1)]
        if bn:
            layers.append(nn.BatchNorm2d(c))
        super().__init__(*layers, nn.ReLU())


class Named(nn.Sequential):
    def __init__(self, c):
        super().__init__(OrderedDict(conv=nn.Conv2d(c, c, 1), act=nn.ReLU()))


class SeqNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.numbered = nn.Sequential(Stack(2), Stack(2, bn=False))
        self.named = nn.Sequential(OrderedDict(first=Named(2), second=nn.Conv2d(2, 4, 1)))
        self.deep = nn.Sequential(nn.Sequential(nn.Sequential(nn.Sequential(
            nn.Sequential(nn.Conv2d(4, 4, 1), Stack(4))), nn.Identity())))
        self.tail = nn.Sequential(OrderedDict(pool=nn.AvgPool2d(8), flat=nn.Flatten()))

    def forward(self, x):
        return self.tail(self.deep(self.named(self.numbered(x))))


def test_sequentials_numbered_named_and_nested(write_spec):
    path = write_spec(SEQUENTIALS)
    model = nnspec.build(path)
    reference = SeqNet()
    reference.__class__.__name__ = "Net"
    same_model(model, reference, *nnspec.example_inputs(path))
    same_init(lambda: nnspec.build(path), SeqNet)
    text = str(model)
    assert "(0): Stack(\n      (0): Conv2d" in text and "(first): Named(\n      (conv)" in text
    assert isinstance(model.numbered[0], nn.Sequential)
    assert type(model.numbered[1][1]) is nn.ReLU  # the left-out BatchNorm shifts the numbers
    assert "deep.0.0.0.0.1.1.running_mean" in model.state_dict()


def test_module_block_with_a_children_list_is_refused(write_spec):
    text = SEQUENTIALS.replace("    base: Sequential\n    params: {c: int, bn: true}",
                               "    params: {c: int, bn: true}")
    assert ("wrong-type", 8, 7) in errors(write_spec(text))


def test_sequential_block_may_have_its_own_forward(write_spec):
    text = SEQUENTIALS.replace("      act: ReLU()\n", "      act: ReLU()\n    forward:\n"
                               "      - return self[1](self[0](x)) + x\n")
    model = nnspec.build(write_spec(text))
    named = model.named.first
    x = torch.randn(1, 2, 8, 8)
    assert torch.equal(named(x), named.act(named.conv(x)) + x)


# --- torch arguments -------------------------------------------------------------------------

ARGS = """\
nnspec: 1
inputs:
  x: [3, 12, 12]
model:
  children:
    a: Conv2d(3, 8, 3, 2, 1, bias=False)
    b: Conv2d(in_channels=8, out_channels=8, kernel_size=[3, 1], padding='same', groups=4)
    c: BatchNorm2d(8, momentum=None, eps=0.001)
    d: MaxPool2d(3, padding=1)
    e: AvgPool2d(kernel_size=2, stride=1, ceil_mode=True, count_include_pad=False)
    f: Conv2d(8, 4, 1, 1, 0, 1, 1, True, 'zeros')
    g: Flatten(start_dim=1)
    h: Linear(4, out_features=3, bias=True)
"""


class ArgsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, 2, 1, bias=False)
        self.b = nn.Conv2d(8, 8, kernel_size=(3, 1), padding="same", groups=4)
        self.c = nn.BatchNorm2d(8, eps=0.001, momentum=None)
        self.d = nn.MaxPool2d(3, padding=1)
        self.e = nn.AvgPool2d(2, stride=1, ceil_mode=True, count_include_pad=False)
        self.f = nn.Conv2d(8, 4, 1)
        self.g = nn.Flatten()
        self.h = nn.Linear(4, 3)

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x


def test_torch_argument_names_positions_and_defaults(write_spec):
    path = write_spec(ARGS)
    reference = ArgsNet()
    reference.__class__.__name__ = "Net"
    same_model(nnspec.build(path), reference, *nnspec.example_inputs(path))


@pytest.mark.parametrize("call,code,needle", [
    ("Conv2d(3, 8, 3, stide=2)", "unknown-argument", "stide"),
    ("Conv2d(3, 8)", "missing-argument", "Conv2d"),
    ("Conv2d(3, 8, 3, 1, 0, 1, 1, True, 'zeros', 5)", "too-many-arguments", "5)"),
    ("Conv2d(3, 8, 3, in_channels=3)", "duplicate-argument", "in_channels"),
    ("Conv2d(3, 8, 3, padding_mode='mirror')", "wrong-type", "'mirror'"),
    ("Conv2d(3, 8, 3, bias=1)", "wrong-type", "1)"),
])
def test_bad_torch_arguments(write_spec, call, code, needle):
    text = ARGS.replace("Conv2d(3, 8, 3, 2, 1, bias=False)", call)
    assert (code, 6, col(text, 6, needle)) in errors(write_spec(text))


# --- forward ---------------------------------------------------------------------------------

FORWARD = """\
nnspec: 1
inputs:
  x: [4, 6, 6]
model:
  params: {twice: true, scale: 0.5}
  children:
    conv: Conv2d(4, 4, 3, padding=1)
    fc: Linear(288, 10)
    act: ReLU()
  forward:
    - y = conv(x)
    - y = conv(y)
    - y += x
    - a, b = torch.chunk(y, 2, 1)
    - (c, d), e = y.split(1, 1)[:2], b
    - y = torch.cat([a, b * 2, F.relu(a - b), torch.relu(c + d + e)], 1)
    - if: twice
      then:
        - y = y.mul(2)
        - y = torch.add(y, scale)
      else: y = act(y)
    - if: not twice
      then: y = y * scale
    - z = y.flatten(1)
    - w = y.reshape(y.size(0), -1)
    - v = y.view(y.shape[0], -1).relu()
    - return fc(z + w - v)
"""


class ForwardNet(nn.Module):
    def __init__(self, twice=True, scale=0.5):
        super().__init__()
        self.twice, self.scale = twice, scale
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(288, 10)
        self.act = nn.ReLU()

    def forward(self, x):
        y = self.conv(self.conv(x))
        y += x
        a, b = torch.chunk(y, 2, 1)
        (c, d), e = y.split(1, 1)[:2], b
        y = torch.cat([a, b * 2, F.relu(a - b), torch.relu(c + d + e)], 1)
        if self.twice:
            y = torch.add(y.mul(2), self.scale)
        else:
            y = self.act(y)
        if not self.twice:
            y = y * self.scale
        z, w = y.flatten(1), y.reshape(y.size(0), -1)
        return self.fc(z + w - y.view(y.shape[0], -1).relu())


@pytest.mark.parametrize("twice", [True, False])
def test_forward_steps(write_spec, twice):
    path = write_spec(FORWARD)
    reference = ForwardNet(twice=twice)
    reference.__class__.__name__ = "Net"
    same_model(nnspec.build(path, twice=twice), reference, *nnspec.example_inputs(path))


@pytest.mark.parametrize("step,code,needle", [
    ("y = convv(x)", "unknown-op", "convv"),
    ("y = conv(q)", "undefined-value", "q"),
    ("y = conv", "bad-forward", "conv"),
    ("y = torch.conv2d(x)", "unknown-op", "torch.conv2d"),
    ("y = x.numpy()", "unknown-op", "x.numpy"),
    ("y = x.data", "unknown-op", "x.data"),
    ("y = __import__('os')", "unknown-op", "__import__"),
    ("y = [t for t in x]", "bad-forward", "[t"),
    ("y = lambda:x", "bad-forward", "lambda"),
    ("conv = conv(x)", "name-clash", "conv ="),
    ("y.z = x", "bad-forward", "y.z"),
    ("import os", "bad-forward", "import"),
])
def test_bad_forward_steps(write_spec, step, code, needle):
    text = FORWARD.replace("    - y = conv(x)\n", f"    - {step}\n    - y = conv(x)\n", 1)
    assert (code, 11, col(text, 11, needle)) in errors(write_spec(text))


def test_forward_must_end_with_return(write_spec):
    text = FORWARD.replace("    - return fc(z + w - v)\n", "")
    assert errors(write_spec(text)) == [("missing-return", 10, 3)]


# --- conditional children and the default forward -------------------------------------------

CONDITIONAL = """\
nnspec: 1
inputs:
  x: [4]
model:
  params: {hidden: 0, act: true}
  children:
    inp: Linear(4, max(hidden, 4))
    mid: {call: "Linear(hidden, hidden)", if: hidden > 0}
    relu: {call: "ReLU()", if: act and hidden}
    out: {seq: ["Linear(max(hidden, 4), 2)", ReLU()], if: act}
    last: Identity()
"""


def conditional_reference(hidden: int, act: bool) -> nn.Module:
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(4, max(hidden, 4))
            if hidden > 0:
                self.mid = nn.Linear(hidden, hidden)
            if act and hidden:
                self.relu = nn.ReLU()
            if act:
                self.out = nn.Sequential(nn.Linear(max(hidden, 4), 2), nn.ReLU())
            self.last = nn.Identity()

        def forward(self, x):
            for m in self.children():  # the default forward: children in order
                x = m(x)
            return x

    return Net()


@pytest.mark.parametrize("hidden,act", [(0, True), (8, True), (8, False), (0, False)])
def test_conditional_children_and_default_forward(write_spec, hidden, act):
    path = write_spec(CONDITIONAL)
    model = nnspec.build(path, hidden=hidden, act=act)
    same_model(model, conditional_reference(hidden, act), *nnspec.example_inputs(path))


def test_calling_a_left_out_child_is_an_error(write_spec):
    text = CONDITIONAL + "  forward:\n    - x = inp(x)\n    - x = mid(x)\n    - return x\n"
    path = write_spec(text)
    assert errors(path) == [("absent-child", 14, 11)]
    assert nnspec.build(path, hidden=4)(torch.randn(2, 4)).shape == (2, 4)
    guarded = text.replace("    - x = mid(x)\n", "    - if: hidden > 0\n      then: x = mid(x)\n")
    assert nnspec.build(write_spec(guarded))(torch.randn(2, 4)).shape == (2, 4)


# --- extends ---------------------------------------------------------------------------------

BASE = """\
nnspec: 1
inputs:
  x: [3, 8, 8]
blocks:
  Unit:
    params: {cin: int, cout: int, bn: true}
    children:
      conv: Conv2d(cin, cout, 3, padding=1)
      norm: {call: "BatchNorm2d(cout)", if: bn}
      act: ReLU()
model:
  name: Net
  params: {width: 8, extra: 1}
  children:
    a: Unit(3, width)
    b: Unit(width, width)
    pool: AvgPool2d(8)
    flat: Flatten()
"""

MID = """\
nnspec: 1
extends: base.yaml
blocks:
  Unit:
    params: {bn: false}
model:
  params: {width: 16, extra: null}
  children:
    b: null
"""

TOP = """\
nnspec: 1
extends: mid.yaml
blocks:
  Unit:
    base: Sequential
    children:
      - Conv2d(cin, cout, 1)
      - ReLU()
model:
  name: Top
  children:
    head: Linear(width, 10)
"""

FLAT_TOP = """\
nnspec: 1
inputs:
  x: [3, 8, 8]
blocks:
  Unit:
    base: Sequential
    params: {cin: int, cout: int, bn: false}
    children:
      - Conv2d(cin, cout, 1)
      - ReLU()
model:
  name: Top
  params: {width: 16}
  children:
    a: Unit(3, width)
    pool: AvgPool2d(8)
    flat: Flatten()
    head: Linear(width, 10)
"""


@pytest.fixture
def family(write_spec):
    return {name: write_spec(text, f"{name}.yaml") for name, text in
            (("base", BASE), ("mid", MID), ("top", TOP), ("flat", FLAT_TOP))}


def test_extends_overrides_a_param_default_and_deletes_with_null(family, write_spec):
    mid = nnspec.build(family["mid"])
    assert str(mid) == str(nnspec.build(write_spec(
        BASE.replace("bn: true", "bn: false").replace("width: 8, extra: 1", "width: 16")
        .replace("    b: Unit(width, width)\n", ""), "mid_flat.yaml")))
    assert not hasattr(mid, "b") and not hasattr(mid.a, "norm")
    assert [p.name for p in nnspec.load(family["mid"]).program.classes["Net"].params] == [
        "width"]


def test_extends_chain_of_two_parents_replaces_a_block(family):
    top = nnspec.build(family["top"])
    flat = nnspec.build(family["flat"])
    assert str(top) == str(flat)
    assert type(top).__name__ == "Top" and isinstance(top.a, nn.Sequential)
    torch.manual_seed(0)
    a = nnspec.build(family["top"]).state_dict()
    torch.manual_seed(0)
    b = nnspec.build(family["flat"]).state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert nnspec.load(family["top"]).document.data == nnspec.load(family["flat"]).document.data


def test_extends_error_in_a_parent_points_into_the_parent(family, write_spec):
    write_spec(BASE.replace("AvgPool2d(8)", "AvgPool2D(8)"), "base.yaml")
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load(family["top"])
    [diag] = info.value.diagnostics
    assert diag.pos.file.endswith("base.yaml")
    assert (diag.code, diag.pos.line, diag.pos.col) == ("unknown-layer", 17, 11)
    assert diag.hint == "did you mean 'AvgPool2d'?"


def test_extends_cycle_and_missing_parent(write_spec):
    a = write_spec("nnspec: 1\nextends: b.yaml\n", "a.yaml")
    write_spec("nnspec: 1\nextends: a.yaml\n", "b.yaml")
    assert errors(a) == [("extends-cycle", 2, 10)]
    lone = write_spec("nnspec: 1\nextends: nowhere.yaml\n", "lone.yaml")
    assert errors(lone) == [("extends-missing", 2, 10)]


# --- overrides, load, Spec -------------------------------------------------------------------


def test_build_with_params_is_the_variant(family, write_spec):
    wide = nnspec.build(family["base"], width=32, extra=2)
    assert str(wide) == str(nnspec.build(write_spec(BASE.replace("width: 8, extra: 1",
                                                                  "width: 32, extra: 2"),
                                                    "wide.yaml")))
    assert wide.a.conv.out_channels == 32
    base, variant = nnspec.load(family["base"]), nnspec.load(family["base"], width=32)
    assert base.program.digest != variant.program.digest


@pytest.mark.parametrize("params,code,message,hint", [
    ({"widht": 4}, "unknown-param", "'widht' is not a parameter of the model",
     "did you mean 'width'?"),
    ({"size": 4}, "unknown-param", "'size' is not a parameter of the model",
     "root parameters: width, extra"),
    ({"width": "8"}, "wrong-type", "'width' should be an int, got str '8'", None),
    ({"width": 0}, "bad-value", None, None),
])
def test_bad_overrides(family, params, code, message, hint):
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.build(family["base"], **params)
    diag = info.value.diagnostics[0]
    assert diag.code == code
    if message:
        assert (diag.message, diag.hint, str(diag.pos)) == (message, hint, "--set:1:1")


def test_load_returns_a_spec(family):
    spec = nnspec.load(family["base"])
    assert isinstance(spec, nnspec.Spec)
    assert spec.name == "Net" and spec.path == family["base"]
    assert list(spec.program.classes) == ["Unit", "Net"]
    assert [c.path for c in spec.tree.children] == ["a", "b", "pool", "flat"]
    assert spec.tree.children[0].args == {"cin": 3, "cout": 8, "bn": True}
    wide = spec.with_params(width=4)
    assert wide.tree.children[0].args["cout"] == 4 and spec.tree.children[0].args["cout"] == 8
    assert str(nnspec.build(spec, width=4)) == str(nnspec.build(wide))
    assert str(nnspec.build(spec)) == str(nnspec.build(family["base"]))
    assert [t.shape for t in nnspec.example_inputs(spec, batch=1)] == [(1, 3, 8, 8)]


def test_missing_spec_file(tmp_path):
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.build(tmp_path / "nope.yaml")
    assert info.value.diagnostics[0].code == "io"


def test_required_root_param_needs_a_value(write_spec):
    path = write_spec("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  params: {width: int, cfg: [1, 2]}\n"
                      "  children:\n    fc: Linear(4, width * cfg[1])\n")
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load(path)
    [diag] = info.value.diagnostics
    assert (diag.code, diag.pos.line, diag.pos.col) == ("missing-argument", 4, 12)
    assert diag.hint == "give it a default or pass --set width=VALUE"
    assert nnspec.build(path, width=3).fc.out_features == 6
    assert nnspec.build(path, width=3, cfg=[5, 7]).fc.out_features == 21
    assert errors(path, width=3, cfg=[5, 7.5]) == [("wrong-type", 1, 1)]


@pytest.mark.parametrize("text,line,col", [
    # a block's (implicit) input 'x' and its parameter 'x'
    ("blocks:\n  B:\n    params: {x: 2}\n    children: {fc: 'Linear(4, 4)'}\n"
     "model:\n  children: {b: B()}\n", 6, 14),
    # a model input named like a child
    ("model:\n  children:\n    x: Linear(4, 4)\n", 3, 3),
    # a declared block input named like a child
    ("blocks:\n  B:\n    inputs: [fc]\n    children: {fc: 'Linear(4, 4)'}\n"
     "    forward: [return fc(fc)]\nmodel:\n  children: {b: B()}\n", 6, 14),
])
def test_inputs_cannot_share_a_name_with_children_or_params(write_spec, text, line, col):
    path = write_spec("nnspec: 1\ninputs:\n  x: [4]\n" + text)
    assert ("name-clash", line, col) in errors(path)


CONDITIONAL_LAYERS = """\
nnspec: 1
inputs:
  x: [4]
blocks:
  NS:
    base: Sequential
    params: {use_bn: false}
    children:
      fc: Linear(4, 4)
      bn: {call: "BatchNorm1d(4)", if: use_bn}
      act: ReLU()
model:
  params: {bn: true, deep: false}
  children:
    a:
      seq:
        fc: Linear(4, 4)
        norm: {call: "BatchNorm1d(4)", if: bn}
        act: ReLU()
    b:
      - Linear(4, 4)
      - {call: "ReLU()", if: deep}
      - seq:
          - Linear(4, 4)
          - {call: "Linear(4, 4)", if: deep}
          - - {call: "ReLU()", if: not deep}
            - Linear(4, 4)
    c: NS(bn)
    d: NS()
"""


def conditional_layers_reference(bn: bool, deep: bool) -> nn.Module:
    class NS(nn.Sequential):
        def __init__(self, use_bn=False):
            layers = [("fc", nn.Linear(4, 4))]
            if use_bn:
                layers.append(("bn", nn.BatchNorm1d(4)))
            super().__init__(OrderedDict(layers + [("act", nn.ReLU())]))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            a = [("fc", nn.Linear(4, 4))] + ([("norm", nn.BatchNorm1d(4))] if bn else [])
            self.a = nn.Sequential(OrderedDict(a + [("act", nn.ReLU())]))
            b = [nn.Linear(4, 4)] + ([nn.ReLU()] if deep else [])
            inner = [nn.Linear(4, 4)] + ([nn.Linear(4, 4)] if deep else [])
            innermost = ([] if deep else [nn.ReLU()]) + [nn.Linear(4, 4)]
            inner.append(nn.Sequential(*innermost))
            self.b = nn.Sequential(*b, nn.Sequential(*inner))
            self.c, self.d = NS(bn), NS()

        def forward(self, x):
            return self.d(self.c(self.b(self.a(x))))

    return Net()


@pytest.mark.parametrize("bn,deep", [(True, False), (False, True)])
def test_conditional_layers_in_named_and_nested_sequentials(write_spec, bn, deep):
    path = write_spec(CONDITIONAL_LAYERS)
    x = torch.randn(3, 4)
    same_model(nnspec.build(path, bn=bn, deep=deep), conditional_layers_reference(bn, deep), x)
    same_init(lambda: nnspec.build(path, bn=bn, deep=deep),
              lambda: conditional_layers_reference(bn, deep))
    spec = nnspec.load(path, bn=bn, deep=deep)
    paths = []

    def walk(instance):
        paths.append(instance.path)
        for child in instance.children:
            walk(child)

    walk(spec.tree)
    assert paths == [name for name, _ in nnspec.build(spec).named_modules()]


def test_expression_functions_in_forward_conditions(write_spec):
    text = ("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  params: {k: 3}\n  children:\n"
            "    fc: Linear(4, 4)\n  forward:\n    - if: max(k, 2) > 2 and min(k, 1) == 1\n"
            "      then: x = fc(x)\n    - return x * 1\n")
    path = write_spec(text)
    x = torch.randn(2, 4)
    model = nnspec.build(path)
    assert torch.equal(model(x), model.fc(x))
    assert torch.equal(nnspec.build(path, k=1)(x), x)


def test_a_parameter_cannot_be_named_like_an_expression_function(write_spec):
    path = write_spec("nnspec: 1\ninputs: {x: [4]}\nblocks:\n  B:\n    params: {max: 4}\n"
                      "    children:\n      fc: Linear(4, max(max, 2))\nmodel:\n"
                      "  children: {b: B()}\n")
    assert errors(path) == [("bad-name", 5, 14)]
