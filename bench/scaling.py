"""How each verb's cost grows with its input: CPU time at size N and 2N, side by side.

For `validate`, `summary` and `build -o` (to a temporary file) the input is a generated spec of
N layers in one Sequential (Linear layers of distinct widths, each followed by a ReLU); for
`import tree` a printed module tree of N such children. Each verb runs in this process through
`nnspec.cli.main.main` (output discarded), after one warm-up run on a small input so imports and
caches are paid for before the clock starts; the figure is the least CPU time
(`time.process_time`) over `--repeat` runs. The goal: doubling N at most 2.3x the time, i.e.
no verb worse than about N log N. Nothing asserts a timing.

    python bench/scaling.py                 # the default sizes, under a minute
    python bench/scaling.py --scale 4       # every N four times larger
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nnspec.cli.main import main as nnspec  # noqa: E402 - after the path above

GOAL = 2.3  # at most this ratio per doubling of N
SIZES = {"validate": 4000, "summary": 4000, "build -o": 4000, "import tree": 1000}


def spec(n: int) -> str:
    """N layers in one Sequential: Linear layers of widths 16 to 115 in a chain, each followed
    by a ReLU."""
    lines = ["nnspec: 1", "inputs:", "  x: [16]", "model:", "  children:", "    body:"]
    for i in range(n):
        a, b = _widths(i // 2)
        lines.append(f"      - Linear({a}, {b})" if i % 2 == 0 else "      - ReLU()")
    return "\n".join(lines) + "\n"


def _widths(k: int) -> tuple[int, int]:
    """The k-th Linear's in and out features: a chain through 16 to 115, period 100."""
    return 16 + k % 100, 16 + (k + 1) % 100


def tree(n: int) -> str:
    """A printed tree of N children in a Sequential, distinct so nothing folds into a repeat."""
    lines = ["Net(", "  (body): Sequential("]
    for i in range(n):
        a, b = _widths(i // 2)
        lines.append(f"    ({i}): Linear(in_features={a}, out_features={b}, bias=True)"
                     if i % 2 == 0 else f"    ({i}): ReLU()")
    return "\n".join(lines + ["  )", ")"]) + "\n"


def cpu_time(argv: list[str], repeat: int) -> float:
    """The least CPU seconds of `nnspec ARGV` in this process over `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        out, err = io.StringIO(), io.StringIO()
        start = time.process_time()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = nnspec(argv)
        best = min(best, time.process_time() - start)
        if code != 0:
            raise SystemExit(f"nnspec {' '.join(argv)} exited {code}:\n{err.getvalue()[-2000:]}")
    return best


def verbs(folder: Path) -> dict[str, tuple[Callable[[int], str], Callable[[Path], list[str]]]]:
    """Each verb: how to make its input of size N, and its command line for that input."""
    out = str(folder / "model.py")
    return {
        "validate": (spec, lambda p: ["validate", str(p)]),
        "summary": (spec, lambda p: ["summary", str(p)]),
        "build -o": (spec, lambda p: ["build", str(p), "-o", out, "--force"]),
        "import tree": (tree, lambda p: ["import", "tree", str(p), "-o", str(folder / "t.yaml")]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the least)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every N by this")
    parser.add_argument("verb", nargs="*", help=f"only these verbs, of {', '.join(SIZES)}")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"least CPU time of {args.repeat} runs, in process after a warm-up; "
          f"load average {os.getloadavg()[0]:.1f}; goal: 2N at most {GOAL}x N")
    print(f"  {'verb':<12} {'N':>6} {'CPU s':>8}   {'2N':>6} {'CPU s':>8}   ratio")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for verb, (make, argv) in verbs(folder).items():
            if args.verb and verb not in args.verb:
                continue
            n = max(2, int(SIZES[verb] * args.scale))
            paths = {}
            for size in (8, n, 2 * n):
                paths[size] = folder / f"{verb.split()[0]}-{size}.txt"
                paths[size].write_text(make(size), encoding="utf-8")
            cpu_time(argv(paths[8]), 1)  # warm-up: imports, caches
            small, big = cpu_time(argv(paths[n]), args.repeat), \
                cpu_time(argv(paths[2 * n]), args.repeat)
            ratio = big / small
            worst = max(worst, ratio)
            flag = "" if ratio <= GOAL else "  over the goal"
            print(f"  {verb:<12} {n:>6,} {small:>8.3f}   {2 * n:>6,} {big:>8.3f}   "
                  f"{ratio:.2f}x{flag}", flush=True)
    print(f"worst ratio {worst:.2f}x (goal {GOAL}x)")


if __name__ == "__main__":
    main()
