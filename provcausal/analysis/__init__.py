"""Causal analysis of stored provenance: the causal graph, per-sample data, attribution.

``dowhy`` is imported only when an attribution runs, so listing and importing stay fast.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import pandas as pd

from provcausal.analysis.attribution import Attribution, attribute, prepare
from provcausal.analysis.graph import graph_from_tasks
from provcausal.analysis.samples import METRICS, default_metric, metric_frame
from provcausal.analysis.selection import select_runs
from provcausal.analysis.shift import Shift, shift_test
from provcausal.analysis.tasks import load_task_table
from provcausal.errors import NotFoundError
from provcausal.stores import Store

__all__ = [
    "Attribution",
    "attribute",
    "prepare",
    "causal_graph",
    "sample_data",
    "anomalies",
    "METRICS",
    "default_metric",
    "graph_from_tasks",
    "load_task_table",
    "metric_frame",
    "select_runs",
    "Shift",
    "shift_test",
]


def _runs(store: Store, workflow: str, selection: str | None) -> list[dict[str, Any]]:
    """The selected runs, or all runs of ``workflow``; a workflow with no runs is an error
    (a typo must not look like an empty workflow)."""
    if selection:
        return select_runs(store, workflow, selection)
    runs = store.find_runs(workflow=workflow)
    if not runs:
        raise NotFoundError(f"no runs of workflow {workflow!r} in {store.uri}")
    return runs


def causal_graph(store: Store, workflow: str, selection: str | None = None) -> nx.DiGraph:
    """The workflow's causal graph derived from the lineage of its runs (all, or a selection).

    Edges run cause → effect; ``G.graph["contracted"]`` and ``G.graph["cut"]`` say what was
    contracted (unobserved nodes) and cut (loops, cycles).
    """
    runs = _runs(store, workflow, selection)
    return graph_from_tasks(load_task_table(store, [r["workflow_id"] for r in runs]))


def sample_data(
    store: Store, workflow: str, selection: str | None = None, metric: str | None = None
) -> pd.DataFrame:
    """One row per sample (``<run id>/<sample>``), one column per node, for ``metric``."""
    from provcausal.analysis.attribution import _gated

    runs = _runs(store, workflow, selection)
    tasks = load_task_table(store, [r["workflow_id"] for r in runs])
    return metric_frame(tasks, metric or default_metric(tasks), _gated(runs))


def anomalies(*args: Any, **kwargs: Any) -> Any:
    """See :func:`provcausal.analysis.anomalies.anomalies`."""
    from provcausal.analysis.anomaly import anomalies as _anomalies

    return _anomalies(*args, **kwargs)
