"""Record golden reference data from the real torchvision models.

Writes ``tests/golden/torchvision/<name>/`` for resnet18, resnet50, mobilenet_v2,
vit_b_16, convnext_tiny, efficientnet_b0 and swin_t (``torchvision.models.<name>()``,
weights=None, num_classes=1000):

- ``tree.txt``: ``str(model)`` plus a trailing newline.
- ``state_dict.txt``: ``key<TAB>shape (comma-separated, empty for scalars)<TAB>dtype``
  per state_dict entry, in order.
- ``init_seed0.json``: after ``torch.manual_seed(0)`` and construction, per entry
  the sha256 of the tensor's bytes, its float64 sum and its first 4 values, plus
  the parameter count and the torch / torchvision versions (one line per tensor).
- ``output_fixed.json``: eval mode, weights from ``tests/golden/fixed_weights.py``
  (``fill_fixed_``), input ``fixed_input((1, 3, H, W))`` with H = W = 64 (224 for
  vit_b_16 and the three newer models), forward under ``torch.no_grad()``: the full
  1000-value output.
- ``flops_224.json``: parameter count and ``FlopCounterMode`` total FLOPs for one
  forward pass at 1x3x224x224 (eval mode, autograd enabled), per-op counts, and
  the total with the MATH SDPA backend (see ``flops_224`` for why both).

torchvision is not a project dependency; run this from a scratch venv outside
the repository (commands from the repository root)::

    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tvenv/bin/python tools/record_torchvision_golden.py

Optional arguments name a subset of the models, e.g. ``... resnet18 vit_b_16``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import torch
import torchvision
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
OUT = GOLDEN / "torchvision"

# name -> (input side for output_fixed.json, expected parameter count)
MODELS: dict[str, tuple[int, int]] = {
    "resnet18": (64, 11_689_512),
    "resnet50": (64, 25_557_032),
    "mobilenet_v2": (64, 3_504_872),
    "vit_b_16": (224, 86_567_656),
    "convnext_tiny": (224, 28_589_128),
    "efficientnet_b0": (224, 5_288_548),
    "swin_t": (224, 28_288_354),
}


def load_fixed_weights() -> ModuleType:
    """Import tests/golden/fixed_weights.py by path (tests/ is not a package)."""
    path = GOLDEN / "fixed_weights.py"
    spec = importlib.util.spec_from_file_location("nnspec_golden_fixed_weights", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(name: str) -> torch.nn.Module:
    return getattr(torchvision.models, name)()


def param_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def state_dict_lines(model: torch.nn.Module) -> str:
    lines = []
    for key, t in model.state_dict().items():
        shape = ",".join(str(d) for d in t.shape)
        lines.append(f"{key}\t{shape}\t{dtype_name(t.dtype)}\n")
    return "".join(lines)


def tensor_digest(t: torch.Tensor) -> dict[str, object]:
    t = t.detach()
    data = t.contiguous().cpu().numpy().tobytes()
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sum": float(t.double().sum()),
        "first": [float(v) for v in t.flatten()[:4].tolist()],
    }


def init_json(name: str, expected_params: int) -> str:
    """Seeded-init digests, written by hand so that each tensor sits on one line."""
    torch.manual_seed(0)
    model = build(name)
    params = param_count(model)
    assert params == expected_params, (name, params, expected_params)
    head = {"torch": torch.__version__, "torchvision": torchvision.__version__, "params": params}
    lines = ["{"]
    lines += [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    lines.append(' "tensors": {')
    entries = [
        f"  {json.dumps(key)}: {json.dumps(tensor_digest(t))}"
        for key, t in model.state_dict().items()
    ]
    lines.append(",\n".join(entries))
    lines += [" }", "}"]
    text = "\n".join(lines) + "\n"
    json.loads(text)  # it must be valid JSON
    return text


def output_json(name: str, side: int, fw: ModuleType) -> tuple[str, torch.Tensor]:
    model = build(name).eval()
    fw.fill_fixed_(model)
    x = fw.fixed_input((1, 3, side, side))
    with torch.no_grad():
        y = model(x)
    assert torch.isfinite(y).all(), name
    record = {
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "output": [float(v) for v in y.flatten().tolist()],
        "torch": torch.__version__,
    }
    return json.dumps(record) + "\n", y


def count_flops(model: torch.nn.Module, x: torch.Tensor) -> tuple[int, dict[str, int]]:
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    return int(counter.get_total_flops()), by_op


def flops_224(name: str, expected_params: int) -> dict[str, object]:
    """FlopCounterMode totals for one 1x3x224x224 forward pass, eval mode.

    Autograd stays enabled on purpose: under ``torch.no_grad()`` in eval mode
    ``nn.MultiheadAttention`` takes its fused fast path
    (``torch._native_multi_head_attention``), which FlopCounterMode has no
    formula for, so most of vit_b_16 would go uncounted (22.5 G instead of 33.7 G).

    Even so, on CPU ``scaled_dot_product_attention`` dispatches to
    ``aten._scaled_dot_product_flash_attention_for_cpu``, which FlopCounterMode
    (torch 2.14.1) does not count either: ``flops`` leaves out the attention
    matmuls. ``flops_sdpa_math`` is the same pass with the MATH SDPA backend,
    whose bmm ops are counted; the two agree for models without attention.
    """
    torch.manual_seed(0)
    model = build(name).eval()
    params = param_count(model)
    assert params == expected_params, (name, params, expected_params)
    x = torch.zeros(1, 3, 224, 224)
    flops, by_op = count_flops(model, x)
    with sdpa_kernel([SDPBackend.MATH]):
        flops_math, by_op_math = count_flops(model, x)
    return {
        "params": params,
        "flops": flops,
        "input_shape": list(x.shape),
        "flops_by_op": by_op,
        "flops_sdpa_math": flops_math,
        "flops_by_op_sdpa_math": by_op_math,
        "torch": torch.__version__,
    }


def main(names: list[str]) -> None:
    fw = load_fixed_weights()
    for name in names:
        side, expected = MODELS[name]
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        model = build(name)
        (folder / "tree.txt").write_text(str(model) + "\n", encoding="utf-8")
        (folder / "state_dict.txt").write_text(state_dict_lines(model), encoding="utf-8")
        (folder / "init_seed0.json").write_text(init_json(name, expected), encoding="utf-8")
        text, y = output_json(name, side, fw)
        (folder / "output_fixed.json").write_text(text, encoding="utf-8")
        flops = flops_224(name, expected)
        (folder / "flops_224.json").write_text(json.dumps(flops) + "\n", encoding="utf-8")
        print(
            f"{name}: params={flops['params']:,} flops={flops['flops']:,} "
            f"flops_sdpa_math={flops['flops_sdpa_math']:,} "
            f"out std={y.std().item():.4f} min={y.min().item():.4f} max={y.max().item():.4f}"
        )


if __name__ == "__main__":
    requested = sys.argv[1:] or list(MODELS)
    unknown = [n for n in requested if n not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(MODELS)}")
    main(requested)
