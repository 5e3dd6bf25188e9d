"""Opening the embedded store for writing while another process holds its write lock.

SQLite answers some lock requests with "database is locked" at once, without waiting out the
busy timeout, where waiting could deadlock: switching a new (rollback-journal) file to WAL
while another connection writes is one. Four imports starting at once on a new store met it
in CI (``test_four_processes_import_overlapping_inputs``); the store must wait as it does for
any other lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from provcausal.stores.sqlite import SQLiteStore


def test_a_store_opened_for_writing_waits_for_a_writer_switching_it_to_wal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # a new, empty file in SQLite's default rollback mode
    released = threading.Event()

    def release() -> None:
        time.sleep(0.5)
        holder.execute("COMMIT")
        released.set()

    thread = threading.Thread(target=release)
    thread.start()
    try:
        store = SQLiteStore(path)
        try:
            with store.transaction():  # opens the store for writing: schema, WAL
                assert released.is_set()  # it waited for the writer instead of failing
            assert store.count_tasks() == 0
        finally:
            store.close()
    finally:
        thread.join()
        holder.close()
