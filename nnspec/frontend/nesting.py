"""The YAML nesting pre-scan: a spec that nests too deeply is refused before PyYAML recurses.

PyYAML's composer recurses once per level, so depth is measured on the text first, counting
indentation and flow brackets, with the limit `MAX_DEPTH`. The scan reads user input, so it is
written by hand, without regular expressions that could backtrack: linear in the text's length.
"""

from __future__ import annotations

import re

from nnspec.diagnostics import Diagnostic, Pos

MAX_DEPTH = 100

_NESTING_CHARS = re.compile(r"""[\[\]{}"'#]""")  # one character class: no backtracking
_BLANK = " \t"


def nesting_problem(text: str, name: str) -> Diagnostic | None:
    """A positioned error when the YAML nests deeper than MAX_DEPTH, found before parsing.

    PyYAML's composer recurses once per level, so `[[[[...]]]]` ten thousand deep would end in a
    RecursionError. This cheap scan counts block levels (by indentation and `- ` / `? ` prefixes)
    plus open flow brackets, skipping comments, quoted text and block scalars (`|`, `>`). Where
    it cannot tell, it over-counts (a false alarm needs over 100 levels), so a real collection
    is never missed.
    """
    if _depth_bound(text) <= MAX_DEPTH:
        return None
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
            literal = start if block_scalar_header(line.split(" #")[0]) else -1
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
        starts = _ValueStarts(line, start)
        for match in _NESTING_CHARS.finditer(line, start):
            ch, col = match.group(), match.start()
            if quote:
                if ch == quote:
                    quote = ""
                continue
            if ch == "#" and (col == 0 or line[col - 1] in " \t"):
                break
            if not (flow or starts.at(col)):
                continue
            if ch in "'\"":
                quote = ch if starts.at(col) else ""
            elif ch in "[{":
                flow += 1
                if len(indents) + flow > MAX_DEPTH:
                    return _too_deep(name, lineno, col + 1)
            elif ch in "]}" and flow:
                flow -= 1
    return None


def _depth_bound(text: str) -> int:
    """An upper bound of the depth the scan below can count, found in C-speed passes.

    The block levels open at any line are strictly increasing columns, none past where that
    line's content starts (after its indentation and `- ` / `? ` prefixes), so they number at
    most that column plus one; open flow brackets number at most the brackets in the text."""
    widest = max((len(line) - len(line.lstrip(" -?")) for line in text.split("\n")), default=0)
    return widest + 1 + text.count("[") + text.count("{")


def block_scalar_header(line: str) -> bool:
    """Whether `line` ends in a block scalar header: `key: |`, `- >-2`, `? &a !t |  # note`.

    The header is `|` or `>` with its modifiers, after `:`, `?`, `-` or the line's start, then
    blanks and any anchors or tags (each followed by blanks), then an optional `#` comment. Each
    candidate `|`/`>` is checked forwards over its modifiers and backwards over its properties;
    both walks stop at the next candidate, so the whole check is linear.
    """
    n = len(line)
    for i, ch in enumerate(line):
        if ch not in "|>":
            continue
        j = i + 1
        while j < n and line[j] in "-+0123456789":
            j += 1
        while j < n and line[j].isspace():
            j += 1
        if (j == n or line[j] == "#") and _header_before(line, i):
            return True
    return False


def _header_before(line: str, end: int) -> bool:
    """Whether `line[:end]` ends like the part before a block scalar indicator: `: &a !t `."""
    i = end
    if i == 0 or not line[i - 1].isspace():
        return False
    while True:
        while i > 0 and line[i - 1].isspace():
            i -= 1
        if i == 0:
            return True
        k = i
        while k > 0 and not line[k - 1].isspace():
            k -= 1
        if line[i - 1] in ":?-":
            return True
        if line[k] not in "&!" or k == 0:
            return False
        i = k


class _ValueStarts:
    """Which columns of a line begin a YAML value: first on the line or after `: `, `- `, `[`,
    `,`..., with any anchors and tags (`&a`, `!t`) between.

    One forward pass as the columns are asked for (in increasing order): linear in the line.
    """

    def __init__(self, line: str, start: int):
        self.line, self.start, self.pos = line, start, start
        self.last = ""  # the last non-blank character so far
        self.anchor = ""  # the last non-blank character before the current run of properties
        self.in_props = False  # whether the text ends in anchors and tags (a run of properties)

    def at(self, col: int) -> bool:
        line = self.line
        while self.pos < col:
            ch = line[self.pos]
            if ch not in _BLANK:
                token_start = self.pos == self.start or line[self.pos - 1] in _BLANK
                if ch in "&!" and not self.in_props:
                    self.in_props, self.anchor = True, self.last
                elif token_start and ch not in "&!":
                    self.in_props = False
                self.last = ch
            self.pos += 1
        before = self.anchor if self.in_props else self.last
        shorter = self.in_props or (col > self.start and line[col - 1] in _BLANK)
        return not before or before in "[{," or (before in ":-?" and shorter)


def _too_deep(name: str, line: int, col: int) -> Diagnostic:
    return Diagnostic("too-deep", f"spec nests deeper than {MAX_DEPTH} levels",
                      Pos(name, line, col), "a spec this deep is almost certainly generated "
                      "by mistake; flatten it")
