"""``provcausal watch`` (issue 20): detection delay, false alarms, time to the alert line, memory.

- **Detection delay** per example shape: the example's normal and faulty sets are written in
  their real format and imported; the target's samples are taken with watch's own code
  (:mod:`provcausal.watch.samples`). Each trial draws a reference of ``window`` normal
  samples, feeds ``window`` other normal samples, then faulty samples in random order, and
  counts the faulty samples fed until the alert (median and 95th percentile over trials).
- **False alarms per 10,000 normal samples**: streams of normal samples (Gaussian, and each
  shape's own normal samples drawn with replacement) through the detector, re-arming after
  each alarm.
- **Seconds from the import that completes the evidence to the alert line**: a real
  ``provcausal watch --json`` process on a SQLite store with ``2 * window`` normal runs; faulty
  runs are imported in batches; the time from the end of the import holding the run that
  triggered the alert to reading the alert line (which includes the attribution).
- **Memory**: simulated on the detector with in-memory samples (``tracemalloc``): the bytes
  held after 1,000 and after 100,000 samples went by.
"""

from __future__ import annotations

import json
import queue
import random
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from provcausal.watch.detector import HORIZON, Detector, Sample

SHAPES = ["gcratio", "fanout", "switch", "ports", "renamed"]
#: Examples run sizes: enough normal samples for a reference and a window of 50.
SIZES = {"ports": 200}


def _import(uri: str, commands: list[str]) -> None:
    import shlex

    from click.testing import CliRunner

    from provcausal.cli import cli

    for command in commands:
        result = CliRunner().invoke(cli, ["--store", uri, "-q", *shlex.split(command)[1:]])
        if result.exit_code != 0:
            raise RuntimeError(f"{command}: {result.output}")


def shape_samples(shape: str, work: Path) -> tuple[list[Sample], list[Sample], str]:
    """The target's normal and faulty samples of one example shape, and the target."""
    from provcausal.examples import scipipe_gcratio
    from provcausal.examples.shapes import write_example
    from provcausal.stores import open_store
    from provcausal.watch.samples import choose_target, target_samples

    folder = work / f"watch-{shape}"
    uri = f"sqlite://{folder / 'store.db'}"
    if shape == "gcratio":
        workflow = "gcratio"
        scipipe_gcratio.write_runs(folder / "normal", 200, seed=1)
        scipipe_gcratio.write_runs(folder / "broken", 200, seed=2, count1_max=10)
        commands = [
            f"provcausal import scipipe {folder / name} --workflow gcratio --label {name}"
            for name in ("normal", "broken")
        ]
    else:
        example = write_example(shape, folder, seed=10, size=SIZES.get(shape))
        workflow, commands = example.workflow, example.commands[:-1]
    _import(uri, commands)
    with open_store(uri, create=False) as store:
        normal = store.find_runs(workflow=workflow, labels=["normal"])
        broken = store.find_runs(workflow=workflow, labels=["broken"])
        target = choose_target(store, workflow, normal, None, None)
        return (
            target_samples(store, normal, target),
            target_samples(store, broken, target),
            target.label,
        )


def _fresh(samples: list[Sample], k: int, rng: random.Random, tag: str) -> list[Sample]:
    """``k`` samples drawn with replacement, each with its own id (ties broken afresh)."""
    return [
        Sample(f"{tag}{i}/{s.sample}", s.run, s.value)
        for i, s in enumerate(rng.choices(samples, k=k))
    ]


def delays(
    normal: list[Sample], faulty: list[Sample], window: int, trials: int, cap: int = 1000
) -> dict[str, Any]:
    """Faulty samples fed until the alert, over ``trials`` random orders."""
    found, missed = [], 0
    for trial in range(trials):
        rng = random.Random(trial)
        pool = normal[:]
        rng.shuffle(pool)
        reference = pool[:window]
        rest = pool[window:] or normal
        det = Detector(window=window, reference_size=window, rearm=10**9)
        det.set_reference(reference)
        before = _fresh(rest, window, rng, f"n{trial}-")
        early = sum(det.add(s)[0] == "shift" for s in before)
        if early:
            missed += 1  # an alert on normal data: not a detection
            continue
        stream = _fresh(faulty, cap, rng, f"f{trial}-")
        delay = next((i + 1 for i, s in enumerate(stream) if det.add(s)[0] == "shift"), None)
        if delay is None:
            missed += 1
        else:
            found.append(delay)
    return {
        "trials": trials,
        "median": statistics.median(found) if found else None,
        "p95": float(np.percentile(found, 95)) if found else None,
        "missed": missed,
    }


def false_alarms(normal: list[Sample] | None, window: int, samples: int, seed: int) -> int:
    """Alarms over ``samples`` normal samples after the reference (re-armed after each)."""
    rng = random.Random(seed)
    det = Detector(window=window, reference_size=window, rearm=window)
    if normal is None:
        draw = [Sample(f"g{seed}-{i}/0", f"g{seed}-{i}", rng.gauss(0, 1)) for i in range(window)]
    else:
        draw = _fresh(normal, window, rng, f"r{seed}-")
    det.set_reference(draw)
    alarms = 0
    for i in range(samples):
        if normal is None:
            s = Sample(f"g{seed}-x{i}/0", f"g{seed}-x{i}", rng.gauss(0, 1))
        else:
            s = _fresh(normal, 1, rng, f"x{seed}-{i}-")[0]
        alarms += det.add(s)[0] == "shift"
    return alarms


def memory(window: int, small: int = 1_000, large: int = 100_000) -> dict[str, int]:
    """Bytes the detector holds (tracemalloc) after ``small`` and ``large`` samples."""
    rng = random.Random(0)
    det = Detector(window=window, reference_size=window, rearm=window)
    det.set_reference(
        [Sample(f"m{i}/0", f"m{i}", rng.gauss(0, 1)) for i in range(window)]
    )  # calibrated before tracing: the cached threshold is not part of the state
    tracemalloc.start()
    held = {}
    for i in range(large):
        det.add(Sample(f"s{i}/0", f"s{i}", rng.gauss(0, 1)))
        if i + 1 in (small, large):
            held[i + 1] = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"after_small": held[small], "after_large": held[large], "small": small,
            "large": large}  # fmt: skip


def alert_latency(work: Path, window: int, batch: int, log: Any) -> dict[str, Any]:
    """A real watch process; seconds from the end of the import holding the run that
    triggered the alert to the alert line."""
    from provcausal.examples import scipipe_gcratio

    folder = work / f"watch-latency-{window}"
    uri = f"sqlite://{folder / 'store.db'}"
    # the reference, then a full window of normal samples: the first look needs a full window
    scipipe_gcratio.write_runs(folder / "normal", 2 * window, seed=1)
    _import(uri, [f"provcausal import scipipe {folder / 'normal'} --workflow gcratio"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "provcausal.cli", "--store", uri, "watch", "-w", "gcratio",
         "--json", "--poll", "0.2", "--window", str(window)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    ready = threading.Event()

    def status() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("watch: ready"):
                ready.set()

    threading.Thread(target=status, daemon=True).start()
    lines: queue.Queue[tuple[float, str]] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put((time.monotonic(), line))

    threading.Thread(target=read, daemon=True).start()
    events: list[tuple[float, dict[str, Any]]] = []

    def take(wait: float) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                at, line = lines.get(timeout=0.05)
            except queue.Empty:
                continue
            events.append((at, json.loads(line)))

    try:
        while not any(e["event"] == "reference" for _, e in events):
            take(1.0)
        ready.wait(300)  # measured from a watcher that is up and idle, as in production
        ended: dict[str, float] = {}
        from provcausal.stores import open_store

        for k in range(60):
            part = folder / f"broken-{k}"
            scipipe_gcratio.write_runs(part, batch, seed=100 + k, count1_max=10)
            _import(uri, [f"provcausal import scipipe {part} --workflow gcratio"])
            done = time.monotonic()
            with open_store(uri, create=False) as store:
                for run in store.find_runs(workflow="gcratio"):
                    ended.setdefault(str(run["workflow_id"]), done)
            take(0.5)
            if any(e["event"] == "shift" for _, e in events):
                break
            log(f"watch latency: {(k + 1) * batch} faulty runs imported")
        while not any(e["event"] == "shift" for _, e in events):
            take(1.0)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    at, shift = next((at, e) for at, e in events if e["event"] == "shift")
    return {
        "window": window,
        "batch": batch,
        "seconds": round(at - ended[shift["run"]], 2),
        "attribution_seconds": shift.get("seconds"),
        "first": shift["attributions"][0]["node"] if shift["attributions"] else None,
        "recent_samples": shift["recent"]["samples"],
    }


def run(work: Path, window: int, trials: int, latency_window: int, log: Any) -> dict[str, Any]:
    shapes = []
    alarms, looked = 0, 0
    for shape in SHAPES:
        log(f"watch: {shape}")
        try:
            normal, faulty, target = shape_samples(shape, work)
        except Exception as exc:  # noqa: BLE001 - report the shape that could not be measured
            shapes.append({"shape": shape, "error": f"{type(exc).__name__}: {exc}"})
            continue
        row = {"shape": shape, "target": target, "normal": len(normal), "faulty": len(faulty)}
        row.update(delays(normal, faulty, window, trials))
        row["false_alarms"] = false_alarms(normal, window, HORIZON, seed=1)
        alarms += row["false_alarms"]
        looked += HORIZON
        shapes.append(row)
        log(f"watch: {json.dumps(row)}")
    gauss = sum(false_alarms(None, window, HORIZON, seed) for seed in range(5))
    report = {
        "window": window,
        "shapes": shapes,
        "false_alarms_gaussian": {"alarms": gauss, "samples": 5 * HORIZON},
        "false_alarms_shapes": {"alarms": alarms, "samples": looked},
        "memory": memory(window),
    }
    if latency_window:
        log(f"watch: alert latency at {latency_window} runs per window")
        report["latency"] = alert_latency(work, latency_window, 50, log)
    return report


def render(report: dict[str, Any]) -> list[str]:
    lines = []
    for row in report["shapes"]:
        if "error" in row:
            lines.append(f"watch {row['shape']:8}: not measured ({row['error']})")
            continue
        lines.append(
            f"watch {row['shape']:8} target {row['target']}: detection delay median "
            f"{row['median']} faulty samples, p95 {row['p95']} ({row['trials']} trials, "
            f"{row['missed']} missed); false alarms {row['false_alarms']} in {HORIZON} "
            f"normal samples (window {report['window']})"
        )
    g, s = report["false_alarms_gaussian"], report["false_alarms_shapes"]
    lines.append(
        f"watch false alarms: {g['alarms']} in {g['samples']} Gaussian samples, {s['alarms']} in "
        f"{s['samples']} samples of the shapes' normal sets "
        f"({10_000 * (g['alarms'] + s['alarms']) / max(1, g['samples'] + s['samples']):.2f} "
        "per 10,000; goal <= 1)"
    )
    m = report["memory"]
    lines.append(
        f"watch memory (detector, in-memory samples): {m['after_small'] / 1024:.1f} KiB after "
        f"{m['small']:,} samples, {m['after_large'] / 1024:.1f} KiB after {m['large']:,}"
    )
    if "latency" in report:
        x = report["latency"]
        lines.append(
            f"watch alert latency: {x['seconds']:.2f} s from the import completing the evidence "
            f"to the alert line at {x['window']} runs per window (attribution "
            f"{x['attribution_seconds']} s, {x['recent_samples']} recent samples, first "
            f"{x['first']}; goal <= 2 s)"
        )
    return lines
