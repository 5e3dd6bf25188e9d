"""Per-repeat accuracy on real dataflow shapes (issue 10).

For every shape of :mod:`provcausal.examples.shapes` and its default fault, ``trials``
independent data sets (each with its own seed) are written in the real format, imported with
the commands the example prints, and analysed with ``attribute`` (the Python API the CLI
calls; ``repeats`` bootstrap resamples). A trial is a hit when the faulty node ranks first (for
a fault in a whole step whose outputs are variables of their own, ``step.port``, any of them:
:func:`provcausal.examples.shapes.is_expected`).
Reported per shape: the top-1 rate and the median seconds per ``attribute`` call. A row is a
shape with its default fault, or ``shape:fault`` (e.g. ``triggers:input``, the input shift
beside the classifier fault).
"""

from __future__ import annotations

import shlex
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

#: The rows of a full run: every shape with its default fault, and the input shift of the
#: Seldon trigger shape (the classifier fault's companion experiment).
DEFAULT_ROWS = [
    "fanout",
    "switch",
    "sinks",
    "ports",
    "renamed",
    "triggers",
    "triggers:input",
]


def _import(store_uri: str, commands: list[str]) -> None:
    from click.testing import CliRunner

    from provcausal.cli import cli

    for command in commands:
        result = CliRunner().invoke(cli, ["--store", store_uri, *shlex.split(command)[1:]])
        if result.exit_code != 0:
            raise RuntimeError(f"{command}: {result.output}")


def trial(shape: str, seed: int, repeats: int, work: Path) -> tuple[bool, float, str]:
    """One data set: (faulty node ranked first?, seconds of the attribute call, top label)."""
    from provcausal.analysis import attribute
    from provcausal.examples.shapes import is_expected, write_example
    from provcausal.stores import open_store

    name, _, fault = shape.partition(":")
    folder = work / f"{name}-{fault or 'default'}-{seed}"
    # seeds 10, 20, ...: the normal set uses the seed, the faulty one seed + 1 (Seldon request
    # ids embed the seed in a 32-bit second, so seeds stay small)
    example = write_example(name, folder, seed=10 * seed, fault=fault or None)
    uri = f"sqlite:///{folder / 'store.db'}"
    _import(uri, example.commands[:-1])
    with open_store(uri) as store:
        started = time.perf_counter()
        result = attribute(
            store, example.workflow, "normal", "broken", repeats=repeats, seed=0, n_jobs=1
        )
        seconds = time.perf_counter() - started
    top = str(result.table.iloc[0]["label"])
    return is_expected(example, top), seconds, top


def run(
    shapes: list[str], trials: int, repeats: int, log: Any, work: Path | None = None
) -> list[dict[str, Any]]:
    work = work or Path(tempfile.mkdtemp(prefix="provcausal-accuracy-"))
    rows = []
    for shape in shapes:
        hits, seconds, tops = [], [], []
        for i in range(trials):
            hit, secs, top = trial(shape, i + 1, repeats, work)
            hits.append(hit)
            seconds.append(secs)
            tops.append(top)
            log(f"accuracy {shape} trial {i + 1}/{trials}: top {top} ({secs:.1f} s)")
        misses = sorted({t for t, h in zip(tops, hits, strict=True) if not h})
        rows.append(
            {
                "shape": shape,
                "trials": trials,
                "repeats": repeats,
                "top1_rate": sum(hits) / trials,
                "median_seconds": statistics.median(seconds),
                "wrong_tops": misses,
            }
        )
    return rows


def render(rows: list[dict[str, Any]]) -> list[str]:
    return [
        f"accuracy {r['shape']:14} top-1 {r['top1_rate']:.0%} of {r['trials']} data sets, "
        f"median {r['median_seconds']:.1f} s per call (repeats {r['repeats']})"
        + (f"; wrong tops: {', '.join(r['wrong_tops'])}" if r["wrong_tops"] else "")
        for r in rows
    ]
