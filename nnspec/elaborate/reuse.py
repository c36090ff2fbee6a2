"""What one compile may carry to the next, for a caller that compiles the same spec again and
again as it is edited (the language server).

Inside `reusing(memo)`, a catalog layer's call whose text and class parameters were bound
before reuses that parse and binding. Only what compiled without any diagnostic is
remembered. The syntax trees
are shared from one compile to the next, so only callers that never rewrite them (no code
generation) may reuse.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

LIMIT = 100_000  # entries per table; a full table starts afresh


@dataclass
class Memo:
    # (call text, class parameters) -> (layer, argument syntax trees by name, keywords)
    calls: dict[tuple[str, frozenset[str]], tuple[str, dict[str, Any], frozenset[str]]] = \
        field(default_factory=dict)


_ACTIVE: list[Memo | None] = [None]


def active() -> Memo | None:
    """The memo of the compile in progress, if its caller reuses one."""
    return _ACTIVE[0]


@contextlib.contextmanager
def reusing(memo: Memo) -> Iterator[None]:
    _ACTIVE[0] = memo
    try:
        yield
    finally:
        _ACTIVE[0] = None


def bounded(table: dict) -> dict:
    """`table`, emptied first when full."""
    if len(table) >= LIMIT:
        table.clear()
    return table
