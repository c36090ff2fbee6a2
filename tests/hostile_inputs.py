"""Hostile material for tests/test_cli_fuzz.py, test_hostile_frontend.py and bench/hostile.py:
lines, values and bytes that attack a limit or a parser, `--set` options, and the byte- and
line-level mutations of a spec or printed tree."""

from __future__ import annotations

from hypothesis import strategies as st

HOSTILE_LINES = [
    "a: &a [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "b: &b {<<: *b}",
    "<<: *nowhere",
    "x: !!python/object/apply:os.system ['echo owned']",
    "y: !!binary aGVsbG8=",
    "  " * 80 + "deep: 1",
    "[" * 5000,
    "{a: " * 3000,
    "k: " + "9" * 5000,
    "k: 1e309",
    "k: .nan",
    "extends: /dev/zero",
    "extends: ../../../../../../etc/passwd",
    "extends: nin.yaml",
    "extends: " + "../" * 200 + "x.yaml",
    "\ttab: 1",
    "\x00",
    "\ufeff",
    "---",
    "%YAML 1.1",
    "? [a, b]",
    "模型: 1",
    "nnspec: 99",
    "    big: Linear(10**9, 10**9)",
    "    wide: Conv2d(999999999, 999999999, 999999)",
    "    deep: Sequential(" + "Sequential(" * 300 + ")" * 301,
    "    - {repeat: 1000000000, call: \"ReLU()\"}",
    "    - {repeat: 10**18, call: \"Identity()\"}",
    "    - x = " + "(" * 500 + "x" + ")" * 500,
    "    - x = x" + " + x" * 2000,
    "    - x = [0] * 10**9",
    "    - x = 2 ** 2 ** 2 ** 2 ** 2 ** 2",
    "    - return x.view(" + ", ".join(["-1"] * 300) + ")",
    "    - x = x[::0]",
    "    - x = 'a' * 10**8",
    "  params: {width: 10**18}",
    "  params: {depth: -1, width: 0}",
    "  x: [" + ", ".join(["100000"] * 12) + "]",
    "  x: [0, 0, 0]",
    "  x: [-3, 32, 32]",
    "      conv: Conv2d(cin, cout, k, padding=k // 0)",
    "    __class__: ReLU()",
    "    forward: ReLU()",
    "children: " + "{a: " * 90 + "1" + "}" * 90,
]
# values put in place of a spec line's own value (after its `key: ` or `- `), so that the YAML
# stays well-formed and the hostile part reaches the later stages: expressions, layers, limits
HOSTILE_VALUES = [
    "Linear(10**9, 10**9)", "Conv2d(999999999, 999999999, 999999)", "Embedding(10**12, 10**6)",
    "LSTM(10**6, 10**6, num_layers=10**6)", "MultiheadAttention(10**6, 7)",
    "Conv2d(3, 3, 10**9, stride=0)", "MaxPool2d(10**18)", "Linear(-1, 0)",
    "Sequential(" * 100 + ")" * 100, "ReLU(" * 100, "x" * 3000, "[" * 200, "{" * 200,
    "2 ** 2 ** 2 ** 2 ** 2 ** 2", "10**18", "10**400", "-1", "0", "1e309", ".nan", "-.inf",
    "len([0] * 10**9)", "[0] * 10**7", "'a' * 10**9", "range(10**12)", "sum(range(10**12))",
    "[[0] * 10**4] * 10**4", "1 << 10**9", "(1,) * 10**9", "x.view(-1, -1)", "x[::0]",
    "x.expand(10**9, 10**9)", "x.repeat(10**6, 10**6)", "x.reshape(10**18)", "cin // 0",
    "\"\\N{" + "A" * 50 + "}\"", "*a", "&a [*a]", "!!python/name:os.system", "~", "''",
    "{repeat: 10**9, call: 'ReLU()'}", "{repeat: 200000, call: 'Linear(1000, 1000)'}",
    "{if: 1/0, call: 'ReLU()'}", "__import__('os').system('echo owned')", "lambda: 1",
    "[x for x in range(10**9)]", "getattr(x, '__class__')", "x.__class__", "模型",
]
HOSTILE_TREE_LINES = [
    "(" * 3000,
    "  (0): Linear(in_features=1000000000, out_features=1000000000, bias=True)",
    "  (x): Conv2d(999999, 999999, kernel_size=(99999, 99999), stride=(1, 1))",
    "  (1-99999999): 99999999 x Linear(in_features=10, out_features=10, bias=True)",
    "  (0-1000000000): 1000000000 x ReLU()",
    "  " * 500 + "(a): ReLU()",
    "  (__class__): ReLU()",
    "  (0): Sequential(" * 200,
    "  (0): Linear(in_features=-1, out_features=10, bias=True)",
    "  (0): Embedding(10, 10, padding_idx=" + "9" * 400 + ")",
    "  (0): Dropout(p=nan, inplace=False)",
    "  (0): os.system('echo owned')",
    "Net(" + "\x00",
    "```",
]
HOSTILE_BYTES = [
    b"",
    b"\xef\xbb\xbf",
    b"\xff\xfe\x00n\x00n",
    b"\x00" * 64,
    b"nnspec: 1\n" + b"\x80\x81\xfe",
    b"a: &a [" + b"*a, " * 1000 + b"]\n",
    b"\n".join(b"l%d: &l%d [" % (i, i) + b", ".join([b"*l%d" % (i - 1)] * 9) + b"]"
               for i in range(1, 12)).replace(b"*l0", b"x"),
    b"[" * 100_000,
    b"- " * 50_000 + b"x",
    b"x: " + b"y" * 2_100_000,
    b"nnspec: 1\nmodel:\n  children:\n" + b"".join(b"    c%d: ReLU()\n" % i for i in range(20000)),
]
SET_NAMES = ["width", "expand", "depth", "num_layers", "num_heads", "hidden_dim", "layers", "cfg",
             "num_blocks", "n_layer", "n_embd", "image_size", "patch_size", "num_classes", "k"]
SET_VALUES = ["", "0", "-1", "1e309", "nan", "99999999999999999999999", str(2**63), "10**18",
              "[" * 500, "[" + ", ".join(["1000000"] * 8) + "]", "[[1000000, 1000000, 100, 2]]",
              "!!python/object/apply:os.system ['echo owned']", "&a [*a]", "*a", "{a: 1}",
              "\x01", "'", "\"\\x", "模型", "[1, 2", "1000000000", "x" * 5000, "true", "~"]


ARGV_CHARS = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))


@st.composite
def set_option(draw) -> str:
    form = draw(st.integers(0, 5))
    if form == 0:
        return draw(st.sampled_from(["", "=", "=2", "x", "a.b=1", "__class__=1", " =1",
                                     "名=1", "width==2", "-=1", "x=" + "[" * 100]))
    name = draw(st.sampled_from(SET_NAMES))
    if form == 1:
        return f"{name}={draw(st.text(ARGV_CHARS, max_size=40))}"
    return f"{name}={draw(st.sampled_from(SET_VALUES))}"


@st.composite
def mutated(draw, source: bytes, lines: list[str]) -> tuple[bytes, list[str]]:
    """`source` after one to four byte- or line-level mutations, and what they were."""
    data, done = source, []
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate",
                                   "line-delete", "line-dup", "line-swap", "line-insert",
                                   "line-replace", "line-indent", "value-replace"]))
        at = draw(st.integers(0, max(0, len(data))))
        rows = data.split(b"\n")
        row = draw(st.integers(0, max(0, len(rows) - 1)))
        if op == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        elif op == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 64)):]
        elif op == "duplicate":
            data = data[:at] + data[at:at + draw(st.integers(1, 256))] * 2 + data[at:]
        elif op == "truncate":
            data = data[:at]
        elif op == "line-delete" and rows:
            data = b"\n".join(rows[:row] + rows[row + 1:])
        elif op == "line-dup" and rows:
            data = b"\n".join(rows[:row] + [rows[row]] * draw(st.integers(2, 50)) + rows[row:])
        elif op == "line-swap" and rows:
            other = draw(st.integers(0, len(rows) - 1))
            rows[row], rows[other] = rows[other], rows[row]
            data = b"\n".join(rows)
        elif op in ("line-insert", "line-replace"):
            line = draw(st.sampled_from(lines)).encode("utf-8")
            keep = rows[row + 1:] if op == "line-replace" else rows[row:]
            data = b"\n".join(rows[:row] + [line] + keep)
        elif op == "value-replace" and rows:
            head = _head(rows[row])
            if head is not None:
                value = draw(st.sampled_from(HOSTILE_VALUES)).encode("utf-8")
                rows[row] = head + value
                data = b"\n".join(rows)
        elif op == "line-indent" and rows:
            rows[row] = b" " * draw(st.sampled_from([1, 2, 3, 8])) + rows[row]
            data = b"\n".join(rows)
        done.append(f"{op}@{row if op.startswith('line') else at}")
    return data, done




def _head(line: bytes) -> bytes | None:
    """A line's indentation and `key: ` or `- ` (the part a value follows), None if neither."""
    stripped = line.lstrip(b" ")
    indent = line[:len(line) - len(stripped)]
    if stripped.startswith(b"- "):
        return indent + b"- "
    key, sep, _ = stripped.partition(b": ")
    if sep and key and not key.startswith(b"#"):
        return indent + key + sep
    return None


# Lines and scalars that grow with n, against the nesting pre-scan and the YAML resolvers
# (PyYAML's and the reader's float pattern): a backtracking pattern is quadratic or worse on
# them. tests/test_hostile_frontend.py checks the answers; bench/hostile.py how cost grows.
GROWING_LINES = {
    "anchors": lambda n: "doc: " + "&" * n + " x[",
    "tags_and_anchors": lambda n: "doc: " + "&a !t " * (n // 6) + "x[",
    "blank_runs": lambda n: "a: " + "& " * (n // 2) + "b|",
    "block_headers": lambda n: "a: " + "|\t#" * (n // 3),
    "brackets_after_text": lambda n: "a: b" + "[" * n,
    "quotes_after_text": lambda n: "a: b" + "'\"" * (n // 2),
    "closing_brackets": lambda n: "a: b" + "]}" * (n // 2),
}
GROWING_SCALARS = {
    "digits_then_junk": lambda n: "a: " + "1" * n + "e1x\n",
    "underscores": lambda n: "a: " + "1_" * (n // 2) + ".e+x\n",
    "sexagesimal": lambda n: "a: 1" + ":5" * (n // 2) + "x\n",
}
