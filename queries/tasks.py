"""Tasks of a run or of one node across a workflow's runs, and the workflow's nodes."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from provcausal.errors import AnalysisError, NotFoundError
from provcausal.mapping import task_duration, task_value, to_datetime
from provcausal.records import PC
from provcausal.stores import Store

__all__ = ["list_tasks", "list_nodes", "TASK_COLUMNS"]

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


def _task_row(task: dict[str, Any]) -> dict[str, Any]:
    meta = (task.get("custom_metadata") or {}).get(PC) or {}
    return {
        "task_id": task["task_id"],
        "run_id": task.get("workflow_id"),
        "node": task.get("activity_id"),
        "sample": meta.get("sample", task.get("workflow_id")),
        "visit": meta.get("visit", 0),
        "started_at": to_datetime(task.get("started_at")),
        "ended_at": to_datetime(task.get("ended_at")),
        "duration": task_duration(task),
        "status": task.get("status"),
        "value": task_value(task),
        "values": task.get("generated") or {},
    }


def list_tasks(
    store: Store, run: str | None = None, workflow: str | None = None, node: str | None = None
) -> pd.DataFrame:
    """Tasks of ``run`` (optionally one node), or of ``node`` in every run of ``workflow``."""
    if run is not None:
        if store.get_run(run) is None:
            raise NotFoundError(f"no run {run!r} in {store.uri}")
        run_ids = [run]
    elif workflow is not None and node is not None:
        run_ids = [str(r["workflow_id"]) for r in store.find_runs(workflow=workflow)]
        if not run_ids:
            raise NotFoundError(f"no runs of workflow {workflow!r} in {store.uri}")
    else:
        raise AnalysisError("give --run RUN_ID, or --workflow X with --node N")
    rows = [_task_row(t) for t in store.find_tasks(run_ids, nodes=[node] if node else None)]
    frame = pd.DataFrame(rows, columns=TASK_COLUMNS)
    if frame.empty:
        return frame
    frame["_t"] = frame["started_at"].map(lambda d: d.timestamp() if pd.notna(d) else 0.0)
    return frame.sort_values(["run_id", "_t", "task_id"]).drop(columns="_t").reset_index(drop=True)


def list_nodes(store: Store, workflow: str) -> pd.DataFrame:
    """The workflow's nodes with how many runs, samples and tasks have data for each."""
    runs = store.find_runs(workflow=workflow)
    if not runs:
        raise NotFoundError(f"no runs of workflow {workflow!r} in {store.uri}")
    acc: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"runs": set(), "samples": set(), "tasks": 0, "with_value": 0, "unobserved": True}
    )
    for run in runs:
        run_id = str(run["workflow_id"])
        labels = ((run.get("custom_metadata") or {}).get(PC) or {}).get("node_labels") or {}
        for task in store.find_tasks([run_id]):
            meta = (task.get("custom_metadata") or {}).get(PC) or {}
            node = str(task.get("activity_id"))
            row = acc[node]
            row["label"] = labels.get(node, node)
            row["runs"].add(run_id)
            row["samples"].add((run_id, meta.get("sample", run_id)))
            row["tasks"] += 1
            row["with_value"] += task_value(task) is not None
            row["unobserved"] &= bool(meta.get("unobserved", False))
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
