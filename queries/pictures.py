"""Pictures of graphs: the node-level dataflow graph of a workflow, or one run's PROV graph.

DOT is written here (nodes graph) or by ``prov.dot`` (PROV graph, needs pydot). SVG and PNG
need Graphviz's ``dot`` program; when it is missing the ``.dot`` file is still written and the
error says how to install Graphviz.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import networkx as nx
from provcausal.queries.export import atomic_path, run_document, write_atomic

from provcausal.errors import BadInputError, MissingDependencyError
from provcausal.stores import Store

__all__ = ["nodes_dot", "prov_dot", "write_picture"]


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def nodes_dot(graph: nx.DiGraph, name: str, labels: dict[str, str] | None = None) -> str:
    """DOT for a node-level graph; contracted nodes and cut edges are listed in a note."""
    labels = labels or {}
    lines = [
        f"digraph {_quote(name)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="#EFF2F5", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in sorted(graph.nodes):
        lines.append(f"  {_quote(node)} [label={_quote(labels.get(node, node))}];")
    for a, b, data in sorted(graph.edges(data=True)):
        attrs = f" [label={_quote(data['samples'])}]" if data.get("samples") else ""
        lines.append(f"  {_quote(a)} -> {_quote(b)}{attrs};")
    notes = [f"contracted {n} ({why})" for n, why in graph.graph.get("contracted", {}).items()]
    notes += [f"cut {c['from']} -> {c['to']} ({c['why']})" for c in graph.graph.get("cut", [])]
    if notes:
        lines.append(f"  label={_quote('; '.join(notes))}; labelloc=b; fontsize=9;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def prov_dot(store: Store, run_id: str) -> str:
    """DOT of one run's full PROV graph (prov.dot's rendering)."""
    try:
        from prov.dot import prov_to_dot
    except ImportError:
        raise MissingDependencyError(
            "PROV pictures need pydot: pip install 'provcausal[dot]'"
        ) from None
    return str(prov_to_dot(run_document(store, run_id)).to_string())


def write_picture(dot: str, path: str | Path) -> Path:
    """Write ``dot`` to ``path`` (.dot, .svg or .png); SVG/PNG go through Graphviz's ``dot``.
    The ``.dot`` source is always written next to an SVG/PNG."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".dot", ".gv", ".svg", ".png"):
        raise BadInputError("the picture must end in .dot, .svg or .png", path=str(path))
    source = path if suffix in (".dot", ".gv") else path.with_suffix(".dot")
    write_atomic(source, dot)
    if source == path:
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise MissingDependencyError(
            f"{suffix[1:].upper()} needs Graphviz's dot program (apt-get install graphviz); "
            f"wrote {source}"
        )
    with atomic_path(path) as tmp:
        done = subprocess.run(
            [exe, f"-T{suffix[1:]}", str(source), "-o", str(tmp)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise BadInputError(f"dot failed: {done.stderr.strip()[:300]}", path=str(source))
    return path
