"""Measure `nnspec import` on models nobody here wrote: torchvision, timm, transformers.

For each model of tools/corpus_models.py it records, as a new user would see them:
- tree: `nnspec import tree` of the model's printout succeeds (it checks the rebuilt print);
- module: `nnspec import module` succeeds, and, checked here independently of nnspec's own
  check, the spec's model prints the same tree, loads the state_dict with strict=True, holds
  the same buffers (non-persistent ones too) and gives bit-identical outputs in eval mode;
- refs: the layer references the spec needed (its `layers:`), and why (the spec's header);
- params: `nnspec summary --json` against torch's own count;
- codegen: the source `nnspec build -o` writes loads the state_dict strictly and gives
  bit-identical outputs;
- seconds: the CPU time (user + system) and wall time of `nnspec import module`; a model over
  `--retime` seconds (8) is imported again alone, and the lesser CPU time kept (`cpu_runs`
  holds both): two imports side by side on 2 cores slow each other's CPU time by up to a third
  (shared caches), not only their wall time.

Run it in a scratch venv, never in CI (torchvision and timm are not dependencies):

    python3 -m venv /tmp/scratch
    /tmp/scratch/bin/pip install torch==2.14.1 torchvision==0.29.1 timm==1.0.31 \
        transformers==5.25.0 pydantic PyYAML Jinja2
    PYTHONPATH=. /tmp/scratch/bin/python tools/import_corpus.py            # everything
    PYTHONPATH=. /tmp/scratch/bin/python tools/import_corpus.py -k timm/   # a subset

Each model runs in its own process (`--worker`), `-j` of them at once (2); results go to
docs/import_corpus.json and the table between the corpus markers of docs/import.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
RESULTS = ROOT / "docs" / "import_corpus.json"
DOC = ROOT / "docs" / "import.md"
BEGIN, END = "<!-- corpus:begin -->", "<!-- corpus:end -->"
TIMEOUT = 900


def cli(*args: str, cwd: Path) -> tuple[int, str, float, float]:
    """Run the nnspec CLI of this checkout; (exit code, first error line, wall seconds, CPU
    seconds). CPU time (user + system of the child) is what the 10 s goal is judged by,
    exact because each model's worker is its own process, running one command at a time;
    imported side by side (`-j 2`), models slow each other's CPU time too, which `--retime`
    measures again alone."""
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{TOOLS}", OMP_NUM_THREADS="1")
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        proc = subprocess.run([sys.executable, "-m", "nnspec", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {TIMEOUT} s", time.perf_counter() - start, 0.0
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    error = next((line for line in proc.stderr.splitlines() if "error" in line), "")
    if proc.returncode and not error:
        error = (proc.stderr.strip().splitlines() or [""])[-1]
    return proc.returncode, _short(error), seconds, cpu


def _short(text: str) -> str:
    return re.sub(r"^\S+:\d+:\d+: ", "", text)[:300]


def _flat(value):
    """The tensors of a model output, in order: tensors, tuples, dicts and ModelOutputs."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for k in value for t in _flat(value[k])]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat(v)]
    return []


def _inputs(entry):
    import torch

    gen = torch.Generator().manual_seed(0)
    out = {}
    for name, (shape, dtype) in entry.inputs.items():
        if dtype == "int64":
            out[name] = torch.randint(0, 90, (1, *shape), generator=gen)
        else:
            out[name] = torch.randn((1, *shape), generator=gen)
    return out


def _same(model, rebuilt, inputs, expected) -> str:
    """"" when `rebuilt` is `model` exactly (print, strict load, buffers, outputs); else why."""
    import torch

    if str(rebuilt) != str(model):
        return "printed tree differs"
    try:
        rebuilt.load_state_dict(model.state_dict(), strict=True)
    except RuntimeError as exc:
        return "strict load: " + str(exc).splitlines()[1 if "\n" in str(exc) else 0][:200]
    theirs = dict(model.named_buffers())
    ours = dict(rebuilt.named_buffers())
    if theirs.keys() != ours.keys():
        return f"buffers differ: {sorted(theirs.keys() ^ ours.keys())[:3]}"
    for key, buf in theirs.items():
        if buf.shape != ours[key].shape or not torch.equal(buf, ours[key]):
            return f"buffer {key} differs"
    rebuilt.eval()
    with torch.no_grad():
        got = _flat(rebuilt(**inputs))
    if len(got) != len(expected):
        return f"{len(got)} output tensors, expected {len(expected)}"
    for i, (a, b) in enumerate(zip(got, expected)):
        if a.shape != b.shape or a.dtype != b.dtype or not torch.equal(a, b):
            return f"output {i} differs"
    return ""


def _packages(spec: Path) -> list[str]:
    """The top-level packages the spec's layer references name (for --allow-import)."""
    import yaml

    data = yaml.safe_load(spec.read_text()) or {}
    targets = []
    for value in (data.get("layers") or {}).values():
        target = value.get("class", "") if isinstance(value, dict) else str(value)
        targets.append(target)
    return sorted({t.split(":")[0].split(".")[0] for t in targets if t})


def _references(spec: Path) -> list[str]:
    import yaml

    data = yaml.safe_load(spec.read_text()) or {}
    return sorted((data.get("layers") or {}).keys())


def _input_flags(entry) -> list[str]:
    flags = []
    for name, (shape, dtype) in entry.inputs.items():
        dims = ",".join(map(str, shape))
        flags += ["--input", f"{name}={dims}" + ("" if dtype == "float32" else f":{dtype}")]
    return flags


def _entry(name: str):
    """(the corpus entry, its inputs named as the model's forward names them; the model)."""
    import corpus_models

    entry = next(e for e in corpus_models.corpus(None if not name.startswith("tv/")
                                                  else [name[3:]]) if e.name == name)
    model = corpus_models.build(name)
    if entry.family != "transformers":  # one image input, named as the model's forward names it
        first = next(iter(inspect.signature(model.forward).parameters))
        entry = dataclasses.replace(entry, inputs={first: next(iter(entry.inputs.values()))})
    return entry, model


def import_cpu(name: str, out: Path) -> float:
    """The CPU seconds of `nnspec import module` of one model, alone (`--retime`)."""
    entry, _ = _entry(name)
    _, _, _, cpu = cli("import", "module", "corpus_models:build", "--args", f"name={name}",
                       *_input_flags(entry), "-o", str(out / "module.yaml"), cwd=TOOLS)
    return round(cpu, 1)


def work(name: str, out: Path) -> dict:
    """One model, in this process: the record import_corpus writes for it."""
    import torch

    import nnspec

    torch.set_num_threads(1)
    entry, model = _entry(name)
    inputs = _inputs(entry)
    with torch.no_grad():
        expected = _flat(model(**inputs))
    params = sum(p.numel() for p in model.parameters())
    rec: dict = {"model": name, "family": entry.family, "params": params}

    rec["tree"], rec["tree_error"] = _tree(str(model))

    spec = out / "module.yaml"
    rc, err, seconds, cpu = cli("import", "module", "corpus_models:build", "--args", f"name={name}",
                              *_input_flags(entry), "-o", str(spec), cwd=TOOLS)
    rec["seconds"], rec["cpu_seconds"] = round(seconds, 1), round(cpu, 1)
    rec["module_error"] = err if rc else ""
    rec["module"] = False
    if rc:
        return rec
    allow = _packages(spec)
    rec["refs"] = _references(spec)
    rec["ref_notes"] = [line[2:] for line in spec.read_text().splitlines()
                        if line.startswith("# ") and "reference" in line.lower()]
    try:
        torch.manual_seed(0)
        rebuilt = nnspec.build(spec, allow_import=allow)
        why = _same(model, rebuilt, inputs, expected)
    except Exception as exc:  # the corpus records every failure, whatever raised it
        why = f"rebuild raised {type(exc).__name__}: {str(exc)[:200]}"
    rec["module"] = not why
    rec["module_error"] = why

    try:
        rec["summary_params"] = nnspec.summary(spec, allow_import=allow)["params"]
    except Exception:  # recorded as missing, whatever raised
        rec["summary_params"] = None
    generated = out / "generated.py"
    try:
        generated.write_text(nnspec.generate(spec, allow_import=allow))
        rec["codegen_error"] = _check_generated(generated, spec, model, inputs, expected)
    except Exception as exc:  # recorded, whatever raised it
        rec["codegen_error"] = f"generate raised {type(exc).__name__}: {str(exc)[:200]}"
    rec["codegen"] = not rec["codegen_error"]
    return rec


def _tree(printed: str) -> tuple[bool, str]:
    """`nnspec import tree` of the printout, in process: it checks the rebuilt print itself."""
    from nnspec.diagnostics import SpecError
    from nnspec.importers.printed import import_tree

    try:
        import_tree(printed, "tree.txt")
    except SpecError as exc:
        return False, _short(exc.diagnostics[0].render())
    except Exception as exc:  # recorded, whatever raised it
        return False, f"{type(exc).__name__}: {str(exc)[:200]}"
    return True, ""


def _check_generated(generated: Path, spec: Path, model, inputs, expected) -> str:
    import importlib.util

    import torch
    import yaml

    root = (yaml.safe_load(spec.read_text()).get("model") or {}).get("name", "Net")
    loader = importlib.util.spec_from_file_location("corpus_generated", generated)
    module = importlib.util.module_from_spec(loader)
    try:
        loader.loader.exec_module(module)
        torch.manual_seed(0)
        net = getattr(module, root)()
        return _same(model, net, inputs, expected)
    except Exception as exc:  # recorded, whatever raised it
        return f"generated code raised {type(exc).__name__}: {str(exc)[:200]}"


def table(records: list[dict]) -> str:
    """The Markdown that docs/import.md shows between the corpus markers."""
    lines = ["| family | models | tree | module (exact) | codegen | refs used | max CPU s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    families = sorted({r["family"] for r in records})
    for fam in families + ["all"]:
        rows = [r for r in records if fam in ("all", r["family"])]
        lines.append(f"| {fam} | {len(rows)} | {sum(r['tree'] for r in rows)} | "
                     f"{sum(r['module'] for r in rows)} | {sum(r.get('codegen', 0) for r in rows)}"
                     f" | {sum(len(r.get('refs', [])) for r in rows)} | "
                     f"{max((_cpu(r) for r in rows), default=0)} |")
    lines += ["", "| model | params | tree | module | refs | summary params | codegen | CPU s |"
              " why not |", "| --- | ---: | :-: | :-: | --- | ---: | :-: | ---: | --- |"]
    for r in records:
        why = r.get("module_error") or r.get("codegen_error") or r.get("tree_error") or ""
        sp = r.get("summary_params")
        lines.append(f"| {r['model']} | {r['params']:,} | {'✓' if r['tree'] else '✗'} | "
                     f"{'✓' if r['module'] else '✗'} | {', '.join(r.get('refs', []))} | "
                     f"{'' if sp is None else f'{sp:,}'} | "
                     f"{'✓' if r.get('codegen') else '✗'} | {_cpu(r)} | "
                     f"{why.replace('|', '/')} |")
    return "\n".join(lines)


def _cpu(record: dict) -> float:
    """A record's CPU seconds; records made before they were measured show wall seconds."""
    return record.get("cpu_seconds", record.get("seconds", 0))


def write_doc(records: list[dict]) -> None:
    text = DOC.read_text()
    if BEGIN in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOC.write_text(f"{head}{BEGIN}\n{table(records)}\n{END}{tail}")


def _run_worker(entry, *flags: str) -> dict:
    """One model in its own process: its record, or one saying why the worker failed."""
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{TOOLS}", OMP_NUM_THREADS="1")
    try:
        proc = subprocess.run([sys.executable, __file__, "--worker", entry.name, *flags],
                              capture_output=True, text=True, env=env, timeout=3 * TIMEOUT)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as exc:
        why = "timed out" if isinstance(exc, subprocess.TimeoutExpired) else \
            (proc.stderr.strip().splitlines() or [""])[-1][:200]
        return {"model": entry.name, "family": entry.family, "params": 0, "tree": False,
                "module": False, "module_error": f"worker failed: {why}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", action="append", default=[],
                        help="only models whose name contains this (repeatable: any of them)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--no-doc", action="store_true", help="leave docs/ untouched")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="models imported at once")
    parser.add_argument("--retime", type=float, default=8.0, metavar="SECONDS",
                        help="import again, one at a time, the models whose import took over "
                             "SECONDS of CPU in the pool, and keep the lesser time")
    parser.add_argument("--time-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(TOOLS))
    if args.worker:
        out = Path(tempfile.mkdtemp(prefix="corpus-"))
        print(json.dumps({"cpu_seconds": import_cpu(args.worker, out)} if args.time_only
                         else work(args.worker, out)))
        return 0
    import corpus_models

    entries = [e for e in corpus_models.corpus(corpus_models.torchvision_classification())
               if not args.k or any(k in e.name for k in args.k)]
    old = {r["model"]: r for r in json.loads(RESULTS.read_text())} if RESULTS.exists() else {}
    with ThreadPoolExecutor(args.jobs) as pool:
        for rec in pool.map(_run_worker, entries):
            old[rec["model"]] = rec
            print(f"{rec['model']:45} tree={rec['tree']!s:5} module={rec['module']!s:5} "
                  f"refs={len(rec.get('refs', []))} {rec.get('cpu_seconds', '')} CPU s "
                  f"{rec.get('module_error', '')[:100]}", flush=True)
            records = sorted(old.values(), key=lambda r: (r["family"], r["model"]))
            RESULTS.write_text(json.dumps(records, indent=1) + "\n")
    for entry in entries:  # side by side, two imports slow each other's CPU time too
        rec = old[entry.name]
        if rec.get("module") and rec.get("cpu_seconds", 0) > args.retime:
            alone = _run_worker(entry, "--time-only").get("cpu_seconds")
            rec["cpu_runs"] = [rec["cpu_seconds"], alone]
            rec["cpu_seconds"] = min(t for t in rec["cpu_runs"] if t is not None)
            print(f"{entry.name:45} again, alone: {alone} CPU s", flush=True)
    RESULTS.write_text(json.dumps(sorted(old.values(), key=lambda r: (r["family"], r["model"])),
                                  indent=1) + "\n")
    if not args.no_doc:
        write_doc(sorted(old.values(), key=lambda r: (r["family"], r["model"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
