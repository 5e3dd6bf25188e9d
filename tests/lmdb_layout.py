"""Writes documents into an LMDB environment in FlowCept 1.0.3's layout (``LMDBDAO``).

One environment, named databases ``tasks`` (key ``task_id``) and ``workflows`` (key
``workflow_id``), values ``json.dumps(document)``, times as float epoch seconds (FlowCept's
LMDB writer does not convert times). Opened as FlowCept opens it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from provcausal.model.flowcept import RunRecords


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_flowcept_lmdb(
    path: Path, workflows: Iterable[dict[str, Any]], tasks: Iterable[dict[str, Any]]
) -> None:
    import lmdb

    env = lmdb.open(str(path), map_size=10**9, max_dbs=5)
    try:
        tasks_db = env.open_db(b"tasks")
        wfs_db = env.open_db(b"workflows")
        with env.begin(write=True) as txn:
            for wf in workflows:
                txn.put(wf["workflow_id"].encode(), json.dumps(_plain(wf)).encode(), db=wfs_db)
            for task in tasks:
                txn.put(task["task_id"].encode(), json.dumps(_plain(task)).encode(), db=tasks_db)
    finally:
        env.close()


def write_runs(path: Path, runs: Iterable[RunRecords]) -> None:
    runs = list(runs)
    write_flowcept_lmdb(path, [r.workflow for r in runs], [t for r in runs for t in r.tasks])
