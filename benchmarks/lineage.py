"""Lineage latency: depth-20 upstream lineage in a store of many tasks.

The store holds chains of 25 tasks per run (each task uses the entity its predecessor
generated), written directly as FlowCept documents. The figure is the median and p95 latency
of ``provcausal.queries.lineage(…, depth=20)`` from a run's last task, against the latency of
one indexed task lookup measured in the same store (the ratio says how many lookups one
20-generation walk costs).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from provcausal.model import flowcept as fc
from provcausal.model.flowcept import RunRecords
from provcausal.stores import open_store

CHAIN = 25


def _run(i: int) -> RunRecords:
    run = f"bench-{i:07d}"
    tasks = []
    for k in range(CHAIN):
        t, e = f"{run}-t{k:02d}", f"{run}-e{k:02d}"
        prev_t, prev_e = f"{run}-t{k - 1:02d}", f"{run}-e{k - 1:02d}"
        tasks.append(
            fc.task_document(
                task=t,
                run=run,
                node=f"n{k:02d}",
                system="bench",
                fields={
                    "used": {"in": prev_e} if k else {},
                    "generated": {"out": float(k)},
                    "started_at": None,
                    "ended_at": None,
                    "status": "FINISHED",
                    "dependencies": [prev_t] if k else [],
                },
                meta={
                    "sample": run,
                    "used_ids": [prev_e] if k else [],
                    "generated_ids": [e],
                    "value": float(k),
                },
            )
        )
    workflow = fc.workflow_document(
        run=run,
        workflow="lineage-bench",
        system="bench",
        meta={"state": fc.STATE_COMPLETE, "label": "bench"},
        created=0.0,
        started=None,
        ended=None,
    )
    return RunRecords(workflow=workflow, tasks=tasks, prov_json="{}")


def build(path: Path, tasks: int, log: Any) -> str:
    uri = f"sqlite://{path}"
    runs = max(1, tasks // CHAIN)
    marker = path.with_suffix(".complete")
    if marker.exists():
        return uri
    started = time.perf_counter()
    with open_store(uri) as store:
        for i in range(runs):
            store.put_run(_run(i))
    marker.write_text(str(runs))
    log(f"built a lineage store of {runs * CHAIN} tasks in {time.perf_counter() - started:.0f} s")
    return uri


def measure(uri: str, probes: int, seed: int, log: Any) -> dict[str, Any]:
    from provcausal.queries import lineage

    with open_store(uri) as store:
        total = store.count_tasks()
        runs = total // CHAIN
        rng = np.random.default_rng(seed)
        picks = [f"bench-{int(i):07d}" for i in rng.integers(0, runs, probes)]
        walk, point = [], []
        for run in picks:
            started = time.perf_counter()
            g = lineage(store, f"{run}-t{CHAIN - 1:02d}", "upstream", depth=20)
            walk.append(time.perf_counter() - started)
            assert sum(1 for n in g if g.nodes[n]["kind"] == "task") == 21
            started = time.perf_counter()
            store.tasks_by_id([f"{run}-t00"])
            point.append(time.perf_counter() - started)
    result = {
        "tasks": total,
        "depth": 20,
        "probes": probes,
        "median_ms": 1000 * statistics.median(walk),
        "p95_ms": 1000 * float(np.percentile(walk, 95)),
        "point_lookup_median_ms": 1000 * statistics.median(point),
    }
    result["ratio_to_point_lookup"] = result["median_ms"] / result["point_lookup_median_ms"]
    log(
        f"lineage depth 20 in {total} tasks: median {result['median_ms']:.1f} ms, p95 "
        f"{result['p95_ms']:.1f} ms ({result['ratio_to_point_lookup']:.0f}x one indexed lookup)"
    )
    return result
