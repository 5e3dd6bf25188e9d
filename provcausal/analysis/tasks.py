"""One table of the tasks of selected runs: what the causal graph and the sample data share.

Loaded once per analysis through the store's indexed ``find_tasks`` (by run), whatever system
wrote the tasks: provcausal's importers, or FlowCept itself (whose lineage comes from
``dependencies`` and from FlowCept's used/generated value rule). A process whose out-ports
hold different values is split into one variable per port (``process.port``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from provcausal.captured import CapturedSamples, captured_samples, is_iteration
from provcausal.model import flowcept as fc
from provcausal.model.times import to_epoch
from provcausal.stores import Store

__all__ = ["load_task_table", "TABLE_COLUMNS"]

#: The analysis table's columns. Not the task listing's (``queries.TASK_COLUMNS``): times are
#: epoch floats, ``sample`` is run-qualified (``RUN/SAMPLE``), and ``deps`` holds the lineage
#: FlowCept's rules add; what each field means is read once, by :mod:`provcausal.model.flowcept`.
TABLE_COLUMNS = [
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
    "ports",
    "used_names",
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
        "ports": _ports(task),
        "used_names": sorted(map(str, task.get("used") or {})),
    }


def _ports(task: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """Out-port → (output name, value) for a task with several out-ports, else ``{}``."""
    raw = fc.task_attrs(task).get("outPorts")
    if not raw:
        return {}
    try:
        ports = raw if isinstance(raw, dict) else json.loads(raw)
    except (TypeError, ValueError):
        return {}
    generated = task.get("generated") or {}
    out = {}
    for port, name in ports.items():
        value = generated.get(name)
        number = (
            fc.numeric(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else None
        )
        out[str(port)] = (str(name), number)
    return out


def _split_ports(table: pd.DataFrame) -> pd.DataFrame:
    """A process whose out-ports hold different values becomes one variable per port
    (``process.port``, one row per port); its consumers depend on the port they used. Where
    every task's ports hold the same value, the process stays one variable."""
    has_ports = table["ports"].map(bool)
    if not has_ports.any():
        return table
    split_nodes = set()
    for node, group in table[has_ports].groupby("node"):
        if any(len({v for _, v in ports.values()}) > 1 for ports in group["ports"]):
            split_nodes.add(node)
    if not split_nodes:
        return table
    expand = has_ports & table["node"].isin(split_nodes)
    port_of: dict[tuple[str, str], str] = {}  # (task id, output name) -> port task id
    rows = []
    for row in table[expand].to_dict("records"):
        for port, (name, value) in sorted(row["ports"].items()):
            port_task = f"{row['task_id']}#{port}"
            port_of[(row["task_id"], name)] = port_task
            rows.append(
                {**row, "task_id": port_task, "node": f"{row['node']}.{port}", "value": value}
            )
    split_ids = set(table.loc[expand, "task_id"])

    def deps(row: pd.Series) -> list[str]:
        out = []
        for dep in row["deps"]:
            if dep not in split_ids:
                out.append(dep)
                continue
            used = [port_of[(dep, n)] for n in row["used_names"] if (dep, n) in port_of]
            out.extend(used or [t for (d, _), t in port_of.items() if d == dep])
        return sorted(set(out))

    kept = table[~expand].copy()
    kept["deps"] = kept.apply(deps, axis=1) if len(kept) else kept["deps"]
    return pd.concat([kept, pd.DataFrame(rows, columns=table.columns)], ignore_index=True)


def load_task_table(store: Store, run_ids: Sequence[str]) -> pd.DataFrame:
    """All tasks of ``run_ids`` as rows (see ``TABLE_COLUMNS``); ``sample`` is run-qualified.

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
    table = _split_ports(pd.DataFrame(rows, columns=TABLE_COLUMNS))
    table = table.astype(
        {"value": "float64", "duration": "float64", "start": "float64", "end": "float64"}
    )
    table.attrs["samples_formed"] = formed_by
    return table
