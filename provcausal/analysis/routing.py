"""Routing as part of the causal model: nodes that only some samples reach.

A Node-RED ``switch``, ``filter`` or ``rbe``, or a Seldon trigger, sends a sample down one
branch; the nodes of the other branches are not visited. Such a node is **gated**: its data is
missing by design, not by accident, so the sample is kept. Every group of gated nodes that
the same samples reach gets one 0/1 **route** variable (``route:<first node>``): whether the
sample took that branch. The route variable is a node of the causal graph whose parents are
the branch's parents, so a change of the routing decision is a mechanism change like any
other; it is a parent of every node of its branch, whose value is 0 when not reached. A
node's mechanism therefore learns "value when reached" from the rows with route 1, and
simulating the target keeps the routing in place: an unreached branch contributes nothing.
Sibling routes (branches of one decision, with the same parents) are chained, the first one
a parent of the others, so that simulated samples take one branch as the data did.

A decision may also be recorded as flags: a Seldon step that returns one of several BOOL
tensors gives one 0/1 variable per tensor (``step.tensor``), exactly one of them 1 per sample.
Such exclusive flags (same parents, 0/1, summing to 1 in every sample of both sets) are chained
the same way, each a parent of the later ones: the last is then exact in the others, so a
changed decision is one mechanism change (of the first flag), not split between copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import pandas as pd

__all__ = ["Routing", "add_routing", "ROUTE_PREFIX"]

ROUTE_PREFIX = "route:"


@dataclass
class Routing:
    """The graph and frames with route variables, and what was done (for the notes)."""

    graph: nx.DiGraph
    baseline: pd.DataFrame
    comparison: pd.DataFrame
    routes: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


def _groups(graph: nx.DiGraph, reached: pd.DataFrame) -> dict[str, list[str]]:
    """Gated nodes grouped by the samples that reached them; each group keyed by its first
    node in topological order."""
    order = list(nx.lexicographical_topological_sort(graph))
    by_pattern: dict[bytes, list[str]] = {}
    for node in order:
        if node not in reached.columns:
            continue
        column = reached[node].to_numpy()
        if column.all() or not column.any():
            continue
        by_pattern.setdefault(column.tobytes(), []).append(node)
    return {f"{ROUTE_PREFIX}{nodes[0]}": nodes for nodes in by_pattern.values()}


def add_routing(
    graph: nx.DiGraph,
    baseline: pd.DataFrame,
    comparison: pd.DataFrame,
    labels: dict[str, str] | None = None,
) -> Routing:
    """Add a route variable for each group of gated nodes (see the module docstring).

    ``baseline``/``comparison`` hold NaN where a sample did not reach a node; the result has
    no NaN in gated nodes (0 when not reached) and one 0/1 column per route.
    """
    labels = labels or {}
    columns = [n for n in graph.nodes if n in baseline.columns]
    both = pd.concat([baseline[columns], comparison[columns]])
    reached = both.notna()
    groups = _groups(graph, reached)
    g = graph.copy()
    old, new = baseline.copy(), comparison.copy()
    out = Routing(g, old, new, groups, labels={})
    for route, nodes in groups.items():
        member = set(nodes)
        parents = sorted({p for n in nodes for p in graph.predecessors(n)} - member)
        g.add_node(route)
        for p in parents:
            g.add_edge(p, route)
        for n in nodes:
            g.add_edge(route, n)
        for frame in (old, new):
            frame[route] = frame[nodes[0]].notna().astype("float64")
            for n in nodes:
                frame[n] = frame[n].fillna(0.0)
        first = labels.get(nodes[0], nodes[0])
        out.labels[route] = f"route to {first}"
        share_old = old[route].mean() if len(old) else float("nan")
        share_new = new[route].mean() if len(new) else float("nan")
        out.notes.append(
            f"gated {', '.join(labels.get(n, n) for n in nodes)}: reached by "
            f"{int(old[route].sum())} of {len(old)} baseline ({share_old:.0%}) and "
            f"{int(new[route].sum())} of {len(new)} comparison ({share_new:.0%}) samples; "
            f"kept all samples, routing modelled as {route}"
        )
    _chain_siblings(g, groups)
    out.notes += _chain_exclusive_flags(g, graph, old, new, labels)
    out.graph, out.baseline, out.comparison = g, old, new
    return out


def _is_flag(column: pd.Series) -> bool:
    return bool(column.notna().all() and column.isin((0.0, 1.0)).all())


def _chain_exclusive_flags(
    g: nx.DiGraph,
    graph: nx.DiGraph,
    baseline: pd.DataFrame,
    comparison: pd.DataFrame,
    labels: dict[str, str],
) -> list[str]:
    """Chain each group of exclusive flags (see the module docstring); the notes."""
    both = pd.concat([baseline, comparison])
    if both.empty:
        return []
    by_parents: dict[tuple[str, ...], list[str]] = {}
    for node in sorted(graph.nodes):
        if node in both.columns and graph.in_degree(node) and _is_flag(both[node]):
            by_parents.setdefault(tuple(sorted(graph.predecessors(node))), []).append(node)
    notes = []
    for flags in by_parents.values():
        if len(flags) < 2 or not (both[flags].sum(axis=1) == 1.0).all():
            continue
        if any(nx.has_path(g, b, a) for a in flags for b in flags if a != b):
            continue
        for i, later in enumerate(flags[1:], start=1):
            for earlier in flags[:i]:
                g.add_edge(earlier, later)
        notes.append(
            f"exclusive flags {', '.join(labels.get(f, f) for f in flags)}: exactly one is "
            "set per sample; modelled as one decision (each a parent of the later ones)"
        )
    return notes


def _chain_siblings(g: nx.DiGraph, groups: dict[str, list[str]]) -> None:
    """Routes with the same parents are branches of one decision: the first one becomes a
    parent of the others, so that a simulated sample takes one branch, as the data did."""
    by_parents: dict[tuple[str, ...], list[str]] = {}
    for route in groups:
        by_parents.setdefault(tuple(sorted(g.predecessors(route))), []).append(route)
    for siblings in by_parents.values():
        siblings.sort()
        for other in siblings[1:]:
            g.add_edge(siblings[0], other)
