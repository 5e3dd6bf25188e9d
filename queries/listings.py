"""Listings of workflows and runs."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import pandas as pd

from provcausal.errors import NotFoundError
from provcausal.model import flowcept as fc
from provcausal.model.times import to_datetime
from provcausal.stores import Store, run_label

__all__ = ["list_workflows", "list_runs", "delete_run", "workflow_name", "RUN_COLUMNS"]

RUN_COLUMNS = [
    "run_id",
    "workflow",
    "label",
    "system",
    "tasks",
    "samples",
    "started_at",
    "ended_at",
    "source",
]
WORKFLOW_COLUMNS = ["workflow", "runs", "labels", "systems", "tasks", "samples"]


def workflow_name(doc: dict[str, Any]) -> str:
    """A workflow document's workflow name (FlowCept may leave ``name`` empty)."""
    return str(doc.get("name") or doc.get("workflow_id"))


def _time(value: Any) -> dt.datetime | None:
    return to_datetime(value)


def _system(doc: dict[str, Any]) -> str:
    """The importer that wrote a run; for FlowCept's own runs, the adapter that captured it."""
    if fc.is_captured(doc):
        return str(doc.get("adapter_id") or "flowcept")
    return fc.run_system(doc)


def list_workflows(store: Store) -> pd.DataFrame:
    """One row per workflow: how many runs, which labels and systems, tasks and samples."""
    acc: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"runs": 0, "labels": Counter(), "systems": set(), "tasks": 0, "samples": 0}
    )
    for doc in store.find_runs():
        row = acc[workflow_name(doc)]
        row["runs"] += 1
        label = run_label(doc)
        if label is not None:
            row["labels"][label] += 1
        row["systems"].add(_system(doc))
        row["tasks"] += fc.run_count(doc, fc.TASKS) or 0
        row["samples"] += fc.run_count(doc, fc.SAMPLES) or 0
    rows = [
        {
            "workflow": name,
            "runs": a["runs"],
            "labels": dict(sorted(a["labels"].items())),
            "systems": sorted(a["systems"]),
            "tasks": a["tasks"],
            "samples": a["samples"],
        }
        for name, a in sorted(acc.items())
    ]
    return pd.DataFrame(rows, columns=WORKFLOW_COLUMNS)


def list_runs(
    store: Store,
    workflow: str | None = None,
    labels: Sequence[str] | None = None,
    since: dt.datetime | float | None = None,
    until: dt.datetime | float | None = None,
    run_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per visible run, oldest first."""
    rows = []
    for doc in store.find_runs(
        workflow=workflow, labels=labels, since=since, until=until, run_ids=run_ids
    ):
        rows.append(
            {
                "run_id": doc["workflow_id"],
                "workflow": workflow_name(doc),
                "label": run_label(doc),
                "system": fc.run_system(doc),
                "tasks": fc.run_count(doc, fc.TASKS),
                "samples": fc.run_count(doc, fc.SAMPLES),
                "started_at": _time(doc.get("started_at")),
                "ended_at": _time(doc.get("ended_at")),
                "source": fc.run_source(doc),
            }
        )
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def delete_run(store: Store, run_id: str) -> None:
    """Delete one run with its tasks and PROV document."""
    if not store.delete_run(run_id):
        raise NotFoundError(f"no run {run_id!r} in {store.uri}")
