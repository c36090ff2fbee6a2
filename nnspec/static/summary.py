"""The data and text of `nnspec summary`: a spec's modules with output shapes, parameters
and MACs, from the static pass alone (no torch), and a side-by-side comparison of variants.
(Not named `summary.py`: a submodule would shadow the API function `nnspec.summary`.)

Counting convention (docs/summary.md): `params` is torch's count (parameters, no buffers);
`flops` is what torch's FlopCounterMode reports for one forward pass of a batch of 1 (2 per
multiply-accumulate of convolutions and matrix products; bias adds, norms, activations and
pools are not counted); `macs` is `flops / 2`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nnspec.catalog.values import DEFAULT_FLOAT
from nnspec.elaborate.shapes import UNKNOWN, Analysis, Shape, analyze, shape_of, tensors_in

if TYPE_CHECKING:
    from nnspec.api import Spec


def summarize(spec: Spec, inputs: dict[str, Shape] | None = None) -> dict[str, Any]:
    """The summary data of one spec; `inputs` overrides declared input shapes (no batch)."""
    analysis = analyze(spec.program, spec.tree, inputs) if inputs else spec.analysis
    return as_data(spec.path, spec.name, analysis)


def as_data(path: str, name: str, analysis: Analysis) -> dict[str, Any]:
    outputs = analysis.output if isinstance(analysis.output, tuple) else (analysis.output,)
    return {
        "spec": path,
        "model": name,
        "params": analysis.params,
        "macs": analysis.macs,
        "flops": 2 * analysis.macs,
        "inputs": {name: list(shape) for name, shape in analysis.inputs.items()},
        "input_dtypes": dict(analysis.input_dtypes),
        "outputs": [shape_of(o) for o in outputs],
        "layers": [{
            "path": info.path,
            "type": info.type,
            "output": shape_of(info.outputs[-1]) if info.outputs else None,
            "dtype": dtype_of(info.outputs[-1]) if info.outputs else None,
            "params": info.params,
            "macs": info.macs,
            "calls": len(info.outputs),
        } for info in analysis.modules.values() if info.path],
    }


def dtype_of(value: Any) -> str | None:
    """The dtype of a module's output: one name, or None when unknown or mixed (a tuple)."""
    dtypes = {t.dtype for t in tensors_in(value)}
    return dtypes.pop() if len(dtypes) == 1 else None


def _with_dtype(text: str, dtype: str | None) -> str:
    """Only a dtype other than float32 is shown, so float models read as before."""
    return f"{text} {dtype}" if dtype not in (None, DEFAULT_FLOAT) else text


def readable(n: int | None) -> str:
    """3 significant digits with a K/M/G/T suffix: 2684702 -> 2.68M."""
    if n is None:
        return "?"
    for suffix, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale:
            value = n / scale
            digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
            return f"{value:.{digits}f}{suffix}"
    return str(n)


def count(n: int | None) -> str:
    """The exact integer, with the readable form beside it when it differs."""
    if n is None:
        return "?"
    short = readable(n)
    return f"{n:,}" if short == str(n) else f"{n:,} ({short})"


def shape_text(shape: Any) -> str:
    if shape is None:
        return "-"
    if shape is UNKNOWN:
        return "?"
    if shape and all(isinstance(s, list) or s is None for s in shape):
        return "(" + ", ".join(shape_text(s) for s in shape) + ")"
    return "[" + ", ".join(map(str, shape)) + "]"


def table(rows: list[list[str]], right: set[int]) -> list[str]:
    """Aligned columns, a rule under the header; columns in `right` align right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    return [line(rows[0]), line(["-" * w for w in widths]), *map(line, rows[1:])]


def render(data: dict[str, Any]) -> str:
    """One spec's table and totals. A module called more than once shows its last output."""
    rows = [["path", "type", "output", "params", "MACs"]]
    rows += [[layer["path"], layer["type"] + (f" (x{layer['calls']})" if layer["calls"] > 1
                                              else ""),
              _with_dtype(shape_text(layer["output"]), layer.get("dtype")),
              f"{layer['params']:,}" if layer["params"] is not None else "?",
              f"{layer['macs']:,}"] for layer in data["layers"]]
    dtypes = data.get("input_dtypes", {})
    shown_in = ", ".join(f"{n} {_with_dtype(shape_text(s), dtypes.get(n))}"
                         for n, s in data["inputs"].items())
    lines = [f"{data['spec']}: {data['model']}", "", *table(rows, {3, 4}), "",
             f"inputs:  {shown_in}",
             f"outputs: {', '.join(shape_text(s) for s in data['outputs'])}",
             f"params:  {count(data['params'])}",
             f"MACs:    {count(data['macs'])}",
             f"FLOPs:   {count(data['flops'])}"]
    return "\n".join(lines)


def compare(datas: list[dict[str, Any]]) -> str:
    """Variants side by side, each total also as a ratio to the first spec."""
    first = datas[0]

    def ratio(value: int | None, base: int | None) -> str:
        if value is None or not base:
            return "-"
        return f"{value / base:.2f}x"

    rows = [["spec", "params", "ratio", "MACs", "ratio", "output"]]
    for d in datas:
        rows.append([d["spec"], count(d["params"]), ratio(d["params"], first["params"]),
                     count(d["macs"]), ratio(d["macs"], first["macs"]),
                     ", ".join(shape_text(s) for s in d["outputs"])])
    return "\n".join(table(rows, {1, 2, 3, 4}))
