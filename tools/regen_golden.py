"""Regenerate the golden generated sources of the seed specs:

    python tools/regen_golden.py

Runs `nnspec build specs/<name>.yaml -o tests/golden/generated/<name>.py --force` for each seed
spec, exactly as a user would, so the goldens show what users get. Review the diff, then
commit it together with the change that caused it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_SPECS = ["nin", "nin_dw", "nin_dw_x2"]
GOLDEN = Path("tests") / "golden" / "generated"


def main() -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    (ROOT / GOLDEN).mkdir(parents=True, exist_ok=True)
    for name in SEED_SPECS:
        command = [sys.executable, "-m", "nnspec", "build", f"specs/{name}.yaml",
                   "-o", str(GOLDEN / f"{name}.py"), "--force"]
        result = subprocess.run(command, cwd=ROOT, env=env)
        if result.returncode:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
