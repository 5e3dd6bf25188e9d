"""One table of the tasks of selected runs: what the causal graph and the sample data share.

Loaded once per analysis through the store's indexed ``find_tasks`` (by run), whatever system
wrote the tasks: provcausal's importers, or FlowCept itself (whose lineage comes from
``dependencies`` and from FlowCept's used/generated value rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from provcausal.model import flowcept as fc
from provcausal.model.links import flowcept_links
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


def _row(task: dict[str, Any], run_id: str, upstream: dict[str, set[str]] | None) -> dict:
    start, end = to_epoch(task.get("started_at")), to_epoch(task.get("ended_at"))
    duration = fc.task_duration(task)
    deps = set(task.get("dependencies") or [])
    if upstream is not None:
        deps |= upstream.get(str(task["task_id"]), set())
    return {
        "task_id": str(task["task_id"]),
        "run_id": run_id,
        "node": fc.task_node(task),
        "sample": f"{run_id}/{fc.task_sample(task, run_id)}",
        "visit": fc.task_visit(task),
        "value": fc.task_value(task),
        "duration": duration,
        "start": start,
        "end": end,
        "unobserved": fc.task_unobserved(task),
        "deps": sorted(deps),
    }


def load_task_table(store: Store, run_ids: Sequence[str]) -> pd.DataFrame:
    """All tasks of ``run_ids`` as rows (see ``TASK_COLUMNS``); ``sample`` is run-qualified."""
    rows: list[dict[str, Any]] = []
    for run_id in run_ids:
        tasks = list(store.find_tasks([run_id]))
        captured = [t for t in tasks if fc.is_captured(t)]
        upstream = flowcept_links(captured).upstream if captured else None
        rows.extend(_row(t, run_id, upstream) for t in tasks)
    table = pd.DataFrame(rows, columns=TASK_COLUMNS)
    return table.astype(
        {"value": "float64", "duration": "float64", "start": "float64", "end": "float64"}
    )
