"""A SciPipe 0.12 workflow with a 4-output ``split`` process, written as SciPipe writes its runs
(one folder per run: the output files, one ``<output>.audit.json`` per output, the
``workflow_graph.dot``), for the exactness tests (issue 18).

No real recording of this shape is held (SciPipe and Go are not on the test machine), so the
runs are written with the audit writer of :mod:`provcausal.examples.scipipe_gcratio`, the one
checked against SciPipe's own files. The workflow:

- ``gen`` writes ``x.txt`` (60 numbers, one per line) and ``y.txt`` (y = 3x + noise): two
  out-ports, ``x`` and ``y``;
- ``split`` reads both and writes four out-ports: ``train_x``/``train_y`` (the first 48 rows)
  and ``test_x``/``test_y`` (the last 12);
- ``train`` fits a mean predictor: ``model.txt`` holds the training rows' mean y;
- ``evaluate`` reads the model and the test files and writes ``score.txt``: the model's bias on
  the test rows, the training mean minus the test mean (the sink).

Every data file starts with a header line holding the mean of its rows, then the rows; the
value of a port is the number on the first line of its file, as the importer reads it.
Faults (each in one process): ``leak`` (``split`` writes the training rows to the test files
too: the mean of the test files is then the mean of all rows, so ``split.test_x`` becomes an
exact copy of ``gen.x`` and ``split.test_y`` of ``gen.y``), ``gen`` (the generator's range
doubles), ``train`` (the model is one unit high), ``evaluate`` (the bias is scaled by 1.5).
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from provcausal.examples.scipipe_gcratio import _audit, _Clock, _go_json

FAULTS = {"leak": "split", "gen": "gen", "train": "train", "evaluate": "evaluate"}
ROWS, TRAIN_ROWS = 60, 48

_DOT = """digraph "split_wf" {
  "evaluate" [shape=box];
  "gen" [shape=box];
  "split" [shape=box];
  "train" [shape=box];
  "gen" -> "split" [taillabel="x", headlabel="x"];
  "gen" -> "split" [taillabel="y", headlabel="y"];
  "split" -> "train" [taillabel="train_x", headlabel="x"];
  "split" -> "train" [taillabel="train_y", headlabel="y"];
  "split" -> "evaluate" [taillabel="test_x", headlabel="x"];
  "split" -> "evaluate" [taillabel="test_y", headlabel="y"];
  "train" -> "evaluate" [taillabel="model", headlabel="model"];
}
"""


def _lines(values: list[float]) -> str:
    return "".join(f"{v:.3f}\n" for v in values)


def _table(rows: list[float]) -> list[float]:
    """A data file: a header line with the mean of its rows (what the port's value is), then
    the rows."""
    return [round(sum(rows) / len(rows), 3), *rows]


def _files(rng: random.Random, fault: str | None) -> dict[str, list[float]]:
    width = 20.0 if fault == "gen" else 10.0
    x = [round(rng.uniform(0, width), 3) for _ in range(ROWS)]
    y = [round(3 * v + rng.gauss(0, 2), 3) for v in x]
    train_x, train_y = x[:TRAIN_ROWS], y[:TRAIN_ROWS]
    test_x, test_y = x[TRAIN_ROWS:], y[TRAIN_ROWS:]
    if fault == "leak":  # the training rows land in the test files too
        test_x, test_y = train_x + test_x, train_y + test_y
    model = _table(train_y)[0] + (1.0 if fault == "train" else 0.0)
    drift = model - _table(test_y)[0]  # the training mean against the test mean
    return {
        "x.txt": _table(x),
        "y.txt": _table(y),
        "train_x.txt": _table(train_x),
        "train_y.txt": _table(train_y),
        "test_x.txt": _table(test_x),
        "test_y.txt": _table(test_y),
        "model.txt": [round(model, 3)],
        "score.txt": [round(1.5 * drift if fault == "evaluate" else drift, 3)],
    }


def write_run(folder: Path, seed: int, fault: str | None = None) -> None:
    """One run of the workflow in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    clock = _Clock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc), rng)
    files = _files(rng, fault)

    def audit(process: str, cmd: str, ports: dict[str, str], up: dict[str, Any]) -> dict:
        first = next(iter(ports))
        record = _audit(rng, clock, process, cmd, first, ports[first], up, "0.12")
        record["OutFiles"] = dict(ports)
        return record

    gen = audit("gen", "gen.py {o:x} {o:y}", {"x": "x.txt", "y": "y.txt"}, {})
    split = audit(
        "split",
        "split.py {i:x} {i:y} {o:train_x} {o:train_y} {o:test_x} {o:test_y}",
        {p: f"{p}.txt" for p in ("train_x", "train_y", "test_x", "test_y")},
        {"x.txt": gen, "y.txt": gen},
    )
    train = audit(
        "train",
        "train.py {i:x} {i:y} > {o:model}",
        {"model": "model.txt"},
        {"train_x.txt": split, "train_y.txt": split},
    )
    evaluate = audit(
        "evaluate",
        "evaluate.py {i:model} {i:x} {i:y} > {o:score}",
        {"score": "score.txt"},
        {"model.txt": train, "test_x.txt": split, "test_y.txt": split},
    )
    writers = {"x.txt": gen, "y.txt": gen, "model.txt": train, "score.txt": evaluate}
    for path, values in files.items():
        (folder / path).write_text(_lines(values))
        # one audit file per output; a process with several out-ports writes its record again
        record = writers.get(path, split)
        (folder / f"{path}.audit.json").write_text(_go_json(record))
    (folder / "workflow_graph.dot").write_text(_DOT)


def write_runs(root: Path, runs: int, seed: int, fault: str | None = None) -> None:
    """``runs`` runs in ``root/run-01`` …, seeds ``seed + i``."""
    for i in range(runs):
        write_run(root / f"run-{i + 1:02d}", seed + i, fault)
