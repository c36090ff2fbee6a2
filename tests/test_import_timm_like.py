"""Forward recovery on constructs met in timm's and torchvision's models, each reproduced by a
small module written here: block calls with keyword arguments, indexing with integer
tensors, sizes computed with `math`, bilinear resizing, keyword arguments passed at their
default. Each import is checked here as
well as by the importer: same print, strict state_dict load, equal outputs."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from test_import_forward import forward_of, same
from test_import_tree import build_text
from torch import nn
from torch.nn import functional as F

import nnspec
from nnspec.catalog.values import OpError, Tensor
from nnspec.diagnostics import SpecError
from nnspec.elaborate.shapes.indexing import index_shape
from nnspec.importers.live import import_model


def round_trip(model: nn.Module, tmp_path, shape: list[int]) -> str:
    torch.manual_seed(0)
    result = import_model(model, type(model).__name__, {"x": shape})
    assert result.warnings == []
    rebuilt = build_text(result.text, tmp_path)
    assert str(rebuilt) == str(model)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    model.eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        assert same(model(x), rebuilt(x))
    return result.text


class Sized(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x, size):
        h, w = size
        return self.fc(x).reshape(x.shape[0], h, w, 4)


class KeywordCalls(nn.Module):
    """Blocks called with a keyword argument, in a loop and alone (as CoaT calls its blocks)."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Sized(), Sized()])
        self.last = Sized()

    def forward(self, x):
        y = x
        for blk in self.blocks:
            y = blk(x, size=(2, 3)).flatten(1, 2)
        return self.last(y, size=(3, 2))


def test_blocks_called_with_keyword_arguments(tmp_path):
    text = round_trip(KeywordCalls(), tmp_path, [6, 4])
    # by position, as the forward's own order allows (calls.baked_out)
    assert any("last(" in step and ", (3, 2))" in step
               for step in forward_of(text, "KeywordCalls"))


class BiasTable(nn.Module):
    """A learned table gathered by an index buffer (EfficientFormer's and LeViT's attention
    biases): `table[:, idx]`."""

    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.randn(2, 5))
        self.register_buffer("idx", torch.randint(0, 5, (5, 5)))
        self.fc = nn.Linear(5, 5)

    def forward(self, x):
        return self.fc(x).unsqueeze(1) + self.table[:, self.idx]


def test_indexing_with_an_integer_tensor(tmp_path):
    text = round_trip(BiasTable(), tmp_path, [5, 5])
    assert "table[:, idx]" in " ".join(forward_of(text, "BiasTable"))


def _items():
    def long(*shape):
        return torch.zeros(shape, dtype=torch.long), Tensor(shape, dtype="int64")

    return [(slice(None),) * 2, (0, 0), (None, None), (slice(1, 3),) * 2, long(2, 3), long(3),
            long(1, 3), (..., ...)]


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_the_index_shape_rule_is_torch_s(size):
    """Every index of `size` items drawn from ints, slices, None, ... and integer tensors: the
    shape torch gives, or an error where torch raises one."""
    x = torch.zeros(4, 5, 6, 7)
    for combo in itertools.product(_items(), repeat=size):
        if sum(1 for real, _ in combo if real is ...) > 1:
            continue
        real, ours = tuple(c[0] for c in combo), tuple(c[1] for c in combo)
        try:
            want = tuple(x[real].shape)
        except (IndexError, RuntimeError):
            want = None
        try:
            got = tuple(index_shape(Tensor((4, 5, 6, 7)), ours).shape)
        except OpError:
            got = None
        assert got == want, real


def test_indexes_whose_shape_the_values_decide_are_refused():
    x = Tensor((4, 5))
    with pytest.raises(OpError, match="bool tensor is not supported statically"):
        index_shape(x, Tensor((4,), dtype="bool"))
    with pytest.raises(OpError, match="a list is not supported statically"):
        index_shape(x, (slice(None), [0, 1]))
    with pytest.raises(OpError, match=r"index values in \[0, 9\) are out of range for size 5"):
        index_shape(x, (slice(None), Tensor((3,), dtype="int64", bounds=(0, 9))))


class Patches(nn.Module):
    """MobileViT's unfold: the map resized up to a multiple of the patch size where it is not
    one (`math.ceil` of a size, a branch on it), then cut into patches."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        x = self.conv(x)
        b, c, h, w = x.shape
        new_h, new_w = math.ceil(h / 2) * 2, math.ceil(w / 2) * 2
        if new_h != h or new_w != w:
            x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False)
        return x.reshape(b, c, new_h // 2, 2, new_w // 2, 2).sum(dim=(3, 5))


def test_sizes_from_math_and_a_bilinear_resize(tmp_path):
    text = round_trip(Patches(), tmp_path, [3, 7, 5])
    steps = " ".join(forward_of(text, "Patches"))
    assert "math.ceil(" in steps
    assert "F.interpolate(" in steps and "mode='bilinear', align_corners=False" in steps


class Masked(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x, attn_mask=None, is_causal: bool = False):
        if attn_mask is not None or is_causal:
            raise NotImplementedError
        return self.fc(x)


class PassesDefaults(nn.Module):
    """A child called with keyword arguments at their defaults (timm's Block calls its
    Attention with `attn_mask=None`): the child's spec forward has no such inputs."""

    def __init__(self):
        super().__init__()
        self.attn = Masked()

    def forward(self, x):
        return x + self.attn(x, attn_mask=None, is_causal=False)


def test_keyword_arguments_at_their_default_are_dropped(tmp_path):
    text = round_trip(PassesDefaults(), tmp_path, [8])
    assert forward_of(text, "PassesDefaults") == ["out = attn(x)", "return x + out"]


def test_math_in_a_forward_step_takes_numbers(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("""nnspec: 1
inputs:
  x: [3, 7, 7]
model:
  children:
    conv: Conv2d(3, 4, 1)
  forward:
    - n = math.ceil(x.shape[2] / 2) * 2
    - return F.interpolate(conv(x), size=(n, n), mode='bilinear', align_corners=False)
""")
    model = nnspec.build(spec)
    assert tuple(model(torch.randn(2, 3, 7, 7)).shape) == (2, 4, 8, 8)
    spec.write_text(spec.read_text().replace("math.ceil(x.shape[2] / 2)", "math.ceil(x)"))
    with pytest.raises(SpecError, match=r"math.ceil\(\) takes a number, got Tensor"):
        nnspec.build(spec)


class RelativeBias(nn.Module):
    """MaxViT's attention bias: a forward that computes with its own index buffer
    (`self.index.view(-1)`), which must stay the buffer, not the value it held when traced."""

    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.randn(9, 2))
        self.register_buffer("index", torch.randint(0, 9, (4, 4)))
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        bias = self.table[self.index.view(-1)].view(4, 4, -1).permute(2, 0, 1)
        return self.fc(x).unsqueeze(1) + bias.unsqueeze(0)


def test_a_buffer_computed_with_in_forward_stays_the_buffer(tmp_path):
    text = round_trip(RelativeBias(), tmp_path, [4, 4])
    assert "table[index.view(-1)]" in " ".join(forward_of(text, "RelativeBias"))


class SwapAxes(nn.Module):
    def forward(self, x):
        return torch.swapaxes(x, 1, 2).swapdims(0, 1)


def test_swapaxes_and_swapdims(tmp_path):
    text = round_trip(SwapAxes(), tmp_path, [3, 5])
    assert forward_of(text, "SwapAxes") == ["return torch.swapaxes(x, 1, 2).swapdims(0, 1)"]


class Fusion(nn.Module):
    """HRNet's fuse layers: items of a ModuleList inside a ModuleList, called from a forward
    that torch.fx cannot trace (it assigns to an item of its input list)."""

    def __init__(self):
        super().__init__()
        self.fuse = nn.ModuleList([nn.ModuleList([nn.Linear(4, 4), nn.Identity()])
                                   for _ in range(2)])

    def forward(self, xs: list[torch.Tensor]):
        xs = list(xs)
        xs[0] = xs[0] * 2
        return [self.fuse[i][0](xs[0]) + self.fuse[i][1](xs[1]) for i in range(2)]


class TwoBranches(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = Fusion()

    def forward(self, x):
        a, b = self.body([x, x + 1])
        return a - b


def test_items_of_a_container_inside_a_container_are_called(tmp_path):
    text = round_trip(TwoBranches(), tmp_path, [4])
    steps = " ".join(forward_of(text, "Fusion"))
    assert "fuse[0][0](" in steps and "fuse[1][0](" in steps


class Fourier(nn.Module):
    """EdgeNeXt's positional encoding: computed from a shape the caller passes as ints (which
    must stay sizes, not the example's numbers), through a bool mask, cumsum, a floor division
    and sin / cos."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(8, 4, 1)

    def forward(self, shape: tuple[int, int, int]):
        dtype = self.proj.weight.dtype
        mask = ~torch.zeros(shape).to(device=self.proj.weight.device, dtype=torch.bool)
        y = mask.cumsum(1, dtype=torch.float32)
        y = y / (y[:, -1:, :] + 1e-6)
        dim_t = torch.arange(4, dtype=torch.int64).to(torch.float32)
        dim_t = 100.0 ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / 4)
        pos = y[:, :, :, None] / dim_t
        pos = torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=4).flatten(3)
        pos = torch.cat((pos, pos), dim=3).permute(0, 3, 1, 2)
        return self.proj(pos.to(dtype))


class WithPosition(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = Fourier()

    def forward(self, x):
        b, c, h, w = x.shape
        return x + self.pos((b, h, w))


def test_sizes_passed_as_ints_stay_sizes(tmp_path):
    text = round_trip(WithPosition(), tmp_path, [4, 3, 5])
    steps = " ".join(forward_of(text, "Fourier"))
    assert "torch.zeros([shape[0], shape[1], shape[2]])" in steps  # not the example's sizes
    assert "~" in steps and "torch.bool" in steps and "rounding_mode='floor'" in steps
    rebuilt = build_text(text, tmp_path)
    rebuilt.load_state_dict(WithPosition().state_dict())
    assert rebuilt(torch.randn(3, 4, 6, 2)).shape == (3, 4, 6, 2)  # another batch and size


def test_cumsum_and_div_shapes_and_dtypes(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("""nnspec: 1
inputs:
  x: [3, 5]
model:
  forward:
    - a = x.long().cumsum(1)
    - b = torch.div(a, 2, rounding_mode='floor')
    - c = torch.cumsum(x, 0, dtype=torch.float64)
    - return a, b, torch.div(a, 2), c
""")
    model = nnspec.build(spec)
    out = model(torch.randn(2, 3, 5))
    assert [o.dtype for o in out] == [torch.int64, torch.int64, torch.float32, torch.float64]


class GatherAfterBranch(nn.Module):
    """A table gathered by an index buffer in a forward only torch.export traces (it branches
    on a size): export writes the gather as aten.index."""

    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.randn(9, 2))
        self.register_buffer("index", torch.randint(0, 9, (4, 4)))

    def forward(self, x):
        if x.shape[-1] % 2 == 0:
            x = x * 2
        return x.unsqueeze(1) + self.table[self.index].permute(2, 0, 1)


def test_a_gather_torch_export_writes_as_aten_index(tmp_path):
    text = round_trip(GatherAfterBranch(), tmp_path, [4, 4])
    assert "table[index]" in " ".join(forward_of(text, "GatherAfterBranch"))
