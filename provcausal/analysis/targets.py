"""Which node an analysis explains: the target, resolved in one place for ``attribute`` and
``anomalies``. A target may be named by node id or by its unique label; without one,
``anomalies`` uses the graph's single sink and ``attribute`` the declared output, the single
sink, or each sink whose distribution changed (:func:`choose_targets`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from provcausal.analysis.graph import sinks
from provcausal.errors import AnalysisError, InvalidParameterError, UnknownNodeError

if TYPE_CHECKING:
    from provcausal.analysis.attribution import Prepared

__all__ = ["SINK_ALPHA", "changed_sinks", "choose_targets", "resolve_target"]


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


#: Level of the two-sample KS test that decides which sinks changed (Bonferroni over sinks).
SINK_ALPHA = 0.01


def changed_sinks(prep: Prepared, candidates: list[str]) -> list[tuple[str, float, float]]:
    """``(sink, KS statistic, p-value)`` for each candidate, most changed first."""
    from provcausal.analysis.ks import ks_2samp

    out = []
    for node in candidates:
        d, p = ks_2samp(prep.baseline[node].to_numpy(float), prep.comparison[node].to_numpy(float))
        out.append((node, d, p))
    return sorted(out, key=lambda x: (-x[1], x[0]))


def choose_targets(prep: Prepared, target: str | None) -> tuple[list[str], list[str]]:
    """The node(s) to analyse and the notes that say why: a named ``target``; else the single
    declared output or sink; else every sink whose distribution changed (KS, Bonferroni over
    the sinks), or every sink when none did (see :func:`~provcausal.analysis.attribute`)."""
    if target is not None:
        return [resolve_target(prep.graph, target, prep.labels, prep.workflow, prep.metric)], []
    declared = [n for n in prep.outputs if n in prep.graph]
    if len(declared) == 1:
        return declared, [
            f"target: the declared output {prep.labels.get(declared[0], declared[0])}"
        ]
    ends = declared or sinks(prep.graph)
    if len(ends) == 1:
        return ends, []
    if not ends:
        raise AnalysisError(f"the workflow {prep.workflow!r} has no sink to analyse")
    ranked = changed_sinks(prep, ends)
    level = SINK_ALPHA / len(ranked)
    changed = [n for n, _, p in ranked if p < level]
    name = [prep.labels.get(n, n) for n in ends]
    if not changed:
        return [n for n, _, _ in ranked], [
            f"the workflow has {len(ends)} sinks ({', '.join(name)}) and no sink's distribution "
            f"changed significantly (KS p >= {level:.2g}): every sink was analysed"
        ]
    stable = [prep.labels.get(n, n) for n, _, p in ranked if p >= level]
    return changed, [
        f"the workflow has {len(ends)} sinks ({', '.join(name)}); analysed the "
        f"{len(changed)} whose distribution changed (KS p < {level:.2g})"
        + (f"; unchanged: {', '.join(stable)}" if stable else "")
        + "; choose one with the target parameter"
    ]
