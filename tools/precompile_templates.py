"""Compile the packaged templates (templates/*.jinja) to the Python modules in
nnspec/codegen/compiled/ that `nnspec build` renders with (see nnspec/codegen/precompiled.py).

Run after changing a template: python tools/precompile_templates.py
"""

from __future__ import annotations

from pathlib import Path

from nnspec.codegen.generate import environment
from nnspec.codegen.precompiled import compiled_modules

TARGET = Path(__file__).resolve().parent.parent / "nnspec" / "codegen" / "compiled"


def main() -> None:
    modules = compiled_modules(environment())
    for stale in TARGET.glob("t_*.py"):
        if stale.name not in modules:
            stale.unlink()
    for name, text in modules.items():
        (TARGET / name).write_text(text)
    print(f"wrote {len(modules)} modules to {TARGET}")


if __name__ == "__main__":
    main()
