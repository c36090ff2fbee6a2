"""Running the `nnspec` CLI in a subprocess, optionally with `import torch` blocked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A meta-path finder that refuses torch: put on the path as sitecustomize, it makes any
# `import torch` in the process raise, so a run that passes never touched torch.
BLOCKER = '''
import sys

class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"import of {name} is blocked in this test")
        return None

sys.meta_path.insert(0, _NoTorch())
'''


def nnspec(*args: str, block_torch: bool = False, tmp: Path | None = None,
           code: str | None = None) -> subprocess.CompletedProcess:
    """`python -m nnspec ARGS` (or `python -c CODE`) from the repository root."""
    path = [str(ROOT)]
    if block_torch:
        assert tmp is not None
        (tmp / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
        path.insert(0, str(tmp))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "nnspec", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
