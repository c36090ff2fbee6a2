"""Shared fixtures: repository paths and the seed trees."""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Each pytest-xdist worker computes on one thread (unless told otherwise): with torch's default
# of one thread per core in each, two workers on two cores spend about half their CPU time
# spinning for each other. Set before any test imports torch; subprocesses inherit it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
# A byte-for-byte copy of ../shared/seed/nin_variants.md (test_seed checks they agree).
SEED = ROOT / "tests" / "golden" / "seed" / "nin_variants.md"
SHARED_SEED = ROOT.parent / "shared" / "seed" / "nin_variants.md"
SEED_SPECS = ["nin", "nin_dw", "nin_dw_x2"]

sys.path.insert(0, str(ROOT))


def spec_files() -> list[Path]:
    """Every top-level spec: tests that glob this cover specs added later automatically."""
    return sorted(SPECS.glob("*.yaml"))


# Root parameters at which the shared suites (codegen parity, static parity) run a spec too
# large for them at full size; its own tests check the full size against golden data.
SUITE_PARAMS: dict[str, dict] = {
    "vit_b_16": dict(image_size=32, patch_size=16, num_layers=2, num_heads=2, hidden_dim=32,
                     mlp_dim=64),
    # fewer blocks per stage, every kind of block kept (a strided first block, a residual one)
    "resnet50": dict(layers=[2, 1, 1, 1]),
    "mobilenet_v2": dict(cfg=[[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 1, 2], [6, 64, 1, 2],
                              [6, 96, 1, 1], [6, 160, 1, 2], [6, 320, 1, 1]]),
    # the first three stages, the second with two blocks (a residual one with stochastic depth)
    "efficientnet_b0": dict(expand_ratio=[1, 6, 6], kernel=[3, 3, 5], stride=[1, 2, 2],
                            channels=[32, 16, 24, 40], num_layers=[1, 2, 1]),
    "convnext_tiny": dict(dims=[8, 16, 32, 64], depths=[1, 1, 2, 1]),
    # windows of 4: at 64x64 the first stage's second block shifts its 16x16 map, the third
    # stage has one window (no shift), the last pads its 2x2 map
    "swin_t": dict(embed_dim=8, depths=[2, 1, 1, 1], num_heads=[1, 2, 2, 4], window_size=[4, 4]),
}


def suite_params(path: Path) -> dict:
    return SUITE_PARAMS.get(path.stem, {})


# Run first: the wheel test spends most of its time installing torch into a fresh venv (disk,
# not CPU); started first under `-n 2`, it overlaps the rest instead of trailing after it.
RUN_FIRST = ("tests/test_wheel.py::",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(RUN_FIRST))  # stable: rest in order


def seed_trees() -> dict[str, str]:
    """The three printed trees of the seed document, by spec name, text between the fences."""
    text = SEED.read_text(encoding="utf-8")
    trees = re.findall(r"```c\+\+\n(.*?)```", text, re.S)
    assert len(trees) == 3, "the seed document should hold three trees"
    return dict(zip(SEED_SPECS, trees))


def strip_bn_bias(tree: str) -> str:
    """torch >= 2.13 prints `, bias=True` in BatchNorm lines; the seed predates that."""
    return tree.replace(", affine=True, bias=True,", ", affine=True,")


@pytest.fixture
def write_spec(tmp_path):
    """Write spec text to a file and return its path (as a string)."""

    def write(text: str, name: str = "spec.yaml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


@contextmanager
def torch_math_paths() -> Iterator[None]:
    """Run torch on its reference paths, where FlopCounterMode sees every matmul.

    FlopCounterMode counts 0 for fused kernels: scaled_dot_product_attention's flash kernel,
    oneDNN's CPU LSTM, and the eval-and-no-grad fast paths of MultiheadAttention and
    TransformerEncoderLayer. nnspec counts the math those kernels do, so compare under this."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with warnings.catch_warnings():  # mkldnn.flags warns that this torch has no Intel GPU
            warnings.filterwarnings("ignore", "TF32 acceleration")
            with sdpa_kernel(SDPBackend.MATH), torch.backends.mkldnn.flags(enabled=False):
                yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)
