"""How fast the torch-free verbs start and run, measured as whole processes, side by side.

Prints medians of repeated, interleaved runs (so machine load hits every command alike), in
CPU time (user + system of the child process):
  - each verb beside its floor, the libraries it cannot do without, as a ratio (goal ≤ 1.5x):
    `nnspec validate specs/nin.yaml` against `python -c "import pydantic, yaml"`, and
    `nnspec build specs/resnet50.yaml -o F --check` against
    `python -c "import pydantic, yaml, jinja2"`;
  - `nnspec validate` and `nnspec summary` on generated specs of N and 2N layers (goal: N =
    10,000 under 2 s, and doubling N at most doubles the time); `--layers 0` skips them.

The verbs run as the `nnspec` console script beside this Python (as a user runs it), or as
`python -m nnspec` when there is none.

Usage: python bench/static_speed.py [--repeat 11] [--layers 10000]
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
    """Median wall-clock and CPU (user + system) seconds of each command, which must exit 0.

    Bytecode is written and read as in an installed package (PYTHONDONTWRITEBYTECODE is
    dropped), and an untimed first round writes it, so no command pays for compiling source.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(repeat + 1):
        for name, command in commands.items():  # interleaved: load affects all alike
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            if round_:
                wall[name].append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime
                                 - before.ru_stime)
    return ({n: statistics.median(v) for n, v in wall.items()},
            {n: statistics.median(v) for n, v in cpu.items()})


def nnspec_command() -> list[str]:
    script = Path(sys.executable).with_name("nnspec")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "nnspec"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--layers", type=int, default=10_000)
    args = parser.parse_args()
    py = sys.executable
    nnspec = nnspec_command()
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp, "resnet50.py")
        subprocess.run([*nnspec, "build", "specs/resnet50.yaml", "-o", str(generated)],
                       cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
        commands = {
            "floor validate": [py, "-c", "import pydantic, yaml"],
            "validate nin": [*nnspec, "validate", "specs/nin.yaml"],
            "floor build": [py, "-c", "import pydantic, yaml, jinja2"],
            "build --check": [*nnspec, "build", "specs/resnet50.yaml", "-o", str(generated),
                              "--check"],
        }
        small, big = Path(tmp, "n.yaml"), Path(tmp, "2n.yaml")
        if args.layers:
            small.write_text(generate(args.layers))
            big.write_text(generate(2 * args.layers))
            for verb in ("validate", "summary"):
                commands[f"{verb} N"] = [*nnspec, verb, str(small)]
                commands[f"{verb} 2N"] = [*nnspec, verb, str(big)]
        t, c = median_times(commands, args.repeat)
    print(f"medians of {args.repeat} interleaved runs, whole processes, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; CPU time (wall clock)")
    rows = [("nnspec validate specs/nin.yaml", "validate nin",
             'python -c "import pydantic, yaml"', "floor validate"),
            ("nnspec build specs/resnet50.yaml -o F --check", "build --check",
             'python -c "import pydantic, yaml, jinja2"', "floor build")]
    for verb, v, floor, f in rows:
        print(f"  {verb:<46} {c[v]:.3f} s ({t[v]:.3f})")
        print(f"    {floor:<44} {c[f]:.3f} s ({t[f]:.3f})  ratio {c[v] / c[f]:.2f}x CPU "
              f"({t[v] / t[f]:.2f}x wall) (goal: at most 1.5x)")
    if not args.layers:
        return
    n = args.layers
    for verb in ("validate", "summary"):
        a, b = f"{verb} N", f"{verb} 2N"
        print(f"  nnspec {verb:<8} {n:>6,} layers  {c[a]:.3f} s ({t[a]:.3f})  (goal: 2 s)")
        print(f"  nnspec {verb:<8} {2 * n:>6,} layers  {c[b]:.3f} s ({t[b]:.3f})  = "
              f"{c[b] / c[a]:.2f}x ({t[b] / t[a]:.2f}x) (goal: at most 2x)")


if __name__ == "__main__":
    main()
