"""FlowCept's real write path, then analysis with no import.

A FlowCept user's pipeline (``tests/flowcept_pipeline.py``: six plain ``@flowcept_task``
functions, a fault injectable in ``featurize``) runs in a subprocess with FlowCept's Redis MQ
(``redis-server`` started here) and FlowCept's DocumentInserter writing into LMDB, or into the
MongoDB wire-protocol test server. provcausal then reads FlowCept's database directly.

nx-27017 rejects update pipelines (``UpdateOne(q, [{"$set": doc}], upsert=True)``, FlowCept's
task upsert) with code 8; the pipeline script turns that one form into ``{"$set": doc}`` in
the test harness only (see ``install_update_pipeline_shim``). With a real mongod
(``PROVCAUSAL_TEST_MONGO_URI``) the shim stays off.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from provcausal.model import flowcept as fc
from tests.flowcept_pipeline import ENV_PIPELINE_SHIM, GRAPH
from tests.helpers import run_cli
from tests.mongo_server import ENV_URI
from tests.redis_server import RedisServer

SCRIPT = Path(__file__).with_name("flowcept_pipeline.py")
pytest.importorskip("lmdb")


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


def _settings(tmp_path: Path, redis_port: int, database: str, mongo_uri: str | None) -> Path:
    if database == "mongodb":
        assert mongo_uri is not None
        host, port = mongo_uri.split("//", 1)[1].split("/", 1)[0].split(":")
        db = mongo_uri.rsplit("/", 1)[1]
        databases = (
            f"  mongodb:\n    enabled: true\n    host: {host}\n    port: {port}\n    db: {db}\n"
            "  lmdb:\n    enabled: false\n"
        )
    else:
        databases = (
            "  mongodb:\n    enabled: false\n"
            f"  lmdb:\n    enabled: true\n    path: {tmp_path / 'flowcept_lmdb'}\n"
        )
    path = tmp_path / "settings.yaml"
    path.write_text(
        f"log:\n  log_path: {tmp_path / 'flowcept.log'}\n  log_file_level: error\n"
        "  log_stream_level: error\n"
        "project:\n  db_flush_mode: online\n  dump_buffer:\n    enabled: false\n"
        f"mq:\n  enabled: true\n  type: redis\n  host: 127.0.0.1\n  port: {redis_port}\n"
        "  buffer_size: 50\n  insertion_buffer_time_secs: 0.1\n"
        "kv_db:\n  enabled: false\n"
        "db_buffer:\n  insertion_buffer_time_secs: 0.1\n  buffer_size: 200\n"
        f"databases:\n{databases}"
    )
    return path


def _flowcept_env(settings: Path) -> dict[str, str]:
    skip = ("MONGO_", "LMDB_", "MQ_", "KVDB_", "FLOWCEPT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env["FLOWCEPT_SETTINGS_PATH"] = str(settings)
    return env


def capture(
    tmp_path: Path, redis_port: int, database: str, spec: dict, mongo_uri: str | None = None
) -> tuple[dict, dict[str, str]]:
    """Run the pipeline under FlowCept; returns its report and the environment that makes
    ``--store flowcept`` read the same database."""
    settings = _settings(tmp_path, redis_port, database, mongo_uri)
    env = _flowcept_env(settings)
    if database == "mongodb" and not os.environ.get(ENV_URI):
        env[ENV_PIPELINE_SHIM] = "1"
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(spec_path)],
        env={**env, "PYTHONPATH": str(SCRIPT.parents[1])},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["tasks"] == report["expected"], report
    return report, env


def _spec(mode: str, n: int) -> dict:
    return {
        "name": "fcpipe",
        "mode": mode,
        "batches": [
            {"campaign": "c-normal", "faulty": False, "n": n, "seed": 1, "workflow_id": "wf-n"},
            {"campaign": "c-faulty", "faulty": True, "n": n, "seed": 2, "workflow_id": "wf-f"},
        ],
    }


def _cli(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *args: str):
    for key in [k for k in os.environ if k.startswith(("MONGO_", "LMDB_", "FLOWCEPT_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("FLOWCEPT_SETTINGS_PATH", env["FLOWCEPT_SETTINGS_PATH"])
    result = run_cli(*args, store="flowcept").ok()
    return result.json() if "--json" in args else result.out


@pytest.mark.parametrize("database", ["lmdb", "mongodb"])
def test_captured_runs_are_read_with_no_import(
    database, tmp_path, redis_port, request, monkeypatch
) -> None:
    mongo_uri = request.getfixturevalue("mongo_uri") if database == "mongodb" else None
    _, env = capture(tmp_path, redis_port, database, _spec("workflows", 3), mongo_uri)
    (wf,) = _cli(env, monkeypatch, "workflows", "--json")
    assert (wf["workflow"], wf["runs"], wf["tasks"], wf["samples"]) == ("fcpipe", 6, 36, 6)
    faulty = _cli(env, monkeypatch, "runs", "--where", "campaign_id=c-faulty", "--json")
    assert sorted(r["run_id"] for r in faulty) == [f"c-faulty-000{i}" for i in range(3)]
    assert {(r["tasks"], r["samples"]) for r in faulty} == {(6, 1)}
    also = _cli(env, monkeypatch, "runs", "--where", "used.mode=faulty&name=fcpipe", "--json")
    assert [r["run_id"] for r in also] == [r["run_id"] for r in faulty]
    mine = _cli(env, monkeypatch, "runs", "--where", f"user={getpass.getuser()}", "--json")
    assert len(mine) == 6
    tasks = _cli(env, monkeypatch, "tasks", "--run", "c-normal-0001", "--json")
    assert sorted(t["node"] for t in tasks) == sorted({a for a, b in GRAPH} | {"evaluate"})
    (last,) = [t["task_id"] for t in tasks if t["node"] == "evaluate"]
    up = _cli(env, monkeypatch, "lineage", last, "--json")  # plain decorators: by value
    assert {n["label"] for n in up["nodes"] if n["kind"] == "task"} == {a for a, _ in GRAPH} | {
        "evaluate"
    }
    label = ["label", "-w", "fcpipe", "--where", "campaign_id=c-faulty", "--set", "broken"]
    if database == "lmdb":  # FlowCept's LMDB is never written
        run_cli(*label, store="flowcept").error(1, "read-only")
        return
    _cli(env, monkeypatch, *label)
    broken = _cli(env, monkeypatch, "runs", "--label", "broken", "--json")
    assert sorted(r["run_id"] for r in broken) == [r["run_id"] for r in faulty]
    import pymongo

    with pymongo.MongoClient(mongo_uri) as client:  # FlowCept's documents are unchanged
        raw = client[mongo_uri.rsplit("/", 1)[1]]["workflows"].find_one(
            {"workflow_id": "c-faulty-0000"}
        )
    assert fc.PC not in (raw.get(fc.META) or {})


def test_loop_iterations_are_counted_and_listed_as_samples(tmp_path, redis_port, monkeypatch):
    _, env = capture(tmp_path, redis_port, "lmdb", _spec("loop", 6))
    runs = {r["run_id"]: r for r in _cli(env, monkeypatch, "runs", "--json")}
    assert {k: (r["tasks"], r["samples"]) for k, r in runs.items()} == {
        "wf-n": (42, 6),  # 6 iterations x (1 iteration task + 6 functions)
        "wf-f": (42, 6),
    }
    tasks = _cli(env, monkeypatch, "tasks", "--run", "wf-n", "--json")
    body = [t for t in tasks if t["node"] != "executions_iteration"]
    assert len({t["sample"] for t in body}) == 6
    assert {t["visit"] for t in body} == {0}
    nodes = {n["node"]: n for n in _cli(env, monkeypatch, "nodes", "-w", "fcpipe", "--json")}
    assert nodes["featurize"]["samples"] == 12 and nodes["featurize"]["runs"] == 2


def _attribute(env, monkeypatch, baseline: str, comparison: str) -> dict:
    return _cli(
        env, monkeypatch, "attribute", "-w", "fcpipe", "-b", baseline, "-c", comparison,
        "--repeats", "5", "--json",
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("database", ["lmdb", "mongodb"])
@pytest.mark.parametrize("mode", ["workflows", "loop"])
def test_faulty_function_ranks_first_with_the_exact_graph(
    mode, database, tmp_path, redis_port, request, monkeypatch
) -> None:
    mongo_uri = request.getfixturevalue("mongo_uri") if database == "mongodb" else None
    _, env = capture(tmp_path, redis_port, database, _spec(mode, 200), mongo_uri)
    if mode == "loop":
        report = _attribute(env, monkeypatch, "wf-n", "wf-f")
    else:
        report = _attribute(env, monkeypatch, "campaign_id=c-normal", "campaign_id=c-faulty")
    assert report["target"] == "evaluate"  # the single sink: the graph has its edges
    assert report["baseline"]["samples"] == 200 and report["comparison"]["samples"] == 200
    note = (
        "samples: 2 FlowCept-captured run(s) split into the connected components"
        if mode == "loop"
        else "samples: 400 FlowCept-captured run(s) taken whole"
    )
    assert any(n.startswith(note) for n in report["notes"]), report["notes"]
    assert sorted(map(tuple, report["graph"]["edges"])) == sorted(GRAPH)
    assert report["attributions"][0]["node"] == "featurize", report["attributions"][:3]
