"""The YAML nesting pre-scan: a spec that nests too deeply is refused before PyYAML recurses.

PyYAML's composer recurses once per level, so depth is measured on the text first, counting
indentation and flow brackets, with the limit `MAX_DEPTH`.
"""

from __future__ import annotations

import re

from nnspec.diagnostics import Diagnostic, Pos

MAX_DEPTH = 100

_NESTING_CHARS = re.compile(r"""[\[\]{}"'#]""")
_BLOCK_SCALAR = re.compile(r"(^|[:?-])\s+([&!]\S*\s+)*[|>][-+0-9]*\s*(#.*)?$")
_PROPERTIES = re.compile(r"(\s*[&!]\S*)+$")  # anchors and tags before a value


def nesting_problem(text: str, name: str) -> Diagnostic | None:
    """A positioned error when the YAML nests deeper than MAX_DEPTH, found before parsing.

    PyYAML's composer recurses once per level, so `[[[[...]]]]` ten thousand deep would end in a
    RecursionError. This cheap scan counts block levels (by indentation and `- ` / `? ` prefixes)
    plus open flow brackets, skipping comments, quoted text and block scalars (`|`, `>`). Where
    it cannot tell, it over-counts (a false alarm needs over 100 levels), so a real collection
    is never missed.
    """
    indents: list[int] = []
    flow = 0
    quote = ""
    literal = -1  # the indentation a block scalar's text must exceed; -1 outside one
    for lineno, line in enumerate(text.split("\n"), 1):
        start = 0
        if flow == 0:
            quote = ""  # a quote open at a block line's end is text, or an error YAML reports
            stripped = line.lstrip(" ")
            if not stripped or stripped[0] == "#" or len(line) - len(stripped) > literal >= 0:
                continue
            start = len(line) - len(stripped)
            literal = start if _BLOCK_SCALAR.search(line.split(" #")[0]) else -1
            while indents and indents[-1] >= start:
                indents.pop()
            indents.append(start)
            while line.startswith(("- ", "? "), start) or line[start:].rstrip() in ("-", "?"):
                start += 1
                while start < len(line) and line[start] == " ":
                    start += 1
                indents.append(start)
        if len(indents) + flow > MAX_DEPTH:
            return _too_deep(name, lineno, start + 1)
        for match in _NESTING_CHARS.finditer(line, start):
            ch, col = match.group(), match.start()
            if quote:
                if ch == quote:
                    quote = ""
                continue
            if ch == "#" and (col == 0 or line[col - 1] in " \t"):
                break
            if not (flow or _value_start(line, col, start)):
                continue
            if ch in "'\"":
                quote = ch if _value_start(line, col, start) else ""
            elif ch in "[{":
                flow += 1
                if len(indents) + flow > MAX_DEPTH:
                    return _too_deep(name, lineno, col + 1)
            elif ch in "]}" and flow:
                flow -= 1
    return None


def _value_start(line: str, col: int, start: int) -> bool:
    """Whether `col` begins a YAML value: first on the line or after `: `, `- `, `[`, `,`..."""
    text = line[start:col]
    before = _PROPERTIES.sub("", text.rstrip(" \t")).rstrip(" \t")
    return not before or before[-1] in "[{," or (before[-1] in ":-?" and len(before) < len(text))


def _too_deep(name: str, line: int, col: int) -> Diagnostic:
    return Diagnostic("too-deep", f"spec nests deeper than {MAX_DEPTH} levels",
                      Pos(name, line, col), "a spec this deep is almost certainly generated "
                      "by mistake; flatten it")
