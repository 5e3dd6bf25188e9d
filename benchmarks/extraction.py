"""Sample extraction: loading the analysis's task table from a large store.

The store holds runs of the GC-ratio shape (10 tasks per run: a chain with one fan-in, each
task with times, a value, a duration, used/generated entities and source attributes), written
directly as FlowCept documents through ``Store.put_runs`` (no importer). The figure is the
time :func:`provcausal.analysis.tasks.load_task_table` takes for a baseline and a comparison
selection (as ``attribute`` loads them), against the bare three-column read of the same tasks
(``task_id, workflow_id, activity_id`` by the same ``workflow_id IN (…)`` index query in
batches, nothing decoded, nothing else: the least any analysis must read): ratio = bare /
load (goal >= 0.5). Until issue 19 the reference was the read and JSON decode of the whole
documents, which hid the decoding cost in the reference. Measured twice: with the store
holding only a little more than the selection, and after it grew to its full size; the load
should not grow with the store. CPU seconds and the machine's load average are reported
beside every wall time (the machine is shared).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from provcausal.analysis.tasks import load_task_table
from provcausal.model import flowcept as fc
from provcausal.model.flowcept import RunRecords
from provcausal.stores import Store, open_store

#: node -> the nodes it reads (the GC-ratio workflow plus a final report step)
NODES = {
    "gc1": [],
    "gc2": [],
    "at1": [],
    "at2": [],
    "gcsum": ["gc1", "gc2"],
    "atsum": ["at1", "at2"],
    "count": ["gcsum"],
    "atcount": ["atsum"],
    "ratio": ["count", "atcount"],
    "report": ["ratio"],
}
T0 = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def _task(run: str, i: int, k: int, node: str) -> dict[str, Any]:
    start = T0 + dt.timedelta(seconds=i * 60 + k)
    value = float((i * 7919 + k * 104729) % 1000) / 10.0
    used = {f"{p}.out": f"{run}-e-{p}" for p in NODES[node]}
    return fc.task_document(
        task=f"{run}-t-{node}",
        run=run,
        node=node,
        system="bench",
        fields={
            "used": used,
            "generated": {f"{node}.out": value},
            "started_at": start,
            "ended_at": start + dt.timedelta(milliseconds=400),
            "registered_at": T0,
            "status": "FINISHED",
            "dependencies": [f"{run}-t-{p}" for p in NODES[node]],
        },
        meta={
            "sample": run,
            "visit": 0,
            "used_ids": list(used.values()),
            "generated_ids": [f"{run}-e-{node}"],
            "entities": {f"{run}-e-{node}": {"name": f"{node}.out", "role": "generated"}},
            "value": value,
            "duration": 0.25 + k / 100,
            "attrs": {"command": f"awk -f {node}.awk in > {node}.out", "params": {"k": str(k)}},
        },
    )


def make_run(i: int, label: str) -> RunRecords:
    """One synthetic run ``bench-NNNNNNN`` with label ``label``."""
    run = f"bench-{i:07d}"
    tasks = [_task(run, i, k, node) for k, node in enumerate(NODES)]
    workflow = fc.workflow_document(
        run=run,
        workflow="extract-bench",
        system="bench",
        meta={"state": fc.STATE_COMPLETE, "label": label, "tasks": len(tasks)},
        created=0.0,
        started=(T0 + dt.timedelta(seconds=i * 60)).timestamp(),
        ended=None,
    )
    return RunRecords(workflow, tasks, "{}")


def fill(store: Store, first: int, last: int, label: Callable[[int], str], log: Any) -> float:
    """Write runs ``first``..``last - 1`` in batches; returns seconds."""
    started = time.perf_counter()
    for lo in range(first, last, 1000):
        store.put_runs([make_run(i, label(i)) for i in range(lo, min(lo + 1000, last))])
    seconds = time.perf_counter() - started
    log(f"wrote runs {first}..{last} ({(last - first) * len(NODES)} tasks) in {seconds:.0f} s")
    return seconds


#: The bare read's columns: a task's identity, its run and its node.
BARE_FIELDS = ("task_id", "workflow_id", "activity_id")


def bare_read(store: Store, run_ids: Sequence[str], batch: int = 500) -> int:
    """The three columns of the same tasks by the same index, nothing else: the floor."""
    ids = list(run_ids)
    n = 0
    if hasattr(store, "_db"):  # SQLite
        for i in range(0, len(ids), batch):
            part = ids[i : i + batch]
            marks = ",".join("?" * len(part))
            sql = f"SELECT {', '.join(BARE_FIELDS)} FROM tasks WHERE workflow_id IN ({marks})"
            n += len(store._db.execute(sql, part).fetchall())
    else:  # MongoDB
        fields = {"_id": 0, **dict.fromkeys(BARE_FIELDS, 1)}
        for i in range(0, len(ids), batch):
            query = {"workflow_id": {"$in": ids[i : i + batch]}}
            n += len(list(store._tasks.find(query, fields)))  # type: ignore[attr-defined]
    return n


def _timed(fns: Sequence[Callable[[], Any]], repeats: int) -> list[tuple[list[float], list[float]]]:
    """Wall seconds and this process's CPU seconds of each repeat of each of ``fns`` (CPU
    time does not vary with the other work on the machine; it misses a MongoDB server's own
    time). Each is called once untimed first (the pages it reads come into the cache), then
    the repeats alternate between them, so that a slower moment of the machine falls on both."""
    for fn in fns:
        fn()
    out: list[tuple[list[float], list[float]]] = [([], []) for _ in fns]
    for _ in range(repeats):
        for fn, (wall, cpu) in zip(fns, out, strict=True):
            started, used = time.perf_counter(), time.process_time()
            fn()
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
    return out


def measure(store: Store, side: int, repeats: int, log: Any) -> dict[str, Any]:
    """Load ``side`` baseline + ``side`` comparison runs (the first 2 × ``side`` runs)."""
    base = [r["workflow_id"] for r in store.find_runs(labels=["base"])][:side]
    comp = [r["workflow_id"] for r in store.find_runs(labels=["comp"])][:side]
    ids = base + comp
    rows = len(load_task_table(store, ids))
    (load, load_cpu), (bare, bare_cpu) = _timed(
        [lambda: load_task_table(store, ids), lambda: bare_read(store, ids)], repeats
    )
    result = {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "stored_runs": len(store.find_runs()),
        "stored_tasks": store.count_tasks(),
        "selected_runs": len(ids),
        "rows": rows,
        "load_seconds": load,
        "bare_seconds": bare,
        "load_median": statistics.median(load),
        "bare_median": statistics.median(bare),
        "ratio": statistics.median(bare) / statistics.median(load),
        "load_cpu_seconds": load_cpu,
        "bare_cpu_seconds": bare_cpu,
        "cpu_ratio": statistics.median(bare_cpu) / statistics.median(load_cpu),
    }
    log(
        f"extraction: {result['stored_runs']} runs stored, {side} vs {side} loaded "
        f"({rows} rows): load {min(load):.3f}-{max(load):.3f} s, bare three-column read "
        f"{min(bare):.3f}-{max(bare):.3f} s, ratio {result['ratio']:.2f} (CPU: load "
        f"{statistics.median(load_cpu):.3f} s, bare {statistics.median(bare_cpu):.3f} s, "
        f"ratio {result['cpu_ratio']:.2f}; load average {result['load_average']})"
    )
    return result


def run(
    uri: str, side: int, total: int, repeats: int, log: Any, first_size: int | None = None
) -> dict[str, Any]:
    """Measure with a store of ``first_size`` runs (default 2 × ``side``), then grown to ``total``
    runs (issue 19's goal: 1,100 runs per side = 22,000 tasks, 10,000 then 100,000 stored)."""
    small = max(first_size or 0, 2 * side)

    def label(i: int) -> str:
        return "base" if i < side else "comp" if i < small else "other"

    with open_store(uri) as store:
        write_small = fill(store, 0, small, label, log)
        first = measure(store, side, repeats, log)
        write_rest = fill(store, small, total, label, log)
        second = measure(store, side, repeats, log)
    return {
        "store": uri.split(":", 1)[0],
        "side": side,
        "small": first,
        "large": second,
        "write_seconds": write_small + write_rest,
        "growth": second["load_median"] / first["load_median"],
        "cpu_growth": statistics.median(second["load_cpu_seconds"])
        / statistics.median(first["load_cpu_seconds"]),
    }


__all__ = ["run", "make_run", "measure", "bare_read", "fill", "NODES"]
