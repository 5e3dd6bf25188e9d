"""One table of the tasks of selected runs: what the causal graph and the sample data share.

Loaded once per analysis from the store's analysis projection (:mod:`provcausal.projection`),
whatever system wrote the tasks: provcausal's importers, or FlowCept itself (whose lineage
comes from ``dependencies`` and from FlowCept's used/generated value rule). A process whose
out-ports hold different values is split into one variable per port (``process.port``).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from provcausal.errors import StoreError
from provcausal.projection import (
    COLUMNS,
    FLOAT_COLUMNS,
    VERSION,
    RunColumns,
    run_columns,
    table_rows,
    unpack,
)
from provcausal.stores import Store

__all__ = ["load_task_table", "TABLE_COLUMNS"]

#: The analysis table's columns. Not the task listing's (``queries.TASK_COLUMNS``): times are
#: epoch floats, ``sample`` is run-qualified (``RUN/SAMPLE``), and ``deps`` holds the lineage
#: FlowCept's rules add; what each field means is read once, by :mod:`provcausal.model.flowcept`.
TABLE_COLUMNS = ["task_id", "run_id", *COLUMNS[1:]]  # the projected columns and the run


def _split_ports(table: pd.DataFrame) -> pd.DataFrame:
    """A process whose out-ports hold different values becomes one variable per port
    (``process.port``, one row per port); its consumers depend on the port they used. Where
    every task's ports hold the same value, the process stays one variable."""
    if not any(table["ports"].tolist()):  # the common case, checked without a Series
        return table
    has_ports = table["ports"].map(bool)
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


def _fresh(store: Store, ids: Sequence[str]) -> dict[str, list[RunColumns]]:
    """The stored projections of ``ids`` that are current: of this version, and, when built
    lazily, of tasks that have not changed since (:meth:`Store.task_fingerprints`)."""
    found: dict[str, list[RunColumns]] = {}
    for record in store.read_projection(ids):
        found.setdefault(record.run_id, []).append(record)
    found = {r: recs for r, recs in found.items() if all(x.version == VERSION for x in recs)}
    lazy = [r for r, recs in found.items() if recs[0].fingerprint is not None]
    if lazy:
        now = store.task_fingerprints(lazy)
        for run in lazy:
            if now.get(run) != found[run][0].fingerprint:
                del found[run]
    return found


def _build(store: Store, ids: Sequence[str]) -> dict[str, list[RunColumns]]:
    """Projections of ``ids`` computed from the store's sample rows (runs FlowCept captured,
    runs stored before the projection existed), kept in the store where it can."""
    fingerprints = store.task_fingerprints(ids)  # before reading: a later change shows
    by_run: dict[str, list[dict[str, Any]]] = {}
    for row in store.sample_rows(ids):
        by_run.setdefault(str(row["workflow_id"]), []).append(row)
    built = {}
    for run_id, samples in by_run.items():
        rows, formed = table_rows(samples)
        built[run_id] = [run_columns(run_id, rows, formed, fingerprints.get(run_id, ""))]
    if built:
        with contextlib.suppress(StoreError):  # a cache: a read-only store still answers
            store.write_projection([recs[0] for recs in built.values()])
    return built


@contextlib.contextmanager
def _bulk_allocation() -> Iterator[None]:
    """No cyclic garbage collection while the table's many small lists are made: they hold
    no cycles, and each collection would walk every object the process has (it made the
    load three times slower)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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

    The rows come from the store's analysis projection (:mod:`provcausal.projection`: a few
    packed columns per run, written with the run), built column-wise: no document is decoded.
    Runs without a current projection (FlowCept captured them, or they were stored before it
    existed) get theirs from :meth:`Store.sample_rows`, kept in the store where it can.
    """
    ids = list(dict.fromkeys(run_ids))
    with _bulk_allocation():
        found = _fresh(store, ids)
    missing = [r for r in ids if r not in found]
    if missing:
        found.update(_build(store, missing))
    with _bulk_allocation():
        return _table([record for run in ids for record in found.get(run, ())])


def _table(records: list[RunColumns]) -> pd.DataFrame:
    """The analysis table of packed projections, built column-wise."""
    formed_by: dict[str, int] = {}
    for record in records:
        if record.formed is not None:
            formed_by[record.formed] = formed_by.get(record.formed, 0) + 1
    columns = unpack(records)
    table = _split_ports(pd.DataFrame({c: columns[c] for c in TABLE_COLUMNS}))
    # Unpacked numbers are float64 already; the cast guards split ports' values, which come
    # from JSON (pandas 2.2 and 3.1 both give float64 for None and integers there).
    untyped = {c: "float64" for c in FLOAT_COLUMNS if table[c].dtype != "float64"}
    if untyped:
        table = table.astype(untyped)
    table.attrs["samples_formed"] = formed_by
    return table
