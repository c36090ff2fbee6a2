"""Record the golden layout of the hand-written references that have no torchvision original.

Writes ``tests/golden/reference/<name>/`` for gpt_mini (``tests/reference/gpt.py``, ``GPT()``)
and lstm_classifier (``tests/reference/lstm_classifier.py``, ``LSTMClassifier()``), in the
format of ``tools/record_torchvision_golden.py``:

- ``tree.txt``: ``str(model)`` plus a trailing newline.
- ``state_dict.txt``: ``key<TAB>shape (comma-separated, empty for scalars)<TAB>dtype`` per
  state_dict entry, in order (both keys of a tied weight).

The transformer specs are compared against these files; tests/test_reference_transformers.py
checks that they still match the references. Run from the repository root with the project's
torch (the printed tree can change between torch releases)::

    /tmp/venv/bin/python tools/record_reference_golden.py [gpt_mini] [lstm_classifier]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "golden" / "reference"
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402 - after the sys.path set-up above
from reference.gpt import GPT  # noqa: E402
from reference.lstm_classifier import LSTMClassifier  # noqa: E402
from test_reference_golden import state_dict_lines  # noqa: E402 - the format the tests read

MODELS: dict[str, Callable[[], torch.nn.Module]] = {
    "gpt_mini": GPT,
    "lstm_classifier": LSTMClassifier,
}


def main(names: list[str]) -> None:
    for name in names:
        with torch.device("meta"):  # layout only: no weights needed
            model = MODELS[name]()
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tree.txt").write_text(str(model) + "\n", encoding="utf-8")
        (folder / "state_dict.txt").write_text(
            "".join(f"{line}\n" for line in state_dict_lines(model)), encoding="utf-8")
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {params:,} parameters, {len(model.state_dict())} state_dict entries "
              f"(torch {torch.__version__})")


if __name__ == "__main__":
    requested = sys.argv[1:] or list(MODELS)
    unknown = [n for n in requested if n not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(MODELS)}")
    main(requested)
