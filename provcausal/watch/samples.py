"""The target's value in each sample of some runs, read with the analysis' own code.

The task table, the sample formation (FlowCept loops and lineage components) and the metric
are those of ``attribute`` (:mod:`provcausal.analysis`), so that watch tests exactly the data
an attribution would rest on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from provcausal.analysis.graph import graph_from_tasks
from provcausal.analysis.samples import default_metric, metric_frame
from provcausal.analysis.targets import resolve_target
from provcausal.analysis.tasks import load_task_table
from provcausal.errors import AnalysisError
from provcausal.model import flowcept as fc
from provcausal.stores import Store
from provcausal.watch.detector import Sample

__all__ = ["Target", "choose_target", "target_samples"]


@dataclass(frozen=True)
class Target:
    """The node watched, the name people know it by, and the metric."""

    node: str
    label: str
    metric: str


def _labels(runs: Sequence[dict[str, Any]]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for run in runs:
        labels.update(fc.node_labels(run))
    return labels


def choose_target(
    store: Store,
    workflow: str,
    runs: Sequence[dict[str, Any]],
    target: str | None,
    metric: str | None,
) -> Target:
    """The target (named, else the runs' declared output, else the single sink) and the
    metric (given, else the analysis' default), from the lineage of ``runs``."""
    tasks = load_task_table(store, [str(r["workflow_id"]) for r in runs])
    if tasks.empty:
        raise AnalysisError(f"the first runs of {workflow!r} have no tasks")
    metric = metric or default_metric(tasks)
    graph = graph_from_tasks(tasks)
    labels = _labels(runs)
    declared = sorted({n for r in runs for n in fc.output_nodes(r) if n in graph})
    if target is None and len(declared) == 1:
        target = declared[0]
    node = resolve_target(graph, target, labels, workflow, metric)
    return Target(node, labels.get(node, node), metric)


def target_samples(store: Store, runs: Sequence[dict[str, Any]], target: Target) -> list[Sample]:
    """One :class:`Sample` per sample of ``runs`` that has a value for the target, in the
    runs' order (samples of one run in the analysis' canonical order)."""
    if not runs:
        return []
    ids = [str(r["workflow_id"]) for r in runs]
    tasks = load_task_table(store, ids)
    if tasks.empty:
        return []
    gated = {n for r in runs for n in fc.gated_nodes(r)}
    frame = metric_frame(tasks, target.metric, gated)
    if target.node not in frame.columns:
        return []
    column = frame[target.node].dropna()
    by_run: dict[str, list[Sample]] = {}
    for sample, value in column.items():
        run = str(sample).split("/", 1)[0]
        by_run.setdefault(run, []).append(Sample(str(sample), run, float(value)))
    return [s for run in ids for s in by_run.get(run, [])]
