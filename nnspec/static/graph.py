"""`nnspec graph`: the architecture as Mermaid or Graphviz DOT, from the static pass's dataflow.

Nodes are inputs, layer calls, functional ops and the output, each with its output shape;
edges are the values that flow between them, so skip connections and concatenations show as
they are. Containers (blocks, Sequentials) are drawn as clusters; `depth` collapses every module
deeper than that into its ancestor, drawn as one node with the ancestor's output shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nnspec.ir.analysis import Analysis, shape_of
from nnspec.static.text import shape_text


@dataclass
class Cluster:
    path: str
    label: str
    nodes: list[str] = field(default_factory=list)
    clusters: dict[str, Cluster] = field(default_factory=dict)


@dataclass
class Graph:
    name: str
    labels: dict[str, str]  # node key -> label lines joined by "\n"
    edges: list[tuple[str, str, bool]]  # (from, to, skip): skip edges are drawn dashed
    root: Cluster


def build(name: str, analysis: Analysis, depth: int | None = None) -> Graph:
    """The dataflow graph, modules deeper than `depth` collapsed into their ancestor."""
    keys: dict[int, str] = {}
    labels: dict[str, str] = {}
    homes: dict[str, tuple[str, ...]] = {}  # node key -> its enclosing module path parts
    for node in analysis.nodes:
        chain = node.chain
        if node.role in ("input", "output"):
            key, label, home = f"n{node.id}", f"{node.label}\n{_shape(node.output)}", ()
        elif depth is not None and len(chain) > depth:
            path = ".".join(chain[:depth])
            key = _ident(path)
            info = analysis.modules[path]
            title = f"{path}: {info.type}" if path else info.type
            label = f"{title}\n{_shape(info.outputs[-1] if info.outputs else None)}"
            home = chain[:depth - 1] if depth else ()
        else:
            key = f"n{node.id}"
            title = f"{'.'.join(chain)}: {node.label}" if node.role == "layer" else node.label
            label, home = f"{title}\n{_shape(node.output)}", chain[:-1]
        keys[node.id] = key
        labels.setdefault(key, label)
        homes.setdefault(key, home)
    order = {key: n for n, key in enumerate(labels)}
    edges: dict[tuple[str, str, bool], None] = {}  # ordered, each edge once in O(1)
    for node in analysis.nodes:
        dst = keys[node.id]
        sources = list(dict.fromkeys(keys[i] for i in node.inputs if keys[i] != dst))
        for src in sources:  # into a merge (add, cat, ...), a non-adjacent source is a skip
            edge = (src, dst, len(sources) > 1 and order[dst] - order[src] > 1)
            edges[edge] = None
    root = Cluster("", name)
    for key in labels:
        cluster = root
        for n in range(1, len(homes[key]) + 1):
            path = ".".join(homes[key][:n])
            if path not in cluster.clusters:
                cluster.clusters[path] = Cluster(path, f"{path}: {analysis.modules[path].type}")
            cluster = cluster.clusters[path]
        cluster.nodes.append(key)
    return Graph(name, labels, list(edges), root)


def _shape(value) -> str:
    return shape_text(shape_of(value))


def _ident(path: str) -> str:
    return "m_" + re.sub(r"\W", "_", path)


def mermaid(graph: Graph) -> str:
    lines = ["flowchart TD"]

    def label(text: str) -> str:
        return '"' + text.replace('"', "#quot;").replace("\n", "<br/>") + '"'

    def emit(cluster: Cluster, indent: str) -> None:
        for key in cluster.nodes:
            lines.append(f"{indent}{key}[{label(graph.labels[key])}]")
        for sub in cluster.clusters.values():
            lines.append(f"{indent}subgraph {_ident('c_' + sub.path)}[{label(sub.label)}]")
            emit(sub, indent + "  ")
            lines.append(f"{indent}end")

    emit(graph.root, "  ")
    lines += [f"  {a} {'-.->' if skip else '-->'} {b}" for a, b, skip in graph.edges]
    return "\n".join(lines) + "\n"


def dot(graph: Graph) -> str:
    lines = [f'digraph "{graph.name}" {{', "  rankdir=TB;",
             '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']

    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    def emit(cluster: Cluster, indent: str) -> None:
        for key in cluster.nodes:
            lines.append(f"{indent}{key} [label={quote(graph.labels[key])}];")
        for sub in cluster.clusters.values():
            lines.append(f"{indent}subgraph cluster_{_ident(sub.path)} {{")
            lines.append(f'{indent}  label={quote(sub.label)}; style=dashed;')
            emit(sub, indent + "  ")
            lines.append(f"{indent}}}")

    emit(graph.root, "  ")
    lines += [f"  {a} -> {b}{' [style=dashed]' if skip else ''};" for a, b, skip in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"
