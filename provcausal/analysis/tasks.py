"""One table of the tasks of selected runs: what the causal graph and the sample data share.

Loaded once per analysis through the store's ``sample_rows`` (batches of runs), whatever system
wrote the tasks: provcausal's importers, or FlowCept itself (whose lineage comes from
``dependencies`` and from FlowCept's used/generated value rule). A process whose out-ports
hold different values is split into one variable per port (``process.port``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from provcausal.captured import CapturedSamples, captured_samples, is_iteration, task_of_row
from provcausal.model import flowcept as fc
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


def _row(row: dict[str, Any], formed: CapturedSamples | None) -> dict:
    """One table row from a store's sample row (:func:`provcausal.model.flowcept.sample_row`)."""
    run_id, tid = row["workflow_id"], row["task_id"]
    deps = set(row["dependencies"])
    sample, visit, unobserved = row["sample"], row["visit"], row["unobserved"]
    if formed is not None and tid in formed.sample:
        deps |= formed.upstream.get(tid, set())
        sample, visit = formed.sample[tid], formed.visit[tid]
        # A loop's iteration task is bookkeeping unless it recorded a value (end_iter).
        unobserved = unobserved or (is_iteration(task_of_row(row)) and row["value"] is None)
    return {
        "task_id": tid,
        "run_id": run_id,
        "node": row["node"],
        "sample": f"{run_id}/{sample}",
        "visit": visit,
        "value": row["value"],
        "duration": row["duration"],
        "start": row["started_at"],
        "end": row["ended_at"],
        "unobserved": unobserved,
        "deps": sorted(deps),
        "ports": _ports(row),
        "used_names": sorted(row["used_names"]),
    }


def _ports(row: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """Out-port → (output name, value) for a task with several out-ports, else ``{}``."""
    raw = row["out_ports"]
    if not raw:
        return {}
    try:
        ports = raw if isinstance(raw, dict) else json.loads(raw)
    except (TypeError, ValueError):
        return {}
    generated = row["generated"]
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
    ports = pd.DataFrame(rows, columns=table.columns)
    # A split process that reads another split process's ports depends on those ports too.
    ports["deps"] = ports.apply(deps, axis=1) if len(ports) else ports["deps"]
    return pd.concat([kept, ports], ignore_index=True)


def _run_rows(rows: list[dict[str, Any]], formed_by: dict[str, int]) -> list[dict[str, Any]]:
    """Table rows of one run's sample rows; FlowCept-captured tasks get FlowCept's lineage and
    their samples from :func:`provcausal.captured.captured_samples`."""
    captured = [task_of_row(r) for r in rows if r["captured"]]
    formed = captured_samples(captured, rows[0]["workflow_id"]) if captured else None
    if formed is not None:
        formed_by[formed.how] = formed_by.get(formed.how, 0) + 1
    return [_row(r, formed) for r in rows]


def load_task_table(store: Store, run_ids: Sequence[str]) -> pd.DataFrame:
    """All tasks of ``run_ids`` as rows (see ``TABLE_COLUMNS``); ``sample`` is run-qualified.

    Tasks FlowCept captured get their lineage from FlowCept's rules and their samples from
    :func:`provcausal.captured.captured_samples`; ``table.attrs["samples_formed"]`` counts the
    captured runs by how their samples were formed (``iterations``, ``components``, ``run``).
    Inside :func:`provcausal.analysis.table_cache.caching` a table loaded before for the same
    stored runs is reused (see that module for when that is safe).
    """
    from provcausal.analysis.table_cache import cached_table

    return cached_table(store, run_ids, lambda: _load_task_table(store, run_ids))


def _load_task_table(store: Store, run_ids: Sequence[str]) -> pd.DataFrame:
    """The task table, read from the store.

    The store computes the rows in batches of runs (:meth:`Store.sample_rows`: one indexed
    query per batch, only the fields read here). Tasks FlowCept captured get their lineage
    from FlowCept's rules and their samples from :func:`provcausal.captured.captured_samples`;
    ``table.attrs["samples_formed"]`` counts the captured runs by how their samples were
    formed (``iterations``, ``components``, ``run``).
    """
    rows: list[dict[str, Any]] = []
    formed_by: dict[str, int] = {}
    run: list[dict[str, Any]] = []
    for sample in store.sample_rows(run_ids):
        if run and sample["workflow_id"] != run[0]["workflow_id"]:
            rows.extend(_run_rows(run, formed_by))
            run = []
        run.append(sample)
    if run:
        rows.extend(_run_rows(run, formed_by))
    table = _split_ports(pd.DataFrame(rows, columns=TABLE_COLUMNS))
    table = table.astype(
        {"value": "float64", "duration": "float64", "start": "float64", "end": "float64"}
    )
    table.attrs["samples_formed"] = formed_by
    return table
