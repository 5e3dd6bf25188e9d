"""No half runs, ever visible or left behind (issue 13), on both stores: FlowCept's own reader
never sees part of a run, a re-import keeps the old run until the new one is whole, and
``doctor`` lists (``--repair`` removes) exactly what interrupted writes left."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from provcausal.examples import scipipe_gcratio
from provcausal.ingest import import_paths
from provcausal.model import flowcept as fc
from provcausal.stores import mongo as mongo_module
from provcausal.stores import open_store
from tests.helpers import run_cli
from tests.mongo_server import fresh_database_uri
from tests.test_flowcept_interop import DRIVER, flowcept_env

TASKS_PER_RUN = 11  # scipipe_gcratio runs


def doctor(store_uri: str, *flags: str) -> list[dict]:
    return run_cli("doctor", "--json", *flags, store=store_uri).ok().json()


def assert_whole(store_uri: str, runs: int) -> None:
    """Exactly ``runs`` complete runs, and not one task, chunk or lease more."""
    with open_store(store_uri) as store:
        visible = store.find_runs()
        assert len(visible) == runs
        for run in visible:
            run_id = str(run["workflow_id"])
            assert len(list(store.find_tasks([run_id]))) == TASKS_PER_RUN
            assert store.get_prov_json(run_id) is not None
        assert store.count_tasks() == TASKS_PER_RUN * runs
        assert store.leftovers() == []


class Interrupted(BaseException):
    """Stands for a SIGKILL at a chosen point of a write."""


def _interrupt(monkeypatch: pytest.MonkeyPatch, store, method: str) -> None:
    def stop(*args, **kwargs):
        raise Interrupted(method)

    monkeypatch.setattr(store, method, stop)


def test_interrupted_first_import_is_invisible_listed_and_repaired(
    tmp_path, mongo_uri, monkeypatch
):
    monkeypatch.setattr(mongo_module, "LEASE_SECONDS", -1)  # the lease of a dead process
    scipipe_gcratio.write_runs(tmp_path / "corpus", 3, seed=4)
    with open_store(mongo_uri) as store:
        _interrupt(monkeypatch, store, "_publish")  # chunks written, tasks not yet
        with pytest.raises(Interrupted):
            import_paths(store, "scipipe", [tmp_path / "corpus"], "gc")
        assert store.count_tasks() == 0 and store.find_runs() == []  # FlowCept sees nothing
    found = doctor(mongo_uri)
    assert sorted(item["kind"] for item in found) == [
        "PROV chunks without a run",
        "PROV chunks without a run",
        "PROV chunks without a run",
        "interrupted import",
    ]
    assert doctor(mongo_uri, "--repair") == found
    assert doctor(mongo_uri) == []
    with open_store(mongo_uri) as store:
        assert store._prov.count_documents({}) == 0  # type: ignore[attr-defined]
    with open_store(mongo_uri) as store:
        import_paths(store, "scipipe", [tmp_path / "corpus"], "gc")
    assert_whole(mongo_uri, 3)


def test_next_import_of_the_same_input_cleans_its_own_leftovers(tmp_path, mongo_uri, monkeypatch):
    monkeypatch.setattr(mongo_module, "LEASE_SECONDS", -1)
    scipipe_gcratio.write_runs(tmp_path / "corpus", 2, seed=4)
    for method in ("_publish", "_remove_stale_tasks", "_clean_chunks"):
        with open_store(mongo_uri) as store:
            _interrupt(monkeypatch, store, method)
            with pytest.raises(Interrupted):
                import_paths(store, "scipipe", [tmp_path / "corpus"], "gc")
    assert doctor(mongo_uri) != []
    with open_store(mongo_uri) as store:
        import_paths(store, "scipipe", [tmp_path / "corpus"], "gc")
    assert_whole(mongo_uri, 2)  # includes: no leftovers


def test_tasks_without_a_workflow_document_are_listed(tmp_path, mongo_uri, monkeypatch):
    monkeypatch.setattr(mongo_module, "LEASE_SECONDS", -1)
    scipipe_gcratio.write_run(tmp_path / "run", seed=4)
    with open_store(mongo_uri) as store:
        summary = import_paths(store, "scipipe", [tmp_path / "run"], "gc")
        store._wfs.delete_many({})  # type: ignore[attr-defined]  # killed after the tasks
    (run_id,) = summary.runs
    found = doctor(mongo_uri)
    assert {(i["kind"], i["id"]) for i in found} == {
        ("tasks without a run", run_id),
        ("PROV chunks without a run", run_id),
    }
    assert "tasks 11" in [i["detail"] for i in found if i["kind"].startswith("tasks")][0]
    doctor(mongo_uri, "--repair")
    assert_whole(mongo_uri, 0)


def test_legacy_half_written_run_is_listed_and_repaired(mongo_uri):
    with open_store(mongo_uri) as store:
        store._wfs.insert_one(  # type: ignore[attr-defined]
            {"_id": "r1", "workflow_id": "r1", fc.META: {fc.PC: {"state": fc.STATE_WRITING}}}
        )
        store._tasks.insert_many(  # type: ignore[attr-defined]
            [{"_id": f"t{i}", "task_id": f"t{i}", "workflow_id": "r1"} for i in range(4)]
        )
    (item,) = doctor(mongo_uri)
    assert item == {"kind": "half-written run", "id": "r1", "detail": "tasks 4"}
    doctor(mongo_uri, "--repair")
    assert_whole(mongo_uri, 0)


def test_flowcept_own_tasks_are_never_leftovers(mongo_uri):
    with open_store(mongo_uri) as store:  # FlowCept may write tasks before their workflow
        store._tasks.insert_one(  # type: ignore[attr-defined]
            {"_id": "f1", "task_id": "f1", "workflow_id": "w", "adapter_id": "dask"}
        )
    assert doctor(mongo_uri, "--repair") == []
    with open_store(mongo_uri) as store:
        assert store.count_tasks() == 1


def test_reimport_keeps_the_old_run_visible_until_the_new_one_is_whole(
    tmp_path, store_uri, monkeypatch
):
    scipipe_gcratio.write_run(tmp_path / "run", seed=4)
    with open_store(store_uri) as store:
        (run_id,) = import_paths(store, "scipipe", [tmp_path / "run"], "gc").runs
        old_prov = store.get_prov_json(run_id)
    checks = []

    def look() -> None:
        with open_store(store_uri) as reader:  # a second connection, as another process
            assert [r["workflow_id"] for r in reader.find_runs()] == [run_id]
            assert len(list(reader.find_tasks([run_id]))) == TASKS_PER_RUN
            assert reader.get_prov_json(run_id) == old_prov
        checks.append(True)

    with open_store(store_uri) as store:
        if hasattr(store, "_publish"):  # MongoDB: look between every step of the write
            for method in ("_publish", "_remove_stale_tasks", "_clean_chunks"):
                real = getattr(store, method)

                def spy(*args, _real=real, **kwargs):
                    look()
                    return _real(*args, **kwargs)

                monkeypatch.setattr(store, method, spy)
        import_paths(store, "scipipe", [tmp_path / "run"], "gc")
        look()
    assert len(checks) in (1, 4)
    assert_whole(store_uri, 1)


# -- processes: kills, and a soak of 8 writers and 2 readers ----------------------------
def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "provcausal.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _writing(store_uri: str, before: int) -> bool:
    """Whether an import is visibly under way: tasks changed or leftovers on MongoDB; on
    SQLite, where an import is one transaction, its write-ahead log growing."""
    if store_uri.startswith("sqlite"):
        wal = Path(store_uri[len("sqlite://") :] + "-wal")
        return wal.exists() and wal.stat().st_size > 1 << 20
    with open_store(store_uri) as store:
        return store.count_tasks() != before or bool(store.leftovers())


def _start_writing(store_uri: str, args: tuple[str, ...]) -> subprocess.Popen[str]:
    """An import of ``args`` into ``store_uri``, returned once it is seen writing (or ended)."""
    with open_store(store_uri) as store:
        before = store.count_tasks()
    proc = _cli("--store", store_uri, *args)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not _writing(store_uri, before):
        time.sleep(0.02)
    return proc


def _writing_seconds(store_uri: str, args: tuple[str, ...]) -> float:
    """How long a whole import of ``args`` into the fresh store ``store_uri`` writes: the
    window in which a kill lands mid-write (it shrinks as imports get faster)."""
    proc = _start_writing(store_uri, args)
    started = time.monotonic()
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return time.monotonic() - started


def _kill_mid_import(store_uri: str, args: tuple[str, ...], delay: float) -> bool:
    """Start an import, SIGKILL it ``delay`` seconds after it is seen writing; whether it
    was still running when killed."""
    proc = _start_writing(store_uri, args)
    time.sleep(delay)
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return running


@pytest.mark.slow
def test_repeated_kills_then_doctor_counts_exact(tmp_path, store_uri):
    runs = 450  # three batches of 200 runs: kills land between and inside batches
    scipipe_gcratio.write_runs(tmp_path / "corpus", runs, seed=9)
    args = ("-q", "import", "scipipe", str(tmp_path / "corpus"), "-w", "gc")
    scratch = (
        f"sqlite://{tmp_path / 'scratch.db'}"
        if store_uri.startswith("sqlite")
        else fresh_database_uri(store_uri)
    )
    window = _writing_seconds(scratch, args)
    rng = random.Random(13)
    outcomes: list[tuple[int, int]] = []
    killed_running = 0
    for _ in range(4):
        killed_running += _kill_mid_import(store_uri, args, rng.uniform(0.0, 0.8) * window)
        with open_store(store_uri) as store:
            visible = store.find_runs()
            for run in visible:  # what readers see is whole, kill or not
                assert len(list(store.find_tasks([str(run["workflow_id"])]))) == TASKS_PER_RUN
        found = doctor(store_uri, "--repair")
        assert_whole(store_uri, len(visible))
        outcomes.append((len(visible), len(found)))
    print("visible runs and leftovers after each kill:", outcomes, "mid-way:", killed_running)
    assert killed_running >= 2  # the kills landed while the import was writing
    proc = _cli("--store", store_uri, *args)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert_whole(store_uri, runs)
    assert doctor(store_uri) == []


_RUNS_READER = """
import json, sys, time
from click.testing import CliRunner
from provcausal.cli import cli
from provcausal.stores import open_store

uri, seconds = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    result = CliRunner().invoke(cli, ["--store", uri, "runs", "--json"])
    assert result.exit_code == 0, result.output
    listed = {r["run_id"]: r["tasks"] for r in json.loads(result.output)}
    with open_store(uri) as store:
        found = {r: len(list(store.find_tasks([r]))) for r in listed}
    print(json.dumps({"listed": listed, "found": found}), flush=True)
"""


def _flowcept_watcher(mongo_uri: str, tmp_path: Path, seconds: float) -> subprocess.Popen[str]:
    env = flowcept_env(mongo_uri, tmp_path)
    return subprocess.Popen(
        [sys.executable, str(DRIVER), "watch", str(seconds)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check_observations(observations: list[dict[str, int]]) -> int:
    """No run with fewer tasks than it has, no run that disappears (and comes back)."""
    seen: set[str] = set()
    for counts in observations:
        for run_id, tasks in counts.items():
            assert tasks == TASKS_PER_RUN, (run_id, tasks)
        missing = seen - set(counts)
        assert not missing, f"runs disappeared: {sorted(missing)[:3]}"
        seen |= set(counts)
    return len(seen)


@pytest.mark.slow
def test_soak_eight_writers_two_readers(tmp_path, store_uri):
    folders = []
    for i in range(4):
        scipipe_gcratio.write_runs(tmp_path / f"part{i}", 8, seed=20 + i)
        folders.append(tmp_path / f"part{i}")
    seconds = 45.0
    with open_store(store_uri):  # the store exists (empty) before readers look at it
        pass
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", _RUNS_READER, store_uri, str(seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    ]
    if store_uri.startswith("mongodb"):
        readers.append(_flowcept_watcher(store_uri, tmp_path, seconds))
    deadline = time.monotonic() + seconds - 5
    imports = 0
    writers: list[subprocess.Popen[str] | None] = [None] * 8
    while time.monotonic() < deadline:  # each writer imports its folder again and again
        for i, proc in enumerate(writers):
            if proc is not None and proc.poll() is None:
                continue
            if proc is not None:
                assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
                imports += 1
            folder = folders[i % 4] if i < 4 else folders[(i + 1) % 4]
            writers[i] = _cli(
                "--store", store_uri, "-q", "import", "scipipe", str(folder), "-w", "gc"
            )
        time.sleep(0.1)
    for proc in writers:
        assert proc is not None
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        imports += 1
    outputs = [reader.communicate(timeout=300) for reader in readers]
    for reader, (_, err) in zip(readers, outputs, strict=True):
        assert reader.returncode == 0, err[-3000:]
    lines = [json.loads(line) for line in outputs[0][0].splitlines()]
    assert len(lines) >= 5
    listed = [line["listed"] for line in lines]
    assert _check_observations(listed) > 0
    assert _check_observations([line["found"] for line in lines]) > 0
    if len(outputs) > 1:
        watched = [Counter(json.loads(line)) for line in outputs[1][0].splitlines()]
        assert len(watched) >= 5
        assert _check_observations([dict(w) for w in watched]) > 0
    assert imports >= 8
    assert_whole(store_uri, 32)
