"""Node-RED importer on profiler logs that follow ../shared/formats.md §2, quirks included."""

from __future__ import annotations

import json
from pathlib import Path

import prov.model as pm
import pytest

from provcausal.examples.nodered_chain import chain_flow, write_flow, write_trace_log
from provcausal.ingest import import_paths, read_runs
from provcausal.model import flowcept as fc
from provcausal.stores import open_store
from tests.helpers import SAMPLES, needs_samples, run_cli

SHARED = (SAMPLES or Path("shared-samples-missing")) / "nodered"


def ev(name, node, ts, kind="function", node_name=None):
    ref = {"id": node, "type": kind}
    if node_name is not None:
        ref["name"] = node_name
    return {"eventName": name, "node": ref, "timestamp": ts}


def line(trace, initiator="init", **extra):
    rec = {
        "initiatorNode": {"id": initiator, "name": "", "type": "msg-time-profiler"},
        "trackingNode": {"id": initiator, "name": ""},
        "trace": trace,
        "profile": [],
        "totalDuration": 0,
        "maximumDuration": 0,
        "maximumPercentage": None,
    }
    rec.update(extra)
    return json.dumps(rec)


def tasks_of(store, run_id):
    """A run's tasks in time order (stores promise no order of their own)."""

    def when(t):
        return (
            fc.task_meta(t)["sample"],
            t["started_at"] or t["ended_at"],
            t["ended_at"] is None,
            t["ended_at"] or t["started_at"],
        )

    return sorted(store.find_tasks([run_id]), key=when)


def test_chain_visits_messages_and_durations(tmp_path, store):
    flow = chain_flow(3)
    write_flow(tmp_path / "flows.json", flow)
    log = write_trace_log(tmp_path / "trace.log", flow, 4, seed=3)
    summary = import_paths(store, "nodered", [log], "chain", flow=str(tmp_path / "flows.json"))
    assert summary.samples == 4 and summary.warnings == []
    tasks = tasks_of(store, summary.runs[0])
    first = [t for t in tasks if fc.task_meta(t)["sample"] == "line-1"]
    nodes = [t["activity_id"] for t in first]
    step_ids = [n["id"] for n in flow if n.get("name", "").startswith("Step")]
    assert nodes[1:4] == step_ids  # after the (unobserved) initiator
    assert fc.task_meta(first[0])["unobserved"] is True
    rec = json.loads(log.read_text().splitlines()[0])
    send = {e["node"]["id"]: e["timestamp"] for e in rec["trace"] if e["eventName"] == "onSend"}
    recv = {e["node"]["id"]: e["timestamp"] for e in rec["trace"] if e["eventName"] == "onReceive"}
    for t in first[1:4]:
        n = t["activity_id"]
        assert fc.task_meta(t)["duration"] == pytest.approx((send[n] - recv[n]) / 1000)
    by_id = {t["task_id"]: t for t in first}
    assert [by_id[d]["activity_id"] for d in first[2]["dependencies"]] == [step_ids[0]]
    # the file node's visit has an onReceive only (it writes the line): no end, no duration
    assert first[-1]["ended_at"] is None and "duration" not in fc.task_meta(first[-1])


def test_loops_keep_every_visit_numbered(tmp_path, store):
    trace = [
        ev("onReceive", "a", 10),
        ev("onSend", "a", 12),
        ev("onReceive", "b", 15),
        ev("onSend", "b", 20),
        ev("onReceive", "a", 25),
        ev("onSend", "a", 26),
        ev("onReceive", "b", 30),
        ev("onSend", "b", 40),
        ev("onReceive", "file", 45, "file"),
    ]
    (tmp_path / "t.log").write_text(line(trace) + "\n")
    summary = import_paths(store, "nodered", [tmp_path / "t.log"], "loop")
    visits = [
        (t["activity_id"], fc.task_meta(t)["visit"]) for t in tasks_of(store, summary.runs[0])
    ]
    assert visits == [("init", 0), ("a", 0), ("b", 0), ("a", 1), ("b", 1), ("file", 0)]


def test_missing_and_duplicate_names_and_several_initiators(tmp_path, store):
    lines = [
        line(
            [ev("onReceive", "a", 1), ev("onSend", "a", 2), ev("onReceive", "f", 3, "file")],
            initiator="i1",
        ),
        line(
            [
                ev("onReceive", "b", 5, node_name="Same"),
                ev("onSend", "b", 7, node_name="Same"),
                ev("onReceive", "c", 9, node_name="Same"),
                ev("onSend", "c", 9, node_name="Same"),
            ],
            initiator="i2",
        ),
    ]
    (tmp_path / "t.log").write_text("\n".join(lines) + "\n")
    summary = import_paths(store, "nodered", [tmp_path / "t.log"], "mixed")
    nodes = {t["activity_id"] for t in tasks_of(store, summary.runs[0])}
    assert nodes == {"i1", "i2", "a", "b", "c", "f"}  # node ids, not (duplicate) names


def test_fan_out_lines_of_one_message_are_one_sample(tmp_path, store):
    flow = chain_flow(3, fanout_after=2)
    write_flow(tmp_path / "flows.json", flow)
    log = write_trace_log(tmp_path / "trace.log", flow, 3, seed=1)
    raw = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(raw) == 6 and raw[0]["trace"][:4] == raw[1]["trace"][:4]
    summary = import_paths(store, "nodered", [log], "fan", flow=str(tmp_path / "flows.json"))
    # one sample per message, not per line; the shared prefix is stored once
    assert summary.samples == 3 and summary.warnings == []
    tasks = tasks_of(store, summary.runs[0])
    assert summary.tasks == len(tasks) == 3 * (1 + 2 + 2 * 3)
    per_sample: dict[str, list] = {}
    for t in tasks:
        per_sample.setdefault(fc.task_sample(t), []).append(t)
    assert sorted(per_sample) == ["line-1", "line-3", "line-5"]
    writer = next(n["id"] for n in flow if n.get("name") == "Retrieve trace data")
    for group in per_sample.values():
        assert len({fc.task_attrs(t)["message"] for t in group}) == 1
        visits = sorted(
            (t["ended_at"], fc.task_visit(t)) for t in group if t["activity_id"] == writer
        )
        assert [v for _, v in visits] == [0, 1]  # numbered by time: the last branch wins


def test_unwired_hop_is_a_warning_not_a_failure(tmp_path, store):
    flow = chain_flow(2)
    write_flow(tmp_path / "flows.json", flow)
    s1, s2 = [n["id"] for n in flow if n.get("name", "").startswith("Step")]
    trace = [
        ev("onReceive", s2, 1),
        ev("onSend", s2, 2),
        ev("onReceive", s1, 3),
        ev("onSend", s1, 4),
    ]
    (tmp_path / "t.log").write_text(line(trace, initiator=flow[2]["id"]) + "\n")
    summary = import_paths(
        store, "nodered", [tmp_path / "t.log"], "w", flow=str(tmp_path / "flows.json")
    )
    assert len(summary.runs) == 1
    assert any("that the flow's wires do not have" in w and "Step 2" in w for w in summary.warnings)


def test_null_percentages_empty_names_and_old_key_names(tmp_path, store):
    rec = {
        "initiatorNodeId": "old-init",
        "trackingNodeId": "old-init",
        "trace": [ev("onReceive", "a", 1, node_name=""), ev("onSend", "a", 1, node_name="")],
        "profile": [
            {"node": {"id": "a", "name": "", "type": "function"}, "duration": 0, "percentage": None}
        ],
        "totalDuration": 0,
        "maximumDuration": 0,
        "maximumPercentage": None,
    }
    (tmp_path / "t.log").write_text(json.dumps(rec) + "\n")
    summary = import_paths(store, "nodered", [tmp_path / "t.log"], "old")
    assert {t["activity_id"] for t in tasks_of(store, summary.runs[0])} == {"old-init", "a"}


def test_document_round_trips(tmp_path):
    flow = chain_flow(3)
    log = write_trace_log(tmp_path / "trace.log", flow, 2, seed=2)
    _, runs = read_runs("nodered", [log], "chain")
    (run,) = list(runs)
    for fmt in ("json", "provn"):
        back = pm.ProvDocument.deserialize(content=run.document.serialize(format=fmt), format=fmt)
        assert back == run.document


@pytest.mark.parametrize(
    "bad, where",
    [
        ("{not json", "line 2"),
        (json.dumps({"trace": "x"}), "'trace'"),
        (json.dumps({"initiatorNode": {"id": "i"}}), "'trace'"),
        (
            json.dumps(
                {"trace": [{"eventName": "onSend", "node": {"id": "a"}, "timestamp": "soon"}]}
            ),
            "'trace[0].timestamp'",
        ),
        (
            json.dumps({"trace": [{"eventName": "onFly", "node": {"id": "a"}, "timestamp": 1}]}),
            "'trace[0].eventName'",
        ),
        (
            json.dumps(
                {"trace": [{"eventName": "onSend", "node": {"id": "a"}, "timestamp": 1e20}]}
            ),
            "'trace[0].timestamp'",
        ),
        ("[1, 2]", "line 2"),
    ],
)
def test_bad_lines_exit_2_with_line_and_key_and_skip_bad(tmp_path, store_uri, bad, where):
    good = line([ev("onReceive", "a", 1), ev("onSend", "a", 2)])
    later = line([ev("onReceive", "a", 5), ev("onSend", "a", 7)])
    path = tmp_path / "t.log"
    path.write_text(good + "\n" + bad + "\n" + later + "\n")
    run_cli("import", "nodered", path, "--workflow", "w", store=store_uri).error(
        2, str(path), where
    )
    with open_store(store_uri) as store:
        assert store.find_runs() == [] and store.count_tasks() == 0
    result = run_cli(
        "import", "nodered", path, "--workflow", "w", "--skip-bad", "--json", store=store_uri
    )
    report = result.ok().json()
    assert report["samples"] == 2 and report["skipped"] == 1
    assert "line 2" in report["skipped_where"][0]


def test_empty_and_binary_logs(tmp_path, store_uri):
    (tmp_path / "empty.log").write_text("")
    (tmp_path / "bin.log").write_bytes(b"\xff\xfe\x00garbage")
    for name, message in (("empty.log", "file is empty"), ("bin.log", "not UTF-8")):
        result = run_cli("import", "nodered", tmp_path / name, "--workflow", "w", store=store_uri)
        result.error(2, str(tmp_path / name), message)


def test_auto_detects_nodered(tmp_path, store_uri):
    log = write_trace_log(tmp_path / "whatever.txt", chain_flow(2), 2)
    report = (
        run_cli("import", "auto", log, "--workflow", "w", "--json", store=store_uri).ok().json()
    )
    assert report["system"] == "nodered" and report["detected"] is True
    assert report["samples"] == 2


@needs_samples
def test_real_flow_exports_parse(tmp_path):
    from provcausal.importers.nodered_flow import parse_flow

    paper = parse_flow(SHARED / "paper-flow-normal.json")
    assert len(paper.edges) == 76  # 74 wires and 2 link out -> link in pairs
    assert paper.has_edge("f049e9fb.779d6", "c5161aa1.85248")  # "Auto-play delay" wire
    assert paper.has_edge("f50cf07b.26f8", "deb9e3943de84f28")
    assert not paper.has_edge("f049e9fb.779d6", "deb9e3943de84f28")  # same group, no wire
    assert paper.has_edge("4f296647.ff86b8", "b0aa5a7f.d6162")  # link out -> link in
    assert paper.tabs["7c24ffae.00d628"] == "Quake Playback v5"
    example = parse_flow(SHARED / "profiler-example-flow.json")
    assert example.has_edge("821a8a029655639f", "1d8b715f721d6fed")
