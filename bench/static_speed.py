"""How fast the torch-free verbs are, measured as whole processes, side by side.

Prints medians of repeated, interleaved runs (so machine load hits every command alike):
  - `nnspec summary specs/nin.yaml` against `python -c "import torch"` (the issue's bar: at
    most 0.25x);
  - `nnspec validate` and `nnspec summary` on generated specs of N and 2N layers (bar: N =
    10,000 under 2 s, and doubling N at most doubles the time).

Usage: python bench/static_speed.py [--repeat 7] [--layers 10000]
Timings are reported, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(layers: int) -> str:
    """A spec of `layers` leaf layers: half in one long Sequential (widths inferred), half in
    residual blocks of five layers with a skip add."""
    flat = layers // 2 // 3 * 3
    blocks = (layers - flat) // 5
    cycle = ["Conv2d(out_channels=16, kernel_size=3, padding=1)", "BatchNorm2d()", "ReLU()"]
    lines = ["nnspec: 1", "inputs:", "  x: [16, 8, 8]", "blocks:", "  Res:",
             "    params: {c: int}", "    children:",
             "      conv1: Conv2d(c, c, 3, padding=1, bias=False)",
             "      bn1: BatchNorm2d()", "      relu: ReLU()",
             "      conv2: Conv2d(c, c, 3, padding=1, bias=False)",
             "      bn2: BatchNorm2d()", "    forward:",
             "      - y = relu(bn1(conv1(x)))", "      - return relu(bn2(conv2(y)) + x)",
             "model:", "  children:", "    flat:"]
    lines += [f"      - {cycle[i % 3]}" for i in range(flat)]
    lines += ["    res:"] + ["      - Res(16)"] * blocks
    return "\n".join(lines) + "\n"


def median_times(commands: dict[str, list[str]], repeat: int
                 ) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall-clock and CPU (user + system) seconds of each command."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():  # interleaved: load affects all alike
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            wall[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return ({n: statistics.median(v) for n, v in wall.items()},
            {n: statistics.median(v) for n, v in cpu.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--layers", type=int, default=10_000)
    args = parser.parse_args()
    py = sys.executable
    nnspec = [py, "-m", "nnspec"]
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp, "n.yaml"), Path(tmp, "2n.yaml")
        small.write_text(generate(args.layers))
        big.write_text(generate(2 * args.layers))
        t, c = median_times({
            "import torch": [py, "-c", "import torch"],
            "summary nin": [*nnspec, "summary", "specs/nin.yaml"],
            "validate N": [*nnspec, "validate", str(small)],
            "summary N": [*nnspec, "summary", str(small)],
            "validate 2N": [*nnspec, "validate", str(big)],
            "summary 2N": [*nnspec, "summary", str(big)],
        }, args.repeat)
    n = args.layers
    print(f"medians of {args.repeat} interleaved runs, whole processes, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; wall clock (CPU time)")
    print(f"  python -c 'import torch'         {t['import torch']:.3f} s ({c['import torch']:.3f})")
    print(f"  nnspec summary specs/nin.yaml    {t['summary nin']:.3f} s ({c['summary nin']:.3f})"
          f"  = {t['summary nin'] / t['import torch']:.2f}x import torch "
          f"({c['summary nin'] / c['import torch']:.2f}x) (bar: 0.25x)")
    for verb in ("validate", "summary"):
        a, b = f"{verb} N", f"{verb} 2N"
        print(f"  nnspec {verb:<8} {n:>6,} layers  {t[a]:.3f} s ({c[a]:.3f})  (bar: 2 s)")
        print(f"  nnspec {verb:<8} {2 * n:>6,} layers  {t[b]:.3f} s ({c[b]:.3f})  = "
              f"{t[b] / t[a]:.2f}x ({c[b] / c[a]:.2f}x) (bar: at most 2x)")


if __name__ == "__main__":
    main()
