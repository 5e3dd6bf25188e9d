"""Selecting runs: a label, a comma-separated list of labels or run ids, a time range, or
conditions on workflow-document fields (``campaign_id=c1&used.mode=faulty``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from provcausal.errors import AnalysisError, InvalidParameterError, NotFoundError
from provcausal.model.times import parse_time, to_epoch
from provcausal.stores import Store
from provcausal.stores.base import RunEntry
from provcausal.stores.where import looks_like_where, parse_where

__all__ = ["select_runs", "select_run_ids", "parse_time_range"]


def _time(text: str) -> dt.datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise InvalidParameterError(f"{text!r} is neither ISO 8601 nor epoch seconds") from None


def parse_time_range(text: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``T1..T2`` (either side may be empty) → (since, until)."""
    lo, _, hi = text.partition("..")
    return _time(lo), _time(hi)


def select_runs(store: Store, workflow: str, selection: str) -> list[dict[str, Any]]:
    """The runs of ``workflow`` that ``selection`` names (oldest first).

    ``FIELD=VALUE[&FIELD=VALUE…]`` is pushed into the store's query (see
    :mod:`provcausal.stores.where`); the other forms select among the workflow's runs.
    """
    if looks_like_where(selection):
        return _where(store, workflow, selection)
    ids = select_run_ids(store, workflow, selection)
    docs = {str(d["workflow_id"]): d for d in store.find_runs(run_ids=ids)}
    return [docs[r] for r in ids if r in docs]


def select_run_ids(
    store: Store, workflow: str, selection: str, index: Sequence[RunEntry] | None = None
) -> list[str]:
    """The ids of the runs :func:`select_runs` returns, in its order. Only the workflow's
    run index (:meth:`Store.run_index`: ids, labels, start times) is read, not its documents,
    except for ``FIELD=VALUE`` conditions; ``index``: that index, read once for several
    selections."""
    if looks_like_where(selection):
        return [str(r["workflow_id"]) for r in _where(store, workflow, selection)]
    runs = store.run_index(workflow) if index is None else index
    if not runs:
        raise NotFoundError(f"no runs of workflow {workflow!r} in {store.uri}")
    if ".." in selection:
        since, until = parse_time_range(selection)
        lo, hi = to_epoch(since), to_epoch(until)
        chosen = [
            r.run_id
            for r in runs
            if (lo is None or (r.started is not None and r.started >= lo))
            and (hi is None or (r.started is not None and r.started <= hi))
        ]
        if not chosen:
            raise AnalysisError(f"no runs of {workflow!r} started in {selection}")
        return chosen
    by_id = {r.run_id: r for r in runs}
    by_label: dict[str, list[str]] = {}
    for r in runs:
        if r.label is not None:
            by_label.setdefault(r.label, []).append(r.run_id)
    chosen_ids: dict[str, None] = {}
    for item in (part.strip() for part in selection.split(",")):
        if not item:
            continue
        if item in by_id:
            chosen_ids[item] = None
            continue
        labelled = by_label.get(item, [])
        if not labelled:
            labels = sorted({str(r.label) for r in runs if r.label is not None})
            raise InvalidParameterError(
                f"{item!r} is neither a label nor a run id of workflow {workflow!r} "
                f"(labels: {', '.join(labels) or 'none'})"
            )
        chosen_ids.update(dict.fromkeys(labelled))
    if not chosen_ids:
        raise InvalidParameterError("empty selection")
    return list(chosen_ids)


def _where(store: Store, workflow: str, selection: str) -> list[dict[str, Any]]:
    """The runs of ``workflow`` whose documents meet ``FIELD=VALUE`` conditions."""
    chosen = store.find_runs(workflow=workflow, where=parse_where(selection))
    if chosen:
        return chosen
    if not store.run_index(workflow):
        raise NotFoundError(f"no runs of workflow {workflow!r} in {store.uri}")
    raise AnalysisError(f"no runs of {workflow!r} where {selection}")
