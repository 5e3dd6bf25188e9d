"""Which node an analysis explains: the target, resolved once for ``attribute`` and
``anomalies``. A target may be named by node id or by its unique label; without one, the
graph's single sink is used."""

from __future__ import annotations

import networkx as nx

from provcausal.analysis.graph import sinks
from provcausal.errors import InvalidParameterError, UnknownNodeError

__all__ = ["resolve_target"]


def resolve_target(
    graph: nx.DiGraph,
    target: str | None,
    labels: dict[str, str] | None = None,
    workflow: str = "",
    metric: str = "",
) -> str:
    """The node ``target`` names in ``graph`` (id, or a label only one node has), or the
    single sink when ``target`` is None.

    Raises ``InvalidParameterError`` (about ``target``) when there is no single sink and
    ``UnknownNodeError`` for a name that matches no node.
    """
    if target is None:
        ends = sinks(graph)
        if len(ends) != 1:
            raise InvalidParameterError(
                f"the workflow has {len(ends)} sinks: {', '.join(ends)}; choose one target",
                "target",
            )
        return ends[0]
    if target in graph:
        return target
    by_label = [n for n, lab in (labels or {}).items() if lab == target and n in graph]
    if len(by_label) == 1:
        return by_label[0]
    data = f" with {metric} data" if metric else ""
    raise UnknownNodeError(
        f"target {target!r} is not a node of {workflow!r}{data} (nodes: {', '.join(sorted(graph))})"
    )
