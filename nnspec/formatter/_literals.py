"""Source text for validated literal values, quoted and escaped as `ruff format` writes them."""

from __future__ import annotations

import math


def literal(value: object) -> str:
    """Source for a validated literal value, quoted and escaped as ruff writes it.

    Strings use only printable ASCII: everything else (newlines, quotes of the chosen kind,
    bidirectional controls, any non-ASCII character) is escaped, so no value can end the
    string, hide text, or reorder what a reader sees.
    """
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return repr(value).replace("e+", "e")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        items = ", ".join(literal(v) for v in value)
        if isinstance(value, tuple):
            return f"({items},)" if len(value) == 1 else f"({items})"
        return f"[{items}]"
    raise TypeError(f"not a spec literal: {value!r}")


def _string(value: str) -> str:
    quote = "'" if value.count('"') > value.count("'") else '"'
    out = [quote]
    for ch in value:
        code = ord(ch)
        if ch == "\\" or ch == quote:
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append(quote)
    return "".join(out)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
