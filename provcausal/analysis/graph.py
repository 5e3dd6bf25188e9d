"""The causal graph of a workflow, derived from PROV lineage (never typed by hand).

Nodes are the workflow's nodes (``activity_id``); there is an edge ``a → b`` when a task of
``b`` used what a task of ``a`` generated (or names it in ``dependencies``), in any selected run.
Loops are resolved the way Paleyes et al. did for their auto-play loop: only the last visit of
each node per sample counts, so edges from earlier visits are cut; an edge from a node's last
visit into an earlier visit of another (branches of a fan-out meeting again) is kept.
Unobserved nodes (e.g. a SciPipe Concatenator, a Node-RED initiator) carry no data and are
contracted, joining their parents to their children. Whatever was cut or contracted is
recorded on the graph (``G.graph["cut"]``, ``G.graph["contracted"]``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import chain

import networkx as nx
import numpy as np
import pandas as pd

__all__ = ["graph_from_tasks", "contract_nodes", "last_visits", "sinks"]


def last_visits(tasks: pd.DataFrame) -> pd.DataFrame:
    """Only the last visit of each node in each sample."""
    if tasks.empty:
        return tasks
    return tasks.take(_last_visit_positions(tasks))


def _last_visit_positions(tasks: pd.DataFrame) -> np.ndarray:
    """The positions of :func:`last_visits`' rows, in its order (sorted by sample, node,
    visit): the sort and the de-duplication move three columns, not the whole table."""
    keys = tasks[["sample", "node", "visit"]].reset_index(drop=True)  # labels = positions
    order = keys.sort_values(["sample", "node", "visit"])
    return order.drop_duplicates(["sample", "node"], keep="last").index.to_numpy()


def contract_nodes(graph: nx.DiGraph, nodes: Iterable[str], reason: str) -> nx.DiGraph:
    """A copy of ``graph`` without ``nodes``, each one's parents joined to its children."""
    g = graph.copy()
    contracted = dict(g.graph.get("contracted", {}))
    for node in nodes:
        if node not in g:
            continue
        parents, children = list(g.predecessors(node)), list(g.successors(node))
        for p in parents:
            for c in children:
                if p != c:
                    support = g.edges[p, node].get("samples", 0)
                    if g.has_edge(p, c):
                        g.edges[p, c]["samples"] = max(g.edges[p, c].get("samples", 0), support)
                    else:
                        g.add_edge(p, c, samples=support, via=node)
        g.remove_node(node)
        contracted[node] = reason
    g.graph["contracted"] = contracted
    return g


def graph_from_tasks(tasks: pd.DataFrame) -> nx.DiGraph:
    """The node-level DAG implied by the tasks' lineage (see the module docstring)."""
    g = nx.DiGraph()
    g.graph["cut"] = []
    g.graph["contracted"] = {}
    if tasks.empty:
        return g
    kept = _last_visit_positions(tasks)
    nodes, support, cut = _edges_numpy(tasks, kept) or _edges_python(tasks, kept)
    for node in nodes:
        g.add_node(node)
    for (a, b), n in support.items():
        g.add_edge(a, b, samples=n)
    cuts = [(a, b, n) for (a, b), n in cut.items() if not g.has_edge(a, b)]
    while not nx.is_directed_acyclic_graph(g):
        cycle = nx.find_cycle(g)
        a, b = min(((u, v) for u, v, *_ in cycle), key=lambda e: g.edges[e]["samples"])
        cuts.append((a, b, g.edges[a, b]["samples"]))
        g.remove_edge(a, b)
    g.graph["cut"] = [
        {
            "from": a,
            "to": b,
            "samples": n,
            "why": "earlier visit in a loop" if (a, b) in cut else "cycle",
        }
        for a, b, n in sorted(cuts)
    ]
    unobserved = tasks.groupby("node")["unobserved"].all()
    return contract_nodes(g, [n for n, u in unobserved.items() if u and n in g], "unobserved")


_Edges = tuple[list[str], dict[tuple[str, str], int], dict[tuple[str, str], int]]


def _edges_python(tasks: pd.DataFrame, kept: np.ndarray) -> _Edges:
    """The nodes of the kept (last) visits in their order, the supported edges in the order
    first seen, and the edges cut as earlier visits in a loop, with their sample counts."""
    # Plain lists: iterating or ``isin`` on pandas' Arrow-backed string columns costs a
    # Python object per element.
    task_ids, nodes = tasks["task_id"].tolist(), tasks["node"].tolist()
    all_deps = tasks["deps"].tolist()
    kept_list = kept.tolist()
    kept_ids = {task_ids[i] for i in kept_list}
    node_of = dict(zip(task_ids, nodes, strict=True))
    support: Counter[tuple[str, str]] = Counter()
    cut: Counter[tuple[str, str]] = Counter()
    for i in kept_list:
        node = nodes[i]
        for dep in all_deps[i]:
            parent = node_of.get(dep)
            if parent is None or parent == node:
                if parent == node:
                    cut[(node, node)] += 1
                continue
            if dep in kept_ids:
                support[(parent, node)] += 1
            else:
                cut[(parent, node)] += 1
    # Where branches of one message meet again (a fan-out whose branches reach the same
    # writer or join), the branch that ends first feeds an earlier visit of the meeting node;
    # its last visit still feeds that node: the edge is kept, not cut as a loop.
    for task_id, node, deps in zip(task_ids, nodes, all_deps, strict=True):
        if task_id in kept_ids:
            continue
        for dep in deps:
            parent = node_of.get(dep)
            if parent is not None and parent != node and dep in kept_ids:
                support[(parent, node)] += 1
    return list(dict.fromkeys(nodes[i] for i in kept_list)), dict(support), dict(cut)


def _edges_numpy(tasks: pd.DataFrame, kept: np.ndarray) -> _Edges | None:
    """What :func:`_edges_python` returns, counted with arrays: one hash lookup per
    dependency in C, no Python loop per task (it was most of ``prepare`` at 10,000 runs per
    side). ``None`` where task ids repeat or a node is missing: the loop handles those."""
    task_ids = pd.Index(tasks["task_id"].to_numpy(dtype=object), dtype=object)
    codes, names = pd.factorize(tasks["node"].to_numpy(dtype=object))
    if not task_ids.is_unique or (codes < 0).any():
        return None
    count = len(task_ids)
    is_kept = np.zeros(count, dtype=bool)
    is_kept[kept] = True
    # The loop's order: the kept tasks in their order, then the others in table order.
    order = np.concatenate([kept, np.flatnonzero(~is_kept)])
    all_deps = tasks["deps"].tolist()
    deps = [all_deps[i] for i in order.tolist()]
    lengths = np.fromiter(map(len, deps), dtype=np.int64, count=count)
    child = np.repeat(order, lengths)
    parent = task_ids.get_indexer(list(chain.from_iterable(deps)))
    found = parent >= 0
    child, parent = child[found], parent[found]
    child_node, parent_node = codes[child], codes[parent]
    child_kept, parent_kept = is_kept[child], is_kept[parent]
    same = child_node == parent_node
    supports = ~same & parent_kept
    cuts = child_kept & (same | ~parent_kept)
    labels = list(names)
    width = len(labels)

    def counted(mask: np.ndarray) -> dict[tuple[str, str], int]:
        pairs = parent_node[mask] * width + child_node[mask]
        unique, first, counts = np.unique(pairs, return_index=True, return_counts=True)
        seen = np.argsort(first, kind="stable")  # in the order first met, as the loop adds
        return {
            (labels[int(p) // width], labels[int(p) % width]): int(n)
            for p, n in zip(unique[seen], counts[seen], strict=True)
        }

    nodes = [labels[int(c)] for c in pd.unique(codes[kept])]
    return nodes, counted(supports), counted(cuts)


def sinks(graph: nx.DiGraph) -> list[str]:
    return sorted(n for n in graph if graph.out_degree(n) == 0)
