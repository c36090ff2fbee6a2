"""Docstrings of generated classes: escaped so no spec text can end them early, wrapped to the
line width."""

from __future__ import annotations

from nnspec.formatter import INDENT, INDENT_WIDTH, LINE_WIDTH


def docstring(text: str | None, indent: int) -> list[str]:
    """A class docstring from spec text, wrapped to the line width, that cannot end early.

    Whitespace is collapsed. Backslashes are doubled; a quote is escaped where it would start
    the docstring with four quotes, make three in a row, or touch the closing quotes;
    characters that are not printable (line breaks, bidirectional controls) become escapes.
    """
    words = (text or "").split()
    if not words:
        return []
    body = _docstring_body(" ".join(words))
    pad = INDENT * indent
    if len(pad) + 6 + len(body) <= LINE_WIDTH:  # ruff counts characters here, not columns
        return [f'{pad}"""{body}"""']
    lines, current = [], '"""'
    limit = LINE_WIDTH - INDENT_WIDTH * indent
    for word in body.split(" "):
        candidate = f"{current} {word}" if current != '"""' else current + word
        if len(candidate) <= limit or current in ('"""', ""):
            current = candidate
        else:
            lines.append(current)
            current = word
    lines.append(current)
    if len(lines) == 1:  # one unbreakable line: ruff keeps the closing quotes on it
        return [f'{pad}{lines[0]}"""']
    return [pad + line for line in lines] + [pad + '"""']


def _docstring_body(text: str) -> str:
    tokens: list[str] = []
    run = 0  # unescaped quotes in a row
    for i, c in enumerate(text):
        if c == '"':
            escape = i == 0 or run == 2 or i == len(text) - 1
            tokens.append('\\"' if escape else '"')
            run = 0 if escape else run + 1
            continue
        run = 0
        tokens.append("\\\\" if c == "\\" else c if c.isprintable() else ascii(c)[1:-1])
    return "".join(tokens)
