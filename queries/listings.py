"""Listings of workflows and runs."""

from __future__ import annotations

import datetime as dt
import difflib
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import pandas as pd

from provcausal.errors import InvalidParameterError, NotFoundError
from provcausal.model import flowcept as fc
from provcausal.model.times import to_datetime
from provcausal.stores import Store, run_label
from provcausal.stores.where import Condition, parse_where

__all__ = [
    "list_workflows",
    "list_runs",
    "delete_run",
    "doctor",
    "delete_runs",
    "match_runs",
    "label_runs",
    "workflow_name",
    "require_workflow",
    "unknown_name",
    "RUN_COLUMNS",
    "LEFTOVER_COLUMNS",
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
LEFTOVER_COLUMNS = ["kind", "id", "detail"]
WORKFLOW_COLUMNS = ["workflow", "runs", "labels", "systems", "tasks", "samples"]


def workflow_name(doc: dict[str, Any]) -> str:
    """A workflow document's workflow name (FlowCept may leave ``name`` empty)."""
    return str(doc.get("name") or doc.get("workflow_id"))


def unknown_name(
    kind: str, name: str, known: Any, store: Store, context: str = ""
) -> NotFoundError:
    """``unknown workflow 'gcratoi' in sqlite:…; did you mean 'gcratio'?`` (exit 2): a typo
    in a name is an error, never an empty answer."""
    names = sorted({str(k) for k in known if k is not None})
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return NotFoundError(f"unknown {kind} {name!r}{context} in {store.uri}{hint}")


def require_workflow(store: Store, workflow: str) -> list[dict[str, Any]]:
    """The visible runs of ``workflow``; an unknown workflow is a :class:`NotFoundError`
    suggesting the closest workflow name."""
    runs = store.find_runs(workflow=workflow)
    if not runs:
        raise unknown_name("workflow", workflow, map(workflow_name, store.find_runs()), store)
    return runs


def _require_labels(
    store: Store, workflow: str | None, labels: Sequence[str], found: Sequence[dict[str, Any]]
) -> None:
    """Every label asked for names runs (of ``workflow``), even if other conditions left
    them out; the store is asked again only for labels the answer does not show."""
    shown = {run_label(doc) for doc in found}
    for label in dict.fromkeys(labels):
        if label in shown or store.find_runs(workflow=workflow, labels=[label]):
            continue
        known = {run_label(doc) for doc in store.find_runs(workflow=workflow)}
        context = f" of workflow {workflow!r}" if workflow is not None else ""
        raise unknown_name("label", label, known, store, context)


def _time(value: Any) -> dt.datetime | None:
    return to_datetime(value)


def _system(doc: dict[str, Any]) -> str:
    """The importer that wrote a run; for FlowCept's own runs, the adapter that captured it."""
    if fc.is_captured(doc):
        return str(doc.get("adapter_id") or "flowcept")
    return fc.run_system(doc)


def captured_counts(store: Store, docs: Sequence[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Tasks and samples of the runs FlowCept captured (provcausal's imports carry their
    counts), read in batches of runs and split into samples as the analysis splits them."""
    from provcausal.captured import run_counts

    runs = [str(doc["workflow_id"]) for doc in docs if fc.is_captured(doc)]
    counts = run_counts(list(store.sample_rows(runs))) if runs else {}
    return {run: counts.get(run, (0, 0)) for run in runs}


def _counts(doc: dict[str, Any], captured: dict[str, tuple[int, int]]) -> tuple[Any, Any]:
    if str(doc["workflow_id"]) in captured:
        return captured[str(doc["workflow_id"])]
    return fc.run_count(doc, fc.TASKS), fc.run_count(doc, fc.SAMPLES)


def list_workflows(store: Store) -> pd.DataFrame:
    """One row per workflow: how many runs, which labels and systems, tasks and samples."""
    acc: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"runs": 0, "labels": Counter(), "systems": set(), "tasks": 0, "samples": 0}
    )
    docs = store.find_runs()
    captured = captured_counts(store, docs)
    for doc in docs:
        row = acc[workflow_name(doc)]
        row["runs"] += 1
        label = run_label(doc)
        if label is not None:
            row["labels"][label] += 1
        row["systems"].add(_system(doc))
        tasks, samples = _counts(doc, captured)
        row["tasks"] += int(tasks or 0)
        row["samples"] += int(samples or 0)
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
    where: str | Sequence[Condition] = (),
) -> pd.DataFrame:
    """One row per visible run, oldest first; ``where``: ``FIELD=VALUE[&…]`` conditions."""
    rows = []
    conditions = (parse_where(where) if where else []) if isinstance(where, str) else list(where)
    docs = store.find_runs(
        workflow=workflow,
        labels=labels,
        since=since,
        until=until,
        run_ids=run_ids,
        where=conditions,
    )
    if workflow is not None and not docs:
        require_workflow(store, workflow)
    if labels:
        _require_labels(store, workflow, labels, docs)
    captured = captured_counts(store, docs)
    for doc in docs:
        tasks, samples = _counts(doc, captured)
        rows.append(
            {
                "run_id": doc["workflow_id"],
                "workflow": workflow_name(doc),
                "label": run_label(doc),
                "system": fc.run_system(doc),
                "tasks": tasks,
                "samples": samples,
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


def doctor(store: Store, repair: bool = False) -> pd.DataFrame:
    """What interrupted imports or deletions left in the store (``repair``: remove it).

    Complete runs and the data of imports still running are never listed or removed.
    """
    found = store.repair() if repair else store.leftovers()
    rows = [
        {
            "kind": item["kind"],
            "id": item["id"],
            "detail": ", ".join(
                f"{k} {v}" for k, v in item.items() if k not in ("kind", "id") and v is not None
            ),
        }
        for item in found
    ]
    return pd.DataFrame(rows, columns=LEFTOVER_COLUMNS)


def match_runs(
    store: Store,
    run_ids: Sequence[str] = (),
    workflow: str | None = None,
    labels: Sequence[str] | None = None,
    where: str | Sequence[Condition] = (),
) -> pd.DataFrame:
    """The runs (as :func:`list_runs` rows) that every given condition selects.

    ``where`` holds ``FIELD=VALUE[&…]`` conditions on the workflow document, as for
    :func:`list_runs`. Named run ids that do not exist are a :class:`NotFoundError`; no
    condition at all is refused (nothing is selected by accident).
    """
    if not (run_ids or workflow or labels or where):
        raise InvalidParameterError(
            "name the runs: run ids, a workflow, labels or conditions",
            "run_ids",
            "workflow",
            "labels",
            "where",
        )
    frame = list_runs(store, workflow, labels or None, run_ids=list(run_ids) or None, where=where)
    if run_ids:
        named = list_runs(store, run_ids=list(run_ids))
        missing = sorted(set(run_ids) - set(named["run_id"]))
        if missing:
            raise NotFoundError(f"no run {', '.join(map(repr, missing))} in {store.uri}")
    return frame.reset_index(drop=True)


def delete_runs(store: Store, run_ids: Sequence[str]) -> int:
    """Delete runs with their tasks and PROV documents, together where the store can."""
    with store.transaction():
        return sum(bool(store.delete_run(run_id)) for run_id in run_ids)


def label_runs(
    store: Store, workflow: str, where: str | Sequence[Condition], label: str
) -> list[str]:
    """Label the runs of ``workflow`` that ``where`` selects; returns their ids.

    The label is kept in provcausal's own metadata (a table or collection of its own), so
    runs FlowCept captured get a label without any change to FlowCept's documents.
    """
    conditions = parse_where(where) if isinstance(where, str) else list(where)
    runs = store.find_runs(workflow=workflow, where=conditions)
    if not runs:
        require_workflow(store, workflow)
        raise NotFoundError(
            f"no runs of workflow {workflow!r} where "
            + "&".join(f"{f}={v}" for f, v in conditions)
            + f" in {store.uri}"
        )
    ids = [str(r["workflow_id"]) for r in runs]
    store.set_label(ids, label)
    return ids
