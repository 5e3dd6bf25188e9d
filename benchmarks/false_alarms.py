"""False alarms of ``attribute`` when nothing changed (issue 18).

For every example of ``provcausal example`` (the paper's workflows and the real dataflow
shapes) and several sizes, two *normal* sets with different seeds are written in the real
format, imported with the commands the example prints (labels ``a<i>`` and ``b<i>``), and
compared with ``attribute`` (the Python API the CLI calls, default options: 20 resamples,
seed 0). Nothing changed between the sets, so every comparison should report no shift and
none may give a strong verdict. Reported per example and size, and in all: the share of
comparisons that reported a shift (of any analysed sink) and the number of strong verdicts.
"""

from __future__ import annotations

import json
import shlex
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

#: A strong verdict (see provcausal.analysis.verdict): the only wording that is not hedged.
STRONG = " explains the change:"


def examples() -> list[str]:
    """Every example ``provcausal example`` writes (new ones are picked up on their own)."""
    from provcausal.cli.commands_example import example_cmd

    return list(example_cmd.params[0].type.choices)  # type: ignore[attr-defined]


def _cli(store: str | None, *args: str) -> Any:
    from click.testing import CliRunner

    from provcausal.cli import cli

    prefix = ["--store", store] if store else []
    result = CliRunner().invoke(cli, [*prefix, *args])
    if result.exit_code != 0:
        raise RuntimeError(f"provcausal {' '.join(args)}: {result.output}")
    return result.output


def _normal_set(name: str, size: int, seed: int, folder: Path, store: str, label: str) -> str:
    """Write ``name``'s example with ``seed`` and import only its normal set as ``label``;
    the workflow's name."""
    doc = json.loads(
        _cli(
            None,
            "example",
            name,
            str(folder),
            "--runs",
            str(size),
            "--seed",
            str(seed),
            "--force",
            "--json",
        )
    )
    words = shlex.split(doc["next"][0])  # the import of the normal set
    words[words.index("--label") + 1] = label
    _cli(store, *words[1:])
    return str(doc["workflow"])


def comparison(name: str, size: int, index: int, work: Path, store: str) -> dict[str, Any]:
    """One null comparison: two normal sets of ``name`` (seeds apart), ``attribute``d."""
    from provcausal.analysis import attribute
    from provcausal.stores import open_store

    # Seldon request ids embed the seed in a 32-bit second: seeds stay small. Each example
    # uses seed + 1 for its (unused) broken set, so a step of 5 keeps every set distinct.
    seeds = (10 * index + 1, 10 * index + 6)
    labels = (f"a{index}", f"b{index}")
    workflow = ""
    for seed, label in zip(seeds, labels, strict=True):
        folder = work / f"{name}-{size}-{label}"
        workflow = _normal_set(name, size, seed, folder, store, label)
    with open_store(store) as opened:
        started = time.perf_counter()
        result = attribute(opened, workflow, *labels, seed=0, n_jobs=1)
        seconds = time.perf_counter() - started
    sinks = [result, *result.also]
    shifts = [s.shift for s in sinks if s.shift is not None]
    return {
        "example": name,
        "size": size,
        "index": index,
        "shift": any(s.detected for s in shifts),
        "p_values": [s.p_value for s in shifts],
        "strong": [s.verdict for s in sinks if STRONG in s.verdict],
        "seconds": seconds,
    }


def run(
    names: list[str], sizes: list[int], per: int, log: Any, work: Path | None = None
) -> list[dict[str, Any]]:
    """``per`` comparisons of each example at each size: one row per (example, size)."""
    work = work or Path(tempfile.mkdtemp(prefix="provcausal-false-alarms-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        for size in sizes:
            path = work / f"{name}-{size}.db"
            path.unlink(missing_ok=True)  # a kept --workdir: start from an empty store
            store = f"sqlite:///{path}"
            done = []
            for index in range(per):
                done.append(comparison(name, size, index, work, store))
                last = done[-1]
                log(
                    f"false alarms {name} {size}: {index + 1}/{per}, shift "
                    f"{'yes' if last['shift'] else 'no'} "
                    f"(p {', '.join(f'{p:.3g}' for p in last['p_values'])}), "
                    f"{last['seconds']:.1f} s"
                )
            rows.append(
                {
                    "example": name,
                    "size": size,
                    "comparisons": per,
                    "shifts": sum(d["shift"] for d in done),
                    "strong": sum(bool(d["strong"]) for d in done),
                    "strong_verdicts": [v for d in done for v in d["strong"]],
                    "min_p": min(p for d in done for p in d["p_values"]),
                    "median_seconds": statistics.median(d["seconds"] for d in done),
                }
            )
            with (work / "rows.jsonl").open("a", encoding="utf-8") as kept:
                kept.write(json.dumps(rows[-1]) + "\n")  # what is done survives a stop
    return rows


def render(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"false alarms {r['example']:8} size {r['size']:>4}: {r['shifts']} of "
        f"{r['comparisons']} report a shift (smallest p {r['min_p']:.3g}), "
        f"{r['strong']} strong verdicts, median {r['median_seconds']:.2f} s per call"
        for r in rows
    ]
    total = sum(r["comparisons"] for r in rows)
    if total:
        shifts = sum(r["shifts"] for r in rows)
        strong = sum(r["strong"] for r in rows)
        lines.append(
            f"false alarms: {shifts} of {total} null comparisons report a shift "
            f"({shifts / total:.1%}; goal <= 5 %), {strong} strong verdicts (goal 0)"
        )
    return lines
