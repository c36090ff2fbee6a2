"""Record, for a named subset of the import corpus, what CI checks without the libraries.

For each model of SUBSET (tools/corpus_models.py names) it writes tests/golden/corpus/<name>/:
- `tree.txt`: `str(model)`, and `state_dict.txt`: key, shape and dtype per entry, as
  tools/record_torchvision_golden.py writes them (what `import tree --state-dict` reads);
- `module.yaml`: the spec `nnspec import module` wrote for it (this checkout's nnspec);
- `output_fixed.json`: eval mode, weights from tests/golden/fixed_weights.py, input
  `fixed_input`, the flattened outputs (every tensor of a dict or tuple output, in order):
  their shapes, and the first 256 values, the sum and the absolute sum of each.

tests/test_import_corpus.py then imports each tree, builds each recorded spec, and compares
with the recorded layout and outputs, on the pinned torch. The subset covers the constructs of
docs/import.md: dashes in child names (RegNet), one parameter for an int and a tuple
(Inception v3), a training-only branch (GoogLeNet), a dict output over a ModuleDict subclass
(FCN), and a timm model whose every forward is traced (MLP-Mixer). Models
whose specs need layer references stay out: CI cannot import their libraries. Run it in the
scratch venv of tools/import_corpus.py:

    PYTHONPATH=. /tmp/scratch/bin/python tools/record_corpus_golden.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
OUT = ROOT / "tests" / "golden" / "corpus"
sys.path.insert(0, str(TOOLS))
sys.path.insert(0, str(ROOT / "tests" / "golden"))

import corpus_models  # noqa: E402
import fixed_weights  # noqa: E402
from import_corpus import _flat as flat  # noqa: E402
from record_torchvision_golden import state_dict_lines  # noqa: E402

# name -> input shape without batch (small, so CI stays fast)
SUBSET = {
    "tv/regnet_x_400mf": (3, 32, 32),
    "tv/inception_v3": (3, 75, 75),
    "tv/googlenet": (3, 32, 32),
    "tvseg/fcn_resnet50": (3, 32, 32),
    "timm/mixer_s16_224": (3, 224, 224),
}


def record(name: str) -> None:
    folder = OUT / name.replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    model = corpus_models.build(name)
    (folder / "tree.txt").write_text(str(model) + "\n", encoding="utf-8")
    (folder / "state_dict.txt").write_text(state_dict_lines(model), encoding="utf-8")
    shape = SUBSET[name]
    dims = ",".join(map(str, shape))
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "module.yaml"
        env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{TOOLS}")
        proc = subprocess.run([sys.executable, "-m", "nnspec", "import", "module",
                               "corpus_models:build", "--args", f"name={name}", "--input",
                               f"x={dims}", "-o", str(spec)], cwd=TOOLS, env=env,
                              capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{name}: import module failed:\n{proc.stderr}")
        (folder / "module.yaml").write_text(spec.read_text(encoding="utf-8"), encoding="utf-8")
    fixed_weights.fill_fixed_(model)
    with torch.no_grad():
        outputs = flat(model(fixed_weights.fixed_input((1, *shape))))
    data = {"torch": torch.__version__, "input_shape": [1, *shape], "outputs": [
        {"shape": list(t.shape), "sum": float(t.double().sum()),
         "abs_sum": float(t.double().abs().sum()),
         "first": [float(v) for v in t.flatten()[:256].tolist()]} for t in outputs]}
    (folder / "output_fixed.json").write_text(json.dumps(data) + "\n", encoding="utf-8")
    print(f"wrote {folder.relative_to(ROOT)}")


def main() -> None:
    for name in sys.argv[1:] or SUBSET:
        record(name)


if __name__ == "__main__":
    main()
