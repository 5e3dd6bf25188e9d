"""Every error is a clean error (issue 13): bad numbers and times name the file and position
with exit 2 and are skipped by --skip-bad; Go's zero time loses nothing; output files are
written whole or not at all."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import pytest
from provcausal.queries import list_tasks

from provcausal.examples import scipipe_gcratio
from provcausal.model import flowcept as fc
from provcausal.stores import open_store
from tests.helpers import run_cli


def event(name: str, ts: object) -> str:
    return (
        f'{{"eventName": "{name}", "node": {{"id": "a", "type": "function"}}, "timestamp": {ts}}}'
    )


def trace_line(ts: object) -> str:
    return (
        '{"initiatorNode": {"id": "i", "name": "", "type": "inject"}, "trace": ['
        f"{event('onReceive', 1678674215000)}, {event('onSend', ts)}]}}"
    )


def run_ids(store_uri: str) -> list[str]:
    with open_store(store_uri) as store:
        return [str(r["workflow_id"]) for r in store.find_runs()]


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "1e20", "-1e15", "1" * 400])
def test_nodered_timestamps_out_of_range(tmp_path, store_uri, bad):
    log = tmp_path / "t.log"
    log.write_text(trace_line(1678674215001) + "\n" + trace_line(bad) + "\n")
    result = run_cli("import", "nodered", str(log), "-w", "wf", store=store_uri)
    message = result.error(2)
    assert message.startswith(f"Error: {log}, line 2, key 'trace[1].timestamp': ")
    assert run_ids(store_uri) == []
    result = run_cli("import", "nodered", str(log), "-w", "wf", "--skip-bad", store=store_uri).ok()
    assert "skipped 1 bad record(s)" in result.out and f"{log}, line 2" in result.out
    with open_store(store_uri) as store:
        (run,) = store.find_runs()
        assert fc.run_count(run, "samples") == 1


def scipipe_run(root: Path) -> Path:
    run = root / "run"
    scipipe_gcratio.write_run(run, seed=1)
    return run


def edit_audit(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text()
    new = re.sub(pattern, replacement, text, count=1)
    assert new != text
    path.write_text(new)


@pytest.mark.parametrize(
    "field, bad, expected",
    [
        ("ExecTimeNS", "Infinity", "execution time inf is not a finite number"),
        ("ExecTimeNS", "NaN", "execution time nan is not a finite number"),
        ("ExecTimeNS", "9" * 5000, "not a usable JSON number (Exceeds the limit (4300 digits)"),
        ("ExecTimeNS", "1e300", "execution time 1e+300 is not a finite number below 2^63"),
        ("StartTime", '"9999-12-31T23:59:59-05:00"', "time out of range (1900 to 2999)"),
        ("StartTime", '"1212-01-01T00:00:00Z"', "time out of range (1900 to 2999)"),
    ],
)
def test_scipipe_numbers_and_times_out_of_range(tmp_path, store_uri, field, bad, expected):
    run = scipipe_run(tmp_path)
    audit = run / "gcratio.txt.audit.json"
    edit_audit(audit, rf'"{field}": [^,\n]+', f'"{field}": {bad}')
    result = run_cli("import", "scipipe", str(run), "-w", "gc", store=store_uri)
    message = result.error(2)
    text = audit.read_text()
    line = text[: text.index(f'"{field}"')].count("\n") + 1
    where = f"{audit}, line {line}" if len(bad) > 1000 else f"{audit}, key '{field}'"
    assert message.startswith(f"Error: {where}: {expected}"), message
    assert run_ids(store_uri) == []
    result = run_cli("import", "scipipe", str(run), "-w", "gc", "--skip-bad", store=store_uri).ok()
    assert f"skipped 1 bad record(s):\n  {where}" in result.out


PROV_TASK = {
    "prefix": {"provcausal": "https://provcausal.org/ns#", "ex": "http://example.org/"},
    "activity": {"ex:a": {"prov:startTime": "2023-03-13T02:25:58Z"}},
    "entity": {"ex:e": {"prov:value": 1.5}},
    "wasGeneratedBy": {"_:g": {"prov:entity": "ex:e", "prov:activity": "ex:a"}},
}


def prov_file(folder: Path, name: str, activity: dict, entity: dict) -> Path:
    doc = json.loads(json.dumps(PROV_TASK))
    doc["activity"]["ex:a"].update(activity)
    doc["entity"]["ex:e"].update(entity)
    path = folder / name
    path.write_text(json.dumps(doc).replace('"NAN"', "NaN"))
    return path


@pytest.mark.parametrize(
    "activity, entity, expected",
    [
        ({"provcausal:visit": "abc"}, {}, "ex:a: provcausal:visit must be a whole number"),
        ({"provcausal:visit": 10**30}, {}, "ex:a: provcausal:visit must be a whole number"),
        ({}, {"prov:value": "NAN"}, "ex:e: prov:value must be a finite number, not 'nan'"),
        (
            {"prov:startTime": "9999-01-01T00:00:00"},
            {},
            "ex:a: prov:startTime must be a time in the years 1900-2999",
        ),
        (
            {"provcausal:unobserved": "perhaps"},
            {},
            "ex:a: provcausal:unobserved must be true or false, not 'perhaps'",
        ),
    ],
)
def test_prov_attributes_out_of_range(tmp_path, store_uri, activity, entity, expected):
    good = prov_file(tmp_path, "good.json", {}, {})
    bad = prov_file(tmp_path, "bad.json", activity, entity)
    result = run_cli("import", "prov", str(good), str(bad), "-w", "p", store=store_uri)
    message = result.error(2)
    assert message.startswith(f"Error: {bad}: PROV record {expected}"), message
    result = run_cli("import", "prov", good, bad, "-w", "p", "--skip-bad", store=store_uri).ok()
    assert f"skipped 1 bad record(s):\n  {bad}: " in result.out
    assert len(run_ids(store_uri)) == 1


def test_prov_unobserved_text_false_is_false(tmp_path, store_uri):
    path = prov_file(tmp_path, "d.json", {"provcausal:unobserved": "false"}, {})
    run_cli("import", "prov", str(path), "-w", "p", store=store_uri).ok()
    with open_store(store_uri) as store:
        (task,) = store.find_tasks(run_ids(store_uri))
        assert fc.task_unobserved(task) is False


def test_go_zero_time_is_unknown_and_nothing_else_is_lost(tmp_path, store_uri):
    run = tmp_path / "run"
    scipipe_gcratio.write_run(run, seed=1)
    frames = {}
    for label in ("normal", "zero"):
        if label == "zero":  # the same run again, its last task's times now Go's zero time
            audit = run / "gcratio.txt.audit.json"
            doc = json.loads(audit.read_text())
            doc["StartTime"] = doc["FinishTime"] = "0001-01-01T00:00:00Z"
            audit.write_text(json.dumps(doc))
        run_cli("import", "scipipe", str(run), "-w", "gc", store=store_uri).ok()
        (run_id,) = run_ids(store_uri)
        with open_store(store_uri) as store:
            frame = list_tasks(store, run=run_id)  # crashed on NaT
            frames[label] = frame.set_index("node")["value"].fillna(-1.0).sort_index()
            ratio = [t for t in store.find_tasks([run_id]) if t["activity_id"] == "gcratio"]
            assert (ratio[0]["started_at"] is None) == (label == "zero")
        run_cli("tasks", "--run", run_id, store=store_uri).ok()
    assert frames["zero"].to_dict() == frames["normal"].to_dict()
    assert (frames["zero"] != -1.0).sum() == 9  # the two concatenators carry no value


def stored_run(store_uri: str, tmp_path: Path) -> str:
    run = scipipe_run(tmp_path)
    run_cli("import", "scipipe", str(run), "-w", "gc", store=store_uri).ok()
    return run_ids(store_uri)[0]


def test_output_into_a_missing_folder(tmp_path, store_uri):
    run = stored_run(store_uri, tmp_path)
    target = tmp_path / "missing" / "out.json"
    result = run_cli("export", "--run", run, "-o", str(target), store=store_uri)
    assert result.error(2) == f"Error: {target}: cannot write: No such file or directory"
    result = run_cli("graph", "-w", "gc", "-o", tmp_path / "missing" / "g.dot", store=store_uri)
    result.error(2, "cannot write: No such file or directory")
    assert not (tmp_path / "missing").exists()


def test_output_on_a_full_disk_leaves_the_old_file(tmp_path, store_uri, monkeypatch):
    run = stored_run(store_uri, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "prov.json").write_text("old")
    real_write = os.write
    calls = []

    def full(fd: int, data) -> int:
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, bytes(data[:10]))  # a short write, then the disk is full

    monkeypatch.setattr(os, "write", full)
    for args in (["export", "--run", run], ["graph", "-w", "gc"]):
        target = out / ("prov.json" if args[0] == "export" else "g.dot")
        result = run_cli(*args, "-o", target, store=store_uri)
        assert result.error(2) == f"Error: {target}: cannot write: No space left on device"
        calls.clear()
    assert sorted(p.name for p in out.iterdir()) == ["prov.json"]  # no temporary file left
    assert (out / "prov.json").read_text() == "old"
    monkeypatch.undo()
    run_cli("export", "--run", run, "-o", out / "prov.json", store=store_uri).ok()
    assert json.loads((out / "prov.json").read_text())["prefix"]
