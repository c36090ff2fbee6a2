"""Buffers computed when the model is built: forward-style steps over the class's parameters,
as torch code computes rotary `inv_freq` or Swin's `relative_position_index` in `__init__`. The
built buffers equal that code's, bit for bit and in dtype; the static pass knows their shapes;
generated code registers them as torch code does; and mistakes are positioned errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import nnspec
from nnspec.diagnostics import SpecError
from nnspec.static.diff import layout

SPEC = """\
nnspec: 1
inputs:
  x: [8, 16]
blocks:
  Rotary:
    params: {dim: int, theta: 10000.0}
    buffers:
      inv_freq:
        compute:
          - return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        persistent: false
    forward:
      - return x * inv_freq.sum()
  Window:
    params: {ws: "list[int]"}
    buffers:
      relative_position_index:
        compute:
          - coords_h = torch.arange(ws[0])
          - coords_w = torch.arange(ws[1])
          - coords = torch.stack(torch.meshgrid(coords_h, coords_w, indexing="ij"))
          - coords_flatten = torch.flatten(coords, 1)
          - relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]
          - relative_coords = relative_coords.permute(1, 2, 0).contiguous()
          - relative_coords[:, :, 0] += ws[0] - 1
          - relative_coords[:, :, 1] += ws[1] - 1
          - relative_coords[:, :, 0] *= 2 * ws[1] - 1
          - return relative_coords.sum(-1).flatten()
    forward:
      - return x + relative_position_index.float().mean()
model:
  params: {theta: 500000.0}
  children:
    fc: Linear(16, 16)
    rotary: Rotary(16, theta)
    window: Window([3, 2])
  forward:
    - return window(rotary(fc(x)))
"""


class Rotary(nn.Module):  # Hugging Face's LlamaRotaryEmbedding, its buffer
    def __init__(self, dim, theta=10000.0):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)


class Window(nn.Module):  # torchvision's ShiftedWindowAttention.define_relative_position_index
    def __init__(self, window_size):
        super().__init__()
        coords_h = torch.arange(window_size[0])
        coords_w = torch.arange(window_size[1])
        coords = torch.stack(torch.meshgrid(coords_h, coords_w, indexing="ij"))
        coords_flatten = torch.flatten(coords, 1)
        relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]
        relative_coords = relative_coords.permute(1, 2, 0).contiguous()
        relative_coords[:, :, 0] += window_size[0] - 1
        relative_coords[:, :, 1] += window_size[1] - 1
        relative_coords[:, :, 0] *= 2 * window_size[1] - 1
        self.register_buffer("relative_position_index", relative_coords.sum(-1).flatten())


@pytest.fixture
def spec_path(tmp_path):
    path = tmp_path / "computed.yaml"
    path.write_text(SPEC)
    return path


def test_computed_buffers_equal_the_torch_code_that_computes_them(spec_path):
    model = nnspec.build(spec_path)
    rotary, window = Rotary(16, 500000.0), Window([3, 2])
    for built, expected in ((model.rotary.inv_freq, rotary.inv_freq),
                            (model.window.relative_position_index,
                             window.relative_position_index)):
        assert built.dtype == expected.dtype
        assert torch.equal(built, expected)
    # persistent or not, as registered: only the index is in the checkpoint
    assert list(model.state_dict()) == ["fc.weight", "fc.bias", "window.relative_position_index"]
    model(torch.randn(2, 8, 16))


def test_the_static_pass_knows_their_shapes_and_dtypes(spec_path):
    spec = nnspec.load(spec_path)
    assert dict(layout(spec.analysis).keys) == {"fc.weight": (16, 16), "fc.bias": (16,),
                                                "window.relative_position_index": (36,)}
    # the forward reads the index as int64: adding a float mean of it keeps float32
    assert spec.analysis.output.dtype == "float32"


def test_generated_code_registers_them_as_torch_code_does(spec_path):
    source = nnspec.generate(spec_path)
    assert ('        self.register_buffer(\n            "inv_freq",\n            1.0 / theta ** '
            '(torch.arange(0, dim, 2, dtype=torch.int64).float() / dim),\n'
            '            persistent=False,\n        )\n') in source
    assert "        relative_coords[:, :, 0] += ws[0] - 1\n" in source
    assert ('        self.register_buffer(\n            "relative_position_index", '
            'relative_coords.sum(-1).flatten()\n        )\n') in source


def test_built_on_meta_then_init_weights_recomputes_them(spec_path):
    model = nnspec.build(spec_path, device="meta")
    assert model.rotary.inv_freq.is_meta
    model.to_empty(device="cpu")
    model.init_weights()
    assert torch.equal(model.rotary.inv_freq, Rotary(16, 500000.0).inv_freq)
    assert torch.equal(model.window.relative_position_index,
                       Window([3, 2]).relative_position_index)


@pytest.mark.parametrize(("buffer", "code", "message"), [
    ("{shape: [4], init: zeros, compute: [return torch.arange(4)]}", "bad-tensor",
     "either 'shape' and 'init', or 'compute'"),
    ("{compute: [y = torch.arange(4)]}", "missing-return", "do not end with a 'return'"),
    ("{compute: [return n + 1]}", "wrong-type", "computed as int, not a tensor"),
    ("{compute: [return torch.arange(4)], dtype: float32}", "bad-tensor", "its dtype is"),
    ("{compute: [return torch.arange(m)]}", "undefined-value", "'m' is not defined"),
    ("{compute: ['return torch.arange(4).view(3, -1)']}", "shape-mismatch", ""),
])
def test_mistakes_are_positioned_errors(tmp_path, buffer, code, message):
    path = tmp_path / "bad.yaml"
    path.write_text("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  params: {n: 4}\n"
                    f"  buffers:\n    b: {buffer}\n  forward: [return x + n]\n")
    with pytest.raises(SpecError) as info:
        nnspec.load(path)
    [diagnostic] = info.value.diagnostics
    assert diagnostic.code == code, diagnostic
    assert message in diagnostic.message
    assert diagnostic.pos.line == 6


def test_a_slice_updated_in_place_in_forward(tmp_path):
    path = tmp_path / "slice.yaml"
    path.write_text("nnspec: 1\ninputs: {x: [3, 4]}\nmodel:\n  forward:\n"
                    "    - y = x * 1\n    - y[:, :, 0] += 2\n    - return y\n")
    model = nnspec.build(path)
    x = torch.randn(2, 3, 4)
    expected = x.clone()
    expected[:, :, 0] += 2
    assert torch.equal(model(x), expected)
    path.write_text("nnspec: 1\ninputs: {x: [3, 4]}\nmodel:\n  forward:\n"
                    "    - y = x * 1\n    - y[:, :, 0] += torch.ones(2, 1, 3)\n"
                    "    - return y\n")
    with pytest.raises(SpecError) as info:
        nnspec.load(path)
    assert "in-place update of [1, 3] would make it [2, 1, 3]" in str(info.value)


def test_own_tensors_are_not_updated_in_place_even_in_part(tmp_path):
    path = tmp_path / "own.yaml"
    path.write_text("nnspec: 1\ninputs: {x: [4]}\nmodel:\n  buffers:\n"
                    "    b: {compute: [return torch.zeros(4)]}\n"
                    "  forward:\n    - b[0] += 1\n    - return x + b\n")
    with pytest.raises(SpecError) as info:
        nnspec.load(path)
    [diagnostic] = info.value.diagnostics
    assert diagnostic.code == "bad-forward" and "cannot be updated in place" in diagnostic.message
