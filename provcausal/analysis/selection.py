"""Selecting runs: a label, a comma-separated list of labels or run ids, a time range, or
conditions on workflow-document fields (``campaign_id=c1&used.mode=faulty``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from provcausal.errors import AnalysisError, InvalidParameterError, NotFoundError
from provcausal.model.times import parse_time
from provcausal.stores import Store, run_label
from provcausal.stores.where import looks_like_where, parse_where

__all__ = ["select_runs", "parse_time_range"]


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
        chosen = store.find_runs(workflow=workflow, where=parse_where(selection))
        if chosen:
            return chosen
        if not store.find_runs(workflow=workflow):
            raise NotFoundError(f"no runs of workflow {workflow!r} in {store.uri}")
        raise AnalysisError(f"no runs of {workflow!r} where {selection}")
    runs = store.find_runs(workflow=workflow)
    if not runs:
        raise NotFoundError(f"no runs of workflow {workflow!r} in {store.uri}")
    if ".." in selection:
        since, until = parse_time_range(selection)
        chosen = store.find_runs(workflow=workflow, since=since, until=until)
        if not chosen:
            raise AnalysisError(f"no runs of {workflow!r} started in {selection}")
        return chosen
    by_id = {str(r["workflow_id"]): r for r in runs}
    chosen_ids: dict[str, dict[str, Any]] = {}
    for item in (part.strip() for part in selection.split(",")):
        if not item:
            continue
        if item in by_id:
            chosen_ids[item] = by_id[item]
            continue
        labelled = [r for r in runs if run_label(r) == item]
        if not labelled:
            labels = sorted({str(run_label(r)) for r in runs if run_label(r) is not None})
            raise InvalidParameterError(
                f"{item!r} is neither a label nor a run id of workflow {workflow!r} "
                f"(labels: {', '.join(labels) or 'none'})"
            )
        for r in labelled:
            chosen_ids[str(r["workflow_id"])] = r
    if not chosen_ids:
        raise InvalidParameterError("empty selection")
    return list(chosen_ids.values())
