"""The ops Hugging Face's attention-mask building comes down to under torch.export (`diff`,
`new_ones` / `new_zeros`, `&` on bool tensors, indexing with several integer tensors): each
static rule against torch itself, on several shapes, dtypes and arguments, accepting what
torch accepts with its shape and dtype and refusing what it refuses; then a module whose
forward builds such a mask, imported with `import module` and rebuilt exactly."""

from __future__ import annotations

import math
import warnings

import pytest
from test_import_tree import build_text

import nnspec
from nnspec.catalog import ops
from nnspec.catalog.values import DType, OpError, Tensor
from nnspec.diagnostics import SpecError
from nnspec.importers.inputs import Input
from nnspec.importers.live import import_model

with warnings.catch_warnings():  # torch warns at import when numpy is absent
    warnings.simplefilter("ignore")
    import torch
    from torch import nn

DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "bfloat16", "float32",
          "float64"]


def real(shape, dtype: str) -> torch.Tensor:
    return torch.zeros(shape, dtype=getattr(torch, dtype))


def static(value):
    if isinstance(value, torch.Tensor):
        return Tensor(tuple(value.shape), dtype=str(value.dtype).removeprefix("torch."))
    if isinstance(value, torch.dtype):
        return DType(str(value).removeprefix("torch."))
    return value


def agree(rule, torch_call, args: tuple, kwargs: dict) -> None:
    """The rule gives torch's shape and dtype, or refuses where torch raises."""
    try:
        want = torch_call(*args, **kwargs)
    except (RuntimeError, TypeError, IndexError, ValueError):
        with pytest.raises(OpError):
            rule(*[static(a) for a in args], **{k: static(v) for k, v in kwargs.items()})
        return
    got = rule(*[static(a) for a in args], **{k: static(v) for k, v in kwargs.items()})
    assert (got.shape, got.dtype) == (tuple(want.shape),
                                      str(want.dtype).removeprefix("torch.")), (args, kwargs)


DIFF_SHAPES = [(5,), (2, 3), (3, 1, 4), (2, 0)]


@pytest.mark.parametrize("shape", DIFF_SHAPES)
@pytest.mark.parametrize("n", [0, 1, 2, 4, 7, -1])
@pytest.mark.parametrize("dim", [0, -1, 1, 3])
def test_diff_shape_matches_torch(shape, n, dim):
    x = real(shape, "int64")
    for fn in (ops.TORCH_FUNCTIONS["diff"], ops.METHODS["diff"]):
        agree(fn, torch.diff, (x, n, dim), {})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("other", DTYPES)
def test_diff_dtype_with_prepend_and_append_matches_torch(dtype, other):
    x = real((2, 3), dtype)
    agree(ops.TORCH_FUNCTIONS["diff"], torch.diff, (x,), {})
    agree(ops.TORCH_FUNCTIONS["diff"], torch.diff, (x, 1, -1, real((2, 1), other)), {})
    agree(ops.TORCH_FUNCTIONS["diff"], torch.diff, (x, 2),
          {"dim": 0, "append": real((4, 3), other)})


@pytest.mark.parametrize("prepend, append", [
    ((2, 1), None), (None, (2, 2)), ((2, 2), (2, 3)), ((1, 1), None), ((2,), None),
    ((3, 1), None), ((2, 1, 1), None), (None, (1, 3)), ((), None)])
@pytest.mark.parametrize("n", [0, 1, 3, 6])
def test_diff_prepend_and_append_shapes_match_torch(prepend, append, n):
    x = real((2, 3), "float32")
    kwargs = {"prepend": None if prepend is None else real(prepend, "float32"),
              "append": None if append is None else real(append, "float32")}
    agree(ops.TORCH_FUNCTIONS["diff"], torch.diff, (x, n), kwargs)


def test_diff_refuses_what_torch_refuses():
    for args in [(real((), "float32"),), (real((3,), "float32"), 1, -1, 5),
                 (real((3,), "float32"), 1.0), (real((3,), "float32"), True)]:
        agree(ops.TORCH_FUNCTIONS["diff"], torch.diff, args, {})


@pytest.mark.parametrize("name", ["new_ones", "new_zeros"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size, kwargs", [
    (([],), {}), (((2, 3),), {}), ((2, 3),  {}), (([4],), {"dtype": torch.bool}),
    ((3,), {"dtype": torch.float16}), ((), {}), ((2, -1), {}), (((),), {"dtype": torch.int64}),
    ((2.0,), {})])
def test_new_ones_and_zeros_match_torch(name, dtype, size, kwargs):
    x = real((2, 5), dtype)
    agree(ops.METHODS[name], lambda t, *a, **k: getattr(t, name)(*a, **k), (x, *size), kwargs)


BITWISE = [("&", lambda a, b: a & b), ("|", lambda a, b: a | b), ("^", lambda a, b: a ^ b)]


@pytest.mark.parametrize("symbol, fn", BITWISE, ids=[s for s, _ in BITWISE])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("other", [*DTYPES, True, 3, 1.5])
def test_bitwise_operators_match_torch(symbol, fn, dtype, other):
    a = real((2, 1, 3), dtype)
    b = real((4, 1), other) if isinstance(other, str) else other
    agree(ops.bitwise, fn, (a, b), {})


UNARY = [("~", lambda a: ~a), ("-", lambda a: -a), ("+", lambda a: +a)]


@pytest.mark.parametrize("symbol, fn", UNARY, ids=[s for s, _ in UNARY])
@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_operators_match_torch(symbol, fn, dtype):
    agree(lambda a: ops.unary_operator(symbol, a), fn, (real((2, 3), dtype),), {})


@pytest.mark.parametrize("wrong", ["x & x", "~x", "-(x > 0)"])
def test_operators_torch_refuses_are_refused_in_a_spec(tmp_path, wrong):
    spec = tmp_path / "spec.yaml"
    spec.write_text("nnspec: 1\ninputs:\n  x: [3, 5]\nmodel:\n  forward:\n"
                    f"    - return (x > 0) & (x < 1), ~(x > 0), -x, {wrong}\n")
    with pytest.raises(SpecError) as info:
        nnspec.load(spec)
    assert [(d.code, d.pos.line, d.pos.col) for d in info.value.diagnostics] == [
        ("dtype-mismatch", 6, 47)]


class Packed(nn.Module):
    """The mask Hugging Face builds under export for a causal model: positions per sequence
    (packed sequences restart them, found by `diff`), a causal and a same-sequence test by
    indexing with several index tensors, joined with `&` on a mask from `new_ones` (and `|`
    with the diagonal)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.proj = nn.Linear(8, 8)

    def forward(self, ids):
        batch, length = ids.shape
        x = self.embed(ids)
        position = torch.arange(length).unsqueeze(0).expand(batch, -1)
        first = position[:, :1] - 1
        sequence = (torch.diff(position, 1, -1, first) != 1).cumsum(-1)
        b = torch.arange(batch)[:, None, None, None]
        q = torch.arange(length)[None, None, :, None]
        k = torch.arange(length)[None, None, None, :]
        mask = q.new_ones((), dtype=torch.bool) & (position[b, k] <= position[b, q])
        mask = (mask & (sequence[b, q] == sequence[b, k])) | (q == k)
        bias = torch.where(mask, torch.zeros((), dtype=x.dtype), -1e4)
        scores = (x @ x.transpose(-1, -2)).unsqueeze(1) + bias
        return self.proj(scores.softmax(-1).squeeze(1) @ x)


class Branching(Packed):
    """The same, with a branch on a size, which stops torch.fx: its steps come from
    torch.export's ATen graph, spelled back as torch calls."""

    def forward(self, ids):
        if ids.shape[1] > 1:
            return super().forward(ids)
        return self.proj(self.embed(ids))


class Outer(nn.Module):
    def __init__(self, body: type = Packed):
        super().__init__()
        self.body = body()

    def forward(self, ids):
        return self.body(ids)


@pytest.mark.parametrize("body", [Packed, Branching])
def test_a_mask_built_with_diff_new_ones_and_several_indices_round_trips(tmp_path, body):
    model = Outer(body).eval()
    result = import_model(model, "packed", {"ids": Input((6,), "int64")})
    assert result.warnings == []
    text = result.text
    steps = text[text.index(f"{body.__name__}:"):]
    assert "torch.diff(" in steps and ".new_ones(" in steps
    assert " & " in steps and " | " in steps
    rebuilt = build_text(text, tmp_path)
    assert str(rebuilt) == str(model)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    for shape in [(2, 6), (3, 9)]:  # another batch and length than the traced ones
        ids = torch.randint(0, 10, shape)
        with torch.no_grad():
            assert torch.equal(model(ids), rebuilt.eval()(ids))


ELEMENTWISE = {"abs": torch.abs, "log": torch.log, "minimum": torch.minimum,
               "maximum": torch.maximum}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, other", [("abs", None), ("log", None),
                                         *[(n, o) for n in ("minimum", "maximum")
                                           for o in DTYPES]])
def test_abs_log_minimum_and_maximum_match_torch(name, dtype, other):
    x = real((2, 1, 3), dtype)
    args = (x,) if other is None else (x, real((4, 1), other))
    for table in (ops.TORCH_FUNCTIONS, ops.METHODS):
        agree(table[name], ELEMENTWISE[name], args, {})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value, kwargs", [(0, {}), (2.5, {}), (True, {}),
                                           (7, {"dtype": torch.float16})])
def test_full_like_matches_torch(dtype, value, kwargs):
    agree(ops.TORCH_FUNCTIONS["full_like"], torch.full_like, (real((2, 3), dtype), value),
          kwargs)


class Buckets(nn.Module):
    """T5's relative position buckets: abs, log, a minimum with full_like, where; behind a
    branch on a size, so its steps come from torch.export (`torch.min(a, b)` is
    aten.min.other there)."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Embedding(8, 2)

    def forward(self, x):
        if x.shape[1] < 1:
            return x
        n = x.shape[1]
        relative = torch.arange(n)[None, :] - torch.arange(n)[:, None]
        buckets = (relative > 0).to(torch.long) * 4
        relative = torch.abs(relative)
        large = 2 + (torch.log(relative.float() / 2) / math.log(16 / 2) * 2).to(torch.long)
        large = torch.min(large, torch.full_like(large, 3))
        buckets = buckets + torch.where(relative < 2, relative, large)
        return x + self.bias(buckets).permute(2, 0, 1).sum(0)


def test_t5_buckets_round_trip_at_other_lengths(tmp_path):
    model = Outer(Buckets).eval()
    result = import_model(model, "buckets", {"ids": [5, 5]})
    assert result.warnings == []
    steps = result.text[result.text.index("Buckets:"):]
    for call in ("torch.abs(", "torch.log(", "torch.minimum(", "torch.full_like("):
        assert call in steps
    rebuilt = build_text(result.text, tmp_path)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    for n in (5, 9, 2):
        x = torch.randn(2, n, n)
        with torch.no_grad():
            assert torch.equal(model(x), rebuilt.eval()(x))
