"""The GC-ratio workflow of Paleyes et al. (EuroMLSys 2023), written as SciPipe writes it.

Processes: ``count1``/``count2`` choose how many lines of a DNA segment to read (U{1..100}
normally); ``gccountN``/``atcountN`` count G/C and A/T letters in the first N lines; two
Concatenators (Go components: no audit file) join the counts; ``gcsum``/``atsum`` add them;
``gcratio`` = gc / (gc + at). A fault is injected by narrowing ``count1`` or ``count2`` to
U{1..10}. Each run folder holds the audit files (SciPipe 0.12 format, nested ``Upstream``,
stub entries with random IDs for the Concatenator outputs), the small output files, and the
``workflow_graph.dot`` that ``PlotGraph`` writes.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["write_run", "write_runs", "dna_segment", "FORMAT_VERSIONS"]

#: Audit format generations (see ``../shared/formats.md`` §1).
FORMAT_VERSIONS = ("0.12", "0.7", "0.6", "0.2")

_DOT = """digraph "gc_ratio_wf" {
  rankdir=LR;
  graph [fontname="Arial",fontsize=13,color="#384A52",fontcolor="#384A52"];
  node  [fontname="Arial",fontsize=11,color="#384A52",fontcolor="#384A52",fillcolor="#EFF2F5",shape=box,style=filled];
  edge  [fontname="Arial",fontsize=9, color="#384A52",fontcolor="#384A52"];
  "atcat" [shape=box];
  "atcount1" [shape=box];
  "atcount2" [shape=box];
  "atsum" [shape=box];
  "count1" [shape=box];
  "count2" [shape=box];
  "gccat" [shape=box];
  "gccount1" [shape=box];
  "gccount2" [shape=box];
  "gcratio" [shape=box];
  "gcsum" [shape=box];
  "atcat" -> "atsum" [taillabel="out", headlabel="in"];
  "atcount1" -> "atcat" [taillabel="atcount", headlabel="in"];
  "atcount2" -> "atcat" [taillabel="atcount", headlabel="in"];
  "atsum" -> "gcratio" [taillabel="sum", headlabel="atsum"];
  "count1" -> "gccount1" [taillabel="count", headlabel="count"];
  "count1" -> "atcount1" [taillabel="count", headlabel="count"];
  "count2" -> "gccount2" [taillabel="count", headlabel="count"];
  "count2" -> "atcount2" [taillabel="count", headlabel="count"];
  "gccat" -> "gcsum" [taillabel="out", headlabel="in"];
  "gccount1" -> "gccat" [taillabel="gccount", headlabel="in"];
  "gccount2" -> "gccat" [taillabel="gccount", headlabel="in"];
  "gcsum" -> "gcratio" [taillabel="sum", headlabel="gcsum"];
}
"""

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def dna_segment(seed: int, lines: int = 100, width: int = 60) -> list[str]:
    """A fixed pseudo-random DNA segment (each segment has its own GC content)."""
    rng = random.Random(seed)
    gc_bias = 0.3 + 0.4 * rng.random()
    out = []
    for _ in range(lines):
        out.append(
            "".join(
                rng.choice("GC") if rng.random() < gc_bias else rng.choice("AT")
                for _ in range(width)
            )
        )
    return out


def _go_json(obj: Any) -> str:
    """JSON as Go's ``json.MarshalIndent(v, "", "    ")`` writes it (HTML characters escaped)."""
    text = json.dumps(obj, indent=4, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _rfc3339(t: dt.datetime, nanos: int) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}".rstrip("0") + "Z"


class _Clock:
    def __init__(self, start: dt.datetime, rng: random.Random) -> None:
        self.ns = int(start.timestamp()) * 1_000_000_000
        self.rng = rng

    def step(self, lo_us: int, hi_us: int) -> tuple[str, int]:
        self.ns += self.rng.randint(lo_us, hi_us) * 1000 + self.rng.randint(0, 999)
        secs, nanos = divmod(self.ns, 1_000_000_000)
        return _rfc3339(dt.datetime.fromtimestamp(secs, dt.timezone.utc), nanos), self.ns


def _rid(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(20))


def _audit(
    rng: random.Random,
    clock: _Clock,
    process: str,
    command: str,
    out_port: str,
    out_path: str,
    upstream: dict[str, Any],
    version: str,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    start, s_ns = clock.step(200, 900)
    finish, f_ns = clock.step(700, 4000)
    exec_ns = f_ns - s_ns + rng.randint(-3, 3)
    rec: dict[str, Any] = {"ID": _rid(rng), "ProcessName": process, "Command": command}
    if version == "0.12":
        rec.update(
            {
                "Params": params or {},
                "Tags": {},
                "StartTime": start,
                "FinishTime": finish,
                "ExecTimeNS": exec_ns,
                "OutFiles": {out_port: out_path},
                "Upstream": upstream,
            }
        )
    elif version == "0.7":
        rec.update(
            {
                "Params": params or {},
                "Tags": {},
                "StartTime": start,
                "FinishTime": finish,
                "ExecTimeMS": exec_ns // 1_000_000,
                "Upstream": upstream,
            }
        )
    elif version == "0.6":
        rec.update(
            {
                "Params": params or {},
                "Keys": {},
                "StartTime": start,
                "FinishTime": finish,
                "ExecTimeMS": exec_ns // 1_000_000,
                "Upstream": upstream,
            }
        )
    else:  # before 0.3
        rec.update(
            {
                "Params": params or {},
                "Keys": {},
                "StartTime": start,
                "FinishTime": finish,
                "ExecutionTimeMilliSeconds": exec_ns // 1_000_000,
                "UpstreamAuditInfos": upstream,
            }
        )
    return rec


def _stub(rng: random.Random, version: str) -> dict[str, Any]:
    zero = "0001-01-01T00:00:00Z"
    rec: dict[str, Any] = {"ID": _rid(rng), "ProcessName": "", "Command": "", "Params": {}}
    if version == "0.12":
        rec.update(
            {
                "Tags": {},
                "StartTime": zero,
                "FinishTime": zero,
                "ExecTimeNS": -1,
                "OutFiles": {},
                "Upstream": {},
            }
        )
    elif version in ("0.7", "0.6"):
        rec.update(
            {
                "Tags" if version == "0.7" else "Keys": {},
                "StartTime": zero,
                "FinishTime": zero,
                "ExecTimeMS": -1,
                "Upstream": {},
            }
        )
    else:
        rec.update(
            {
                "Keys": {},
                "StartTime": zero,
                "FinishTime": zero,
                "ExecutionTimeMilliSeconds": -1,
                "UpstreamAuditInfos": {},
            }
        )
    return rec


def _fresh_stub_ids(audit: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy in which every stub gets a new random ID, as SciPipe does on every read."""
    copy = dict(audit)
    if copy.get("ProcessName") == "":
        copy["ID"] = _rid(rng)
    for key in ("Upstream", "UpstreamAuditInfos"):
        if key in copy:
            copy[key] = {p: _fresh_stub_ids(sub, rng) for p, sub in copy[key].items()}
    return copy


def write_run(
    folder: str | Path,
    *,
    seed: int,
    count1_max: int = 100,
    count2_max: int = 100,
    version: str = "0.12",
    start: dt.datetime | None = None,
    write_graph: bool = True,
) -> dict[str, float]:
    """Write one run of the GC-ratio workflow into ``folder``; returns its node values."""
    if version not in FORMAT_VERSIONS:
        raise ValueError(f"unknown SciPipe format version {version!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    clock = _Clock(
        start
        or dt.datetime(2023, 3, 13, 2, 25, 58, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seed),
        rng,
    )
    segments = {1: dna_segment(1), 2: dna_segment(2)}
    values: dict[str, float] = {}
    audits: dict[str, dict[str, Any]] = {}
    files: dict[str, str] = {}

    for i, top in ((1, count1_max), (2, count2_max)):
        n = rng.randint(1, top)
        values[f"count{i}"] = n
        path = f"count{i}.txt"
        files[path] = f"{n}\n"
        audits[path] = _audit(
            rng, clock, f"count{i}", f"echo {n} > {path}", "count", path, {}, version
        )
    for i in (1, 2):
        n = int(values[f"count{i}"])
        head = "".join(segments[i][:n])
        for kind, letters in (("gc", "GC"), ("at", "AT")):
            count = sum(head.count(c) for c in letters)
            values[f"{kind}count{i}"] = count
            path = f"chry.fa.{kind}cnt{i}"
            files[path] = f"{count}\n"
            cmd = (
                f"sed -n 1,$(cat ../count{i}.txt)p dna_segment_{i} | fold -w 1 | "
                f"grep '[{letters}]' | wc -l | awk '{{ print $1 }}' > {path}"
            )
            audits[path] = _audit(
                rng,
                clock,
                f"{kind}count{i}",
                cmd,
                f"{kind}count",
                path,
                {f"count{i}.txt": audits[f"count{i}.txt"]},
                version,
            )
    for kind in ("gc", "at"):
        cat = f"{kind}counts.txt"
        files[cat] = f"{int(values[f'{kind}count1'])}\n\n{int(values[f'{kind}count2'])}\n"
        total = values[f"{kind}count1"] + values[f"{kind}count2"]
        values[f"{kind}sum"] = total
        path = f"{cat}.sum"
        files[path] = f"{int(total)}\n"
        audits[path] = _audit(
            rng,
            clock,
            f"{kind}sum",
            f"awk '{{ SUM += $1 }} END {{ print SUM }}' ../{cat} > {path}",
            "sum",
            path,
            {cat: _stub(rng, version)},
            version,
        )
    gc, at = values["gcsum"], values["atsum"]
    ratio = gc / (gc + at)
    values["gcratio"] = ratio
    files["gcratio.txt"] = f"\t~{ratio:.20f}\n"
    audits["gcratio.txt"] = _audit(
        rng,
        clock,
        "gcratio",
        "gc=$(cat ../gccounts.txt.sum); at=$(cat ../atcounts.txt.sum); "
        'calc "$gc/($gc+$at)" > gcratio.txt',
        "gcratio",
        "gcratio.txt",
        {
            "atcounts.txt.sum": audits["atcounts.txt.sum"],
            "gccounts.txt.sum": audits["gccounts.txt.sum"],
        },
        version,
    )

    for path, text in files.items():
        (folder / path).write_text(text)
    for path, audit in audits.items():
        (folder / f"{path}.audit.json").write_text(_go_json(_fresh_stub_ids(audit, rng)))
    if write_graph:
        (folder / "workflow_graph.dot").write_text(_DOT)
    return values


def write_runs(
    root: str | Path,
    n: int,
    *,
    seed: int = 0,
    count1_max: int = 100,
    count2_max: int = 100,
    version: str = "0.12",
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write ``n`` runs into ``root/run_0000`` … (one folder per run); ``progress(done, n)``
    is called after each run."""
    root = Path(root)
    folders = []
    for i in range(n):
        if progress is not None:
            progress(i, n)
        folder = root / f"run_{i:04d}"
        write_run(
            folder,
            seed=seed * 100_003 + i,
            count1_max=count1_max,
            count2_max=count2_max,
            version=version,
        )
        folders.append(folder)
    if progress is not None:
        progress(n, n)
    return folders
