"""Comparisons of real records where nothing changed: ``attribute`` must say "no shift".

Issue 18 lists 16 such comparisons. What this repository holds of real records
(``tests/fixtures/real``, recorded by SciPipe v0.12 and Node-RED 5 + msg-profiler) gives
these, each compared in both directions:

- SciPipe: the first half of a variant's runs against the second half, for both workflows
  (``multiport`` 10 vs 10 runs, ``two_sinks`` 5 vs 5, each of its two sinks tested) and both
  variants (``normal``, and ``faulty``, whose runs all carry the same fault): 8 comparisons.
- Node-RED: the first half of a trace's lines against the second half, for every flow
  (``chain``, ``switch``, ``loop``, ``join_rbe``, ``instant``, ``fanout``, ``fanout_wires``)
  and both variants: 28 comparisons.

Not available as real records here: the GC-ratio normal repeats (one real GC-ratio run is in
``shared/samples``) and Seldon request sets (Seldon Core v2 needs Kubernetes and Kafka; no
recorded inspect output of a normal request set exists). The issue's bar, 15 of 16 with no
shift, is applied as a share: at most one comparison in 16 may report a shift, and none may
give a strong verdict.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from provcausal.analysis import attribute
from provcausal.stores import open_store
from tests.helpers import run_cli

REAL = Path(__file__).resolve().parent / "fixtures" / "real"
NODERED = ("chain", "switch", "loop", "join_rbe", "instant", "fanout", "fanout_wires")
SCIPIPE = ("multiport", "two_sinks")
VARIANTS = ("normal", "faulty")

pytestmark = pytest.mark.slow


def _import_halves(store: str, work: Path) -> list[str]:
    """Import each variant's halves as ``<variant>-first``/``-second``; the workflows."""
    for name in SCIPIPE:
        for variant in VARIANTS:
            runs = sorted((REAL / "scipipe" / name / variant).iterdir())
            for part, chunk in (
                ("first", runs[: len(runs) // 2]),
                ("second", runs[len(runs) // 2 :]),
            ):
                folder = work / name / variant / part
                for run in chunk:
                    shutil.copytree(run, folder / run.name)
                label = f"{variant}-{part}"
                run_cli(
                    "import", "scipipe", str(folder), "-w", name, "--label", label, store=store
                ).ok()
    for name in NODERED:
        for variant in VARIANTS:
            lines = (REAL / "nodered" / name / f"{variant}.trace.log").read_text().splitlines(True)
            flow = REAL / "nodered" / name / f"{variant}.flows.json"
            half = len(lines) // 2
            for part, chunk in (("first", lines[:half]), ("second", lines[half:])):
                log = work / f"{name}-{variant}-{part}.log"
                log.write_text("".join(chunk))
                label = f"{variant}-{part}"
                args = ["import", "nodered", str(log), "--flow", str(flow), "-w", name]
                run_cli(*args, "--label", label, store=store).ok()
    return [*SCIPIPE, *NODERED]


STRONG = (" explains the change:",)


def test_real_records_where_nothing_changed_report_no_shift(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    workflows = _import_halves(store, tmp_path / "halves")
    answers = []
    with open_store(store) as opened:
        for workflow in workflows:
            for variant in VARIANTS:
                first, second = f"{variant}-first", f"{variant}-second"
                for old, new in ((first, second), (second, first)):
                    result = attribute(opened, workflow, old, new, seed=0)
                    sinks = [result, *result.also]
                    answers.append(
                        (
                            f"{workflow} {old} vs {new}",
                            any(s.shift is not None and s.shift.detected for s in sinks),
                            [s.verdict for s in sinks],
                        )
                    )
    assert len(answers) == 36
    shifted = [a for a in answers if a[1]]
    strong = [a for a in answers if any(w in v for v in a[2] for w in STRONG)]
    assert len(shifted) / len(answers) <= 1 / 16, shifted
    assert strong == []
    quiet = [a for a in answers if not a[1]]
    assert all(v.startswith("no shift: ") for a in quiet for v in a[2])


def test_real_faults_that_move_the_output_are_shifts(tmp_path: Path) -> None:
    """The same fixtures, normal against faulty: every fault that moves the output is a
    shift at the level ``attribute`` uses; the one that does not (``fanout_wires``: the
    quick branch slowed, the slow branch still sets the sink's latency) is not."""
    from provcausal.analysis import prepare
    from provcausal.analysis.attribution import SHIFT_ALPHA
    from provcausal.analysis.shift import shift_test
    from provcausal.analysis.targets import choose_targets

    store = f"sqlite:///{tmp_path / 'store.db'}"
    for name in SCIPIPE:
        for variant in VARIANTS:
            folder = REAL / "scipipe" / name / variant
            run_cli(
                "import", "scipipe", str(folder), "-w", name, "--label", variant, store=store
            ).ok()
    for name in NODERED:
        for variant in VARIANTS:
            folder = REAL / "nodered" / name
            args = ["import", "nodered", str(folder / f"{variant}.trace.log")]
            args += ["--flow", str(folder / f"{variant}.flows.json"), "-w", name]
            run_cli(*args, "--label", variant, store=store).ok()
    detected = {}
    with open_store(store) as opened:
        for name in [*SCIPIPE, *NODERED]:
            prep = prepare(opened, name, "normal", "faulty")
            targets, _ = choose_targets(prep, None)
            shifts = [shift_test(prep.baseline[t], prep.comparison[t]) for t in targets]
            detected[name] = any(s.p_value < SHIFT_ALPHA for s in shifts)
    assert detected == {name: name != "fanout_wires" for name in [*SCIPIPE, *NODERED]}
