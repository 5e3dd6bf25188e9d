"""``provcausal watch``: the sequential test, the follower, and watch as a real process on the
README workflow's SciPipe records, on SQLite and on the MongoDB wire-protocol server."""

from __future__ import annotations

import json
import queue
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from provcausal.examples import scipipe_gcratio
from provcausal.model import flowcept as fc
from provcausal.stores import open_store
from provcausal.watch import Detector, Follower, Sample
from provcausal.watch.detector import calibrate, ks_distance, ranks
from tests.helpers import run_cli, start_cli

WORKFLOW = "gcratio"
SHIFT_EXIT = 4


# -- the sequential test ----------------------------------------------------------------------
def _stream(seed: int, n: int, shift: float = 0.0, start: int = 0) -> list[Sample]:
    rng = random.Random(seed)
    return [
        Sample(f"r{seed}-{start + i}/0", f"r{seed}-{start + i}", rng.gauss(shift, 1.0))
        for i in range(n)
    ]


def _alarms(det: Detector, samples: list[Sample]) -> list[int]:
    return [i for i, s in enumerate(samples) if det.add(s)[0] == "shift"]


def test_false_alarms_are_bounded_over_the_stream_not_per_look():
    """20 streams of 1,000 normal samples after the reference (20,000 looks): with the
    calibrated threshold at most one alarm (the bound is 0.1 per 10,000); with the per-look
    5% critical value of the same distance, the repeated looks raise many."""
    window = 20
    per_look = 1.36 * (2 / window) ** 0.5  # KS 5% critical value for two samples of 20
    calibrated, naive = 0, 0
    for seed in range(20):
        det = Detector(window=window, reference_size=window, rearm=10**9)
        calibrated += len(_alarms(det, _stream(seed, window + 1000)))
        det = Detector(window=window, reference_size=window, rearm=10**9)
        for s in _stream(seed, window + 1000):
            det.add(s)
            if det.state != "collecting" and len(det.recent) == window:
                det.threshold = per_look
                naive += det.look().shifted
    assert calibrated <= 1
    assert naive > 100


def test_a_shift_is_found_and_the_change_point_is_near_its_start():
    det = Detector(window=30, reference_size=30, rearm=30)
    normal, shifted = _stream(1, 80), _stream(2, 60, shift=1.5, start=80)
    assert _alarms(det, normal) == []
    found = next(i for i, s in enumerate(shifted) if det.add(s)[0] == "shift")
    assert found < 30, found
    tail = list(det.recent)[det.change_point() :]
    assert sum(s.run.startswith("r2-") for s in tail) >= 0.8 * len(tail)


def test_after_an_alert_the_reference_moves_only_after_the_stated_runs():
    det = Detector(window=20, reference_size=20, rearm=25)
    for s in _stream(3, 20):
        det.add(s)
    old_reference = list(det.reference)
    events = [det.add(s)[0] for s in _stream(4, 100, shift=3.0, start=20)]
    assert events.count("shift") == 1 and events.count("rearmed") == 1
    shift_at, rearm_at = events.index("shift"), events.index("rearmed")
    assert rearm_at - shift_at == 25
    assert det.reference != old_reference and all(s.run.startswith("r4-") for s in det.reference)
    assert det.state == "armed"


def test_a_checkpoint_resumes_the_same_test():
    det = Detector(window=20, reference_size=20, rearm=20)
    samples = _stream(5, 60) + _stream(6, 40, shift=2.0, start=60)
    for s in samples[:70]:
        det.add(s)
    again = Detector.from_state(json.loads(json.dumps(det.to_state())))
    assert [again.add(s) for s in samples[70:]] == [det.add(s) for s in samples[70:]]


def test_memory_is_bounded_by_the_windows():
    det = Detector(window=20, reference_size=20, rearm=20)
    sizes = []
    for i, s in enumerate(_stream(7, 5000)):
        det.add(s)
        if i in (999, 4999):
            state = det.to_state()
            sizes.append((len(state["reference"]), len(state["recent"]), len(state["pending"])))
    assert sizes[0] == sizes[1] == (20, 20, 0)


def test_ties_are_broken_by_the_sample_id_not_by_order():
    reference = np.sort(np.array([1.0, 1.0, 1.0, 2.0]))
    a = [Sample("x/1", "x", 1.0), Sample("y/1", "y", 1.0)]
    assert list(ranks(reference, a)) == list(ranks(reference, a[::-1]))[::-1]
    assert ks_distance(np.array([0, 0, 0]), 4) == 0.75  # read at the reference's points
    assert calibrate(20, 20) == calibrate(20, 20)  # deterministic (and cached)


# -- the follower -------------------------------------------------------------------------------
def _import(uri: str, folder: Path, label: str) -> None:
    run_cli("import", "scipipe", folder, "--workflow", WORKFLOW, "--label", label, "-q",
            store=uri).ok()  # fmt: skip


def _batch(root: Path, name: str, n: int, seed: int, broken: bool = False) -> Path:
    folder = root / name
    scipipe_gcratio.write_runs(folder, n, seed=seed, count1_max=10 if broken else 100)
    return folder


def test_the_follower_reads_each_run_once_in_arrival_order(store_uri, tmp_path):
    _import(store_uri, _batch(tmp_path, "a", 5, seed=1), "a")
    follower = Follower(WORKFLOW)
    with open_store(store_uri, create=False) as store:
        first = follower.poll(store)
        assert len(first) == 5 and follower.poll(store) == []
        _import(store_uri, _batch(tmp_path, "b", 3, seed=2), "b")
        second = follower.poll(store)
        assert [fc.run_label(r) for r in second] == ["b"] * 3
        assert follower.poll(store) == []
    state = json.loads(json.dumps(follower.to_state()))
    _import(store_uri, _batch(tmp_path, "c", 2, seed=3), "c")
    with open_store(store_uri, create=False) as store:
        resumed = Follower.from_state(WORKFLOW, state, 2.0).poll(store)
    assert len(resumed) == 2


# -- watch --once (cron) and alerts --------------------------------------------------------------
def _shift_lines(out: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in out.splitlines()]
    return [e for e in events if e["event"] == "shift"]


def test_once_exits_0_then_reports_the_shift_once_and_lists_it(store_uri, tmp_path):
    _import(store_uri, _batch(tmp_path, "normal", 50, seed=1), "normal")
    args = ("watch", "-w", WORKFLOW, "--once", "--json", "--window", "20")
    quiet = run_cli(*args, store=store_uri).ok()
    kinds = [json.loads(line)["event"] for line in quiet.out.splitlines()]
    assert kinds == ["started", "reference"]
    _import(store_uri, _batch(tmp_path, "broken", 30, seed=2, broken=True), "broken")
    found = run_cli(*args, "--report-dir", tmp_path / "pages", store=store_uri)
    assert found.code == SHIFT_EXIT, found.err
    (shift,) = _shift_lines(found.out)
    assert shift["attributions"][0]["node"] == "count1"
    assert shift["shift"]["detected"] and shift["shift"]["statistic"] > shift["shift"]["threshold"]
    assert {"workflow", "target", "detected_at", "reference", "recent", "verdict"} <= set(shift)
    assert Path(shift["written"][0]).is_file()
    again = run_cli(*args, store=store_uri).ok()  # the same shift is not reported twice
    assert _shift_lines(again.out) == []
    listed = run_cli("alerts", "--workflow", WORKFLOW, "--json", store=store_uri).ok().json()
    assert [a["id"] for a in listed] == [shift["id"]]
    text = run_cli("alerts", store=store_uri).ok().out
    assert "count1" in text and "explains" in text


def test_an_unknown_workflow_or_bad_window_is_a_one_line_error(sqlite_uri, tmp_path):
    _import(sqlite_uri, _batch(tmp_path, "normal", 3, seed=1), "normal")
    run_cli("watch", "-w", WORKFLOW, "--window", "5", store=sqlite_uri).error(
        2, "--window", usage=True
    )
    bad = run_cli("watch", "-w", WORKFLOW, "--reference", "nosuch", "--once", store=sqlite_uri)
    bad.error(2, "nosuch")


# -- watch as a real process, runs arriving in batches -------------------------------------------
def _reader(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def arrivals(
    uri: str,
    root: Path,
    *,
    stored: int,
    normal_batches: int,
    faulty_batches: int,
    batch: int,
    pause: float,
    poll: float,
    window: int,
) -> None:
    """The issue's scenario: ``stored`` normal runs, watch starts; batches of normal runs,
    then batches of faulty ones (count1 broken), one every ``pause`` seconds."""
    _import(uri, _batch(root, "stored", stored, seed=1), "normal")
    proc = start_cli("watch", "-w", WORKFLOW, "--json", "--poll", poll, "--window", window,
                     store=uri)  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True)
    reader.start()
    events: list[dict[str, Any]] = []

    def drain(wait: float = 0.0, until_shift: bool = False) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return
            events.append(json.loads(line))
            if until_shift and events[-1]["event"] == "shift":
                return

    try:
        for k in range(normal_batches):
            _import(uri, _batch(root, f"n{k}", batch, seed=100 + k), "normal")
            drain(pause)
        faulty: list[str] = []
        for k in range(faulty_batches):
            _import(uri, _batch(root, f"f{k}", batch, seed=500 + k, broken=True), f"faulty{k}")
            drain(pause)
            if any(e["event"] == "shift" for e in events):
                break
        if not any(e["event"] == "shift" for e in events):
            drain(60, until_shift=True)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        reader.join(timeout=10)
        err = proc.stderr.read() if proc.stderr else ""
    drain()
    assert code == 130, err
    shifts = [e for e in events if e["event"] == "shift"]
    assert shifts, ([e["event"] for e in events], err)
    with open_store(uri, create=False) as store:
        order = [str(d["workflow_id"]) for _, d in store.runs_after(WORKFLOW, None, 100000)]
        labels = {str(r["workflow_id"]): str(fc.run_label(r))
                  for r in store.find_runs(workflow=WORKFLOW)}  # fmt: skip
    faulty = [r for r in order if labels[r].startswith("faulty")]
    first = shifts[0]
    assert labels[first["run"]].startswith("faulty"), "an alert before the first faulty batch"
    assert faulty.index(first["run"]) < 60
    assert first["attributions"][0]["node"] == "count1", first["verdict"]
    assert len(shifts) == 1
    kept = run_cli("alerts", "--workflow", WORKFLOW, "--json", store=uri).ok().json()
    assert [a["id"] for a in kept] == [first["id"]]  # kept in provcausal's own metadata


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("mongodb", marks=pytest.mark.slow)])
def test_watch_alerts_within_the_faulty_batches_quick(kind, request, tmp_path):
    """The scenario, small: watch as a real process, batches of runs imported while it runs,
    Ctrl-C at the end (exit 130)."""
    uri = (
        f"sqlite://{tmp_path / 's.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("mongo_uri")
    )
    arrivals(uri, tmp_path, stored=40, normal_batches=1, faulty_batches=4, batch=15,
             pause=0.3, poll=0.2, window=30)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "mongodb"])
def test_watch_alerts_within_60_faulty_runs_naming_count1(kind, request, tmp_path):
    """300 normal runs stored; 20 batches of 10 normal runs, one every 2 s; then 10 batches
    of 10 faulty runs: no alert before the first faulty batch, one within 60 faulty runs."""
    uri = (
        f"sqlite://{tmp_path / 's.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("mongo_uri")
    )
    arrivals(uri, tmp_path, stored=300, normal_batches=20, faulty_batches=10, batch=10,
             pause=2.0, poll=1.0, window=50)  # fmt: skip


@pytest.mark.slow
def test_mongodb_going_away_is_said_once_and_watch_recovers(tmp_path):
    """The server stops for several polls and comes back on the same port and data: one
    ``unreachable`` and one ``recovered`` event, and runs imported after are still read."""
    from tests.mongo_server import WireServer, fresh_database_uri

    server = WireServer(tmp_path / "server")
    server.start()
    uri = fresh_database_uri(server.base_uri)
    proc = None
    try:
        _import(uri, _batch(tmp_path, "stored", 30, seed=1), "normal")
        proc = start_cli("watch", "-w", WORKFLOW, "--json", "--poll", "0.2", "--window", "20",
                         store=uri)  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True)
        reader.start()
        events: list[dict[str, Any]] = []

        def until(kind: str, wait: float = 60) -> None:
            deadline = time.monotonic() + wait
            while not any(e["event"] == kind for e in events):
                events.append(json.loads(lines.get(timeout=max(0.1, deadline - time.monotonic()))))

        until("reference")
        server.stop()
        until("unreachable")
        time.sleep(8)  # many polls while the server is away
        server.start()
        until("recovered")
        _import(uri, _batch(tmp_path, "broken", 30, seed=2, broken=True), "broken")
        until("shift")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        server.stop()
    kinds = [e["event"] for e in events]
    assert kinds.count("unreachable") == 1 and kinds.count("recovered") == 1, kinds
    assert kinds.index("unreachable") < kinds.index("recovered") < kinds.index("shift")


@pytest.mark.slow
def test_a_named_reference_is_not_tested_and_sigterm_stops_cleanly(sqlite_uri, tmp_path):
    """``--reference normal``: those runs are the reference (all 40), the others are tested;
    SIGTERM (what systemd and docker send) saves the checkpoint and exits 0."""
    _import(sqlite_uri, _batch(tmp_path, "normal", 40, seed=1), "normal")
    _import(sqlite_uri, _batch(tmp_path, "broken", 30, seed=2, broken=True), "broken")
    proc = start_cli("watch", "-w", WORKFLOW, "--reference", "normal", "--window", "20",
                     "--json", "--poll", "0.2", store=sqlite_uri)  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True)
    reader.start()
    events: list[dict[str, Any]] = []
    try:
        while not any(e["event"] == "shift" for e in events):
            events.append(json.loads(lines.get(timeout=120)))
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0
    reference = next(e for e in events if e["event"] == "reference")
    assert (reference["samples"], reference["runs"]) == (40, 40)
    shift = next(e for e in events if e["event"] == "shift")
    with open_store(sqlite_uri, create=False) as store:
        assert fc.run_label(store.get_run(shift["run"])) == "broken"
    assert shift["attributions"][0]["node"] == "count1"
    resumed = run_cli("watch", "-w", WORKFLOW, "--reference", "normal", "--window", "20",
                      "--once", "--json", store=sqlite_uri).ok()  # fmt: skip
    assert json.loads(resumed.out.splitlines()[0])["resumed"] is True
