"""FlowCept both ways, with the real flowcept package against the MongoDB-protocol server:
FlowCept's API sees the runs provcausal imported, and provcausal lists, exports, traces and
analyses tasks that FlowCept itself wrote, with no import step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import prov.model as pm
import pytest

from provcausal.examples.scipipe_gcratio import write_run
from provcausal.ingest import import_paths
from provcausal.model import flowcept as fc
from provcausal.stores import open_store
from tests.helpers import run_cli

DRIVER = Path(__file__).with_name("flowcept_driver.py")


def flowcept_env(mongo_uri: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a process running FlowCept's own code against ``mongo_uri``'s
    database: a settings file (MongoDB only, no MQ or KV store, quiet logs) written in
    ``tmp_path`` and named by ``FLOWCEPT_SETTINGS_PATH``, and no ``MONGO_*`` overrides."""
    host_port, db = mongo_uri.split("//", 1)[1].split("/", 1)
    host, port = host_port.split(":")
    settings = tmp_path / "flowcept-settings.yaml"
    settings.write_text(
        f"log:\n  log_path: {tmp_path / 'flowcept.log'}\n  log_file_level: error\n"
        "  log_stream_level: error\nmq:\n  enabled: false\nkv_db:\n  enabled: false\n"
        f"databases:\n  mongodb:\n    enabled: true\n    host: {host}\n    port: {port}\n"
        f"    db: {db}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONGO_")}
    env["FLOWCEPT_SETTINGS_PATH"] = str(settings)
    return env


def flowcept(mode: str, arg: str, mongo_uri: str, tmp_path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(DRIVER), mode, arg],
        env=flowcept_env(mongo_uri, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_flowcept_api_sees_imported_runs(tmp_path, mongo_uri):
    write_run(tmp_path / "run", seed=3)
    with open_store(mongo_uri) as store:
        summary = import_paths(store, "scipipe", [tmp_path / "run"], "gcratio", label="normal")
    run_id = summary.runs[0]
    seen = flowcept("query", run_id, mongo_uri, tmp_path)
    tasks = {t["activity_id"]: t for t in seen["tasks"]}
    assert len(tasks) == 11
    assert tasks["gcsum"]["status"] == "FINISHED"
    # Names read naturally in FlowCept's API and UI; a file's value is its path, equal on
    # both sides as FlowCept's value rule expects, never a provcausal entity id.
    assert tasks["gcsum"]["used"] == {"gccounts.txt": tasks["gccat"]["generated"]["gccounts.txt"]}
    assert tasks["gcsum"]["used"]["gccounts.txt"].endswith("gccounts.txt")
    assert list(tasks["gcsum"]["generated"]) == ["gccounts.txt.sum"]
    assert not any(str(v).startswith("e-") for t in tasks.values() for v in t["used"].values())
    assert {t["campaign_id"] for t in tasks.values()} == {"gcratio"}
    assert tasks["gcsum"]["dependencies"] == [tasks["gccat"]["task_id"]]
    assert str(tasks["count1"]["started_at"]).startswith("2023-03-13")
    # FlowCept's dataflow view links gccat's output to gcsum's input by its value rule: one
    # shared chunk (identical content) or a derived chunk-to-chunk edge.
    view = flowcept("dataflow", run_id, mongo_uri, tmp_path)
    edges = {(e["source"], e["target"], e["relation"]) for e in view["edges"]}
    producer, consumer = (f"task:{tasks[n]['task_id']}" for n in ("gccat", "gcsum"))
    out = {t for s_, t, r in edges if s_ == producer and r == "generated"}
    into = {s_ for s_, t, r in edges if t == consumer and r == "used"}
    assert out & into or any((a, b, "derived") in edges for a in out for b in into), view
    assert len([e for e in edges if e[2] == "derived"]) >= 3  # the other links, by value
    (wf,) = seen["workflows"]
    assert wf["name"] == "gcratio" and fc.run_label(wf) == "normal"


def _captured_spec(runs: int, broken: int) -> dict:
    workflows = []
    for i in range(runs + broken):
        n = 10 + (i * 7) % 40
        t0 = 1_700_000_000.0 + 100 * i
        bad = i >= runs
        loss = 100.0 / n + (0.1 * (i % 3)) + (4.0 if bad else 0.0)
        acc = 1.0 - loss / 20
        wid = f"fc-run-{i:02d}"
        workflows.append(
            {
                "workflow_id": wid,
                "name": "fctrain",
                "tasks": [
                    {
                        "task_id": f"{wid}-load",
                        "workflow_id": wid,
                        "activity_id": "load",
                        "used": {"n": n},
                        "generated": {"rows": n * 10.0},
                        "started_at": t0,
                        "ended_at": t0 + 1,
                    },
                    {
                        "task_id": f"{wid}-train",
                        "workflow_id": wid,
                        "activity_id": "train",
                        "used": {"rows": n * 10.0},
                        "generated": {"loss": loss},
                        "started_at": t0 + 2,
                        "ended_at": t0 + 3,
                        "via_consumer": i % 2 == 0,
                    },
                    {
                        "task_id": f"{wid}-eval",
                        "workflow_id": wid,
                        "activity_id": "evaluate",
                        "used": {"loss": loss},
                        "generated": {"accuracy": acc},
                        "started_at": t0 + 4,
                        "ended_at": t0 + 5,
                        "dependencies": [f"{wid}-train"],
                    },
                ],
            }
        )
    return {"workflows": workflows}


@pytest.mark.slow
def test_provcausal_reads_lists_exports_and_analyses_flowcept_records(tmp_path, mongo_uri):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(_captured_spec(8, 8)))
    flowcept("capture", str(spec), mongo_uri, tmp_path)

    def run(*args):
        result = run_cli(*args, store=mongo_uri).ok()
        return result.json() if "--json" in args else result.out

    (wf,) = run("workflows", "--json")
    assert wf["workflow"] == "fctrain" and wf["runs"] == 16
    tasks = run("tasks", "--run", "fc-run-00", "--json")
    assert [t["node"] for t in tasks] == ["load", "train", "evaluate"]
    assert tasks[1]["started_at"] == "2023-11-14T22:13:22Z"  # a BSON date (consumer path)
    assert tasks[0]["value"] == 100.0
    up = run("lineage", "fc-run-03-eval", "--json")
    labels = {n["label"] for n in up["nodes"]}
    assert labels == {"evaluate", "train", "load"}  # dependencies, then FlowCept's value rule
    text = run("export", "--run", "fc-run-03", "--format", "provn")
    doc = pm.ProvDocument.deserialize(content=text, format="provn")
    assert len(list(doc.get_records(pm.ProvActivity))) == 3
    base = ",".join(f"fc-run-{i:02d}" for i in range(8))
    comp = ",".join(f"fc-run-{i:02d}" for i in range(8, 16))
    report = run("attribute", "-w", "fctrain", "-b", base, "-c", comp, "--repeats", "10", "--json")
    assert report["target"] == "evaluate"
    assert report["attributions"][0]["node"] == "train"
    assert report["graph"]["edges"] == [["load", "train"], ["train", "evaluate"]]
