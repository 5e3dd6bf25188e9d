"""The read half of the store contract on FlowCept's LMDB, and living next to a writer."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from provcausal.errors import StoreError
from provcausal.model import flowcept as fc
from provcausal.stores import open_store
from tests.helpers import T0, chain_run, run_cli
from tests.lmdb_layout import write_flowcept_lmdb, write_runs

pytest.importorskip("lmdb")


def test_given_empty_environment_when_listing_then_nothing(tmp_path: Path) -> None:
    write_flowcept_lmdb(tmp_path / "db", [], [])
    with open_store(f"lmdb://{tmp_path / 'db'}") as store:
        assert store.find_runs() == []
        assert store.get_run("nope") is None
        assert store.get_prov_json("nope") is None
        assert store.count_tasks() == 0


def test_given_run_when_written_then_every_read_path_returns_it(tmp_path: Path) -> None:
    run = chain_run("/data/run1")
    write_runs(tmp_path / "db", [run])
    with open_store(f"lmdb://{tmp_path / 'db'}") as store:
        (wf,) = store.find_runs(workflow="wf")
        assert wf["workflow_id"] == run.run_id
        assert fc.run_label(wf) == "normal"
        tasks = {t["activity_id"]: t for t in store.find_tasks([run.run_id])}
        assert set(tasks) == {"a", "b", "c"}
        assert tasks["b"]["dependencies"] == [tasks["a"]["task_id"]]
        assert tasks["a"]["started_at"] == pytest.approx(T0.timestamp())  # FlowCept: epoch s
        only_b = list(store.find_tasks([run.run_id], nodes=["b"]))
        assert [t["activity_id"] for t in only_b] == ["b"]
        c_id = tasks["c"]["task_id"]
        assert [t["task_id"] for t in store.tasks_by_id([c_id, "absent"])] == [c_id]
        downstream = store.tasks_depending_on([tasks["a"]["task_id"]])
        assert [t["activity_id"] for t in downstream] == ["b"]
        a_out = fc.generated_ids(tasks["a"])[0]
        assert [t["activity_id"] for t in store.tasks_by_entity([a_out], "used")] == ["b"]
        assert store.count_tasks() == 3
        with pytest.raises(StoreError, match="read-only"):
            store.put_run(run)
        with pytest.raises(StoreError, match="read-only"):
            store.delete_run(run.run_id)


def test_run_filters_by_label_time_ids_and_writing_state(tmp_path: Path) -> None:
    early = chain_run("/r1", label="normal", start=T0)
    late = chain_run("/r2", label="broken", start=T0 + dt.timedelta(days=1))
    other = chain_run("/r3", workflow="other", label="normal")
    hidden = chain_run("/r4")
    fc.set_run_state(hidden.workflow, fc.STATE_WRITING)
    write_runs(tmp_path / "db", [early, late, other, hidden])
    with open_store(f"lmdb://{tmp_path / 'db'}") as store:
        assert [r["workflow_id"] for r in store.find_runs(workflow="wf")] == [
            early.run_id,
            late.run_id,
        ]
        assert [r["workflow_id"] for r in store.find_runs(labels=["broken"])] == [late.run_id]
        since = T0 + dt.timedelta(hours=1)
        assert [r["workflow_id"] for r in store.find_runs(workflow="wf", since=since)] == [
            late.run_id
        ]
        assert [r["workflow_id"] for r in store.find_runs(run_ids=[other.run_id])] == [other.run_id]
        assert store.get_run(hidden.run_id) is None


def test_cli_reads_lmdb_uri_and_rejects_writes(tmp_path: Path) -> None:
    run = chain_run("/data/run1")
    write_runs(tmp_path / "db", [run])
    uri = f"lmdb://{tmp_path / 'db'}"
    tasks = run_cli("tasks", "--run", run.run_id, "--json", store=uri).ok().json()
    assert sorted(t["node"] for t in tasks) == ["a", "b", "c"]
    run_cli("runs", "delete", run.run_id, store=uri).error(1, "read-only")


_WRITER = textwrap.dedent(
    """
    import json, sys, lmdb
    env = lmdb.open(sys.argv[1], map_size=10**12, max_dbs=5)  # as FlowCept's LMDBDAO
    db = env.open_db(b"tasks")
    txn = env.begin(write=True, db=db)
    txn.put(b"t-new", json.dumps({"task_id": "t-new", "workflow_id": "w"}).encode())
    print("writing", flush=True)
    sys.stdin.readline()
    txn.commit()
    with env.begin(write=True, db=db) as again:  # a second write while a reader is open
        again.put(b"t-newer", json.dumps({"task_id": "t-newer", "workflow_id": "w"}).encode())
    print("committed", flush=True)
    """
)


def test_reader_and_running_writer_never_block_each_other(tmp_path: Path) -> None:
    path = tmp_path / "db"
    write_flowcept_lmdb(path, [{"workflow_id": "w", "name": "x"}], [])
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline().strip() == "writing"
        with open_store(f"lmdb://{path}") as store:  # a write transaction is open
            assert store.count_tasks() == 0
            writer.stdin.write("go\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "committed"
            assert sorted(t["task_id"] for t in store.tasks_by_id(["t-new", "t-newer"])) == [
                "t-new",
                "t-newer",
            ]
        assert writer.wait(timeout=20) == 0
    finally:
        if writer.poll() is None:
            writer.kill()


def test_flowcept_store_reads_lmdb_when_lmdb_is_the_enabled_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = chain_run("/data/run1")
    write_runs(tmp_path / "fc_lmdb", [run])
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "databases:\n  mongodb:\n    enabled: false\n    host: unreachable.invalid\n"
        "  lmdb:\n    enabled: true\n    path: ${oc.env:FC_LMDB_DIR}/fc_lmdb\n"
    )
    for var in ("MONGO_ENABLED", "LMDB_ENABLED", "LMDB_PATH", "FLOWCEPT_USE_DEFAULT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FLOWCEPT_SETTINGS_PATH", str(settings))
    monkeypatch.setenv("FC_LMDB_DIR", str(tmp_path))
    runs = run_cli("runs", "--json", store="flowcept").ok().json()
    assert [r["run_id"] for r in runs] == [run.run_id]


def test_lmdb_uri_that_is_not_lmdb_is_a_one_line_error(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    line = run_cli("runs", store=f"lmdb://{folder}").error(2)
    assert line == f"Error: {folder}: not an LMDB environment (no data.mdb)"
    assert list(folder.iterdir()) == []
