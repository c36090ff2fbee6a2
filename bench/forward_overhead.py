"""Forward-pass overhead of nnspec models against hand-written references (CPU, batch 1).

For each case the contestants are: the reference, a deep copy of the reference (the control:
its ratio shows the noise floor of the measurement), the model from `nnspec.build(spec)`, and
the class from `nnspec.generate(spec)` written to a temporary file and imported like any user
module. Every candidate gets the reference's weights when its state_dict has the same keys and
shapes, and the largest output difference is printed beside its timing.

Method: eval mode, `torch.no_grad()`, one thread by default (`--threads`), warm-up forwards
first, then `--runs` rounds (at least 15); each round times `--inner` forwards of every
contestant, in an order rotated from round to round so no contestant always goes first. A
contestant's time is the median over rounds of its per-forward time; its ratio is the median
over rounds of (its time / the reference's time in the same round), paired so slow drift of
the machine cancels. Nothing here asserts a timing.

    PYTHONPATH=. python bench/forward_overhead.py                 # resnet18, resnet50
    PYTHONPATH=. python bench/forward_overhead.py nin --runs 21   # any case in CASES

A case whose spec does not exist yet is skipped with a message. To add one, add a `Case` to
CASES (reference factories live in tests/reference/).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "tests"):  # nnspec itself, and the references in tests/reference/
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

with warnings.catch_warnings():  # torch warns at import when numpy is absent
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch
    from torch import nn

import nnspec  # noqa: E402 - after the sys.path set-up above

MIN_RUNS = 15


@dataclass(frozen=True)
class Case:
    """A spec and the hand-written model it should match. `input_shape` (no batch dim) fixes
    the timed input; None takes the spec's declared inputs at batch 1."""

    name: str
    spec: Path
    reference: Callable[[], nn.Module]
    input_shape: tuple[int, ...] | None = None


def _cifar_resnet20() -> nn.Module:
    from reference.cifar_resnet import resnet20

    return resnet20()


def _tv(name: str) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        from reference import torchvision_models

        return getattr(torchvision_models, name)()
    return make


def _nin() -> nn.Module:
    from reference.nin import REFERENCES

    return REFERENCES["nin"]()


def _unet() -> nn.Module:
    from reference.unet import UNet

    return UNet(3, 2, bilinear=False)


def _vit_b_16() -> nn.Module:
    from reference.vit import vit_b_16

    return vit_b_16()


def _reference(module: str, factory: str) -> Callable[[], nn.Module]:
    """A factory from tests/reference/<module>.py, imported when the case runs."""
    def make() -> nn.Module:
        return getattr(importlib.import_module(f"reference.{module}"), factory)()
    return make


def _gpt_mini() -> nn.Module:
    from reference.gpt import GPT

    return GPT()


def _lstm_classifier() -> nn.Module:
    from reference.lstm_classifier import LSTMClassifier

    return LSTMClassifier()


CASES: dict[str, Case] = {
    "resnet18": Case("resnet18", ROOT / "specs" / "resnet18.yaml", _tv("resnet18"), (3, 224, 224)),
    "resnet50": Case("resnet50", ROOT / "specs" / "resnet50.yaml", _tv("resnet50"), (3, 224, 224)),
    "mobilenet_v2": Case("mobilenet_v2", ROOT / "specs" / "mobilenet_v2.yaml",
                         _tv("mobilenet_v2"), (3, 224, 224)),
    "resnet20_cifar": Case("resnet20_cifar", ROOT / "specs" / "resnet20_cifar.yaml",
                           _cifar_resnet20),
    "nin": Case("nin", ROOT / "specs" / "nin.yaml", _nin),
    "unet": Case("unet", ROOT / "specs" / "unet.yaml", _unet),
    # transformers; token inputs (int64) come from the spec's declared inputs
    "vit_b_16": Case("vit_b_16", ROOT / "specs" / "vit_b_16.yaml", _vit_b_16, (3, 224, 224)),
    "gpt_mini": Case("gpt_mini", ROOT / "specs" / "gpt_mini.yaml", _gpt_mini),
    "lstm_classifier": Case("lstm_classifier", ROOT / "specs" / "lstm_classifier.yaml",
                            _lstm_classifier),
    # torchvision's newer models, against the trimmed copies of their code
    "convnext_tiny": Case("convnext_tiny", ROOT / "specs" / "convnext_tiny.yaml",
                          _reference("convnext", "convnext_tiny"), (3, 224, 224)),
    "efficientnet_b0": Case("efficientnet_b0", ROOT / "specs" / "efficientnet_b0.yaml",
                            _reference("efficientnet", "efficientnet_b0"), (3, 224, 224)),
    "swin_t": Case("swin_t", ROOT / "specs" / "swin_t.yaml", _reference("swin", "swin_t"),
                   (3, 224, 224)),
}
DEFAULT_CASES = ["resnet18", "resnet50"]


@dataclass
class Timing:
    label: str
    median_s: float  # per forward, median over rounds
    ratio: float  # median over rounds of time / reference time in the same round
    note: str = ""


def generated_model(spec: nnspec.Spec, folder: Path) -> nn.Module:
    """The root class of `nnspec.generate(spec)`, written to `folder` and imported from there."""
    path = folder / f"nnspec_bench_{spec.name.lower()}.py"
    path.write_text(nnspec.generate(spec), encoding="utf-8")
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, spec.name)()


def share_weights(reference: nn.Module, candidate: nn.Module) -> bool:
    """Copy the reference's state_dict into the candidate when the layouts agree."""
    ours, theirs = candidate.state_dict(), reference.state_dict()
    if list(ours) != list(theirs) or any(ours[k].shape != theirs[k].shape for k in ours):
        return False
    candidate.load_state_dict(theirs)
    return True


def time_forwards(model: nn.Module, x: torch.Tensor, inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        model(x)
    return (time.perf_counter() - start) / inner


def compare(reference: nn.Module, candidates: dict[str, nn.Module], x: torch.Tensor,
            runs: int = MIN_RUNS, inner: int = 3, warmup: int = 3) -> list[Timing]:
    """Interleaved timing of the reference, a copy of it (control) and each candidate.

    Returns one Timing per contestant, the reference first. All models are put in eval mode.
    """
    if runs < MIN_RUNS:
        raise ValueError(f"runs must be at least {MIN_RUNS}, got {runs}")
    contestants = {"reference": reference, "control (reference copy)": copy.deepcopy(reference),
                   **candidates}
    labels = list(contestants)
    times: dict[str, list[float]] = {label: [] for label in labels}
    with torch.no_grad():
        for model in contestants.values():
            model.eval()
            for _ in range(warmup):
                model(x)
        for r in range(runs):
            for label in labels[r % len(labels):] + labels[:r % len(labels)]:
                times[label].append(time_forwards(contestants[label], x, inner))
    base = times["reference"]
    return [Timing(label, statistics.median(ts),
                   statistics.median(t / b for t, b in zip(ts, base)))
            for label, ts in times.items()]


def case_input(case: Case, spec: nnspec.Spec) -> torch.Tensor:
    if case.input_shape is not None:
        return torch.randn(1, *case.input_shape, generator=torch.Generator().manual_seed(0))
    inputs = nnspec.example_inputs(spec, batch=1)
    if len(inputs) != 1:
        raise ValueError(f"{case.name}: the harness times single-input models")
    return inputs[0]


def run_case(case: Case, runs: int = MIN_RUNS, inner: int = 3,
             warmup: int = 3) -> list[Timing] | None:
    """Time one case and print its table; None (with a message) when its spec is absent."""
    if not case.spec.is_file():
        shown = case.spec.relative_to(ROOT) if case.spec.is_relative_to(ROOT) else case.spec
        print(f"{case.name}: skipped, {shown} does not exist yet")
        return None
    spec = nnspec.load(case.spec)
    reference = case.reference()
    x = case_input(case, spec)
    with tempfile.TemporaryDirectory() as tmp:
        candidates = {"nnspec.build": nnspec.build(spec),
                      "nnspec.generate": generated_model(spec, Path(tmp))}
    notes = {}
    with torch.no_grad():
        want = reference.eval()(x)
        for label, model in candidates.items():
            if share_weights(reference, model):
                diff = (model.eval()(x) - want).abs().max().item()
                notes[label] = f"same weights, max |out diff| {diff:.2e}"
            else:
                notes[label] = "state_dict layout differs: own weights"
    timings = compare(reference, candidates, x, runs, inner, warmup)
    for t in timings:
        t.note = notes.get(t.label, "")
    print(f"{case.name}: input {tuple(x.shape)}, {runs} rounds x {inner} forwards, "
          f"{torch.get_num_threads()} thread(s)")
    for t in timings:
        print(f"  {t.label:<26} {t.median_s * 1e3:9.3f} ms  ratio {t.ratio:6.3f}  {t.note}")
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", default=DEFAULT_CASES,
                        help=f"cases to run (default: {' '.join(DEFAULT_CASES)}; "
                             f"known: {' '.join(CASES)})")
    parser.add_argument("--runs", type=int, default=MIN_RUNS,
                        help=f"interleaved rounds, at least {MIN_RUNS} (default {MIN_RUNS})")
    parser.add_argument("--inner", type=int, default=3, help="forwards per round (default 3)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed forwards per contestant first (default 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1)")
    args = parser.parse_args(argv)
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}")
    if args.runs < MIN_RUNS:
        parser.error(f"--runs must be at least {MIN_RUNS}")
    torch.set_num_threads(args.threads)
    for name in args.cases:
        run_case(CASES[name], args.runs, args.inner, args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
