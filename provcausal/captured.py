"""Samples inside runs that FlowCept captured: repeated executions are separate samples.

A pipeline run 200 times inside one ``with Flowcept(...)`` block is one FlowCept workflow, but
200 observations. Its samples are formed, in this order of preference:

1. ``iterations``: FlowCept's loop iteration tasks (``FlowceptLoop``: ``subtype`` "iteration",
   or a ``group_id`` with an ``…_iteration`` activity), each with its children: every other
   task's ``parent_task_id`` chain reaches an iteration;
2. ``components``: otherwise the connected components of the run's task lineage
   (``dependencies``, ``parent_task_id``, FlowCept's value rule), when there are several and
   some node ran more than once (a run where no node repeats is one execution, even when
   its lineage is incomplete).
   Iteration tasks whose children FlowCept did not record (the plain decorator in FlowCept
   1.0.3 records no parent) join no component: they are loop bookkeeping;
3. ``iteration-windows``: iteration tasks but no lineage at all: a task belongs to the
   iteration that was current when it started (needs start times finer than an iteration:
   FlowCept's LMDB keeps microseconds, its MongoDB path milliseconds);
4. ``run``: one sample (a single component, or no lineage and no loop).

Visits are numbered per sample and node, in start order. Sample names are relative to the
run (``iteration-3``, ``part-0``, or the run id itself).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from provcausal.model import flowcept as fc
from provcausal.model.links import flowcept_links
from provcausal.model.times import to_epoch

__all__ = ["CapturedSamples", "captured_samples", "is_iteration", "task_of_row", "run_counts"]


@dataclass
class CapturedSamples:
    """How one captured run's tasks fall into samples."""

    #: ``iterations``, ``components``, ``iteration-windows`` or ``run``.
    how: str
    sample: dict[str, str] = field(default_factory=dict)
    visit: dict[str, int] = field(default_factory=dict)
    #: task id → upstream task ids (FlowCept's lineage rules).
    upstream: dict[str, set[str]] = field(default_factory=dict)
    #: loop iteration tasks that joined no sample (their children were not recorded).
    bookkeeping: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        """How many samples (loop bookkeeping is none)."""
        return len({s for t, s in self.sample.items() if t not in self.bookkeeping})


def is_iteration(task: Mapping[str, Any]) -> bool:
    """Whether a task is one iteration of a ``FlowceptLoop``."""
    if task.get("subtype") == "iteration":
        return True
    return bool(task.get("group_id")) and str(task.get("activity_id", "")).endswith("_iteration")


def _start(task: Mapping[str, Any]) -> float:
    value = to_epoch(task.get("started_at"))
    return value if value is not None else float("-inf")


def _ordered(tasks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(tasks, key=lambda t: (_start(t), str(t["task_id"])))


def _by_parents(tasks: Sequence[Mapping[str, Any]]) -> dict[str, str] | None:
    """Each task's iteration by its ``parent_task_id`` chain; ``None`` unless all reach one."""
    iterations = _ordered([t for t in tasks if is_iteration(t)])
    names = {str(t["task_id"]): f"iteration-{i}" for i, t in enumerate(iterations)}
    parent = {str(t["task_id"]): str(t.get("parent_task_id") or "") for t in tasks}
    sample: dict[str, str] = {}
    for task in tasks:
        node, seen = str(task["task_id"]), set()
        while node and node not in names and node not in seen:
            seen.add(node)
            node = parent.get(node, "")
        if node not in names:
            return None
        sample[str(task["task_id"])] = names[node]
    return sample


def _by_windows(tasks: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Each task's iteration: the one current when it started."""
    iterations = _ordered([t for t in tasks if is_iteration(t)])
    starts = [(_start(t), str(t["task_id"])) for t in iterations]
    names = {tid: f"iteration-{i}" for i, (_, tid) in enumerate(starts)}
    sample = {}
    for task in tasks:
        tid = str(task["task_id"])
        i = bisect_right(starts, (_start(task), "\uffff")) - 1
        sample[tid] = names.get(tid) or (names[starts[i][1]] if i >= 0 else "outside-loop")
    return sample


def _by_components(
    tasks: Sequence[Mapping[str, Any]], upstream: Mapping[str, set[str]], run_id: str
) -> tuple[str, dict[str, str]]:
    g = nx.Graph()
    ids = [str(t["task_id"]) for t in tasks]
    g.add_nodes_from(ids)
    for t in tasks:
        tid = str(t["task_id"])
        g.add_edges_from((tid, u) for u in upstream.get(tid, ()) if u in g)
        if t.get("parent_task_id") and str(t["parent_task_id"]) in g:
            g.add_edge(tid, str(t["parent_task_id"]))
    start = {str(t["task_id"]): _start(t) for t in tasks}
    parts = sorted(
        (sorted(c, key=lambda x: (start[x], x)) for c in nx.connected_components(g)),
        key=lambda c: (start[c[0]], c[0]),
    )
    node = {str(t["task_id"]): str(t.get("activity_id") or t["task_id"]) for t in tasks}
    repeated = len(set(node.values())) < len(node)
    if g.number_of_edges() == 0 or len(parts) <= 1 or not repeated:
        # No node ran twice: one execution, however partial its lineage.
        return "run", dict.fromkeys(ids, run_id)
    return "components", {tid: f"part-{i}" for i, c in enumerate(parts) for tid in c}


def captured_samples(tasks: Sequence[Mapping[str, Any]], run_id: str) -> CapturedSamples:
    """Samples and visit numbers of one captured run's tasks (see the module docstring)."""
    links = flowcept_links(tasks)
    upstream = {k: set(v) for k, v in links.upstream.items()}
    loop = [t for t in tasks if is_iteration(t)]
    body = [t for t in tasks if not is_iteration(t)]
    by_parents = _by_parents(tasks) if loop and body else None
    bookkeeping: set[str] = set()
    if by_parents is not None:
        how, sample = "iterations", by_parents
    else:
        how, sample = _by_components(body or tasks, upstream, run_id)
        if how == "run" and loop and body:
            how, sample = "iteration-windows", _by_windows(tasks)
        for t in loop:
            tid = str(t["task_id"])
            if tid not in sample:
                sample[tid] = "loop"
                bookkeeping.add(tid)
    visit: dict[str, int] = {}
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for t in _ordered(tasks):
        tid = str(t["task_id"])
        key = (sample[tid], str(t.get("activity_id") or tid))
        visit[tid] = seen[key]
        seen[key] += 1
    return CapturedSamples(how, sample, visit, upstream, bookkeeping)


def task_of_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The FlowCept fields of a captured task's sample row (``Store.sample_rows``), as this
    module reads them."""
    task = {key: row[key] for key in fc.CAPTURED_FIELDS}
    task["activity_id"] = row["node"]
    return task


def run_counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
    """Tasks and samples per captured run, from the runs' sample rows, split into samples
    exactly as the analysis splits them."""
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["captured"]:
            by_run[str(row["workflow_id"])].append(task_of_row(row))
    return {run: (len(tasks), captured_samples(tasks, run).count) for run, tasks in by_run.items()}
