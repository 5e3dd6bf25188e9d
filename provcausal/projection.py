"""The analysis projection: per run, the few typed columns the analysis reads of each task.

The analysis needs about a dozen values per task (node, sample, visit, value, times,
lineage...), while a store keeps whole FlowCept documents. Decoding a document per task cost
more than the whole attribution engine, so each run's analysis rows are computed once (at
import, or lazily for tasks FlowCept captured) and kept column-wise, one record per run:

- text columns (``task_id``, ``node``, ``sample``) as the run's values joined by ``\\x1f``;
- list columns (``deps``, ``used_names``) as each task's items joined by ``\\x1f``, tasks
  joined by ``\\x1e``;
- numeric columns (``visit``, ``value``, ``duration``, ``start``, ``end``, ``unobserved``) as
  little-endian arrays (``NaN`` where a value is absent);
- ``ports`` as JSON, only in a run where some task has several out-ports (``None`` else).

A column whose values contain a separator (names are data) is kept as JSON instead, marked
by a leading ``\\x1d``; loading then decodes that run's column on its own. Loading many runs is
a join and a split per column over all of them (:func:`unpack`), never a decode per task.

The rows are exactly what :func:`provcausal.analysis.tasks.load_task_table` used to compute
from sample rows (:func:`table_rows`); :data:`VERSION` changes whenever their meaning does, and
stores rebuild projections of another version.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provcausal.model import flowcept as fc

if TYPE_CHECKING:
    from provcausal.captured import CapturedSamples

__all__ = [
    "VERSION",
    "COLUMNS",
    "FLOAT_COLUMNS",
    "RunColumns",
    "table_rows",
    "run_columns",
    "project_runs",
    "unpack",
    "task_ports",
]

#: The meaning of the projected rows; a stored projection of another version is rebuilt.
VERSION = 1

#: The projected columns of a task (the analysis table's, but ``run_id``: the record's key).
COLUMNS = (
    "task_id",
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
)
TEXT_COLUMNS = ("task_id", "node", "sample")
LIST_COLUMNS = ("deps", "used_names")
FLOAT_COLUMNS = ("value", "duration", "start", "end")
#: Numeric columns with their array type codes (``d``: float64, ``q``: int64, ``B``: bool).
NUMBER_COLUMNS = {"visit": "q", **dict.fromkeys(FLOAT_COLUMNS, "d"), "unobserved": "B"}

_ITEM, _TASK, _JSON = "\x1f", "\x1e", "\x1d"
_NAN = float("nan")


@dataclass
class RunColumns:
    """One run's projection, packed (see the module docstring)."""

    run_id: str
    #: how many tasks (rows before out-ports are split)
    tasks: int
    #: packed columns: text for text and list columns and ``ports`` (or ``None``), bytes else
    columns: dict[str, Any]
    #: for a FlowCept-captured run: how its samples were formed (``iterations`` ...)
    formed: str | None = None
    #: what the run's tasks looked like when a lazy projection was built (``None``: written
    #: with the run, always current)
    fingerprint: str | None = None
    version: int = VERSION


# -- rows --------------------------------------------------------------------------------------
def task_ports(row: Mapping[str, Any]) -> dict[str, tuple[str, float | None]]:
    """Out-port → (output name, value) of a sample row's task with several out-ports, else
    ``{}``."""
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


def _row(row: Mapping[str, Any], formed: CapturedSamples | None) -> dict[str, Any]:
    """One analysis row from a store's sample row (:func:`provcausal.model.flowcept.sample_row`)."""
    run_id, tid = row["workflow_id"], row["task_id"]
    deps = set(row["dependencies"])
    sample, visit, unobserved = row["sample"], row["visit"], row["unobserved"]
    if formed is not None and tid in formed.sample:
        from provcausal.captured import is_iteration, task_of_row

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
        "ports": task_ports(row),
        "used_names": sorted(row["used_names"]),
    }


def table_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """The analysis rows of one run's sample rows, and how a captured run's samples were
    formed (``None`` when no task was captured): FlowCept-captured tasks get FlowCept's
    lineage and their samples from :func:`provcausal.captured.captured_samples`."""
    if not any(r["captured"] for r in rows):
        return [_row(r, None) for r in rows], None
    from provcausal.captured import captured_samples, task_of_row

    captured = [task_of_row(r) for r in rows if r["captured"]]
    formed = captured_samples(captured, str(rows[0]["workflow_id"])) if captured else None
    return [_row(r, formed) for r in rows], (formed.how if formed is not None else None)


# -- packing -----------------------------------------------------------------------------------
def _safe(text: str) -> bool:
    return _ITEM not in text and _TASK not in text and _JSON not in text


def _pack_text(values: Sequence[str]) -> str:
    if all(_safe(v) for v in values):
        return _ITEM.join(values)
    return _JSON + json.dumps(list(values))


def _pack_lists(values: Sequence[Sequence[str]]) -> str:
    if all(item and _safe(item) for items in values for item in items):
        return _TASK.join(_ITEM.join(items) for items in values)
    return _JSON + json.dumps([list(items) for items in values])


def _pack_numbers(values: Iterable[Any], code: str) -> bytes:
    if code == "d":
        packed = array("d", (_NAN if v is None else float(v) for v in values))
    else:
        packed = array(code, (int(v or 0) for v in values))
    if packed.itemsize > 1 and sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def run_columns(
    run_id: str,
    rows: Sequence[Mapping[str, Any]],
    formed: str | None = None,
    fingerprint: str | None = None,
) -> RunColumns:
    """Pack one run's analysis rows (:func:`table_rows`)."""
    columns: dict[str, Any] = {}
    for name in TEXT_COLUMNS:
        columns[name] = _pack_text([str(r[name]) for r in rows])
    for name in LIST_COLUMNS:
        columns[name] = _pack_lists([[str(i) for i in r[name]] for r in rows])
    for name, code in NUMBER_COLUMNS.items():
        columns[name] = _pack_numbers((r[name] for r in rows), code)
    ports = [r["ports"] or None for r in rows]
    columns["ports"] = json.dumps(ports) if any(ports) else None
    return RunColumns(run_id, len(rows), columns, formed, fingerprint)


def project_runs(
    runs: Iterable[fc.RunRecords],
    as_stored: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> list[RunColumns]:
    """The projection of runs being written, from their task documents as the store will
    give them back (``as_stored``: e.g. MongoDB keeps times to the millisecond)."""
    out = []
    for run in runs:
        tasks = run.tasks if as_stored is None else [as_stored(t) for t in run.tasks]
        imported = [fc.imported_sample_row(t) for t in tasks]
        if all(row is not None for row in imported):
            rows, formed = [_row(row, None) for row in imported if row is not None], None
        else:  # tasks FlowCept captured: their samples and lineage come from the whole run
            rows, formed = table_rows([fc.sample_row(t) for t in tasks])
        out.append(run_columns(run.run_id, rows, formed))
    return out


# -- unpacking ---------------------------------------------------------------------------------
def _split_text(parts: list[str]) -> list[str]:
    if not any(p.startswith(_JSON) for p in parts):
        return _ITEM.join(parts).split(_ITEM)
    out: list[str] = []
    for part in parts:
        out.extend(json.loads(part[1:]) if part.startswith(_JSON) else part.split(_ITEM))
    return out


def _split_lists(parts: list[str]) -> list[list[str]]:
    if not any(p.startswith(_JSON) for p in parts):
        return [t.split(_ITEM) if t else [] for t in _TASK.join(parts).split(_TASK)]
    out: list[list[str]] = []
    for part in parts:
        if part.startswith(_JSON):
            out.extend(json.loads(part[1:]))
        else:
            out.extend(t.split(_ITEM) if t else [] for t in part.split(_TASK))
    return out


def _numbers(packed: Any, code: str) -> Sequence[Any]:
    """One run's numeric column as a sequence, whether packed bytes or a list."""
    if isinstance(packed, (bytes, bytearray, memoryview)):
        numbers = array(code)
        numbers.frombytes(bytes(packed))
        if numbers.itemsize > 1 and sys.byteorder == "big":
            numbers.byteswap()
        return numbers
    return [_NAN if v is None and code == "d" else v for v in packed]


def unpack(records: Sequence[RunColumns]) -> dict[str, Any]:
    """The analysis table's columns (``run_id`` included) of several runs, in their order:
    lists for text, list and port columns, numpy arrays for numbers."""
    import numpy as np

    runs = [r for r in records if r.tasks]
    run_ids = np.array([r.run_id for r in runs], dtype=object)
    out: dict[str, Any] = {"run_id": np.repeat(run_ids, [r.tasks for r in runs]).tolist()}
    for name in TEXT_COLUMNS:
        out[name] = _split_text([r.columns[name] for r in runs]) if runs else []
    for name in LIST_COLUMNS:
        out[name] = _split_lists([r.columns[name] for r in runs]) if runs else []
    dtypes = {"d": "<f8", "q": "<i8", "B": "u1"}
    for name, code in NUMBER_COLUMNS.items():
        parts = [r.columns[name] for r in runs]
        if all(isinstance(p, (bytes, bytearray, memoryview)) for p in parts):
            data = bytearray(b"".join(bytes(p) for p in parts))  # writable
            out[name] = np.frombuffer(data, dtype=dtypes[code])
        else:  # arrays (MongoDB keeps numbers as BSON arrays)
            out[name] = np.array([v for p in parts for v in _numbers(p, code)], dtype=dtypes[code])
    out["unobserved"] = out["unobserved"].astype(bool)
    ports: list[dict[str, tuple[str, float | None]]] = []
    for run in runs:
        if run.columns.get("ports") is None:
            ports.extend({} for _ in range(run.tasks))
        else:
            ports.extend(
                {k: (str(v[0]), v[1]) for k, v in (p or {}).items()}
                for p in json.loads(run.columns["ports"])
            )
    out["ports"] = ports
    return out
