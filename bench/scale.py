"""Scale without memory: Llama-3-8B and 70B (specs/llama.yaml with `--set`) summarised and built
on the meta device, with the figures the README quotes. Nothing asserts a timing.

- `nnspec summary` as a whole process (interpreter start, imports, compiling the spec and the
  static pass), wall-clock time, the least of `--repeat` runs; it never imports torch, and its
  parameter count is printed beside the expected one.
- deferred initialisation of a medium Llama (hidden 1024, 4 layers, vocab 32000): a seeded
  build, against a meta build then `to_empty()` and `init_weights()` under the same seed, and
  whether the two are bitwise identical.
- `nnspec.build(..., device="meta")` of the 8B config in this process, torch already imported:
  the first build (compiling the spec, generating and executing the classes, constructing) and
  a second (classes cached). torch imports `torch._dynamo` lazily on the first random init of a
  meta tensor in a process (several seconds, torch's own cost, once per process); it is paid
  before the clock starts, by one `normal_` on a meta tensor, and shown on its own line.

    python bench/scale.py
    python bench/scale.py --repeat 5
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "llama.yaml"

LLAMA_3_8B = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336,
                  num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                  max_position_embeddings=8192, rope_theta=500000.0, rms_norm_eps=1e-5,
                  tie_word_embeddings=False)
LLAMA_3_70B = {**LLAMA_3_8B, "hidden_size": 8192, "intermediate_size": 28672,
               "num_hidden_layers": 80, "num_attention_heads": 64}
# a model that fits in memory for the deferred-init check: 8B's shape, narrower and shallower
MEDIUM = {**LLAMA_3_8B, "vocab_size": 32000, "hidden_size": 1024, "intermediate_size": 3584,
          "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 2}
EXPECTED = {"Llama-3-8B": (LLAMA_3_8B, 8_030_261_248), "Llama-3-70B": (LLAMA_3_70B,
                                                                       70_553_706_496)}


def sets(config: dict) -> list[str]:
    shown = {name: str(value).lower() if isinstance(value, bool) else value
             for name, value in config.items()}
    return [arg for name, value in shown.items() for arg in ("--set", f"{name}={value}")]


def summary_process(config: dict, repeat: int) -> tuple[float, str]:
    """The least wall-clock time of `nnspec summary` as a process, and its params line."""
    command = [sys.executable, "-m", "nnspec", "summary", str(SPEC), *sets(config)]
    best, line = float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        best = min(best, time.perf_counter() - start)
        line = next(s for s in out.stdout.splitlines() if s.startswith("params:"))
    return best, line


def torch_free(config: dict) -> bool:
    """Whether summarising imports torch (it must not)."""
    code = ("import sys; from nnspec.cli.main import main; main(['summary', %r, *%r]); "
            "sys.stdout.flush(); print('torch' in sys.modules)" % (str(SPEC), sets(config)))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().splitlines()[-1] == "False"


def meta_builds() -> None:
    start = time.perf_counter()
    import torch

    import nnspec
    print(f"import torch, nnspec:                  {time.perf_counter() - start:6.2f} s")
    start = time.perf_counter()
    torch.empty(1, device="meta").normal_()
    print(f"torch's first meta init (its imports): {time.perf_counter() - start:6.2f} s")
    for attempt in ("first", "second"):
        start = time.perf_counter()
        model = nnspec.build(SPEC, device="meta", **LLAMA_3_8B)
        took = time.perf_counter() - start
        count = sum(p.numel() for p in model.parameters())
        print(f"build 8B on meta, {attempt}:              {took:6.2f} s  ({count:,} parameters, "
              "goal < 3 s)")


def deferred_init(config: dict) -> None:
    """A seeded build against meta, `to_empty` and `init_weights()` under the same seed: the
    times, and whether every parameter and buffer is bitwise identical."""
    import torch

    import nnspec
    nnspec.build(SPEC, device="meta", **config)  # compile and generate once, untimed
    start = time.perf_counter()
    torch.manual_seed(0)
    built = nnspec.build(SPEC, **config)
    seeded = time.perf_counter() - start
    start = time.perf_counter()
    late = nnspec.build(SPEC, device="meta", **config)
    meta = time.perf_counter() - start
    start = time.perf_counter()
    late.to_empty(device="cpu")
    torch.manual_seed(0)
    late.init_weights()
    init = time.perf_counter() - start
    a = {**dict(built.named_parameters()), **dict(built.named_buffers())}
    b = {**dict(late.named_parameters()), **dict(late.named_buffers())}
    same = list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    count = sum(p.numel() for p in built.parameters())
    print(f"deferred init, {count:,} parameters: seeded build {seeded:.2f} s; meta build "
          f"{meta:.2f} s + to_empty and init_weights() {init:.2f} s; bitwise identical: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, (config, expected) in EXPECTED.items():
        took, line = summary_process(config, args.repeat)
        print(f"nnspec summary {name}: {took:5.2f} s as a process (goal < 2 s); {line} "
              f"(expected {expected:,}); torch-free: {torch_free(config)}")
    meta_builds()
    deferred_init(MEDIUM)


if __name__ == "__main__":
    main()
