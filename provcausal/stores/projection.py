"""Where each store keeps the analysis projection (:mod:`provcausal.projection`).

SQLite: the table ``analysis_runs``, one row per run keyed by ``run_id`` (``WITHOUT ROWID``:
the primary key is the table, so the key covers every column and a load is one range search
per batch of runs, whatever else the file holds). It is written in the transaction that writes
the run and deleted with it.

MongoDB: the collection ``provcausal_analysis`` (FlowCept never reads it; FlowCept's ``tasks``
documents stay as FlowCept writes them), one document per run, or per part of at most
:data:`PART_TASKS` tasks of a larger run (documents stay far below 16 MB). Documents carry
the write's token; a reader takes a run only when it holds all its parts of one token.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from array import array
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from provcausal.projection import COLUMNS, NUMBER_COLUMNS, RunColumns

__all__ = [
    "SQLITE_TABLE",
    "SQLITE_SCHEMA",
    "SQLITE_INSERT",
    "sqlite_rows",
    "sqlite_select",
    "sqlite_record",
    "MONGO_COLLECTION",
    "PART_TASKS",
    "mongo_documents",
    "mongo_records",
    "mongo_as_stored",
    "MONGO_FIELDS",
    "mongo_fingerprint_pipeline",
    "mongo_fingerprints",
]

SQLITE_TABLE = "analysis_runs"
#: Stored columns, in table order (``ports`` is the only nullable packed column).
_PACKED = COLUMNS
_SQL_NAMES = {c: f"p_{c}" for c in _PACKED}  # ``end`` is an SQL keyword
_META = ("run_id", "tasks", "version", "formed", "fingerprint")

SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {SQLITE_TABLE} (
    run_id TEXT PRIMARY KEY,
    tasks INTEGER NOT NULL,
    version INTEGER NOT NULL,
    formed TEXT,
    fingerprint TEXT,
    {", ".join(f"{_SQL_NAMES[c]} {'BLOB' if c in NUMBER_COLUMNS else 'TEXT'}" for c in _PACKED)}
) WITHOUT ROWID
"""
SQLITE_INSERT = (
    f"INSERT OR REPLACE INTO {SQLITE_TABLE} VALUES ({', '.join('?' * (len(_META) + len(_PACKED)))})"
)
_SELECT = f"SELECT {', '.join([*_META, *(_SQL_NAMES[c] for c in _PACKED)])} FROM {SQLITE_TABLE}"


def sqlite_rows(records: Sequence[RunColumns]) -> list[tuple[Any, ...]]:
    """Rows of ``analysis_runs`` for ``records``."""
    return [
        (r.run_id, r.tasks, r.version, r.formed, r.fingerprint, *(r.columns[c] for c in _PACKED))
        for r in records
    ]


def sqlite_select(count: int) -> str:
    """The query for ``count`` runs (by the primary key), in ``run_id`` order."""
    return f"{_SELECT} WHERE run_id IN ({','.join('?' * count)})"


def sqlite_record(row: Sequence[Any]) -> RunColumns:
    """A record from one row of :func:`sqlite_select`."""
    run_id, tasks, version, formed, fingerprint = row[: len(_META)]
    columns = dict(zip(_PACKED, row[len(_META) :], strict=True))
    return RunColumns(run_id, int(tasks), columns, formed, fingerprint, int(version))


# -- MongoDB ---------------------------------------------------------------------------------
MONGO_COLLECTION = "provcausal_analysis"
#: Tasks per document of a large run.
PART_TASKS = 20000


def _slice(record: RunColumns, lo: int, hi: int) -> RunColumns:
    """Tasks ``lo``..``hi`` of a packed record (re-packed: rare, runs over PART_TASKS)."""
    from provcausal.projection import run_columns, unpack

    cols = unpack([record])
    rows = [{c: cols[c][i] for c in COLUMNS} for i in range(lo, hi)]
    return run_columns(record.run_id, rows, record.formed, record.fingerprint)


def _as_list(column: str, value: Any) -> Any:
    """Numeric columns as BSON arrays (replacing a document with binary data fails on some
    MongoDB-protocol servers; arrays of numbers decode as fast)."""
    if column not in NUMBER_COLUMNS:
        return value
    numbers = array(NUMBER_COLUMNS[column])
    numbers.frombytes(bytes(value))
    if numbers.itemsize > 1 and sys.byteorder == "big":
        numbers.byteswap()
    if column == "unobserved":
        return [bool(v) for v in numbers]
    if NUMBER_COLUMNS[column] == "d":  # absent values as null (not every server keeps NaN)
        return [None if v != v else v for v in numbers]
    return numbers.tolist()


def mongo_documents(records: Sequence[RunColumns]) -> list[dict[str, Any]]:
    """Documents of ``provcausal_analysis`` for ``records`` (``_id``: ``RUN`` or
    ``RUN:PART``)."""
    out = []
    for record in records:
        token = os.urandom(8).hex()
        parts = (
            [record]
            if record.tasks <= PART_TASKS
            else [
                _slice(record, lo, min(lo + PART_TASKS, record.tasks))
                for lo in range(0, record.tasks, PART_TASKS)
            ]
        )
        for i, part in enumerate(parts):
            out.append(
                {
                    "_id": record.run_id if i == 0 else f"{record.run_id}:{i}",
                    "run_id": record.run_id,
                    "part": i,
                    "parts": len(parts),
                    "token": token,
                    "tasks": part.tasks,
                    "version": part.version,
                    "formed": record.formed if i == 0 else None,
                    "fingerprint": record.fingerprint,
                    **{c: _as_list(c, part.columns[c]) for c in _PACKED},
                }
            )
    return out


def mongo_records(docs: Sequence[Mapping[str, Any]], order: Sequence[str]) -> Iterator[RunColumns]:
    """Records of the runs in ``order`` whose parts in ``docs`` are complete (one token)."""
    by_run: dict[str, list[Mapping[str, Any]]] = {}
    for doc in docs:
        by_run.setdefault(str(doc["run_id"]), []).append(doc)
    for run_id in order:
        parts = sorted(by_run.get(run_id, ()), key=lambda d: int(d["part"]))
        if not parts or len({d.get("token") for d in parts}) != 1:
            continue
        if [int(d["part"]) for d in parts] != list(range(int(parts[0]["parts"]))):
            continue
        for doc in parts:
            columns = {c: doc.get(c) for c in _PACKED}
            yield RunColumns(
                run_id,
                int(doc["tasks"]),
                columns,
                doc.get("formed"),
                doc.get("fingerprint"),
                int(doc.get("version") or 0),
            )


#: The fields a reader asks for (projection-only query: no ``_id``).
MONGO_FIELDS = {
    "_id": 0,
    **dict.fromkeys(
        ["run_id", "part", "parts", "token", "tasks", "version", "formed", "fingerprint", *_PACKED],
        1,
    ),
}


def mongo_fingerprint_pipeline(run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Per run of ``run_ids``: how many tasks, the latest start and end."""
    return [
        {"$match": {"workflow_id": {"$in": list(run_ids)}}},
        {
            "$group": {
                "_id": "$workflow_id",
                "n": {"$sum": 1},
                "start": {"$max": "$started_at"},
                "end": {"$max": "$ended_at"},
            }
        },
    ]


def mongo_fingerprints(groups: Iterator[Mapping[str, Any]]) -> dict[str, str]:
    """Fingerprint text per run from :func:`mongo_fingerprint_pipeline`'s groups."""
    return {str(g["_id"]): f"{g.get('n')}|{g.get('start')!r}|{g.get('end')!r}" for g in groups}


def _millis(value: Any) -> Any:
    """A datetime as BSON keeps it: UTC, to the millisecond (truncated)."""
    if not isinstance(value, dt.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def mongo_as_stored(task: Mapping[str, Any]) -> Mapping[str, Any]:
    """A task document's fields the projection reads, as MongoDB will return them."""
    if isinstance(task.get("started_at"), dt.datetime) or isinstance(
        task.get("ended_at"), dt.datetime
    ):
        task = {
            **task,
            "started_at": _millis(task.get("started_at")),
            "ended_at": _millis(task.get("ended_at")),
        }
    return task
