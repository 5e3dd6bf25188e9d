"""The embedded default store: one SQLite file (standard library), WAL mode, no set-up.

Documents are kept as JSON text in the FlowCept shape (so that both stores return the same
documents); the fields that queries select on are copied into indexed columns, and the two
many-to-many relations lineage walks (``dependencies``, entity use/generation) get their own
indexed tables. Writing a run is one transaction: readers see all of it or none.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from provcausal.errors import StoreError, StoreUnreachableError
from provcausal.model import flowcept as fc
from provcausal.model.flowcept import RunRecords
from provcausal.stores.base import Store, compress_prov, decompress_prov
from provcausal.stores.codec import dumps, loads
from provcausal.stores.where import Condition, sql_filter

__all__ = ["SQLiteStore"]

SCHEMA_VERSION = 1

_SCHEMA = """
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

_BATCH = 500


def _chunks(items: Sequence[str], size: int = _BATCH) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class SQLiteStore(Store):
    """The embedded store in the file at ``path`` (created with its folder on first use,
    unless ``create`` is false: then a missing file is a :class:`StoreUnreachableError`)."""

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
        self._in_transaction = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), timeout=self.busy_timeout, isolation_level=None
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = OFF")
            self._create_schema()
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnreachableError(
                f"cannot open the embedded store {self.path} ({self.uri}): {exc}"
            ) from None

    def _schema_present(self) -> bool:
        """Whether every table and index exists already: then opening needs no write lock,
        so readers open the store while an import holds it."""
        wanted = set(re.findall(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)", _SCHEMA))
        have = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if not wanted <= have:
            return False
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer provcausal (schema {row[0]})")
        return row is not None

    def _create_schema(self) -> None:
        if self._schema_present():
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was written by a newer provcausal (schema {row[0]})")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()

    # -- writing -------------------------------------------------------------------------
    def _delete_run_rows(self, run_id: str) -> int:
        cur = self._db.execute("DELETE FROM workflows WHERE workflow_id = ?", (run_id,))
        found = cur.rowcount
        for table in ("tasks", "task_dependencies", "task_entities"):
            self._db.execute(f"DELETE FROM {table} WHERE workflow_id = ?", (run_id,))
        self._db.execute("DELETE FROM prov_documents WHERE run_id = ?", (run_id,))
        self._db.execute("DELETE FROM run_labels WHERE run_id = ?", (run_id,))
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

    @contextmanager
    def transaction(self) -> Iterator[bool]:
        """One SQLite transaction around every write inside: committed at the end, rolled
        back on any exception (Ctrl-C included). Other writers wait; readers see the old
        state until the commit."""
        if self._in_transaction:
            yield True
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # another import held the lock past the timeout
            raise StoreUnreachableError(
                f"the embedded store {self.path} is busy ({exc}): another import is writing "
                "to it; run this one when it has finished"
            ) from None
        self._in_transaction = True
        try:
            yield True
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._in_transaction = False

    def _begin(self) -> None:
        self._db.execute("SAVEPOINT put_runs" if self._in_transaction else "BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._db.execute("RELEASE put_runs" if self._in_transaction else "COMMIT")

    def _rollback(self) -> None:
        if self._in_transaction:
            self._db.execute("ROLLBACK TO put_runs")
            self._db.execute("RELEASE put_runs")
        else:
            self._db.execute("ROLLBACK")

    def put_runs(self, runs: Sequence[RunRecords]) -> None:
        """Write runs in one transaction: readers see each of them whole or not at all."""
        runs = list({run.run_id: run for run in runs}.values())  # the last write of a run wins
        tables: tuple[list[tuple[Any, ...]], ...] = ([], [], [], [], [])
        for run in runs:
            for rows, new in zip(tables, self._rows(run), strict=True):
                rows.extend(new)
        ids = list(dict.fromkeys(run.run_id for run in runs))
        tasks, deps, entities, chunks, workflows = tables
        self._begin()
        try:
            for part in _chunks(ids):
                marks = ",".join("?" * len(part))
                self._db.execute(f"DELETE FROM workflows WHERE workflow_id IN ({marks})", part)
                for table in ("tasks", "task_dependencies", "task_entities"):
                    self._db.execute(f"DELETE FROM {table} WHERE workflow_id IN ({marks})", part)
                self._db.execute(f"DELETE FROM prov_documents WHERE run_id IN ({marks})", part)
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
            self._commit()
        except sqlite3.IntegrityError as exc:
            self._rollback()
            raise StoreError(f"a task id is already used by another run ({exc})") from None
        except BaseException:
            self._rollback()
            raise

    def delete_run(self, run_id: str) -> bool:
        self._begin()
        try:
            found = self._delete_run_rows(run_id)
            self._commit()
        except BaseException:
            self._rollback()
            raise
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

    def _label_overrides(self, run_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in _chunks(list(dict.fromkeys(run_ids))):
            marks = ",".join("?" * len(part))
            sql = f"SELECT run_id, label FROM run_labels WHERE run_id IN ({marks})"
            out.update(dict(self._db.execute(sql, list(part)).fetchall()))
        return out

    def set_label(self, run_ids: Sequence[str], label: str) -> int:
        ids = list(dict.fromkeys(run_ids))
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO run_labels VALUES (?, ?)", [(r, label) for r in ids]
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
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

    def tasks_by_id(self, task_ids: Sequence[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for part in _chunks(list(dict.fromkeys(task_ids))):
            marks = ",".join("?" * len(part))
            out.extend(
                loads(doc)
                for (doc,) in self._db.execute(
                    f"SELECT doc FROM tasks WHERE task_id IN ({marks})", list(part)
                )
            )
        return out

    def tasks_depending_on(self, task_ids: Sequence[str]) -> list[dict[str, Any]]:
        ids: list[str] = []
        for part in _chunks(list(dict.fromkeys(task_ids))):
            marks = ",".join("?" * len(part))
            ids.extend(
                r[0]
                for r in self._db.execute(
                    f"SELECT task_id FROM task_dependencies WHERE dependency IN ({marks})",
                    list(part),
                )
            )
        return self.tasks_by_id(ids)

    def tasks_by_entity(self, entity_ids: Sequence[str], role: str) -> list[dict[str, Any]]:
        ids: list[str] = []
        for part in _chunks(list(dict.fromkeys(entity_ids))):
            marks = ",".join("?" * len(part))
            ids.extend(
                r[0]
                for r in self._db.execute(
                    f"SELECT task_id FROM task_entities WHERE role = ? AND entity_id IN ({marks})",
                    [role, *part],
                )
            )
        return self.tasks_by_id(ids)

    def get_prov_json(self, run_id: str) -> str | None:
        rows = self._db.execute(
            "SELECT data FROM prov_documents WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        if not rows:
            return None
        return decompress_prov(r[0] for r in rows)

    def count_tasks(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
