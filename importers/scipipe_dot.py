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
_BARE = re.compile(r'[^\s=,;"\[\]]+')
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


def _closing_quote(text: str, start: int) -> int:
    """The index of the ``"`` that closes the string opened at ``start`` (-1 if none),
    found with ``str.find`` jumps: each character is looked at a bounded number of times."""
    end = start + 1
    while True:
        end = text.find('"', end)
        if end == -1:
            return -1
        slashes = 0
        while text[end - 1 - slashes] == "\\":
            slashes += 1
        if slashes % 2 == 0:
            return end
        end += 1


def _word(text: str, pos: int) -> tuple[str | None, int]:
    """The DOT id at ``pos`` (quoted or bare) and the position after it; ``None`` if there
    is none."""
    if text.startswith('"', pos):
        end = _closing_quote(text, pos)
        if end == -1:
            raise ValueError("a string without its closing quote")
        return _unquote(text[pos + 1 : end], None), end + 1
    bare = _BARE.match(text, pos)
    return (bare.group(), bare.end()) if bare else (None, pos)


def parse_attributes(text: str) -> dict[str, str]:
    """``key=value`` pairs of a DOT attribute list, in one pass (linear: a 40 KB list once
    took a backtracking regular expression 27 s).

    >>> parse_attributes('taillabel="out", headlabel=in; color=red')
    {'taillabel': 'out', 'headlabel': 'in', 'color': 'red'}
    """
    found: dict[str, str] = {}
    pos, size = 0, len(text)
    while pos < size:
        if text[pos].isspace() or text[pos] in ",;":
            pos += 1
            continue
        key, pos = _word(text, pos)
        if key is None:  # a stray character ('=', a bracket): not a pair
            pos += 1
            continue
        while pos < size and text[pos].isspace():
            pos += 1
        if pos < size and text[pos] == "=":
            pos += 1
            while pos < size and text[pos].isspace():
                pos += 1
            value, pos = _word(text, pos)
            if value is not None:
                found[key] = value
    return found


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
            try:
                attrs = parse_attributes(edge.group(6) or "")
            except ValueError as exc:
                raise BadInputError(str(exc), path=str(path), line=number) from None
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
