"""The expression evaluator: Python's semantics on the whitelisted subset, refusal of the rest,
and errors that point at the offending sub-expression. Python's own `eval` appears only here,
as the oracle; nnspec never evaluates spec text with it."""

from __future__ import annotations

import builtins
import json
import math

import pytest
from hang_guard import hang_guard
from hypothesis import given
from hypothesis import strategies as st

import nnspec
from nnspec.cli.main import main
from nnspec.language import guards
from nnspec.language.expr import ExprError, check, evaluate, make_divisible, parse

ENV = {"cin": 64, "cout": 128, "widen": 2, "width": 0.75, "cfg": [16, 32, 64, 128, 256],
       "k": 3, "use_bn": True, "drop": 0.0, "act": "relu", "neg": -7}


def ev(text: str, env: dict | None = None):
    env = ENV if env is None else env
    node = parse(text)
    check(node, set(env))
    return evaluate(node, env)


def refusal(text: str, env: dict | None = None) -> ExprError:
    with pytest.raises(ExprError) as info:
        ev(text, env)
    return info.value


# Every row is evaluated by nnspec and by Python; value and type must agree.
PYTHON_TABLE = [
    # arithmetic, with Python's floor/modulo conventions for negatives
    "cout * widen", "cin // 2", "cin / 2", "7 // 2", "-7 // 2", "7 // -2", "-7 % 3", "7 % -3",
    "7.5 // 2", "-7.5 % 2", "2 ** 10", "2 ** -1", "2.0 ** 3", "(-2) ** 3", "-2 ** 2",
    "0.9 ** 100", "1 ** 1000000", "10 ** 18", "neg // 2", "neg % 4", "+neg", "-neg",
    "1 + 2 * 3 - 4 / 5", "(1 + 2) * 3", "cout / widen / 2", "2 ** 3 ** 2", "True + True",
    "width * cout", "int(width * cout)", "cin * 1.5", "0.1 + 0.2",
    # comparisons, chained
    "1 < 2 < 3", "1 < 3 < 2", "3 > 2 == 2", "cin == 64", "cin != 64", "1 <= 1 >= 1",
    "1 == 1.0", "cin < cout <= 128 < 256", "[1, 2] < [1, 3]", "'a' < 'b'", "3 in cfg",
    "32 in cfg", "64 not in cfg", "'el' in act",
    # boolean logic returns operands, not bools
    "use_bn and cin", "0 and 1", "0 or 5", "'' or act", "drop or 0.5", "not 0", "not cfg",
    "not not act", "use_bn and not drop", "0 or 0 or []", "1 and 2 and 3",
    # conditional expressions
    "cin if use_bn else cout", "1 if drop else 2", "'a' if cin > 10 else 'b'",
    "cfg[0] if k == 3 else cfg[1] if k == 5 else cfg[2]",
    # lists, tuples, indexing and slicing
    "cfg[3]", "cfg[-1]", "cfg[1:3]", "cfg[::-1]", "cfg[::2]", "cfg[-2:]", "cfg[:0]",
    "cfg[1:100]", "[cin, cout][1]", "(1, 2)[0]", "[1, 2] + [3]", "[0] * 3", "3 * [0]",
    "cfg[k]", "act[1:]", "[]", "(cin,)",
    "[[1, 2], [3]][0][1]", "len(cfg)", "len(act)",
    # the helpers
    "min(cin, cout)", "max(cin, cout, 300)", "min(cfg)", "max([3, 1, 2])", "int(7.9)",
    "int(-7.9)", "int(True)", "int(width * 100)", "float(cin)", "round(2.5)", "round(3.5)",
    "round(-2.5)", "round(2.675, 2)", "round(width * 10)", "round(7)", "abs(neg)",
    "abs(-2.5)", "max(1, 2.0)", "min(2, 2.0)", "round(1234, -2)",
]


@pytest.mark.parametrize("text", PYTHON_TABLE)
def test_matches_python(text):
    expected = eval(text, {"__builtins__": {}}, {**ENV, "min": min, "max": max, "int": int,
                                                  "float": float, "round": round, "abs": abs,
                                                  "len": len})
    value = ev(text)
    assert value == expected
    assert type(value) is type(expected)


# torchvision.models._utils._make_divisible, verbatim, as the reference.
def _tv_make_divisible(v, divisor, min_value=None):
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@pytest.mark.parametrize("args,expected", [
    ((32 * 0.75, 8), 24), ((16 * 0.35, 8), 8), ((1280 * 1.4, 8), 1792), ((96 * 0.5, 8), 48),
    ((10, 8), 16),  # int(14) // 8 * 8 = 8 is under 90% of 10: one divisor up
    ((3, 8), 8), ((3, 8, 4), 4), ((100, 1), 100), ((20, 16), 32), ((28, 16), 32),
])
def test_make_divisible_known_values(args, expected):
    assert make_divisible(*args) == expected == _tv_make_divisible(*args)
    text = f"make_divisible({', '.join(map(repr, args))})"
    assert ev(text, {}) == expected


@given(v=st.floats(min_value=0.1, max_value=5000, allow_nan=False),
       divisor=st.sampled_from([1, 2, 3, 4, 8, 16, 32]),
       min_value=st.one_of(st.none(), st.integers(1, 64)))
def test_make_divisible_is_torchvisions(v, divisor, min_value):
    ours = ev("make_divisible(v, d, m)", {"v": v, "d": divisor, "m": min_value})
    assert ours == _tv_make_divisible(v, divisor, min_value)


@given(a=st.integers(-10**6, 10**6), b=st.integers(-10**6, 10**6).filter(bool),
       c=st.integers(-50, 50))
def test_integer_arithmetic_matches_python(a, b, c):
    env = {"a": a, "b": b, "c": c}
    for text in ("a // b", "a % b", "a / b", "a * b - c", "-a // b + c % b", "a if c else b",
                 "a < b <= c", "min(a, b) ** 2", "abs(a) // b"):
        assert ev(text, env) == eval(text, {"__builtins__": {}}, {**env, "min": min,
                                                                   "abs": abs}), text


# (text, code, offset of the caret inside the text)
REFUSED = [
    ("cfg.append", "bad-expression", 0),
    ("cfg[0] if True else cfg.__len__()", "bad-expression", 20),
    ("act.upper()", "bad-expression", 0),
    ("(1).real", "bad-expression", 0),
    ("lambda: 1", "bad-expression", 0),
    ("[c for c in cfg]", "bad-expression", 0),
    ("{c: 1 for c in cfg}", "bad-expression", 0),
    ("(c for c in cfg)", "bad-expression", 0),
    ("{1: 2}", "bad-expression", 0),
    ("{1, 2}", "bad-expression", 0),
    ("f'{cin}'", "bad-expression", 0),
    ("b'x'", "bad-expression", 0),
    ("1j", "bad-expression", 0),
    ("(y := 3)", "bad-expression", 1),
    ("__import__('os')", "bad-expression", 0),
    ("cin + open('f')", "bad-expression", 6),
    ("print(cin)", "bad-expression", 0),
    ("eval('1')", "bad-expression", 0),
    ("max(*cfg)", "bad-expression", 0),
    ("cin + foo(1)", "bad-expression", 6),
    ("~cin", "bad-expression", 0),
    ("cin << 2", "bad-expression", 0),
    ("cin | 1", "bad-expression", 0),
    ("cin is 64", "bad-expression", 0),
    ("cin @ cout", "bad-expression", 0),
    ("cin + widn", "unknown-name", 6),
    ("cout * widen + 2 ** 64", "out-of-range", 15),
    ("2 ** 10 ** 6", "out-of-range", 0),
    ("((2 ** 60) ** 60) ** 60", "out-of-range", 1),
    ("10 ** 400 // 10 ** 390", "out-of-range", 0),
    ("1e308 * 10", "out-of-range", 0),
    ("float('inf')", "out-of-range", 0),
    ("int(float('nan'))", "out-of-range", 4),
    ("[0] * 10 ** 6", "out-of-range", 0),
    ("'ab' * 10 ** 6", "out-of-range", 0),
    ("[0] * 1000 * 1000", "out-of-range", 0),
    ("2 ** 2 ** 36", "out-of-range", 0),
    ("[0] * 60000 + [0] * 60000", "out-of-range", 0),
    ("max([[0] * 100000] * 100000)", "out-of-range", 4),
    ("round(1, -10 ** 8)", "out-of-range", 0),
    ("round(2.5, 10 ** 8)", "out-of-range", 0),
    ("cin // 0", "division-by-zero", 7),
    ("cin % (k - 3)", "division-by-zero", 7),
    ("cin / 0.0", "division-by-zero", 6),
    ("0 ** -1", "division-by-zero", 0),
    ("make_divisible(cin, 0)", "division-by-zero", 0),
    ("cfg[5]", "index-error", 4),
    ("cfg[-6]", "index-error", 4),
    ("cfg[1.0]", "type-error", 4),
    ("cfg['a':]", "type-error", 4),
    ("cfg[::0]", "out-of-range", 4),
    ("cin[0]", "type-error", 0),
    ("cin + act", "type-error", 0),
    ("-act", "type-error", 1),
    ("act < cin", "type-error", 0),
    ("min()", "type-error", 0),
    ("int('x')", "type-error", 0),
    ("len(cin)", "type-error", 0),
    ("(-8) ** 0.5", "type-error", 0),
    ("cin + )", "syntax", 6),
    ("cin cout", "syntax", 4),
    ("x = 1", "syntax", 2),
]


@pytest.mark.parametrize("text,code,offset", REFUSED)
def test_refused(text, code, offset):
    err = refusal(text)
    assert (err.code, err.offset) == (code, offset), err.message


def test_unknown_name_hints_the_closest_parameter():
    err = refusal("cout * widn")
    assert (err.code, err.offset, err.length) == ("unknown-name", 7, 4)
    assert err.message == "unknown name 'widn'"
    assert err.hint == "did you mean 'widen'?"


def test_unknown_function_lists_the_allowed_ones():
    err = refusal("maxx(cin, 2)")
    assert err.hint == "did you mean 'max'?"
    err = refusal("sqrt(cin)")
    assert "make_divisible" in err.hint


def test_names_are_checked_before_evaluation():
    """`check` refuses unknown names even in a branch that would never run."""
    with pytest.raises(ExprError) as info:
        check(parse("cin if True else nope"), {"cin"})
    assert (info.value.code, info.value.offset) == ("unknown-name", 17)


def test_short_circuit_skips_the_dead_operand():
    assert ev("use_bn or cin // 0") is True
    assert ev("drop and cfg[99]") == 0.0
    assert ev("cin if True else 1 // 0") == 64


def test_evaluation_never_uses_python_eval(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("nnspec called eval/exec on spec text")

    monkeypatch.setattr(builtins, "eval", forbidden)
    assert ev("cfg[3] // widen + min(cin, cout) * (1 if use_bn else 2)") == 128


def test_integer_bounds_are_an_error_not_a_wrap():
    assert ev("2 ** 62 + (2 ** 62 - 1)", {}) == 2**63 - 1
    assert refusal("2 ** 62 + 2 ** 62", {}).code == "out-of-range"
    assert refusal("-(2 ** 62) * 2", {}).code == "out-of-range"


def test_results_are_finite():
    assert ev("1e308 * 1.5 if False else 1e308", {}) == 1e308
    assert math.isclose(ev("1 / 3", {}), 1 / 3)


# --- positions inside a spec -------------------------------------------------------------------

SPEC = """\
nnspec: 1
inputs:
  x: [3, 8, 8]
blocks:
  Unit:
    params: {cin: int, cout: int, widen: 1}
    children:
      conv: Conv2d(cin, cout * widn, 3)
model:
  children:
    body:
      - Unit(3, 8)
"""


def test_spec_error_points_inside_the_expression(write_spec):
    path = write_spec(SPEC)
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load(path)
    [diag] = info.value.diagnostics
    col = SPEC.splitlines()[7].index("widn") + 1
    assert (diag.code, diag.pos.line, diag.pos.col) == ("unknown-name", 8, col)
    assert diag.pos.length == len("widn")
    assert diag.hint == "did you mean 'widen'?"


def test_value_error_points_at_the_sub_expression(write_spec):
    """A runtime value error (index out of range) points at the index, not the whole call."""
    text = SPEC.replace("cout * widn", "cfg[cin]").replace("widen: 1", "cfg: [8, 16]")
    path = write_spec(text)
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load(path)
    [diag] = info.value.diagnostics
    line = text.splitlines()[7]
    assert (diag.code, diag.pos.line, diag.pos.col) == ("index-error", 8,
                                                        line.index("cin]") + 1)
    assert "body.0" in " ".join(diag.notes)


def test_quoted_expression_columns_line_up(write_spec):
    """In a quoted YAML scalar the column still lands on the name, past the quote."""
    text = SPEC.replace("Conv2d(cin, cout * widn, 3)", '"Conv2d(cin, cout * widn, 3)"')
    path = write_spec(text)
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load(path)
    [diag] = info.value.diagnostics
    assert diag.pos.col == text.splitlines()[7].index("widn") + 1


# --- resource bounds: one guarded evaluator for spec expressions and forward steps -----------

FORWARD = """\
nnspec: 1
inputs:
  x: [3, 8, 8]
model:
  children:
    conv: Conv2d(3, 4, 3)
  forward:
    - x = conv(x)
{steps}
    - return x
"""

ARGUMENT = """\
nnspec: 1
inputs:
  x: [3, 8, 8]
model:
  children:
    conv: Conv2d(3, {arg}, 3)
"""


def validate(write_spec, capsys, text: str) -> tuple[int, list[dict]]:
    """`nnspec validate` in-process, guarded against a hang; its exit code and diagnostics."""
    capsys.readouterr()
    path = write_spec(text)
    with hang_guard(60):
        code = main(["validate", "--error-format", "json", path])
    return code, json.loads(capsys.readouterr().err)


def where(text: str, part: str, nth: int = 1) -> tuple[int, int]:
    """(line, column) of the `nth` occurrence of `part` in `text`, both from 1."""
    at = -1
    for _ in range(nth):
        at = text.index(part, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


def refused_at(write_spec, capsys, text: str, code: str, part: str, nth: int = 1) -> dict:
    status, diags = validate(write_spec, capsys, text)
    assert status == 1
    first = diags[0]
    assert (first["code"], first["line"], first["column"]) == (code, *where(text, part, nth)), \
        first["message"]
    return first


def test_forward_power_tower_is_refused_at_once(write_spec, capsys):
    """`2 ** 2 ** 36` used to hang `nnspec validate`: the exponent is judged before computing."""
    text = FORWARD.format(steps="    - n = 2 ** 2 ** 36")
    diag = refused_at(write_spec, capsys, text, "out-of-range", "2 ** 2 ** 36")
    assert diag["end_column"] - diag["column"] == len("2 ** 2 ** 36")


def test_forward_huge_list_is_refused_at_once(write_spec, capsys):
    """`[0] * 10 ** 10` used to exhaust memory: the length is judged before building it."""
    text = FORWARD.format(steps="    - n = [0] * 10 ** 10")
    diag = refused_at(write_spec, capsys, text, "out-of-range", "[0] * 10 ** 10")
    assert "100,000" in diag["message"]


# (forward step or steps, layer argument, code, the part each points at; None: no such form)
BOUNDS = {
    "exponent": ("n = 2 ** 2 ** 36", "2 ** 2 ** 36", "out-of-range", "2 ** 2 ** 36"),
    "shift": ("n = 1 << 10 ** 9", None, "out-of-range", "1 << 10 ** 9"),
    "repeat": ("n = [0] * 10 ** 10", "len([0] * 10 ** 10)", "out-of-range", "[0] * 10 ** 10"),
    "concatenate": ("n = [0] * 60000 + [0] * 60000", "len([0] * 60000 + [0] * 60000)",
                    "out-of-range", "[0] * 60000 + [0] * 60000"),
    "nested": ("n = [[0] * 100000] * 100000", "max([[0] * 100000] * 100000)[0]",
               "out-of-range", "[[0] * 100000] * 100000"),
    "round": (None, "round(1, -10 ** 8)", "out-of-range", "round(1, -10 ** 8)"),
}


# a forward cannot call round(); only spec expressions can
@pytest.mark.parametrize("bound", [name for name, (step, *_) in BOUNDS.items() if step])
def test_bound_in_a_forward_step(write_spec, capsys, bound):
    step, _, code, part = BOUNDS[bound]
    refused_at(write_spec, capsys, FORWARD.format(steps=f"    - {step}"), code, part)


@pytest.mark.parametrize("bound", BOUNDS)
def test_bound_in_a_layer_argument(write_spec, capsys, bound):
    _, arg, code, part = BOUNDS[bound]
    if arg is None:  # spec expressions refuse the operator outright: nothing is evaluated
        arg, code, part = "1 << 70", "bad-expression", "1 << 70"
    refused_at(write_spec, capsys, ARGUMENT.format(arg=arg), code, part)


LONG_CHAIN = "a == a == a == a == a == a"


def test_comparing_long_sequences_costs_their_length_forward(write_spec, capsys):
    """Each comparison of two 100,000-element lists costs 200,000 steps: five of them are
    over one step's budget."""
    text = FORWARD.format(steps=f"    - a = [0] * 100000\n    - n = {LONG_CHAIN}")
    diag = refused_at(write_spec, capsys, text, "too-complex", LONG_CHAIN)
    assert f"{guards.MAX_WORK:,}" in diag["message"]


def test_comparing_long_sequences_costs_their_length_argument(write_spec, capsys):
    chain = " == ".join(["[0] * 90000"] * 5)
    text = ARGUMENT.format(arg=f"4 if {chain} else 5")
    refused_at(write_spec, capsys, text, "too-complex", chain)


def test_membership_in_a_long_sequence_costs_its_length_forward(write_spec, capsys):
    """Ten tests of membership in a 100,000-element list: the tenth is over the budget."""
    text = FORWARD.format(steps="    - a = [0] * 100000\n    - n = " + " + ".join(
        ["(-1 in a)"] * 12))
    refused_at(write_spec, capsys, text, "too-complex", "-1 in a", nth=10)


def test_membership_in_a_long_sequence_costs_its_length_argument(write_spec, capsys):
    """Building the list and searching it cost 200,000 steps each time: the fifth is over."""
    text = ARGUMENT.format(arg="4 + " + " + ".join(["(-1 in [0] * 100000)"] * 6))
    refused_at(write_spec, capsys, text, "too-complex", "-1 in [0] * 100000", nth=5)


CHEAP = "[" + ", ".join(["k"] * 300) + "][0] < 0"


def test_spec_budget_stops_many_repeats_of_a_cheap_expression(write_spec, capsys,
                                                              monkeypatch):
    """40,000 instances of a cheap argument (under the module limit): the spec's budget
    (lowered here, to keep the test quick) stops them, at the expression."""
    monkeypatch.setattr(guards, "MAX_SPEC_WORK", 50_000)
    text = ARGUMENT.replace("conv: Conv2d(3, {arg}, 3)", "body:\n      - {{repeat: 40000, "
                            "as: k, call: \"ReLU(inplace=" + CHEAP + ")\"}}").format()
    diag = refused_at(write_spec, capsys, text, "too-complex", CHEAP)
    assert "50,000" in diag["message"]


def test_spec_budget_counts_forward_steps(write_spec, capsys, monkeypatch):
    """The forward's steps share the spec's budget: the step that crosses it is refused."""
    monkeypatch.setattr(guards, "MAX_SPEC_WORK", 10_000)
    step = "n = [" + ", ".join(["1"] * 300) + "][0]"
    text = FORWARD.format(steps="\n".join([f"    - {step}"] * 40))
    status, diags = validate(write_spec, capsys, text)
    assert status == 1
    [diag] = diags
    first, _ = where(text, step)
    assert diag["code"] == "too-complex"
    assert first < diag["line"] < first + 40 and diag["column"] == where(text, step)[1]


def test_budgets_leave_real_work_alone():
    """A wide but legitimate expression evaluates, and fresh budgets start from zero."""
    env = {"cfg": list(range(50_000))}
    assert ev("len(cfg + cfg) + max(cfg) + (49_999 in cfg)", env) == 100_000 + 49_999 + 1
    with guards.spec_work(limit=1_000):
        for _ in range(10):
            assert ev("[1, 2, 3][0] + 1", {}) == 2


def test_identity_tests_in_a_forward_are_known_only_against_none(write_spec, capsys):
    """`x.dtype is torch.float32` is True in torch (dtypes are singletons) but not something
    the static pass can know: refused where it stands, where it used to be an internal error."""
    text = FORWARD.format(steps="    - n = x.dtype is torch.float32")
    refused_at(write_spec, capsys, text, "unsupported", "x.dtype is torch.float32")
    text = FORWARD.format(steps="    - n = x.shape[1] is not None\n    - k = x.shape[1] << 2")
    assert validate(write_spec, capsys, text) == (0, [])
