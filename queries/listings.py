"""Listings of workflows and runs."""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import pandas as pd

from provcausal.errors import BadInputError, NotFoundError
from provcausal.model import flowcept as fc
from provcausal.model.times import to_datetime
from provcausal.stores import Store, run_label

__all__ = [
    "list_workflows",
    "list_runs",
    "delete_run",
    "delete_runs",
    "match_runs",
    "workflow_name",
    "RUN_COLUMNS",
]

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


def match_runs(
    store: Store,
    run_ids: Sequence[str] = (),
    workflow: str | None = None,
    labels: Sequence[str] | None = None,
    where: Sequence[str] = (),
) -> pd.DataFrame:
    """The runs (as :func:`list_runs` rows) that every given condition selects.

    ``where`` holds ``FIELD=PATTERN`` conditions on the listing's text columns (``source``,
    ``system``, ``label``, ``workflow``, ``run_id``); the pattern is a shell glob. Named run
    ids that do not exist are a :class:`NotFoundError`; no condition at all is refused.
    """
    if not (run_ids or workflow or labels or where):
        raise BadInputError("name runs: ids, --workflow, --label or --where")
    frame = list_runs(store, workflow, labels or None, run_ids=list(run_ids) or None)
    missing = sorted(set(run_ids) - set(frame["run_id"]))
    if missing:
        raise NotFoundError(f"no run {', '.join(map(repr, missing))} in {store.uri}")
    for condition in where:
        column, sep, pattern = condition.partition("=")
        column = column.strip()
        if not sep or column not in ("source", "system", "label", "workflow", "run_id"):
            raise BadInputError(
                f"--where {condition!r}: write FIELD=PATTERN with FIELD one of source, system, "
                "label, workflow, run_id"
            )
        keep = frame[column].map(lambda v, p=pattern: fnmatch.fnmatchcase(str(v), p))
        frame = frame[keep.astype(bool)]
    return frame.reset_index(drop=True)


def delete_runs(store: Store, run_ids: Sequence[str]) -> int:
    """Delete runs with their tasks and PROV documents, together where the store can."""
    with store.transaction():
        return sum(bool(store.delete_run(run_id)) for run_id in run_ids)
