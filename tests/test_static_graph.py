"""`nnspec graph`: Mermaid and DOT text with shapes, skip and concat edges, --depth, SVG."""

from __future__ import annotations

import shutil

import pytest
from conftest import ROOT
from static_cli import nnspec as run

import nnspec
from nnspec.static.graph import build, dot, mermaid

GOLDEN = ROOT / "tests" / "golden" / "static"
ZOO = ROOT / "tests" / "specs" / "static" / "zoo.yaml"


def test_mermaid_is_the_golden_text():
    result = run("graph", "specs/nin_dw.yaml", "--depth", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (GOLDEN / "nin_dw_depth2.mmd").read_text(encoding="utf-8")


def _graph(depth=None):
    spec = nnspec.load(ZOO)
    return build(spec.name, spec.analysis, depth)


def _edge(graph, src_label: str, dst_label: str):
    keys = {label.split("\n")[0]: key for key, label in graph.labels.items()}
    return next(e for e in graph.edges if e[:2] == (keys[src_label], keys[dst_label]))


def test_skip_edge_of_a_residual_block_is_drawn_dashed():
    graph = _graph()
    labels = {key: label.split("\n")[0] for key, label in graph.labels.items()}
    adds = [key for key, label in labels.items() if label == "add"]
    into_first_add = [(labels[a], skip) for a, b, skip in graph.edges if b == adds[0]]
    assert into_first_add == [("res.bn2: BatchNorm2d", False), ("stem.2: ReLU", True)]
    assert graph.labels[adds[0]] == "add\n[1, 16, 16, 16]"


def test_concat_edges_come_from_both_branches():
    graph = _graph()
    labels = {key: label.split("\n")[0] for key, label in graph.labels.items()}
    cat = next(key for key, label in labels.items() if label == "torch.cat")
    assert sorted(labels[a] for a, b, _ in graph.edges if b == cat) == [
        "split.a: Conv2d", "split.b: Conv2d"]


def test_depth_collapses_blocks():
    graph = _graph(1)
    labels = sorted(label for label in graph.labels.values())
    assert "res: Res\n[1, 16, 16, 16]" in labels and "split: Split\n[1, 16, 16, 16]" in labels
    assert not any(label.startswith("res.") for label in labels)
    assert _edge(graph, "res: Res", "res2: Res")
    assert graph.root.clusters == {}
    whole = _graph(0)
    assert [label.split("\n")[0] for label in whole.labels.values()] == ["x", "Zoo", "output"]


def test_dot_has_clusters_and_dashed_skips():
    text = dot(_graph())
    assert text.startswith('digraph "Zoo" {')
    assert "subgraph cluster_m_res {" in text and 'label="res: Res"' in text
    assert "[style=dashed];" in text
    assert mermaid(_graph()).count("-.->") == text.count("[style=dashed]")


def test_output_file_and_format(tmp_path):
    out = tmp_path / "zoo.dot"
    assert run("graph", str(ZOO), "-o", str(out)).returncode == 0
    assert out.read_text().startswith("digraph")
    assert run("graph", str(ZOO), "--depth", "-1").returncode == 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_svg_is_rendered_by_dot(tmp_path):
    out = tmp_path / "zoo.svg"
    result = run("graph", str(ZOO), "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "<svg" in text and "res.conv1: Conv2d" in text
