"""The data and text of `nnspec summary`: a spec's modules with output shapes, parameters
and MACs, from the static pass alone (no torch), and a side-by-side comparison of variants.

Counting convention (docs/summary.md): `params` is torch's count (parameters, no buffers);
`flops` is what torch's FlopCounterMode reports for one forward pass of a batch of 1 (2 per
multiply-accumulate of convolutions and matrix products; bias adds, norms, activations and
pools are not counted); `macs` is `flops / 2`.
"""

from __future__ import annotations

from typing import Any

from nnspec.catalog.values import DEFAULT_FLOAT
from nnspec.ir.analysis import Analysis, shape_of, tensors_in
from nnspec.static.text import count_text, shape_text, table


def as_data(path: str, name: str, analysis: Analysis,
            measured: set[str] | None = None) -> dict[str, Any]:
    """The summary data of one spec: totals, input and output shapes, one row per module.
    `measured`: the layer types whose shapes torch measured on the meta device (no declared
    shape rule); their rows say so."""
    outputs = analysis.output if isinstance(analysis.output, tuple) else (
        tuple(analysis.output.values()) if isinstance(analysis.output, dict)
        else (analysis.output,))
    measured = measured or set()
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
            **({"measured": True} if info.type in measured else {}),
        } for info in analysis.modules.values() if info.path],
    }


def dtype_of(value: Any) -> str | None:
    """The dtype of a module's output: one name, or None when unknown or mixed (a tuple)."""
    dtypes = {t.dtype for t in tensors_in(value)}
    return dtypes.pop() if len(dtypes) == 1 else None


def _with_dtype(text: str, dtype: str | None) -> str:
    """Only a dtype other than float32 is shown, so float models read as before."""
    return f"{text} {dtype}" if dtype not in (None, DEFAULT_FLOAT) else text


def render(data: dict[str, Any]) -> str:
    """One spec's table and totals. A module called more than once shows its last output."""
    rows = [["path", "type", "output", "params", "MACs"]]
    rows += [[layer["path"], layer["type"] + (f" (x{layer['calls']})" if layer["calls"] > 1
                                              else ""),
              _with_dtype(shape_text(layer["output"]), layer.get("dtype"))
              + (" *" if layer.get("measured") and layer["output"] is not None else ""),
              f"{layer['params']:,}" if layer["params"] is not None else "?",
              f"{layer['macs']:,}" if layer["output"] is not None else "?"]
             for layer in data["layers"]]
    dtypes = data.get("input_dtypes", {})
    shown_in = ", ".join(f"{n} {_with_dtype(shape_text(s), dtypes.get(n))}"
                         for n, s in data["inputs"].items())
    lines = [f"{data['spec']}: {data['model']}", "", *table(rows, {3, 4}), "",
             f"inputs:  {shown_in}",
             f"outputs: {', '.join(shape_text(s) for s in data['outputs'])}",
             f"params:  {count_text(data['params'])}",
             f"MACs:    {count_text(data['macs'])}",
             f"FLOPs:   {count_text(data['flops'])}"]
    return "\n".join(lines + _notes(data["layers"]))


def _notes(layers: list[dict[str, Any]]) -> list[str]:
    """What the marks mean: rows measured by torch, and where shapes stopped being known."""
    notes = []
    if any(layer.get("measured") for layer in layers):
        notes.append("* output measured by torch on the meta device: the layer declares no "
                     "shape rule")
    first = next((layer for layer in layers if layer["output"] is None
                  and ":" in layer["type"]), None)
    if first is not None:
        why = ("torch cannot run it on the meta device" if first.get("measured") else
               "declares no shape rule (allow its package, with torch installed, to measure "
               "it)")
        notes.append(f"note: shapes are unknown from {first['path']} on: {first['type']} "
                     f"{why}; MACs shown count only the layers before")
    return notes


def compare(datas: list[dict[str, Any]]) -> str:
    """Variants side by side, each total also as a ratio to the first spec."""
    first = datas[0]

    def ratio(value: int | None, base: int | None) -> str:
        if value is None or not base:
            return "-"
        return f"{value / base:.2f}x"

    rows = [["spec", "params", "ratio", "MACs", "ratio", "output"]]
    for d in datas:
        rows.append([d["spec"], count_text(d["params"]), ratio(d["params"], first["params"]),
                     count_text(d["macs"]), ratio(d["macs"], first["macs"]),
                     ", ".join(shape_text(s) for s in d["outputs"])])
    return "\n".join(table(rows, {1, 2, 3, 4}))
