"""Draft the argument table of a catalog entry from the installed torch, for a developer adding
a layer:

    python tools/gen_catalog_args.py --missing          # torch.nn layers not covered yet
    python tools/gen_catalog_args.py EmbeddingBag Fold  # their `Arg(...)` tables, to paste

The table follows torch's signature: names, order, defaults and keyword-only marks, leaving out
`device`, `dtype` and private arguments, and marking keyword-only every argument after a
left-out one (it cannot be passed by position). The value kind of each argument is a guess
from its annotation and default (`int2` for a 2-d layer's int-or-tuple, `int` for an int, ...):
review it, and add the checks and rules by hand. tests/test_catalog_coverage.py then compares
the entry with torch. Prints to stdout; writes no file.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnspec.catalog import LAYERS  # noqa: E402
from nnspec.catalog.coverage import EXCLUDED  # noqa: E402

LEFT_OUT = {"device", "dtype"}


def _kind(name: str, annotation: str, default: Any, layer: str) -> str:
    """A guess at the catalog's value kind for one argument."""
    dims = re.search(r"(\d)d$", layer)
    if isinstance(default, bool) or annotation == "bool":
        return "bool"
    if isinstance(default, str) or annotation == "str":
        return "str"
    if "tuple" in annotation and dims:
        return f"int{dims.group(1)}"
    if isinstance(default, float) or "float" in annotation:
        return "float"
    if isinstance(default, int) or "int" in annotation:
        return "int"
    return "any"


def arg_table(name: str) -> list[str]:
    """The `Arg(...)` lines for torch.nn.<name>."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = list(inspect.signature(getattr(torch.nn, name).__init__).parameters.values())
    lines, after_left_out = [], False
    for p in params[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in LEFT_OUT or p.name.startswith("_"):
            after_left_out = True
            continue
        default = p.default if p.default is not p.empty else None
        kind = _kind(p.name, str(p.annotation), default, name)
        parts = [repr(p.name), repr(kind)]
        if p.default is not p.empty:
            value = p.default.__name__ if callable(p.default) else p.default
            parts.append(repr(value))
            if p.default is None:
                parts.append("nullable=True")
        if p.kind is p.KEYWORD_ONLY or after_left_out:
            parts.append("kwonly=True")
        lines.append(f"Arg({', '.join(parts)}),")
    return lines


def missing() -> list[str]:
    """torch.nn module classes that are neither catalog entries nor excluded."""
    import torch

    names = set(torch.nn.modules.__all__) | set(dir(torch.nn))
    return sorted(n for n in names if inspect.isclass(getattr(torch.nn, n, None)) and
                  issubclass(getattr(torch.nn, n), torch.nn.Module) and not n.startswith("_")
                  and n not in LAYERS and n not in EXCLUDED)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("layers", nargs="*", help="torch.nn class names")
    parser.add_argument("--missing", action="store_true",
                        help="list the torch.nn layers the catalog does not cover yet")
    options = parser.parse_args(argv)
    if options.missing:
        print("\n".join(missing()) or "none: the catalog covers torch.nn")
    for name in options.layers:
        print(f"# {name}")
        print("\n".join(arg_table(name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
