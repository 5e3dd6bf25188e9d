"""Store faults (issue 13): corrupted, foreign, read-only and full SQLite stores give one-line
errors naming the file (exit 3, as every store that cannot be opened); readers never take
the write lock and never change a file.

These faults are about the embedded store's file; the MongoDB store has no file and no
schema version (its server reports its own faults, see test_hardening_mongo.py)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from provcausal.errors import ProvcausalError, StoreFileError, StoreUnreachableError
from provcausal.stores import open_store
from provcausal.stores.sqlite import SQLiteStore
from tests.helpers import chain_run, run_cli


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    with open_store(f"sqlite://{path}") as store:
        store.put_run(chain_run("/r1"))
    return path


def test_corrupted_store_is_a_clean_error(tmp_path, filled):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(8192))
    line = run_cli("runs", store=f"sqlite://{garbage}").error(3)
    assert (
        line == f"Error: {garbage}: not a SQLite database (the file is corrupted or something else)"
    )
    data = bytearray(filled.read_bytes())
    data[100:4096] = os.urandom(3996)  # a good header, then a corrupted schema page
    filled.write_bytes(bytes(data))
    for args in (["runs"], ["workflows", "--json"], ["runs", "delete", "x"]):
        line = run_cli(*args, store=f"sqlite://{filled}").error(3)
        assert line.startswith(f"Error: {filled}: cannot "), line


def test_corrupted_page_found_while_reading(tmp_path):
    path = tmp_path / "store.db"
    with open_store(f"sqlite://{path}") as store:
        store.put_runs([chain_run(f"/r{i}", nodes=tuple("abcdefgh")) for i in range(300)])
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name='tasks'").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
    data = bytearray(path.read_bytes())
    size = len(data) // pages
    for page in range(root + 1, pages):  # the schema stays readable, table pages do not
        data[page * size + 8 : page * size + 64] = b"\xff" * 56
    path.write_bytes(bytes(data))
    line = run_cli("tasks", "-w", "wf", "--node", "a", store=f"sqlite://{path}").error(3)
    assert line.startswith(f"Error: {path}: cannot read the embedded store: "), line


@pytest.mark.parametrize("version", ["abc", "0", None])
def test_unknown_or_missing_schema_version(filled, version):
    with sqlite3.connect(filled) as db:
        if version is None:
            db.execute("DELETE FROM meta")
        else:
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (version,))
    for args in (["runs"], ["runs", "delete", "x"]):
        line = run_cli(*args, store=f"sqlite://{filled}").error(3)
        assert line == f"Error: {filled}: unknown store schema version {version!r} (expected 1)"


def test_newer_schema_is_refused(filled):
    with sqlite3.connect(filled) as db:
        db.execute("UPDATE meta SET value = '7' WHERE key = 'schema'")
    line = run_cli("runs", store=f"sqlite://{filled}").error(3)
    assert line == f"Error: {filled}: written by a newer provcausal (schema 7)"


def test_foreign_sqlite_file_is_never_changed(tmp_path):
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE notes (x TEXT)")
        db.execute("INSERT INTO notes VALUES ('keep me')")
    before = digest(foreign)
    run = tmp_path / "run"
    from provcausal.examples import scipipe_gcratio

    scipipe_gcratio.write_run(run, seed=1)
    for args in (["runs"], ["workflows"], ["import", "scipipe", str(run), "-w", "g"]):
        line = run_cli(*args, store=f"sqlite://{foreign}").error(3)
        assert (
            line
            == f"Error: {foreign}: a SQLite database, but not a provcausal store (left unchanged)"
        )
    assert digest(foreign) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db", "run"]  # no -wal, -shm
    with sqlite3.connect(foreign) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["notes"]


def test_reader_does_not_wait_behind_a_writer(filled):
    writer = sqlite3.connect(filled, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # what a long import holds
    writer.execute("DELETE FROM workflows")
    try:
        start = time.monotonic()
        result = run_cli("runs", "--json", store=f"sqlite://{filled}").ok()
        assert time.monotonic() - start < 5
        assert '"run_id"' in result.out  # the committed run, not the pending delete
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_disk_full_during_import_reports_the_real_cause(tmp_path):
    path = tmp_path / "store.db"
    with open_store(f"sqlite://{path}") as store:
        store.put_run(chain_run("/r1"))
        raw = store._db.raw  # type: ignore[attr-defined]
        pages = raw.execute("PRAGMA page_count").fetchone()[0]
        raw.execute(f"PRAGMA max_page_count = {pages + 2}")  # what a full disk does
        big = [chain_run(f"/big{i}", task_attrs={"blob": "x" * 50_000}) for i in range(20)]
        with pytest.raises(StoreFileError) as caught:
            store.put_runs(big)
        assert str(caught.value) == (
            f"{path}: cannot write to the embedded store: database or disk is full"
        )
        assert [r["workflow_id"] for r in store.find_runs()] == [chain_run("/r1").run_id]
        raw.execute("PRAGMA max_page_count = 1073741823")
        store.put_runs(big)  # the store still works once there is room
        assert len(store.find_runs()) == 21


# -- read-only files and folders, as an unprivileged user --------------------------------
NEEDS_SETPRIV = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(),
    reason="needs root and setpriv to run as user nobody (root ignores file modes)",
)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder user nobody can reach (pytest's tmp_path is private to root)."""
    root = Path(tempfile.mkdtemp(prefix="pc-ro-"))
    os.chmod(root, 0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def as_nobody(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m"]
        + ["provcausal.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(home)},
    )


def _store_in(folder: Path) -> Path:
    folder.mkdir(mode=0o755)
    path = folder / "store.db"
    with open_store(f"sqlite://{path}") as store:
        store.put_run(chain_run("/r1"))
    os.chmod(path, 0o644)
    return path


@NEEDS_SETPRIV
@pytest.mark.parametrize("where", ["read-only file", "read-only folder"])
def test_read_only_store_can_be_queried_not_written(shared_dir, where):
    folder = shared_dir / "store"
    path = _store_in(folder)
    if where == "read-only file":
        os.chmod(folder, 0o777)  # nobody may create -wal/-shm, but not write the file
    before = digest(path)
    uri = f"sqlite://{path}"
    proc = as_nobody(shared_dir, "--store", uri, "runs", "--json")
    assert proc.returncode == 0, proc.stderr
    assert chain_run("/r1").run_id in proc.stdout
    proc = as_nobody(shared_dir, "--store", uri, "runs", "delete", chain_run("/r1").run_id)
    assert proc.returncode == 3, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line == f"Error: {path}: the store is read-only (file or folder): cannot write"
    assert digest(path) == before


def test_reader_of_a_store_being_created_sees_it_empty_then_written(tmp_path):
    path = tmp_path / "later.db"
    with pytest.raises(StoreUnreachableError):  # reading never creates a store
        open_store(f"sqlite://{path}", create=False)
    assert not path.exists()
    with sqlite3.connect(path) as db:  # a writer has created the file, not yet the tables
        db.execute("PRAGMA journal_mode = WAL")
    with open_store(f"sqlite://{path}", create=False) as reader:
        assert reader.find_runs() == [] and reader.count_tasks() == 0
        with open_store(f"sqlite://{path}") as writer:
            writer.put_run(chain_run("/r1"))
        assert [r["workflow_id"] for r in reader.find_runs()] == [chain_run("/r1").run_id]
        assert reader.count_tasks() == 3


def test_telling_sqlite_from_other_files_keeps_the_process_s_locks(tmp_path, monkeypatch):
    """Opening a store checks that the file is a SQLite database. Read with ``open()``, the
    close of that descriptor dropped every POSIX lock the process held on the file, those of
    its own SQLite connections included: here another process could then write a database
    this one holds exclusively. The check goes through SQLite, which keeps its descriptors
    open while its connections hold locks."""
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")  # a rollback-journal database: locks on the file
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO t VALUES (1)")
    monkeypatch.setattr(SQLiteStore, "busy_timeout", 0.1)
    with pytest.raises(ProvcausalError):  # locked (or not a store): either way, refused
        SQLiteStore(path, create=False)
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], timeout=0); "
            "db.execute('BEGIN IMMEDIATE'); print('got the lock')",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert other.returncode != 0 and "locked" in other.stderr, other.stdout + other.stderr
    holder.execute("ROLLBACK")
    holder.close()
