"""`nnspec import` on hostile input: bombs, junk trees, junk checkpoints, user code that fails.

Each must end in exit 1 (a positioned diagnostic) or 2 (usage), quickly, never 3 or a hang.
"""

from __future__ import annotations

import pickle
import tracemalloc
from pathlib import Path

import pytest
import torch
from conftest import ROOT, seed_trees
from hang_guard import hang_guard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnspec.cli.main import main
from nnspec.importers.printed import import_tree
from nnspec.importers.tree import MAX_TREE_BYTES, MAX_TREE_DEPTH, MAX_TREE_MODULES

LINEAR = "Linear(in_features=4, out_features=4, bias=True)"
GUARD_S = 30  # a hang guard, not a benchmark (bench/hostile.py shows the times)


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return code, err


def write(tmp_path: Path, text: str | bytes, name: str = "tree.txt") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


# collapsed repeats: checked before they are expanded


def test_a_huge_collapsed_repeat_is_refused_at_its_line_before_expanding(tmp_path, capsys):
    path = write(tmp_path, f"ModuleList(\n  (0-999999999): 1000000000 x {LINEAR}\n)\n")
    with hang_guard(GUARD_S):  # expanded, it would be a billion modules
        code, err = run(capsys, "import", "tree", path)
    assert code == 1
    assert f"{path}:2:3: error[too-large]: the collapsed repeat (0-999999999)" in err


def test_nested_collapsed_repeats_count_their_product(tmp_path, capsys):
    tree = ("ModuleList(\n  (0-199): 200 x ModuleList(\n"
            f"    (0-199): 200 x {LINEAR}\n  )\n)\n")
    code, err = run(capsys, "import", "tree", write(tmp_path, tree))
    assert code == 1
    assert ":2:3: error[too-large]: the tree has over 20,000 modules" in err


@pytest.mark.parametrize("line, message", [
    (f"(0-2): 4 x {LINEAR}", "a collapsed repeat (0-2) must say 3 x"),
    (f"(5-2): 4 x {LINEAR}", "the collapsed repeat (5-2) ends before it starts"),
    (f"(0-2): {LINEAR}", "a collapsed repeat (0-2) must say 3 x"),
    (f"(0): 3 x {LINEAR}", "'3 x' needs a range of keys"),
    (f"(0-{'9' * 5000}): 3 x {LINEAR}", "over the limit of 20,000 modules"),
])
def test_a_collapsed_repeat_whose_range_disagrees_is_an_error(tmp_path, capsys, line, message):
    code, err = run(capsys, "import", "tree", write(tmp_path, f"ModuleList(\n  {line}\n)\n"))
    assert code == 1
    assert ":2:3: error[" in err and message in err


# size: near-linear below the bounds, refused above them


def test_a_tree_over_the_byte_bound_is_refused_before_it_is_read(tmp_path, capsys):
    n = 150_000  # about 9 MB
    lines = ["Sequential("] + [f"  ({i}): {LINEAR}" for i in range(n)] + [")"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    tracemalloc.start()
    try:
        code, err = run(capsys, "import", "tree", path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024**2  # the file is 9 MB: refused from its size, unread
    assert code == 1 and "error[too-large]" in err and f"{MAX_TREE_BYTES:,} bytes" in err


def test_a_tree_over_the_module_bound_is_refused_at_the_line_over_it(tmp_path, capsys):
    lines = ["Sequential("] + [f"  ({i}): ReLU()" for i in range(MAX_TREE_MODULES)] + [")"]
    code, err = run(capsys, "import", "tree", write(tmp_path, "\n".join(lines) + "\n"))
    assert code == 1
    assert f":{MAX_TREE_MODULES + 1}:3: error[too-large]" in err


# How importing's cost grows with the tree is bench/scaling.py's to show (`import tree`).


def test_a_long_chain_of_layers_is_not_searched_exhaustively():
    """Which orders of the children connect was a search over permutations: it never ended
    for 250 Linears, and recursed once per child."""
    lines = ["Net("] + [f"  (l{i}): Linear(in_features=4, out_features={i % 7 + 1}, "
                        "bias=True)" for i in range(1500)]
    with hang_guard(GUARD_S):
        result = import_tree("\n".join(lines + [")"]), "t", 1, {"x": [4]})
    assert "l1499" in result.text


# junk trees


def _deep(levels: int) -> str:
    lines = [("  " * i) + ("(a): " if i else "") + f"N{i}(" for i in range(levels)]
    lines.append("  " * levels + f"(a): {LINEAR}")
    lines += ["  " * i + ")" for i in reversed(range(levels))]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("content, where", [
    ("hello world, not a tree\n", ":1:1: error[bad-tree]"),
    ("Net(\n  (a): Linear(in_features=4\n)\n", ":2:8: error[bad-tree]"),
    ("Net(\n  (a): Linear(in_features=4, out_features=4, bias=True)\n", ":1:1: error[bad-tree]"),
    ("Net(\n" * 10_000, ":2:1: error[bad-tree]"),
    ("", ":1:1: error[bad-tree]"),
    (b"Net(\n  (a): \xff\xfeLinear()\n)\n", ":2:8: error[bad-tree]: not UTF-8 text"),
    (bytes(range(256)) * 4, ":2:118: error[bad-tree]: not UTF-8 text"),
    (b"\x00\x01Net(\x00)\n", ":1:1: error[bad-tree]"),
    (_deep(MAX_TREE_DEPTH + 1), f":{MAX_TREE_DEPTH + 1}:"),
    (_deep(1500), ":1410:1: error[too-large]"),  # 10,000 levels would be 100 MB of indent
])
def test_junk_trees_are_positioned_errors(tmp_path, capsys, content, where):
    path = write(tmp_path, content)
    code, err = run(capsys, "import", "tree", path)
    assert code == 1, err
    assert path + where in err, err


def test_the_deepest_tree_allowed_imports(tmp_path, capsys):
    code, err = run(capsys, "import", "tree", write(tmp_path, _deep(MAX_TREE_DEPTH - 1)),
                    "-o", str(tmp_path / "deep.yaml"))
    assert code == 0, err


# junk and hostile --state-dict files

SMALL = f"Sequential(\n  (0): {LINEAR}\n)\n"


class _Evil:
    def __reduce__(self):
        return (Path.touch, (Path("/tmp/nnspec-hostile-import-ran"),))


def _state_dicts(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.pt"
    torch.save({"0.weight": torch.zeros(4, 4), "0.bias": torch.zeros(4)}, good)
    data = good.read_bytes()
    out = {"truncated": tmp_path / "truncated.pt", "not-torch": tmp_path / "junk.pt",
           "pickle": tmp_path / "plain.pt", "evil": tmp_path / "evil.pt"}
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["not-torch"].write_bytes(b"hello, not a torch archive")
    out["pickle"].write_bytes(pickle.dumps({"0.weight": [1, 2]}))
    torch.save({"0.weight": _Evil()}, out["evil"])
    return out


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind, reason", [
    ("truncated", "failed reading zip archive"),
    ("not-torch", "cannot be read as a torch checkpoint"),
    ("pickle", "cannot be read as a torch checkpoint"),
    ("evil", "holds objects other than tensors, which are refused, not run"),
])
def test_a_checkpoint_torch_refuses_is_an_error_naming_it(tmp_path, capsys, kind, reason):
    marker = Path("/tmp/nnspec-hostile-import-ran")
    marker.unlink(missing_ok=True)
    path = _state_dicts(tmp_path)[kind]
    code, err = run(capsys, "import", "tree", write(tmp_path, SMALL), "--state-dict", str(path))
    assert code == 1
    assert f"{path}:1:1: error[bad-state-dict]: {path}" in err and reason in err, err
    assert not marker.exists()


def test_a_text_state_dict_with_junk_lines_names_each_line(tmp_path, capsys):
    layout = write(tmp_path, "0.weight\t4,4\tfloat32\ngarbage\n0.bias\tfour\tfloat32\n"
                   f"x\t{'9' * 5000}\tfloat32\n", "sd.txt")
    code, err = run(capsys, "import", "tree", write(tmp_path, SMALL), "--state-dict", layout)
    assert code == 1
    for line in (2, 3, 4):
        assert f"{layout}:{line}:1: error[bad-state-dict]" in err


def test_a_text_state_dict_that_is_not_utf8_is_an_error(tmp_path, capsys):
    layout = write(tmp_path, b"0.weight\t4,4\tfloat32\n\xff\n", "sd.txt")
    code, err = run(capsys, "import", "tree", write(tmp_path, SMALL), "--state-dict", layout)
    assert code == 1 and f"{layout}:2:1: error[bad-state-dict]: {layout} is not UTF-8" in err


# import module: the user's code failing is theirs (exit 1); naming nothing is usage (exit 2)

USER_CODE = '''\
import torch.nn as nn

def raises():
    raise RuntimeError("boom in user code")

def gives_int():
    return 3

def exits():
    raise SystemExit(4)

class BadRepr(nn.Module):
    def extra_repr(self):
        raise ValueError("bad repr")

def bad_repr():
    return BadRepr()

not_callable = 5
'''


@pytest.fixture
def user_code(tmp_path, monkeypatch):
    name = f"hostile_user_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_CODE, encoding="utf-8")
    (tmp_path / f"{name}_broken.py").write_text("import no_such_dependency_xyz\n")
    (tmp_path / f"{name}_raising.py").write_text("raise KeyError('at import')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, tmp_path


@pytest.mark.parametrize("factory, line, message", [
    ("raises", 4, "calling {m}:raises raised RuntimeError: boom in user code (in your code"),
    ("gives_int", 6, "error[not-a-module]: {m}:gives_int returned a value of type int"),
    ("exits", 10, "calling {m}:exits raised SystemExit: 4 (in your code"),
    ("bad_repr", 14, "printing the model from {m}:bad_repr raised ValueError: bad repr"),
])
def test_a_failing_factory_is_the_users_error(user_code, capsys, factory, line, message):
    name, where = user_code
    code, err = run(capsys, "import", "module", f"{name}:{factory}")
    assert code == 1, err
    assert f"{where / name}.py:{line}:1: error[" in err
    assert message.format(m=name) in err


@pytest.mark.parametrize("suffix, message", [
    ("_broken", "ModuleNotFoundError: No module named 'no_such_dependency_xyz'"),
    ("_raising", "KeyError: 'at import'"),
])
def test_a_module_that_fails_to_import_is_the_users_error(user_code, capsys, suffix, message):
    name, where = user_code
    code, err = run(capsys, "import", "module", f"{name}{suffix}:f")
    assert code == 1, err
    assert f"{where / name}{suffix}.py:1:1: error[user-code-failed]: importing" in err
    assert message in err


@pytest.mark.parametrize("target, message", [
    ("{m}:missing", "{m} has no attribute 'missing'"),
    ("{m}:not_callable", "{m}:not_callable is of type int, not a factory"),
    ("{m}_nowhere:f", "No module named '{m}_nowhere'"),
    ("{m}", "expected MODULE:FACTORY"),
])
def test_naming_nothing_is_a_usage_error(user_code, capsys, target, message):
    name, _ = user_code
    code, err = run(capsys, "import", "module", target.format(m=name))
    assert code == 2
    assert message.format(m=name) in err


# mutated trees: exit 0, 1 or 2, never a traceback

TREES = [p.read_text(encoding="utf-8")
         for p in sorted((ROOT / "tests/golden/torchvision").glob("*/tree.txt"))]
TREES += list(seed_trees().values())


@st.composite
def mutated(draw) -> str:
    lines = draw(st.sampled_from(TREES)).split("\n")
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        how = draw(st.sampled_from(["drop", "dup", "char", "cut", "digits", "indent"]))
        line = lines[i] if lines else ""
        if how == "drop" and lines:
            del lines[i]
        elif how == "dup":
            lines.insert(i, line)
        elif how == "char" and line:
            j = draw(st.integers(0, len(line) - 1))
            lines[i] = line[:j] + draw(st.sampled_from("()[]:,=x- \t0\x00é")) + line[j + 1:]
        elif how == "cut":
            lines[i] = line[: draw(st.integers(0, len(line)))]
        elif how == "digits":
            lines[i] = line.replace("3", draw(st.sampled_from(["0", "99999", "-1", "3.5"])))
        elif how == "indent":
            lines[i] = " " * draw(st.integers(0, 6)) + line.lstrip()
    return "\n".join(lines)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=mutated())
def test_mutated_trees_never_crash(tmp_path, capsys, text):
    path = write(tmp_path, text)
    code, _ = run(capsys, "import", "tree", path, "-o", str(tmp_path / "out.yaml"))
    assert code in (0, 1, 2)
