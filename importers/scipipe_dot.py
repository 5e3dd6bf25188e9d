"""SciPipe's workflow graph (PlotGraph's Graphviz DOT): processes and port-labelled edges."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from provcausal.errors import BadInputError

__all__ = ["ProcessGraph", "parse_dot", "looks_like_dot"]

_ID = r'"((?:[^"\\]|\\.)*)"|([A-Za-z_][\w.]*)'
_EDGE = re.compile(rf"^\s*(?:{_ID})\s*->\s*(?:{_ID})\s*(\[(.*)\])?\s*;?\s*$")
_NODE = re.compile(rf"^\s*(?:{_ID})\s*(\[(.*)\])?\s*;?\s*$")
_ATTR = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s\]]+))')
_KEYWORDS = {"graph", "node", "edge", "digraph", "subgraph", "rankdir"}


@dataclass
class ProcessGraph:
    """Processes and their dataflow edges ``(source, target, out_port, in_port)``."""

    processes: list[str] = field(default_factory=list)
    edges: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)

    def parents(self, process: str) -> list[tuple[str, str | None]]:
        return [(s, tail) for s, t, tail, _ in self.edges if t == process]

    def children(self, process: str) -> list[tuple[str, str | None]]:
        return [(t, head) for s, t, _, head in self.edges if s == process]


def _unquote(quoted: str | None, bare: str | None) -> str:
    if quoted is not None:
        return re.sub(r"\\(.)", r"\1", quoted)
    return bare or ""


def looks_like_dot(text: str) -> bool:
    return bool(re.search(r"^\s*(strict\s+)?digraph\b", text, re.M))


def parse_dot(text: str, path: Path) -> ProcessGraph:
    """Parse the DOT SciPipe writes (one statement per line); errors name file and line."""
    if not looks_like_dot(text):
        raise BadInputError("not a Graphviz digraph", path=str(path))
    graph = ProcessGraph()
    seen: set[str] = set()

    def add(name: str) -> None:
        if name not in seen:
            seen.add(name)
            graph.processes.append(name)

    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("//", "#", "digraph", "strict", "}", "{")):
            continue
        edge = _EDGE.match(stripped)
        if edge:
            src = _unquote(edge.group(1), edge.group(2))
            dst = _unquote(edge.group(3), edge.group(4))
            attrs = {
                m.group(1): _unquote(m.group(2), m.group(3))
                for m in _ATTR.finditer(edge.group(6) or "")
            }
            add(src)
            add(dst)
            graph.edges.append((src, dst, attrs.get("taillabel"), attrs.get("headlabel")))
            continue
        node = _NODE.match(stripped)
        if node:
            name = _unquote(node.group(1), node.group(2))
            if node.group(1) is not None or name not in _KEYWORDS:
                add(name)
            continue
        if "=" in stripped and "->" not in stripped:
            continue  # graph attribute statement such as rankdir=LR;
        raise BadInputError("cannot read this DOT statement", path=str(path), line=number)
    return graph
