"""Property-based fuzzing: random YAML, and mutations of every spec in specs/, run through
`nnspec validate` in-process. Each run must end in exit 0 (valid) or 1 (positioned errors):
exit 3 or a traceback is a bug, and a run that does not answer within a few seconds is a hang.

The budget is bounded (about 20 s in all); set NNSPEC_FUZZ_EXAMPLES to search longer locally.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import SPECS, spec_files
from hang_guard import Hang, hang_guard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnspec.catalog import LAYERS
from nnspec.cli.main import main

EXAMPLES = int(os.environ.get("NNSPEC_FUZZ_EXAMPLES", "120"))
HANG_GUARD_S = 5  # a hang guard, not a benchmark: a valid run takes milliseconds

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def validate(path: Path) -> None:
    """Run the CLI on one file; fail on anything but exit 0 or 1 with clean diagnostics."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            hang_guard(HANG_GUARD_S):
        code = main(["--debug", "validate", str(path)])
    text = err.getvalue()
    assert code in (0, 1), f"exit {code} on:\n{path.read_text(encoding='utf-8')}\n{text}"
    assert "Traceback" not in text, text
    if code == 1:
        assert re.search(r":\d+:\d+: error\[[\w-]+\]: ", text), text


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A copy of specs/, so mutated children still find their `extends` parents."""
    path = tmp_path_factory.mktemp("fuzz")
    for spec in spec_files():
        shutil.copy(spec, path / spec.name)
    shutil.copytree(SPECS / "base", path / "base")  # parents that specs extend
    return path


# --- random YAML -----------------------------------------------------------------------------

WORDS = ["nnspec", "inputs", "model", "blocks", "children", "params", "forward", "name", "base",
         "Sequential", "Module", "extends", "call", "seq", "if", "then", "else", "doc", "shape",
         "dtype", "range", "type", "default", "x", "y", "conv", "c", "int", "float", "list[int]"]
CALLS = [f"{name}()" for name in LAYERS] + [
    "Conv2d(3, 8, 3)", "Conv2d(c, c * 2, k, padding=k // 2)", "Linear(8, 0)", "B(1, 2)",
    "x = conv(x)", "return x", "y = torch.cat([x, x], 1)", "c // 0", "Conv2d(3, 8, 3, groups=3)",
    "ReLU(inplace=True", "__import__('os')", "x.view(x.size(0), -1)", "make_divisible(c, 8)",
    "[1] * 10**9", "2 ** 99", "Foo(", "x = relu(x); y = 1", "𝐱", "\u202e", "",
]
scalars = (st.integers(-10**13, 10**13) | st.floats(allow_nan=True) | st.booleans() | st.none()
           | st.sampled_from(WORDS + CALLS) | st.text(max_size=12))
keys = st.sampled_from(WORDS + CALLS[:8]) | st.text(min_size=1, max_size=8)
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(keys, inner, max_size=5), max_leaves=30)


@st.composite
def spec_like(draw) -> dict:
    """Documents shaped like a spec, so that they reach elaboration and instantiation."""
    children = st.dictionaries(st.sampled_from(["conv", "relu", "b", "fc", "x", "forward"]),
                               st.sampled_from(CALLS) | documents, min_size=1, max_size=4)
    block = st.fixed_dictionaries({"children": children}, optional={
        "params": st.dictionaries(st.sampled_from(["c", "k", "cin"]),
                                  st.sampled_from(["int", 1, 3, 0, -1, "float", [1, 2]])),
        "forward": st.lists(st.sampled_from(CALLS), max_size=3),
        "base": st.sampled_from(["Module", "Sequential"])})
    return {
        "nnspec": 1,
        "inputs": {"x": draw(st.sampled_from([[3, 8, 8], [8], [0, 1], "x"]))},
        "blocks": draw(st.dictionaries(st.sampled_from(["B", "C", "Conv2d"]), block,
                                       max_size=2)),
        "model": draw(block),
    }


@FUZZ
@given(doc=documents | spec_like(), flow=st.booleans())
def test_random_yaml_documents(workdir, doc, flow):
    path = workdir / "random.yaml"
    path.write_text(yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True),
                    encoding="utf-8")
    validate(path)


YAML_CHARS = list(":-[]{},#&*!|>'\"%@`?~ \n\t\\") + list("abcxyz0123()=+")


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(YAML_CHARS) | st.characters(), max_size=300))
def test_random_text(workdir, text):
    path = workdir / "text.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    validate(path)


# --- mutations of the real specs ---------------------------------------------------------------

NUMBERS = st.sampled_from([0, -1, 1, 2, 3, 7, 64, 10**6, 10**12, 2**63, -(10**9)]) | \
    st.integers(-10**15, 10**15)


def _pick(draw, items: list):
    return items[draw(st.integers(0, len(items) - 1))] if items else None


def change_number(draw, text: str) -> str:
    match = _pick(draw, list(re.finditer(r"\d+", text)))
    if match is None:
        return text
    return text[:match.start()] + str(draw(NUMBERS)) + text[match.end():]


def drop_line(draw, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if lines:
        del lines[draw(st.integers(0, len(lines) - 1))]
    return "".join(lines)


def duplicate_key(draw, text: str) -> str:
    lines = text.splitlines(keepends=True)
    keyed = [i for i, line in enumerate(lines) if re.match(r"\s*[\w-]+\s*:", line)]
    i = _pick(draw, keyed)
    if i is not None:
        lines.insert(draw(st.integers(i + 1, len(lines))), lines[i])
    return "".join(lines)


def misspell(draw, text: str) -> str:
    match = _pick(draw, list(re.finditer(r"[A-Za-z_]\w+", text)))
    if match is None:
        return text
    word = match.group()
    i = draw(st.integers(0, len(word) - 1))
    edit = draw(st.sampled_from(["drop", "double", "swap", "case", "replace"]))
    if edit == "drop":
        word = word[:i] + word[i + 1:]
    elif edit == "double":
        word = word[:i] + word[i] + word[i:]
    elif edit == "swap" and i + 1 < len(word):
        word = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    elif edit == "case":
        word = word.swapcase()
    else:
        word = word[:i] + draw(st.sampled_from(list("aeiouxz_0ёß"))) + word[i + 1:]
    return text[:match.start()] + word + text[match.end():]


def truncate(draw, text: str) -> str:
    return text[:draw(st.integers(0, len(text)))]


def insert_char(draw, text: str) -> str:
    i = draw(st.integers(0, len(text)))
    return text[:i] + draw(st.sampled_from(YAML_CHARS)) + text[i:]


MUTATIONS = [change_number, drop_line, duplicate_key, misspell, truncate, insert_char]


@st.composite
def mutated_spec(draw) -> tuple[str, str]:
    spec = draw(st.sampled_from(spec_files()))
    text = spec.read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 3))):
        text = draw(st.sampled_from(MUTATIONS))(draw, text)
    return spec.name, text


@FUZZ
@given(case=mutated_spec())
def test_mutated_specs(workdir, case):
    name, text = case
    path = workdir / f"mutated_{name}"
    path.write_text(text, encoding="utf-8")
    validate(path)


def test_hang_guard_fires():
    """The guard is real: a run that never returns is stopped and reported."""
    with pytest.raises(Hang), hang_guard(0.05):
        while True:
            pass
