"""A SciPipe workflow with a process of several out-ports and a fan-in, as SciPipe 0.12 writes it.

Processes: ``draw`` writes a number x; ``stats`` has two out-ports, ``low`` (about x/2) and
``high`` (about 2x), and writes one audit file per output, both with the same ``ID`` and
identical content (``../shared/formats.md`` §1); ``shrink`` reads ``stats.low``, ``grow``
reads ``stats.high``; ``combine`` reads both (fan-in) and writes the result. A fault is the
name of a variable (``draw``, ``stats.low``, ``stats.high``, ``shrink``, ``grow``,
``combine``) whose value is shifted. Reuses :mod:`provcausal.examples.scipipe_gcratio`'s
audit writer.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from provcausal.examples.scipipe_gcratio import _audit, _Clock, _go_json

__all__ = ["write_run", "write_runs", "VARIABLES"]

VARIABLES = ("draw", "stats.low", "stats.high", "shrink", "grow", "combine")

_DOT = """digraph "ports_wf" {
  "combine" [shape=box];
  "draw" [shape=box];
  "grow" [shape=box];
  "shrink" [shape=box];
  "stats" [shape=box];
  "draw" -> "stats" [taillabel="x", headlabel="in"];
  "grow" -> "combine" [taillabel="out", headlabel="b"];
  "shrink" -> "combine" [taillabel="out", headlabel="a"];
  "stats" -> "grow" [taillabel="high", headlabel="in"];
  "stats" -> "shrink" [taillabel="low", headlabel="in"];
}
"""


def _values(rng: random.Random, fault: str | None, shift: float) -> dict[str, float]:
    def bump(name: str) -> float:
        return shift if fault == name else 0.0

    v: dict[str, float] = {}
    v["draw"] = round(rng.uniform(10, 100) + bump("draw"), 3)
    v["stats.low"] = round(0.5 * v["draw"] + rng.gauss(0, 2) + bump("stats.low"), 3)
    v["stats.high"] = round(2 * v["draw"] + rng.gauss(0, 4) + bump("stats.high"), 3)
    v["shrink"] = round(0.8 * v["stats.low"] + rng.gauss(0, 1) + bump("shrink"), 3)
    v["grow"] = round(v["stats.high"] + 10 + rng.gauss(0, 2) + bump("grow"), 3)
    v["combine"] = round(v["shrink"] + v["grow"] + rng.gauss(0, 2) + bump("combine"), 3)
    return v


def write_run(
    folder: str | Path, *, seed: int, fault: str | None = None, shift: float = 30.0
) -> dict[str, float]:
    """Write one run into ``folder``; returns the value of each variable."""
    if fault is not None and fault not in VARIABLES:
        raise ValueError(f"fault must be one of {', '.join(VARIABLES)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    clock = _Clock(
        dt.datetime(2024, 5, 2, 9, 0, 0, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seed),
        rng,
    )
    v = _values(rng, fault, shift)

    def audit(process: str, cmd: str, port: str, path: str, up: dict[str, Any]) -> dict:
        return _audit(rng, clock, process, cmd, port, path, up, "0.12")

    draw = audit("draw", "echo $RANDOM > x.txt", "x", "x.txt", {})
    stats = audit(
        "stats",
        "half ../x.txt > x.low.txt; double ../x.txt > x.high.txt",
        "low",
        "x.low.txt",
        {"x.txt": draw},
    )
    stats["OutFiles"] = {"high": "x.high.txt", "low": "x.low.txt"}
    shrink = audit(
        "shrink",
        "scale 0.8 ../x.low.txt > x.low.shrunk.txt",
        "out",
        "x.low.shrunk.txt",
        {"x.low.txt": stats},
    )
    grow = audit(
        "grow",
        "add 10 ../x.high.txt > x.high.grown.txt",
        "out",
        "x.high.grown.txt",
        {"x.high.txt": stats},
    )
    combine = audit(
        "combine",
        "sum ../x.low.shrunk.txt ../x.high.grown.txt > combined.txt",
        "out",
        "combined.txt",
        {"x.low.shrunk.txt": shrink, "x.high.grown.txt": grow},
    )
    outputs = {
        "x.txt": (draw, v["draw"]),
        "x.low.txt": (stats, v["stats.low"]),
        "x.high.txt": (stats, v["stats.high"]),
        "x.low.shrunk.txt": (shrink, v["shrink"]),
        "x.high.grown.txt": (grow, v["grow"]),
        "combined.txt": (combine, v["combine"]),
    }
    for path, (record, value) in outputs.items():
        (folder / path).write_text(f"{value}\n")
        # one audit file per output; a process with two out-ports writes the same record twice
        (folder / f"{path}.audit.json").write_text(_go_json(record))
    (folder / "workflow_graph.dot").write_text(_DOT)
    return v


def write_runs(
    root: str | Path, n: int, *, seed: int = 0, fault: str | None = None, shift: float = 30.0
) -> list[Path]:
    """Write ``n`` runs into ``root/run_0000`` … (one folder per run)."""
    root = Path(root)
    folders = []
    for i in range(n):
        folder = root / f"run_{i:04d}"
        write_run(folder, seed=seed * 100_003 + i, fault=fault, shift=shift)
        folders.append(folder)
    return folders
