"""The embedded default store: one SQLite file (standard library), WAL mode, no set-up.

Documents are kept as JSON text in the FlowCept shape (so that both stores return the same
documents); the fields that queries select on are copied into indexed columns, and the two
many-to-many relations lineage walks (``dependencies``, entity use/generation) get their own
indexed tables. Writing a run is one transaction: readers see all of it or none.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from provcausal.errors import StoreError, StoreFileError, StoreUnreachableError
from provcausal.model import flowcept as fc
from provcausal.model.flowcept import RunRecords
from provcausal.model.times import to_epoch
from provcausal.projection import RunColumns, project_runs, run_columns, table_rows
from provcausal.stores import projection
from provcausal.stores.base import (
    SAMPLE_BATCH_RUNS,
    RunEntry,
    Store,
    compress_prov,
    decompress_prov,
    run_order,
)
from provcausal.stores.codec import dumps, loads, loads_value
from provcausal.stores.where import Condition, sql_filter

__all__ = ["SQLiteStore"]

#: 2 added the analysis projection (``analysis_runs``, :mod:`provcausal.stores.projection`).
SCHEMA_VERSION = 2

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workflows (
    workflow_id TEXT PRIMARY KEY,
    name TEXT,
    label TEXT,
    state TEXT,
    started_at REAL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS workflows_name ON workflows(name);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    activity_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_workflow_node ON tasks(workflow_id, activity_id);
CREATE TABLE IF NOT EXISTS task_dependencies (
    task_id TEXT NOT NULL,
    dependency TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    PRIMARY KEY (dependency, task_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS task_dependencies_run ON task_dependencies(workflow_id);
CREATE TABLE IF NOT EXISTS task_entities (
    entity_id TEXT NOT NULL,
    role TEXT NOT NULL,
    task_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    PRIMARY KEY (entity_id, role, task_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS task_entities_run ON task_entities(workflow_id);
CREATE TABLE IF NOT EXISTS run_labels (run_id TEXT PRIMARY KEY, label TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prov_documents (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
"""
    + projection.SQLITE_SCHEMA
)

_BATCH = 500
#: How much of the file reads of the analysis projection map (see ``SQLiteStore._mapped``).
_MMAP_BYTES = 1 << 30
#: The page size of a new store file (an existing file keeps its own). A WITHOUT ROWID
#: table keeps at most about a quarter of a page of a row in its leaf and moves the rest to
#: an overflow page: a run's analysis projection row (about 2 kB for 11 tasks) overflowed
#: 4 kB pages, one more page to find per run; 16 kB pages hold rows up to 4 kB. Loading the
#: README's 22,000 tasks: 0.058 -> 0.050 s; imports wrote as fast (docs/performance.md).
_PAGE_BYTES = 16384


def _empty_store() -> sqlite3.Connection:
    """An in-memory store with the schema and no rows: what a reader sees of a store that
    does not exist yet (nothing is created on disk for it)."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(_SCHEMA)
    return db


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open; never hide the error that caused it."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _json_path(path: str) -> str:
    return "$." + path


def _time_sql(field: str) -> str:
    """A stored time: datetimes are ``{"$date": epoch}`` (see ``codec``), others as written."""
    return f"""coalesce(json_extract(doc, '$.{field}."$date"'), json_extract(doc, '$.{field}'))"""


_SAMPLE_SCALARS = (
    "node",
    "sample",
    "visit",
    "value",
    "duration",
    "unobserved",
    "parent_task_id",
    "subtype",
    "group_id",
)
_SAMPLE_SELECT = (
    "SELECT task_id, workflow_id, "
    + ", ".join(f"json_extract(doc, '{_json_path(fc.SAMPLE_PATHS[c])}')" for c in _SAMPLE_SCALARS)
    + f", {_time_sql('started_at')}, {_time_sql('ended_at')}"
    + ", json_extract(doc, '$.dependencies'), json_extract(doc, '$.used')"
    + ", json_extract(doc, '$.generated')"
    + f", json_extract(doc, '{_json_path(fc.SAMPLE_PATHS['out_ports'])}')"
    + f", json_type(doc, '$.{fc.META}.{fc.PC}') IS NULL"
    + " FROM tasks"
)


def _sample_raw(row: tuple[Any, ...]) -> dict[str, Any]:
    """Raw sample columns from one row of ``_SAMPLE_SELECT``."""
    task_id, run, node, sample, visit, value, duration, unobserved = row[:8]
    parent, subtype, group, start, end = row[8:13]
    deps, used_text, generated_text, ports, captured = row[13:]
    used = loads(used_text) if used_text else {}
    want_used, want_generated = fc.needs_values(bool(captured), value is not None, bool(ports))
    return {
        "task_id": task_id,
        "workflow_id": run,
        "node": node,
        "sample": sample,
        "visit": visit,
        "value": value,
        "duration": duration,
        "started_at": start,
        "ended_at": end,
        "unobserved": unobserved,
        "dependencies": json.loads(deps) if deps else None,
        "used_names": list(used),
        "used": used if want_used else None,
        "generated": loads(generated_text) if want_generated and generated_text else None,
        "out_ports": ports,
        "captured": bool(captured),
        "parent_task_id": parent,
        "subtype": subtype,
        "group_id": group,
    }


def migrate_store(db: sqlite3.Connection) -> None:
    """Bring a store of an older schema to :data:`SCHEMA_VERSION`, inside the caller's
    transaction. Schema 1 → 2: the analysis projection of every stored run, computed from its
    task documents as the analysis used to read them."""
    row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    if row is not None and int(row[0]) >= SCHEMA_VERSION:
        return
    runs = [r[0] for r in db.execute("SELECT workflow_id FROM workflows")]
    for part in _chunks(runs):
        marks = ",".join("?" * len(part))
        sql = f"{_SAMPLE_SELECT} WHERE workflow_id IN ({marks}) ORDER BY workflow_id, rowid"
        by_run: dict[str, list[dict[str, Any]]] = {}
        for raw in db.execute(sql, list(part)):
            sample = fc.finish_sample_row(_sample_raw(raw))
            by_run.setdefault(sample["workflow_id"], []).append(sample)
        records = []
        for run_id in part:
            rows, formed = table_rows(by_run.get(run_id, []))
            records.append(run_columns(run_id, rows, formed))
        db.executemany(projection.SQLITE_INSERT, projection.sqlite_rows(records))
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))


def _chunks(items: Sequence[str], size: int = _BATCH) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _describe(exc: sqlite3.Error) -> str:
    return str(exc) or type(exc).__name__


class _Cursor:
    """A cursor whose lazy iteration reports SQLite faults as the store's errors."""

    def __init__(self, cursor: sqlite3.Cursor, fail: Callable[[sqlite3.Error], Exception]):
        self._cursor, self._fail = cursor, fail

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self._cursor
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._fail(exc) from None

    def fetchone(self) -> Any:
        return next(iter(self), None)

    def fetchall(self) -> list[Any]:
        return list(self)

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


class _Connection:
    """A connection whose SQLite faults (a corrupted page, a full disk, a read-only file)
    become :class:`StoreFileError` naming the file, wherever they surface."""

    def __init__(self, db: sqlite3.Connection, fail: Callable[[sqlite3.Error], Exception]):
        self.raw, self._fail = db, fail

    def execute(self, sql: str, args: Sequence[Any] = ()) -> _Cursor:
        try:
            return _Cursor(self.raw.execute(sql, args), self._fail)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._fail(exc) from None

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self.raw.executemany(sql, rows)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._fail(exc) from None

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def close(self) -> None:
        self.raw.close()


class SQLiteStore(Store):
    """The embedded store in the file at ``path``.

    Opening an existing store never writes: readers use a read-only connection (no write
    lock, no journal-mode switch, no tables added), so they work on a read-only file or
    folder and never wait behind an import. WAL mode is set on the first write, and only in
    a file that is new or already a provcausal store. A missing file is created with its
    folder and schema (``create``, the default), else a :class:`StoreUnreachableError`.
    """

    #: Seconds a writer waits for another one (an import holds the lock until it commits).
    busy_timeout = 60.0

    def __init__(
        self, path: str | os.PathLike[str], uri: str | None = None, *, create: bool = True
    ) -> None:
        self.path = Path(path)
        self.uri = uri or f"sqlite:///{self.path}"
        if not create and not self.path.is_file():
            raise StoreUnreachableError(
                f"no store at {self.path} ({self.uri}): nothing was imported there; "
                "run from the folder you imported in, or give --store"
            )
        self._writing = False
        self._in_transaction = False
        self._missing = False  # no store on disk yet: reads see an empty one until it appears
        self._outdated = False  # a provcausal store missing tables added since it was made
        self._conn = _Connection(self._open_reader(), self._read_error)
        if create and self._missing:
            self._writable()  # a new store is created
        elif self._outdated:
            self._migrate()  # an older store gains its new tables and projection

    @property
    def _db(self) -> _Connection:
        """The connection; while the store does not exist on disk, a reader checks at each
        query whether another process has created it since."""
        if self._missing and not self._writing and self._kind() == "sqlite":
            reader = self._open_reader()
            self._conn.close()
            self._conn = _Connection(reader, self._read_error)
        return self._conn

    def _kind(self) -> str:
        """``""`` when there is no store file yet (none, or empty), ``"sqlite"``, or
        ``"other"`` for a file SQLite does not take as a database.

        Asked of SQLite itself, never by reading the file with ``open()``: closing a
        descriptor of the file drops every POSIX lock the process holds on it, those of the
        process's SQLite connections included (a documented SQLite hazard); SQLite keeps
        its descriptors open while its connections hold locks. An answer other than "not a
        database" (locked, unreadable) is left to the real open to report."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise self._fail(f"cannot open the embedded store: {exc.strerror or exc}") from None
        if self.path.is_dir():
            raise self._fail(f"cannot open the embedded store: {os.strerror(errno.EISDIR)}")
        if size == 0:
            return ""
        try:
            probe = sqlite3.connect(
                f"file://{quote(str(self.path.absolute()))}?mode=ro",
                uri=True,
                timeout=0,
                isolation_level=None,
            )
        except sqlite3.Error:
            return "sqlite"
        try:
            probe.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError as exc:
            code = getattr(exc, "sqlite_errorname", "")
            if code == "SQLITE_NOTADB" or "not a database" in str(exc):
                return "other"
        finally:
            probe.close()
        return "sqlite"

    # -- opening -------------------------------------------------------------------------
    def _fail(self, why: str) -> StoreFileError:
        return StoreFileError(f"{self.path}: {why}")

    def _open_reader(self) -> sqlite3.Connection:
        """A connection that only reads, or an empty in-memory store when there is no store
        on disk yet."""
        kind = self._kind()
        if kind == "other":
            raise self._fail("not a SQLite database (the file is corrupted or something else)")
        self._missing = not kind
        if not kind:  # new: reads see an empty store, nothing is created until a write
            return _empty_store()
        try:
            db, known = self._connect_reader("rw")
        except sqlite3.OperationalError:  # a read-only file or folder
            # In a folder nobody may write to, no writer can exist, and SQLite could not
            # create the WAL index beside the file: read it as immutable.
            wal = Path(f"{self.path}-wal")
            fixed = not os.access(self.path.parent, os.W_OK) and not wal.exists()
            try:
                db, known = self._connect_reader("ro&immutable=1" if fixed else "ro")
            except sqlite3.OperationalError as exc:
                raise self._fail(f"cannot read the embedded store: {_describe(exc)}") from None
        if not known:  # a writer is creating it right now: still an empty store
            db.close()
            self._missing = True
            return _empty_store()
        return db

    def _connect_reader(self, mode: str) -> tuple[sqlite3.Connection, bool]:
        """A connection that only reads (``mode`` ``rw`` never creates the file, and reading
        takes no write lock; ``ro`` where writing is impossible), and whether it holds a
        provcausal store. A read-write one lets SQLite tidy its WAL files on close."""
        db = sqlite3.connect(
            f"file://{quote(str(self.path.absolute()))}?mode={mode}",
            uri=True,
            timeout=self.busy_timeout,
            isolation_level=None,
        )
        try:
            return db, self._check_schema(db)
        except sqlite3.OperationalError:
            db.close()
            raise
        except sqlite3.DatabaseError as exc:
            db.close()
            raise self._fail(f"cannot read the embedded store: {_describe(exc)}") from None
        except BaseException:
            db.close()
            raise

    def _check_schema(self, db: sqlite3.Connection) -> bool:
        """Whether ``db`` is a provcausal store (``False``: an empty database); raises for a
        foreign database or a schema version this provcausal does not know."""
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return False
        if "meta" not in tables or "workflows" not in tables:
            raise self._fail("a SQLite database, but not a provcausal store (left unchanged)")
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        version = None if row is None else str(row[0])
        if version is None or not version.isdigit() or int(version) < 1:
            raise self._fail(f"unknown store schema version {version!r} (expected 1)")
        if int(version) > SCHEMA_VERSION:
            raise self._fail(f"written by a newer provcausal (schema {version})")
        wanted = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", _SCHEMA))
        self._outdated = not wanted <= tables or int(version) < SCHEMA_VERSION
        return True

    def _migrate(self) -> None:
        """Bring an older store up to date when it is writable; a read-only one is read as
        it is (the analysis then computes its projection in the process, see
        :meth:`read_projection`)."""
        try:
            self._writable()
        except StoreFileError:
            if self._writing:
                raise

    def _writable(self) -> None:
        """Switch to a read-write connection (creating the file, its folder and the schema).

        SQLite answers some lock requests with "database is locked" at once instead of
        waiting out the busy timeout, where waiting could deadlock: switching a new file to
        WAL while another process writes it is one (several imports starting on a new store).
        The whole set-up is then tried again, within the same busy timeout."""
        if self._writing:
            return
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                self._open_writer()
                return
            except StoreFileError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.02 + 0.08 * random.random())  # apart from the other waiting writers

    def _open_writer(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), timeout=self.busy_timeout, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else _describe(exc)
            raise self._fail(f"cannot open the embedded store for writing: {why}") from None
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            known = self._check_schema(db)
            db.execute(f"PRAGMA page_size = {_PAGE_BYTES}")  # no effect once the file has pages
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            if not known or self._outdated:
                self._create_schema(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise self._write_error(exc) from None
        except BaseException:
            db.close()
            raise
        self._conn.close()
        self._conn, self._writing = _Connection(db, self._write_error), True

    def _read_error(self, exc: sqlite3.Error) -> StoreFileError:
        return self._fail(f"cannot read the embedded store: {_describe(exc)}")

    def _write_error(self, exc: sqlite3.Error) -> StoreFileError:
        text = _describe(exc)
        if "readonly" in text or "read-only" in text:
            return self._fail("the store is read-only (file or folder): cannot write")
        return self._fail(f"cannot write to the embedded store: {text}")

    def _create_schema(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            known = self._check_schema(db)  # a concurrent writer may have made it meanwhile
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            if not known:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            else:
                migrate_store(db)
            self._outdated = False
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise

    @contextlib.contextmanager
    def transaction(self) -> Iterator[bool]:
        """One SQLite transaction around every write inside: committed at the end, rolled
        back on any exception (Ctrl-C included). Other writers wait; readers see the old
        state until the commit."""
        if self._in_transaction:
            yield True
            return
        self._writable()
        try:
            self._db.raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # another import held the lock past the timeout
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise self._write_error(exc) from None
            raise StoreUnreachableError(
                f"the embedded store {self.path} is busy ({exc}): another import is writing "
                "to it; run this one when it has finished"
            ) from None
        self._in_transaction = True
        try:
            yield True
        except BaseException:
            _rollback(self._db.raw)
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._in_transaction = False

    def _begin(self) -> None:
        self._writable()
        self._db.execute("SAVEPOINT put_runs" if self._in_transaction else "BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._db.execute("RELEASE put_runs" if self._in_transaction else "COMMIT")

    def _rollback(self) -> None:
        """Undo the current write; never hide the error that caused it (SQLite may already
        have rolled the whole transaction back, e.g. when the disk is full)."""
        raw = self._db.raw
        if not self._in_transaction:
            _rollback(raw)
        elif raw.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                raw.execute("ROLLBACK TO put_runs")
                raw.execute("RELEASE put_runs")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write: a transaction, or a savepoint inside :meth:`transaction`."""
        self._begin()
        try:
            yield
            self._commit()
        except sqlite3.IntegrityError as exc:
            self._rollback()
            raise StoreError(f"a task id is already used by another run ({exc})") from None
        except BaseException:
            self._rollback()
            raise

    def close(self) -> None:
        self._conn.close()

    # -- writing -------------------------------------------------------------------------
    def _delete_run_rows(self, run_id: str) -> int:
        cur = self._db.execute("DELETE FROM workflows WHERE workflow_id = ?", (run_id,))
        found = cur.rowcount
        for table in ("tasks", "task_dependencies", "task_entities"):
            self._db.execute(f"DELETE FROM {table} WHERE workflow_id = ?", (run_id,))
        self._db.execute("DELETE FROM prov_documents WHERE run_id = ?", (run_id,))
        self._db.execute("DELETE FROM run_labels WHERE run_id = ?", (run_id,))
        self._db.execute(f"DELETE FROM {projection.SQLITE_TABLE} WHERE run_id = ?", (run_id,))
        return found

    def _rows(self, run: RunRecords) -> tuple[list[tuple[Any, ...]], ...]:
        run_id = run.run_id
        task_rows, dep_rows, entity_rows = [], [], []
        for task in run.tasks:
            tid = str(task["task_id"])
            task_rows.append((tid, run_id, task.get("activity_id"), dumps(task)))
            for dep in task.get("dependencies") or []:
                dep_rows.append((tid, str(dep), run_id))
            for role in ("used", "generated"):
                for eid in fc.entity_ids(task, role):
                    entity_rows.append((str(eid), role, tid, run_id))
        wf = run.workflow
        wf_row = (
            run_id,
            wf.get("name"),
            fc.run_label(wf),
            fc.run_state(wf),
            wf.get("started_at"),
            dumps(wf),
        )
        chunks = [(run_id, i, c) for i, c in enumerate(compress_prov(run.prov_json))]
        return task_rows, dep_rows, entity_rows, chunks, [wf_row]

    def put_run(self, run: RunRecords) -> None:
        self.put_runs([run])

    def put_runs(self, runs: Sequence[RunRecords]) -> None:
        """Write runs in one transaction: readers see each of them whole or not at all."""
        runs = list({run.run_id: run for run in runs}.values())  # the last write of a run wins
        tables: tuple[list[tuple[Any, ...]], ...] = ([], [], [], [], [])
        for run in runs:
            for rows, new in zip(tables, self._rows(run), strict=True):
                rows.extend(new)
        ids = list(dict.fromkeys(run.run_id for run in runs))
        tasks, deps, entities, chunks, workflows = tables
        analysis = projection.sqlite_rows(project_runs(runs))
        with self._transaction():
            for part in _chunks(ids):
                marks = ",".join("?" * len(part))
                self._db.execute(f"DELETE FROM workflows WHERE workflow_id IN ({marks})", part)
                for table in ("tasks", "task_dependencies", "task_entities"):
                    self._db.execute(f"DELETE FROM {table} WHERE workflow_id IN ({marks})", part)
                self._db.execute(f"DELETE FROM prov_documents WHERE run_id IN ({marks})", part)
                self._db.execute(
                    f"DELETE FROM {projection.SQLITE_TABLE} WHERE run_id IN ({marks})", part
                )
            labelled = [run.run_id for run in runs if fc.run_label(run.workflow) is not None]
            for part in _chunks(labelled):  # an import's own label is the newer statement
                marks = ",".join("?" * len(part))
                self._db.execute(f"DELETE FROM run_labels WHERE run_id IN ({marks})", part)
            self._db.executemany("INSERT INTO tasks VALUES (?, ?, ?, ?)", tasks)
            self._db.executemany("INSERT OR IGNORE INTO task_dependencies VALUES (?, ?, ?)", deps)
            self._db.executemany(
                "INSERT OR IGNORE INTO task_entities VALUES (?, ?, ?, ?)", entities
            )
            self._db.executemany("INSERT INTO prov_documents VALUES (?, ?, ?)", chunks)
            self._db.executemany("INSERT INTO workflows VALUES (?, ?, ?, ?, ?, ?)", workflows)
            self._db.executemany(projection.SQLITE_INSERT, analysis)

    def delete_run(self, run_id: str) -> bool:
        with self._transaction():
            found = self._delete_run_rows(run_id)
        return found > 0

    # -- reading -------------------------------------------------------------------------
    def _workflow_docs(
        self,
        workflow: str | None,
        run_ids: Sequence[str] | None,
        where: Sequence[Condition] = (),
    ) -> Iterator[dict[str, Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if workflow is not None:
            clauses.append("name = ?")
            args.append(workflow)
        if where:
            fragment, more = sql_filter(where, "doc")
            clauses.append(fragment)
            args.extend(more)
        parts: Iterator[Sequence[str] | None] = (
            _chunks(list(run_ids)) if run_ids is not None else iter([None])
        )
        for part in parts:
            sql_clauses, sql_args = list(clauses), list(args)
            if part is not None:
                sql_clauses.append(f"workflow_id IN ({','.join('?' * len(part))})")
                sql_args.extend(part)
            sql = "SELECT doc FROM workflows"
            if sql_clauses:
                sql += " WHERE " + " AND ".join(sql_clauses)
            for (doc,) in self._db.execute(sql, sql_args).fetchall():
                yield loads(doc)

    def run_index(self, workflow: str) -> list[RunEntry]:
        """From the indexed columns written with each run (``name``, ``label``, ``state``,
        ``started_at``) and ``run_labels``: no document is decoded, whatever the workflow's
        size; only a start that is not a number (a foreign writer's) is read from its
        document."""
        sql = (
            "SELECT w.workflow_id, coalesce(l.label, w.label), w.started_at, "
            "CASE WHEN typeof(w.started_at) IN ('real', 'integer', 'null') THEN NULL "
            "ELSE w.doc END "
            "FROM workflows w LEFT JOIN run_labels l ON l.run_id = w.workflow_id "
            "WHERE w.name = ? AND w.state IS NOT ?"
        )
        out = []
        for run_id, label, started, doc in self._db.execute(sql, (workflow, fc.STATE_WRITING)):
            if doc is not None:
                started = loads(doc).get("started_at")
            out.append(RunEntry(str(run_id), label, to_epoch(started)))
        out.sort(key=lambda r: run_order(r.started, r.run_id))
        return out

    def run_metadata(self, run_ids: Sequence[str], keys: Sequence[str]) -> list[dict[str, Any]]:
        """Only ``keys`` of provcausal's metadata, extracted by SQLite (one JSON array per
        run, decoded once per distinct text: runs of one workflow mostly share them, and so
        do the returned documents: do not change them)."""
        paths = ", ".join(f"'{_json_path(f'{fc.META}.{fc.PC}.{k}')}'" for k in keys)
        # ``$.name`` first: with two paths or more json_extract always gives an array
        found: dict[str, str] = {}
        for part in _chunks(list(dict.fromkeys(run_ids))):
            marks = ",".join("?" * len(part))
            sql = (
                f"SELECT workflow_id, json_extract(doc, '$.name', {paths}) FROM workflows "
                f"WHERE workflow_id IN ({marks}) AND state IS NOT ?"
            )
            found.update(self._db.execute(sql, [*part, fc.STATE_WRITING]).fetchall())
        decoded: dict[str, list[Any]] = {}
        out = []
        for run_id in dict.fromkeys(run_ids):
            text = found.get(run_id)
            if text is None:
                continue
            if text not in decoded:
                decoded[text] = loads_value(text)
            _, *values = decoded[text]
            meta = {k: v for k, v in zip(keys, values, strict=True) if v is not None}
            out.append({"workflow_id": run_id, fc.META: {fc.PC: meta}})
        return out

    def _label_overrides(self, run_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in _chunks(list(dict.fromkeys(run_ids))):
            marks = ",".join("?" * len(part))
            sql = f"SELECT run_id, label FROM run_labels WHERE run_id IN ({marks})"
            out.update(dict(self._db.execute(sql, list(part)).fetchall()))
        return out

    def set_label(self, run_ids: Sequence[str], label: str) -> int:
        ids = list(dict.fromkeys(run_ids))
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO run_labels VALUES (?, ?)", [(r, label) for r in ids]
            )
        return len(ids)

    def find_tasks(
        self, run_ids: Sequence[str], nodes: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        for run in dict.fromkeys(run_ids):
            if nodes is None:
                rows = self._db.execute(
                    "SELECT doc FROM tasks WHERE workflow_id = ? ORDER BY rowid", (run,)
                ).fetchall()
            else:
                marks = ",".join("?" * len(nodes))
                rows = self._db.execute(
                    f"SELECT doc FROM tasks WHERE workflow_id = ? AND activity_id IN ({marks})"
                    " ORDER BY rowid",
                    (run, *nodes),
                ).fetchall()
            for (doc,) in rows:
                yield loads(doc)

    def sample_rows(
        self, run_ids: Sequence[str], batch: int = SAMPLE_BATCH_RUNS
    ) -> Iterator[dict[str, Any]]:
        """Sample rows computed in SQL (``json_extract`` of only the fields the analysis
        reads), one indexed query per ``batch`` runs."""
        ids = list(dict.fromkeys(run_ids))
        for part in _chunks(ids, min(batch, _BATCH)):
            marks = ",".join("?" * len(part))
            sql = f"{_SAMPLE_SELECT} WHERE workflow_id IN ({marks}) ORDER BY workflow_id, rowid"
            for row in self._db.execute(sql, list(part)):
                yield fc.finish_sample_row(_sample_raw(row))

    def read_projection(self, run_ids: Sequence[str]) -> Iterator[RunColumns]:
        """The projection of ``run_ids`` by the primary key of ``analysis_runs``, in batches;
        nothing in a store written before it (read-only, so not migrated yet)."""
        if self._outdated:
            return
        ids = list(dict.fromkeys(run_ids))
        with self._mapped():
            for part in _chunks(ids):
                sql = projection.sqlite_select(len(part))
                found = {row[0]: row for row in self._db.execute(sql, list(part)).fetchall()}
                yield from (projection.sqlite_record(found[r]) for r in part if r in found)

    @contextlib.contextmanager
    def _mapped(self) -> Iterator[None]:
        """Memory-mapped reads for a while. A run's projection row (about 2 kB for 11 tasks)
        spans a leaf and overflow pages, each a system call through the page cache; mapped,
        20,000 rows read in 0.16 s instead of 0.28 s. Only for the projection's read: SQLite
        maps read-only, and the store's file never shrinks (nothing VACUUMs it), the case
        where a mapped read could fault."""
        self._db.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}").fetchall()
        try:
            yield
        finally:
            with contextlib.suppress(StoreError):
                self._db.execute("PRAGMA mmap_size = 0").fetchall()

    def _ids(self, sql: str, args: list[Any], runs: Sequence[str] | None) -> list[str]:
        """The first column of ``sql``, restricted to ``runs`` when given."""
        if runs is None:
            return [r[0] for r in self._db.execute(sql, args)]
        run_set = set(runs)
        sql = sql.replace("SELECT task_id", "SELECT task_id, workflow_id", 1)
        return [r[0] for r in self._db.execute(sql, args) if r[1] in run_set]

    def tasks_by_id(
        self, task_ids: Sequence[str], runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        run_set = None if runs is None else set(runs)
        for part in _chunks(list(dict.fromkeys(task_ids))):
            marks = ",".join("?" * len(part))
            sql = f"SELECT doc, workflow_id FROM tasks WHERE task_id IN ({marks})"
            out.extend(
                loads(doc)
                for doc, run in self._db.execute(sql, list(part))
                if run_set is None or run in run_set
            )
        return out

    def tasks_depending_on(
        self, task_ids: Sequence[str], runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        ids: list[str] = []
        for part in _chunks(list(dict.fromkeys(task_ids))):
            marks = ",".join("?" * len(part))
            sql = f"SELECT task_id FROM task_dependencies WHERE dependency IN ({marks})"
            ids.extend(self._ids(sql, list(part), runs))
        return self.tasks_by_id(ids)

    def tasks_by_entity(
        self, entity_ids: Sequence[str], role: str, runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        ids: list[str] = []
        for part in _chunks(list(dict.fromkeys(entity_ids))):
            marks = ",".join("?" * len(part))
            sql = f"SELECT task_id FROM task_entities WHERE role = ? AND entity_id IN ({marks})"
            ids.extend(self._ids(sql, [role, *part], runs))
        return self.tasks_by_id(ids)

    def get_prov_json(self, run_id: str) -> str | None:
        rows = self._db.execute(
            "SELECT data FROM prov_documents WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        if not rows:
            return None
        return decompress_prov(r[0] for r in rows)

    # -- leftovers -----------------------------------------------------------------------
    _ORPHANS = (
        ("tasks without a run", "tasks", "workflow_id"),
        ("dependencies without a run", "task_dependencies", "workflow_id"),
        ("entity links without a run", "task_entities", "workflow_id"),
        ("PROV chunks without a run", "prov_documents", "run_id"),
        ("labels without a run", "run_labels", "run_id"),
        ("analysis rows without a run", projection.SQLITE_TABLE, "run_id"),
    )

    def leftovers(self) -> list[dict[str, Any]]:
        """Rows whose run is gone and SQLite's own integrity check. A run is written in one
        transaction, so an interrupted import leaves nothing; this finds damage done from
        outside (a file copied mid-write, rows deleted by hand)."""
        out: list[dict[str, Any]] = []
        for kind, table, column in self._ORPHANS:
            sql = (
                f"SELECT {column}, COUNT(*) FROM {table} WHERE {column} NOT IN "
                f"(SELECT workflow_id FROM workflows) GROUP BY {column} ORDER BY {column}"
            )
            for run_id, count in self._db.execute(sql):
                out.append({"kind": kind, "id": run_id, "rows": count})
        problems = [r[0] for r in self._db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            out.append({"kind": "damaged file", "id": str(self.path), "problems": problems[:5]})
        return out

    def repair(self) -> list[dict[str, Any]]:
        found = self.leftovers()
        if any(item["kind"] == "damaged file" for item in found):
            raise self._fail("damaged (PRAGMA quick_check failed); restore it from a copy")
        with self._transaction():
            for _, table, column in self._ORPHANS:
                self._db.execute(
                    f"DELETE FROM {table} WHERE {column} NOT IN (SELECT workflow_id FROM workflows)"
                )
        return found

    def count_tasks(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])

    # -- following new runs, and provcausal watch's own state ---------------------------
    keeps_watch_state = True
    arrival_slack = 0.0  # rowids grow in commit order: writers are serialized

    def runs_after(
        self, workflow: str, after: dict[str, Any] | None, limit: int = 200
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Runs by ``rowid`` (the table's key; with the ``name`` index, a range read): a run
        (re)written later has a larger one, since writers are serialized."""
        seq = int((after or {}).get("seq", 0))
        rows = self._db.execute(
            "SELECT rowid, doc FROM workflows WHERE name = ? AND rowid > ? ORDER BY rowid LIMIT ?",
            (workflow, seq, limit),
        ).fetchall()
        docs = [({"seq": int(r)}, loads(d)) for r, d in rows]
        return [(pos, doc) for pos, doc in docs if fc.is_visible(doc)]

    def _has_table(self, name: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"
        return self._db.execute(sql, (name,)).fetchone() is not None

    def _watch_tables(self) -> None:
        self._writable()
        with self._transaction():
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS watch_state (key TEXT PRIMARY KEY, state TEXT NOT NULL)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS watch_alerts (id TEXT PRIMARY KEY, "
                "workflow TEXT NOT NULL, seq INTEGER NOT NULL, alert TEXT NOT NULL)"
            )

    def get_watch_state(self, key: str) -> dict[str, Any] | None:
        if not self._has_table("watch_state"):
            return None
        row = self._db.execute("SELECT state FROM watch_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else dict(loads(row[0]))

    def put_watch_state(self, key: str, state: dict[str, Any]) -> None:
        self._watch_tables()
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO watch_state VALUES (?, ?)", (key, dumps(state))
            )

    def add_alert(self, alert: dict[str, Any]) -> None:
        self._watch_tables()
        with self._transaction():
            row = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM watch_alerts").fetchone()
            self._db.execute(
                "INSERT OR REPLACE INTO watch_alerts VALUES (?, ?, ?, ?)",
                (str(alert["id"]), str(alert["workflow"]), int(row[0]), dumps(alert)),
            )

    def list_alerts(self, workflow: str | None = None) -> list[dict[str, Any]]:
        if not self._has_table("watch_alerts"):
            return []
        sql, args = "SELECT alert FROM watch_alerts", []
        if workflow is not None:
            sql, args = sql + " WHERE workflow = ?", [workflow]
        return [dict(loads(a)) for (a,) in self._db.execute(sql + " ORDER BY seq", args)]
