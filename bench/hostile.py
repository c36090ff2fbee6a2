"""How fast hostile input is answered, and how that cost grows: CPU time, side by side.

The tests in tests/test_hostile_*.py check what nnspec answers on hostile input, under a
generous hang guard; they never assert a time. This prints the times:
  - each growing line or scalar (tests/hostile_inputs.py) through the nesting pre-scan or the
    YAML reader at N and 2N characters, and the ratio (goal ≤ 2.3x per doubling: a
    backtracking pattern shows 4x or far more);
  - each bounded refusal (a collapsed repeat of a billion modules, a 9 MB tree, 100,000
    repeats, ...) beside `nnspec validate` of a small spec in the same process, as a ratio.
Each figure is the least CPU time (`time.process_time`) over `--repeat` runs, after a warm-up.

    python bench/hostile.py [--repeat 3] [--size 32000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hostile_inputs import GROWING_LINES, GROWING_SCALARS  # noqa: E402 - after the path

from nnspec.cli.main import main as nnspec  # noqa: E402
from nnspec.diagnostics import did_you_mean, reset_hint_budget  # noqa: E402
from nnspec.frontend import nesting  # noqa: E402
from nnspec.frontend.reader import parse_document  # noqa: E402
from nnspec.importers.printed import import_tree  # noqa: E402

SMALL = ("nnspec: 1\ninputs:\n  x: [3, 8, 8]\nmodel:\n  name: Net\n  params:\n    widen: 1\n"
         "  children:\n    fc: Flatten()\n  forward:\n    - return fc(x)\n")
LINEAR = "Linear(in_features=4, out_features=4, bias=True)"


def cpu(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: imports and caches are paid before the clock starts
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return max(best, 1e-6)


def quiet(*argv: str) -> Callable[[], object]:
    def run() -> object:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return nnspec(list(argv))
    return run


def growth(size: int, repeat: int) -> None:
    print(f"{'growing input':36} {'N':>8} {'CPU at N':>10} {'at 2N':>10} {'ratio':>7}")
    cases = [(f"nesting scan: {name}", lambda t: (nesting.nesting_problem(t, "s"),
                                                 nesting.block_scalar_header(t)), make)
             for name, make in sorted(GROWING_LINES.items())]
    cases += [(f"yaml scalar: {name}", lambda t: parse_document(t, "s"), make)
              for name, make in sorted(GROWING_SCALARS.items())]
    for label, fn, make in cases:
        small, large = (make(size), make(2 * size))
        a = cpu(lambda: fn(small), repeat)
        b = cpu(lambda: fn(large), repeat)
        print(f"{label:36} {size:>8,} {a:>9.4f}s {b:>9.4f}s {b / a:>6.2f}x")


def refusals(folder: Path, repeat: int) -> None:
    small = folder / "small.yaml"
    small.write_text(SMALL)
    floor = cpu(quiet("validate", str(small)), repeat)
    print(f"\n{'bounded refusal':52} {'CPU':>9} {'vs validate of a small spec':>28}")
    print(f"{'(nnspec validate, small spec)':52} {floor:>8.3f}s {'1.00x':>28}")

    def write(name: str, text: str) -> str:
        (folder / name).write_text(text)
        return str(folder / name)

    children = "".join(f"chidlren{i}: 1\n" for i in range(10_000))
    params = "".join(f"    p{i}: {i}\n" for i in range(20_000))
    write("base.yaml", SMALL.replace("    widen: 1\n", "    widen: 1\n" + params))
    tree = "\n".join(["Sequential("] + [f"  ({i}): {LINEAR}" for i in range(150_000)] + [")"])
    chain = "\n".join(["Net("] + [f"  (l{i}): Linear(in_features=4, out_features={i % 7 + 1}, "
                                  "bias=True)" for i in range(1500)] + [")"])
    choices = [f"{a}{b}{c}layer" for a in "abcdefgh" for b in "abcdefgh" for c in "abcd"]

    def misspellings() -> None:
        reset_hint_budget()
        for i in range(10_000):
            did_you_mean(f"{'abcdefgh'[i % 8]}xq{i}layr", choices)

    cases = {
        "validate: the 47-byte anchor line": quiet(
            "validate", write("anchors.yaml", "doc: " + "&" * 39 + " x[\n")),
        "validate: 10,000 misspelled keys": quiet(
            "validate", write("keys.yaml", SMALL + children)),
        "validate: extends a parent of 20,000 params": quiet(
            "validate", write("child.yaml", "extends: base.yaml\nmodel:\n  params:\n"
                                            "    widen: 2\n")),
        "did-you-mean, 10,000 misses over 256 names": misspellings,
        "import tree: a collapsed repeat of 10^9": quiet("import", "tree", write(
            "repeat.txt", f"ModuleList(\n  (0-999999999): 1000000000 x {LINEAR}\n)\n")),
        "import tree: 9 MB, over the byte bound": quiet(
            "import", "tree", write("big.txt", tree + "\n")),
        "import tree (in process): 1,500 chained Linears": lambda: import_tree(
            chain, "t", 1, {"x": [4]}),
        "build: 100,000 repeats": quiet("build", write(
            "repeats.yaml", "nnspec: 1\ninputs: {x: [4]}\nmodel:\n  children:\n    body:\n"
                            "      - {repeat: 100000, call: ReLU()}\n"
                            "  forward: [return body(x)]\n")),
    }
    for label, fn in cases.items():
        seconds = cpu(fn, repeat)
        print(f"{label:52} {seconds:>8.3f}s {seconds / floor:>27.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", type=int, default=32_000, help="N for the growing inputs")
    args = parser.parse_args()
    growth(args.size, args.repeat)
    with tempfile.TemporaryDirectory() as folder:
        refusals(Path(folder), args.repeat)


if __name__ == "__main__":
    main()
