"""How fast the language server re-checks a spec after an edit, in process, as it runs it.

Each figure is the least and the median over `--repeat` edits, after one warm-up check
(imports and caches paid for), in wall time and in CPU time (on a busy machine the CPU time is
the steadier figure):

- a 10,000-layer spec written out line by line (bench/scaling.py's: Linear layers and ReLUs in
  one Sequential), re-checked after a one-line change, with the inlay hints an editor asks
  for (the 100 lines in view, around the change) computed from the result; and again with the
  hints of the whole file (every child's output shape). Goal: under 300 ms.
- the same 10,000 layers written as a repeat of a block (the way big models are written),
  the same way.
- a 500-line spec (a block used 160 times, plus a head), re-checked after a one-line change
  and its diagnostics ready to publish: the time from the end of the debounce window
  (`nnspec.lsp.server.DEBOUNCE_S` after the last change) to publication. Goal: under 100 ms.

Each edit alternates one line between two valid spellings, so each check sees new text.
With `--server`, the same edits also go to a real `nnspec lsp` process over stdio (pygls's
client), timed from sending the change to receiving its diagnostics (and, for the big spec,
the inlay hints in view), less the debounce window. Nothing asserts a timing.

    python bench/lsp_speed.py
    python bench/lsp_speed.py --server                # and end to end, through the protocol
    python bench/lsp_speed.py --repeat 20 --profile   # and the hot spots of one big check
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scaling import spec as big_spec  # noqa: E402 - after the path above

from nnspec.lsp.diagnostics import problems  # noqa: E402
from nnspec.lsp.hints import hints  # noqa: E402
from nnspec.lsp.server import DEBOUNCE_S  # noqa: E402
from nnspec.lsp.workspace import Workspace  # noqa: E402

BIG = "10,000 layers in 10,000 lines, hints in view"
BIG_ALL = "10,000 layers in 10,000 lines, hints of every line"
REPEATED = "10,000 layers by a repeat, hints of every line"
MEDIUM = "500-line spec, diagnostics ready"
GOALS = {BIG: 0.300, BIG_ALL: 0.300, REPEATED: 0.300, MEDIUM: 0.100}
VIEW = 100  # lines an editor shows, and asks inlay hints for


def medium_spec(lines: int = 500) -> str:
    """About `lines` lines: a conv block, a Sequential of its uses and ReLUs, a head."""
    head = ["nnspec: 1", "inputs:", "  x: [16, 8, 8]", "blocks:", "  ConvBN:",
            "    doc: Conv, BatchNorm and ReLU.", "    params: {cin: int, cout: int, k: 3}",
            "    children:", "      conv: Conv2d(cin, cout, k, padding=k // 2, bias=False)",
            "      bn: BatchNorm2d(cout)", "      act: ReLU(inplace=True)", "    forward:",
            "      - return act(bn(conv(x)))", "model:", "  params: {width: 16}",
            "  children:", "    body:"]
    tail = ["    pool: AdaptiveAvgPool2d(1)", "    flat: Flatten()", "    fc: Linear(width, 10)",
            "  forward:", "    - x = body(x)", "    - return fc(flat(pool(x)))"]
    body = []
    for i in range(lines - len(head) - len(tail)):
        body.append("      - ConvBN(width, width)" if i % 3 else "      - Dropout(0.1)")
    return "\n".join(head + body + tail) + "\n"


def repeated_spec(layers: int = 10_000) -> str:
    """`layers` layers as a repeat of a four-layer block in one Sequential."""
    return "\n".join([
        "nnspec: 1", "inputs:", "  x: [64]", "blocks:", "  Unit:", "    params: {d: int}",
        "    children:", "      fc: Linear(d, d)", "      norm: LayerNorm(d)",
        "      act: GELU()", "      drop: Dropout(0.1)", "    forward:",
        "      - return drop(act(norm(fc(x))))", "model:", "  params: {width: 64}",
        "  children:", "    body:", f"      - repeat: {layers // 4}",
        "        call: Unit(width)", ""])


def timed(text: str, path: str, work: Callable[[Workspace, str, str], object],
          repeat: int, line: int, variants: tuple[str, str]) -> tuple[list[float], list[float]]:
    """Wall and CPU times of `work` after each one-line edit of `text` (line `line`
    alternates between `variants`)."""
    ws = Workspace()
    lines = text.split("\n")
    kept = work(ws, path, text)  # warm-up
    wall, cpu = [], []
    for i in range(repeat):
        lines[line] = variants[i % 2]
        edited = "\n".join(lines)
        start, start_cpu = time.perf_counter(), time.process_time()
        result = work(ws, path, edited)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        kept = result  # as the server does, the previous check is freed after the answer
    del kept
    return wall, cpu


def with_hints(ws: Workspace, path: str, text: str) -> object:
    check = ws.check(path, text)
    assert check.compiled is not None, check.diagnostics[:3]
    return check, hints(check)


def hints_in_view(line: int) -> Callable[[Workspace, str, str], object]:
    """A check, then the hints of the `VIEW` lines around `line`."""
    def work(ws: Workspace, path: str, text: str) -> object:
        check = ws.check(path, text)
        assert check.compiled is not None, check.diagnostics[:3]
        return check, hints(check, line - VIEW // 2, line + VIEW // 2)
    return work


def with_diagnostics(ws: Workspace, path: str, text: str) -> object:
    check = ws.check(path, text)
    assert check.compiled is not None, check.diagnostics[:3]
    return check, problems(check)


async def through_server(cases: dict[str, tuple[str, int, tuple[str, str]]], repeat: int,
                         folder: Path) -> dict[str, list[float]]:
    """Wall seconds from each change sent to its answer received, less the debounce window."""
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("lsp-speed", "1")
    published: dict[str, asyncio.Queue] = {}

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        published.setdefault(params.uri, asyncio.Queue()).put_nowait(params)

    await client.start_io(sys.executable, "-m", "nnspec", "lsp")
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
    out = {}
    for name, (text, line, variants) in cases.items():
        path = folder / f"{len(out)}.yaml"
        uri = path.as_uri()
        queue = published.setdefault(uri, asyncio.Queue())
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri, "yaml", 1, text)))
        await queue.get()
        lines, times = text.split("\n"), []
        for i in range(repeat):
            lines[line] = variants[i % 2]
            start = time.perf_counter()
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=i + 2, uri=uri),
                [types.TextDocumentContentChangeWholeDocument("\n".join(lines))]))
            got = await queue.get()
            assert not got.diagnostics, got.diagnostics[:3]
            if name != MEDIUM:
                view = types.Range(types.Position(line - VIEW // 2, 0),
                                   types.Position(line + VIEW // 2, 0))
                await client.text_document_inlay_hint_async(types.InlayHintParams(
                    types.TextDocumentIdentifier(uri), view))
            times.append(time.perf_counter() - start - DEBOUNCE_S)
        out[name] = times
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--server", action="store_true",
                        help="also time the edits end to end through a real server process")
    parser.add_argument("--profile", action="store_true",
                        help="also print cProfile's top functions for one big check")
    args = parser.parse_args()
    big = big_spec(10_000)
    big_line = big.split("\n").index("      - ReLU()", 5_000)
    medium = medium_spec()
    med_line = medium.split("\n").index("      - Dropout(0.1)")
    unit = repeated_spec()
    unit_line = unit.split("\n").index("      drop: Dropout(0.1)")
    runs = {
        BIG: timed(big, str(ROOT / "big.yaml"), hints_in_view(big_line), args.repeat,
                   big_line, ("      - ReLU(inplace=True)", "      - ReLU()")),
        BIG_ALL: timed(big, str(ROOT / "big.yaml"), with_hints, args.repeat, big_line,
                       ("      - ReLU(inplace=True)", "      - ReLU()")),
        REPEATED: timed(unit, str(ROOT / "unit.yaml"), with_hints, args.repeat, unit_line,
                        ("      drop: Dropout(0.2)", "      drop: Dropout(0.1)")),
        MEDIUM: timed(medium, str(ROOT / "medium.yaml"), with_diagnostics, args.repeat,
                      med_line, ("      - Dropout(0.2)", "      - Dropout(0.1)")),
    }
    print(f"one line changed, then re-checked ({args.repeat} edits each)")
    print(f"{'case':<50} {'wall least':>10} {'median':>7} {'CPU least':>10} {'median':>7} "
          f"{'goal':>6}")
    for name, (wall, cpu) in runs.items():
        print(f"{name:<50} {_ms(min(wall)):>10} {_ms(statistics.median(wall)):>7} "
              f"{_ms(min(cpu)):>10} {_ms(statistics.median(cpu)):>7} {_ms(GOALS[name]):>6}")
    print(f"(debounce window: {DEBOUNCE_S * 1000:.0f} ms after the last change; the 500-line "
          f"figure is measured from its end)")
    if args.server:
        cases = {BIG: (big, big_line, ("      - ReLU(inplace=True)", "      - ReLU()")),
                 MEDIUM: (medium, med_line, ("      - Dropout(0.2)", "      - Dropout(0.1)"))}
        with tempfile.TemporaryDirectory() as folder:
            ends = asyncio.run(through_server(cases, args.repeat, Path(folder)))
        print("through `nnspec lsp` over stdio, from the end of the debounce window to the "
              "answer (wall)")
        for name, wall in ends.items():
            print(f"{name:<50} {_ms(min(wall)):>10} {_ms(statistics.median(wall)):>7} "
                  f"{'':>10} {'':>7} {_ms(GOALS[name]):>6}")
    if args.profile:
        ws = Workspace()
        with_hints(ws, "big.yaml", big)
        profiler = cProfile.Profile()
        profiler.runcall(with_hints, ws, "big.yaml", big.replace("ReLU()", "ReLU(True)", 1))
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
