"""Dtypes in the static pass against torch: each forward expression below is compiled from a
spec, its static shape and dtype compared with a real forward of the generated model (so the
step also passes the forward whitelist and code generation); where the static pass refuses a
dtype, torch must raise on the same operation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import nnspec
from nnspec.catalog.values import Tensor, promote_types, result_type
from nnspec.diagnostics import SpecError
from nnspec.ir.analysis import shape_of

INPUTS = """\
  f: [4, 6]
  d: {shape: [4, 6], dtype: float64}
  h: {shape: [4, 6], dtype: float16}
  i: {shape: [4, 6], dtype: int64, range: [1, 5]}
  j: {shape: [6], dtype: int32, range: [0, 3]}
  m: {shape: [4, 6], dtype: bool}
"""


def spec_text(expr: str) -> str:
    return f"nnspec: 1\ninputs:\n{INPUTS}model:\n  forward:\n    - return {expr}\n"


def _dtype(value):
    if isinstance(value, (torch.Tensor, Tensor)):
        return str(value.dtype).removeprefix("torch.")
    return [_dtype(v) for v in value]


CASES = [
    # promotion: tensors with dims, 0-d tensors, Python numbers
    "i + f", "i + 1", "i + 1.5", "m + m", "m + 1", "j + i", "f + d", "h + f", "d * 2.0",
    "i * m", "i ** 2", "i ** 0.5", "2 ** j", "f.sum() + i", "d.sum() + f", "i.sum() + h",
    "m.sum() + m",
    # division, comparisons
    "i / 2", "i / i", "j / 2.0", "i // 2", "i % 3", "i < f", "(i < f) & m",
    # reductions
    "i.sum(-1)", "j.sum(-1)", "m.sum(-1)", "f.sum(-1, dtype=torch.float64)",
    "f.mean(-1, dtype=torch.float64)", "i.float().mean(-1)",
    # joining
    "torch.cat([f, d], 1)", "torch.cat([i, f], 1)", "torch.cat([m, j.expand(1, 4, -1)], 2)",
    "torch.stack([i, m])", "torch.where(m, i, f)", "torch.where(m, i, 0)",
    "torch.where(i > 2, j, i)",
    # casts
    "i.float()", "i.long()", "f.long()", "i.double()", "f.half()", "f.int()", "i.bool()",
    "f.to(torch.int64)", "f.to(dtype=torch.float64)", "f.to(i)", "f.to(f.device)",
    "f.to(f.device, torch.float16)", "i.type_as(f)", "i.to(f.dtype)", "f.to(torch.long)",
    # new tensors
    "torch.arange(6)", "torch.arange(1, 7, 2)", "torch.arange(0, 1, 0.25)",
    "torch.arange(6, dtype=torch.float32)", "torch.arange(i.size(2), device=i.device) + i",
    "torch.ones(2, 3)", "torch.zeros(2, 3, dtype=torch.long)", "torch.zeros((2, 3))",
    "torch.ones_like(i)", "torch.zeros_like(f, dtype=torch.bool)",
    "torch.tril(torch.ones(4, 4))", "i.triu(1)",
    "f.masked_fill(m, 0.0)", "i.masked_fill(m, 7)",
    "f.masked_fill(torch.tril(torch.ones(4, 6)) == 0, -1e4)",
    # elementwise functions
    "torch.sigmoid(i)", "i.relu()", "torch.sqrt(i)", "torch.exp(m)", "F.relu(i)",
    "F.gelu(f)", "F.dropout(i, 0.0)", "F.softmax(i, -1, dtype=torch.float32)",
    "d.softmax(-1)", "torch.rsqrt(i)", "torch.rsqrt(f)", "f.cos()", "torch.sin(i)",
    "i.pow(2)", "i.pow(0.5)", "torch.pow(f, 2)",
    "torch.stack(torch.meshgrid(torch.arange(3), torch.arange(4), indexing='ij'))",
    "torch.meshgrid([torch.arange(3.0), torch.arange(4.0)], indexing='xy')",
    # products and attention
    "f @ f.transpose(1, 2)", "i @ i.transpose(1, 2)", "torch.matmul(d, d.transpose(1, 2))",
    "F.scaled_dot_product_attention(h.float(), f, f, is_causal=True)",
    "F.scaled_dot_product_attention(f.view(1, 2, 2, 6), f.view(1, 2, 2, 6), "
    "f.view(1, 2, 2, 6), attn_mask=torch.tril(torch.ones(2, 2)) > 0)",
    # views keep the dtype
    "i.expand(3, -1, -1)", "i[:, 0]", "m[:, 1:3].transpose(1, 2)", "j.view(2, 3)",
    "i.split(2, dim=1)", "d.chunk(2, 2)", "i.flatten()", "i.permute(2, 0, 1)",
    "i.flatten(1).reshape_as(f)", "m.view_as(d)", "j[:, None].expand_as(i)",
]


@pytest.mark.parametrize("expr", CASES)
def test_static_shape_and_dtype_are_torchs(write_spec, expr):
    spec = nnspec.load(write_spec(spec_text(expr)))
    model = nnspec.build(spec).eval()
    with torch.no_grad():
        out = model(*nnspec.example_inputs(spec, batch=1))
    real = out if isinstance(out, torch.Tensor) else list(out)
    static = spec.analysis.output
    assert shape_of(static) == shape_of_torch(real)
    assert _dtype(static) == _dtype(real)


def shape_of_torch(value):
    if isinstance(value, torch.Tensor):
        return list(value.shape)
    return [shape_of_torch(v) for v in value]


# what the static pass refuses, and the same operation in torch, which must raise too
REFUSED: list[tuple[str, Callable[[dict], object]]] = [
    ("i.mean()", lambda v: v["i"].mean()),
    ("f @ d.transpose(1, 2)", lambda v: v["f"] @ v["d"].transpose(1, 2)),
    ("torch.matmul(i, f.transpose(1, 2))", lambda v: torch.matmul(v["i"], v["f"].mT)),
    ("torch.where(f, f, f)", lambda v: torch.where(v["f"], v["f"], v["f"])),
    ("f.masked_fill(i, 0.0)", lambda v: v["f"].masked_fill(v["i"], 0.0)),
    ("F.gelu(i)", lambda v: F.gelu(v["i"])),
    ("torch.meshgrid(torch.arange(3), torch.arange(4.0), indexing='ij')",
     lambda v: torch.meshgrid(torch.arange(3), torch.arange(4.0), indexing="ij")),
    ("F.silu(i)", lambda v: F.silu(v["i"])),

    ("F.softmax(i, -1)", lambda v: F.softmax(v["i"], -1)),
    ("m.relu()", lambda v: v["m"].relu()),
    ("F.layer_norm(i, [6])", lambda v: F.layer_norm(v["i"], [6])),
    ("F.scaled_dot_product_attention(f, d, d)",
     lambda v: F.scaled_dot_product_attention(v["f"], v["d"], v["d"])),
    ("F.scaled_dot_product_attention(i, i, i)",
     lambda v: F.scaled_dot_product_attention(v["i"], v["i"], v["i"])),
    ("F.scaled_dot_product_attention(f, f, f, attn_mask=i[:, :, :4])",
     lambda v: F.scaled_dot_product_attention(v["f"], v["f"], v["f"],
                                              attn_mask=v["i"][:, :, :4])),
]


@pytest.mark.parametrize("expr, torch_op", REFUSED, ids=[e for e, _ in REFUSED])
def test_refused_where_torch_raises(write_spec, expr, torch_op):
    with pytest.raises(SpecError) as info:
        nnspec.load(write_spec(spec_text(expr)))
    codes = {d.code for d in info.value.diagnostics}
    assert codes == {"dtype-mismatch"}, [d.render() for d in info.value.diagnostics]
    spec = nnspec.load(write_spec(spec_text("f")))
    values = dict(zip(("f", "d", "h", "i", "j", "m"), nnspec.example_inputs(spec, batch=1)))
    with pytest.raises((RuntimeError, ValueError, TypeError)):
        torch_op(values)


NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
         "float64"]


@pytest.mark.parametrize("a", NAMES)
def test_promotion_table_is_torchs(a):
    for b in NAMES:
        assert promote_types(a, b) == _dtype(torch.empty(0, dtype=torch.promote_types(
            getattr(torch, a), getattr(torch, b))))
        dims = Tensor((2,), dtype=a)
        for other, real in ((Tensor((), dtype=b), torch.zeros((), dtype=getattr(torch, b))),
                            (1, 1), (1.5, 1.5), (True, True)):
            expected = torch.result_type(torch.zeros(2, dtype=getattr(torch, a)), real)
            assert result_type(dims, other) == _dtype(torch.empty(0, dtype=expected)), (a, b)
