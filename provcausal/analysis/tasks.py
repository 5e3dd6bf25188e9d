"""One table of the tasks of selected runs: what the causal graph and the sample data share.

Loaded once per analysis through the store's indexed ``find_tasks`` (by run), whatever system
wrote the tasks: provcausal's importers, or FlowCept itself (whose lineage comes from
``dependencies`` and from FlowCept's used/generated value rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from provcausal.captured import CapturedSamples, captured_samples, is_iteration
from provcausal.model import flowcept as fc
from provcausal.model.times import to_epoch
from provcausal.stores import Store

__all__ = ["load_task_table", "TASK_COLUMNS"]

TASK_COLUMNS = [
    "task_id",
    "run_id",
    "node",
    "sample",
    "visit",
    "value",
    "duration",
    "start",
    "end",
    "unobserved",
    "deps",
]


def _row(task: dict[str, Any], run_id: str, formed: CapturedSamples | None) -> dict:
    start, end = to_epoch(task.get("started_at")), to_epoch(task.get("ended_at"))
    duration = fc.task_duration(task)
    deps = set(task.get("dependencies") or [])
    tid = str(task["task_id"])
    value = fc.task_value(task)
    sample, visit = fc.task_sample(task, run_id), fc.task_visit(task)
    unobserved = fc.task_unobserved(task)
    if formed is not None and tid in formed.sample:
        deps |= formed.upstream.get(tid, set())
        sample, visit = formed.sample[tid], formed.visit[tid]
        # A loop's iteration task is bookkeeping unless it recorded a value (end_iter).
        unobserved = unobserved or (is_iteration(task) and value is None)
    return {
        "task_id": tid,
        "run_id": run_id,
        "node": fc.task_node(task),
        "sample": f"{run_id}/{sample}",
        "visit": visit,
        "value": value,
        "duration": duration,
        "start": start,
        "end": end,
        "unobserved": unobserved,
        "deps": sorted(deps),
    }


def load_task_table(store: Store, run_ids: Sequence[str]) -> pd.DataFrame:
    """All tasks of ``run_ids`` as rows (see ``TASK_COLUMNS``); ``sample`` is run-qualified.

    Tasks FlowCept captured get their lineage from FlowCept's rules and their samples from
    :func:`provcausal.captured.captured_samples`; ``table.attrs["samples_formed"]`` counts the
    captured runs by how their samples were formed (``iterations``, ``components``, ``run``).
    """
    rows: list[dict[str, Any]] = []
    formed_by: dict[str, int] = {}
    for run_id in run_ids:
        tasks = list(store.find_tasks([run_id]))
        captured = [t for t in tasks if fc.is_captured(t)]
        formed = captured_samples(captured, run_id) if captured else None
        if formed is not None:
            formed_by[formed.how] = formed_by.get(formed.how, 0) + 1
        rows.extend(_row(t, run_id, formed) for t in tasks)
    table = pd.DataFrame(rows, columns=TASK_COLUMNS)
    table = table.astype(
        {"value": "float64", "duration": "float64", "start": "float64", "end": "float64"}
    )
    table.attrs["samples_formed"] = formed_by
    return table
