"""The libyaml composer (used for speed) gives exactly the reference loader's data and
positions; errors still come from the reference loader.

PyYAML's wheels ship libyaml, so this environment has it: the comparison is always the C
composer against the pure-Python one, never a loader against itself."""

from __future__ import annotations

import importlib

import pytest
import yaml
from conftest import ROOT

import nnspec

load = importlib.import_module("nnspec.frontend.reader")

SAMPLES = [
    "k: 'ünï'  # comment\nv: \"a\\tb\"\nw: {a: [1, {b: 2}], 'c d': x}\nf: 1e-5\n",
    "a: &x {p: 1}\nb:\n  <<: *x\n  q: 2\n",
    "x:\n- a\n-   - b\n    - 'c'\n",
    "é: Conv2d(3, 8, 3)  \nf: >\n  folded\n  text\nn: null\nt: true\n",
    "p: Conv2d(3,\n  8, 3)\nq: \"Conv2d(3,\n  8, 3)\"\nr: |\n  a\n  b\nl: ['f(1,\n  2)']\n",
]
FILES = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "tests").rglob("*.yaml"))


def test_libyaml_is_present_and_the_fast_loader_uses_it():
    assert yaml.__with_libyaml__
    assert issubclass(load._FastLoader, yaml.CSafeLoader)
    assert issubclass(load._Loader, yaml.SafeLoader)
    assert not issubclass(load._Loader, yaml.CSafeLoader)


def _both(text: str, monkeypatch):
    # parse_document composes with libyaml when the text has no tab and libyaml accepts it
    assert "\t" not in text
    c_node = yaml.compose(text, Loader=load._FastLoader)
    assert type(c_node) is type(yaml.compose(text, Loader=load._Loader))
    fast = load.parse_document(text, "s.yaml")
    with monkeypatch.context() as m:
        m.setattr(load, "_FastLoader", load._Loader)  # the pure-Python path only
        ref = load.parse_document(text, "s.yaml")
    return fast, ref


@pytest.mark.parametrize("text", SAMPLES + [f.read_text(encoding="utf-8") for f in FILES])
def test_same_data_and_positions(text, monkeypatch):
    fast, ref = _both(text, monkeypatch)
    assert (fast.data, fast.pos, fast.keypos) == (ref.data, ref.pos, ref.keypos)
    assert {k: p.segments for k, p in fast.pos.items()} == \
        {k: p.segments for k, p in ref.pos.items()}


def test_errors_come_from_the_reference_loader(write_spec):
    path = write_spec("nnspec: 1\ninputs:\n\tx: [3]\n")
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load(path)
    assert info.value.diagnostics[0].code == "yaml-tab"


def test_a_tab_libyaml_would_accept_is_refused_as_the_reference_refuses_it(write_spec):
    path = write_spec("nnspec: 1\ninputs:\n  x: [3, 8, 8]\nmodel:\n  children:\n"
                      "    conv: Conv2d(3,\t8, 3)\n")
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load(path)
    assert info.value.diagnostics[0].code == "yaml-tab"
