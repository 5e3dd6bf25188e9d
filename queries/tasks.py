"""Tasks of a run or of one node across a workflow's runs, and the workflow's nodes."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from provcausal.errors import InvalidParameterError, NotFoundError
from provcausal.model import flowcept as fc
from provcausal.model.times import to_datetime
from provcausal.stores import Store

__all__ = ["list_tasks", "list_nodes", "node_labels", "TASK_COLUMNS"]

#: The columns of a task listing (``list_tasks``, ``provcausal tasks``): the one TASK_COLUMNS.
TASK_COLUMNS = [
    "task_id",
    "run_id",
    "node",
    "sample",
    "visit",
    "started_at",
    "ended_at",
    "duration",
    "status",
    "value",
    "values",
]


def _captured_samples(store: Store, tasks: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """Sample and visit of each task FlowCept captured, formed over its whole run as the
    analysis forms them (:mod:`provcausal.captured`)."""
    from provcausal.captured import captured_samples

    out: dict[str, tuple[str, int]] = {}
    for run_id in dict.fromkeys(str(t.get("workflow_id")) for t in tasks if fc.is_captured(t)):
        whole = [t for t in store.find_tasks([run_id]) if fc.is_captured(t)]
        formed = captured_samples(whole, run_id)
        out.update({tid: (formed.sample[tid], formed.visit[tid]) for tid in formed.sample})
    return out


def _task_row(task: dict[str, Any], formed: dict[str, tuple[str, int]]) -> dict[str, Any]:
    sample, visit = formed.get(str(task["task_id"]), (fc.task_sample(task), fc.task_visit(task)))
    return {
        "task_id": task["task_id"],
        "run_id": task.get("workflow_id"),
        "node": task.get("activity_id"),
        "sample": sample,
        "visit": visit,
        "started_at": to_datetime(task.get("started_at")),
        "ended_at": to_datetime(task.get("ended_at")),
        "duration": fc.task_duration(task),
        "status": task.get("status"),
        "value": fc.task_value(task),
        "values": task.get("generated") or {},
    }


#: Runs whose tasks name the nodes an unknown node's message suggests from.
_SUGGEST_FROM_RUNS = 20


def _node_tasks(
    store: Store, runs: list[dict[str, Any]], node: str, context: str
) -> list[dict[str, Any]]:
    """The tasks of ``node`` in ``runs``: the node by id, else by the name its source gives
    it (Node-RED's node names, every id of that name); an unknown node is a
    :class:`NotFoundError` suggesting the closest id or name."""
    from provcausal.queries.listings import unknown_name

    run_ids = [str(r["workflow_id"]) for r in runs]
    tasks = list(store.find_tasks(run_ids, nodes=[node]))
    if tasks:
        return tasks
    names: dict[str, str] = {}
    for run in runs:
        names.update(fc.node_labels(run))
    ids = [node_id for node_id, name in names.items() if name == node]
    if ids:
        tasks = list(store.find_tasks(run_ids, nodes=ids))
        if tasks:
            return tasks
    seen = {t.get("activity_id") for t in store.find_tasks(run_ids[:_SUGGEST_FROM_RUNS])}
    raise unknown_name("node", node, seen | set(names.values()), store, context)


def list_tasks(
    store: Store, run: str | None = None, workflow: str | None = None, node: str | None = None
) -> pd.DataFrame:
    """Tasks of ``run`` (optionally one node), or of ``node`` in every run of ``workflow``.
    ``node`` is a node id or the name the source gives the node (Node-RED)."""
    from provcausal.queries.listings import require_workflow

    if run is not None:
        found = store.get_run(run)
        if found is None:
            raise NotFoundError(f"no run {run!r} in {store.uri}")
        runs, context = [found], f" in run {run!r}"
    elif workflow is not None and node is not None:
        runs, context = require_workflow(store, workflow), f" of workflow {workflow!r}"
    else:
        raise InvalidParameterError(
            "give a run, or a workflow with a node", "run", "workflow", "node"
        )
    if node:
        tasks = _node_tasks(store, runs, node, context)
    else:
        tasks = list(store.find_tasks([str(r["workflow_id"]) for r in runs]))
    formed = _captured_samples(store, tasks)
    rows = [_task_row(t, formed) for t in tasks]
    frame = pd.DataFrame(rows, columns=TASK_COLUMNS)
    if frame.empty:
        return frame
    frame["_t"] = frame["started_at"].map(lambda d: d.timestamp() if pd.notna(d) else 0.0)
    return frame.sort_values(["run_id", "_t", "task_id"]).drop(columns="_t").reset_index(drop=True)


def node_labels(store: Store, workflow: str) -> dict[str, str]:
    """Node id → human-readable name over the workflow's runs, where the source names nodes
    (Node-RED); a later run's name wins. Empty when no run names its nodes."""
    labels: dict[str, str] = {}
    for run in store.find_runs(workflow=workflow):
        labels.update(fc.node_labels(run))
    return labels


def list_nodes(store: Store, workflow: str) -> pd.DataFrame:
    """The workflow's nodes with how many runs, samples and tasks have data for each."""
    from provcausal.queries.listings import require_workflow

    runs = require_workflow(store, workflow)
    acc: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"runs": set(), "samples": set(), "tasks": 0, "with_value": 0, "unobserved": True}
    )
    for run in runs:
        run_id = str(run["workflow_id"])
        labels = fc.node_labels(run)
        tasks = list(store.find_tasks([run_id]))
        formed = _captured_samples(store, tasks)
        for task in tasks:
            node = str(task.get("activity_id"))
            row = acc[node]
            row["label"] = labels.get(node, node)
            row["runs"].add(run_id)
            sample = formed.get(str(task["task_id"]), (fc.task_sample(task, run_id), 0))[0]
            row["samples"].add((run_id, sample))
            row["tasks"] += 1
            row["with_value"] += fc.task_value(task) is not None
            row["unobserved"] &= fc.task_unobserved(task)
    return pd.DataFrame(
        [
            {
                "node": n,
                "label": a["label"],
                "runs": len(a["runs"]),
                "samples": len(a["samples"]),
                "tasks": a["tasks"],
                "with_value": a["with_value"],
                "unobserved": a["unobserved"],
            }
            for n, a in sorted(acc.items())
        ],
        columns=["node", "label", "runs", "samples", "tasks", "with_value", "unobserved"],
    )
