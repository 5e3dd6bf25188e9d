"""Import throughput and memory.

Throughput: SciPipe corpora (the GC-ratio workflow as SciPipe writes it: 9 audited processes
per run folder, nested Upstream, a workflow graph) imported the way ``provcausal import``
does, timed in its two phases (reading + mapping to PROV and FlowCept documents; writing them
to the store), against the raw speed of inserting the same final documents with the store's
own bulk API (``executemany`` / ``insert_many``) into an empty table/collection, and against
the physical floor of reading the corpus: ``json.load`` of the same audit files.

The command itself, end to end: a fresh ``provcausal import scipipe`` process on the same
corpus into a new SQLite store (start-up, reading, mapping, writing), wall and CPU seconds.
The Node-RED and Seldon importers (same builder and converter): read+map of a generated
Node-RED chain log and a Seldon inspect output.

Memory: peak RSS of the ``provcausal import`` process for two corpus sizes; streaming keeps it
flat (the ratio large/small stays near 1) instead of proportional to the corpus.

CPU seconds (``time.process_time``, children's ``getrusage``) are printed beside every wall
time: on a shared, loaded machine they are the figures to compare.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from provcausal.examples.scipipe_gcratio import write_runs
from provcausal.ingest import BATCH_RUNS, read_runs
from provcausal.stores import open_store


def corpus(root: Path, runs: int, log: Any) -> Path:
    folder = root / f"scipipe-{runs}"
    marker = folder / ".complete"
    if not marker.exists():
        started = time.perf_counter()
        write_runs(folder, runs, seed=7)
        marker.write_text("ok")
        log(f"generated {runs} SciPipe run folders in {time.perf_counter() - started:.1f} s")
    return folder


def _final_documents(uri: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with open_store(uri) as store:
        runs = store.find_runs()
        tasks = list(store.find_tasks([str(r["workflow_id"]) for r in runs]))
    return runs, tasks


def _raw_sqlite(path: Path, runs: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> float:
    from provcausal.stores.codec import dumps

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE TABLE w (id TEXT PRIMARY KEY, doc TEXT)")
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, run TEXT, doc TEXT)")
    started = time.perf_counter()  # serializing the documents is part of inserting them
    rows_w = [(r["workflow_id"], dumps(r)) for r in runs]
    rows_t = [(t["task_id"], t["workflow_id"], dumps(t)) for t in tasks]
    db.execute("BEGIN")
    db.executemany("INSERT INTO t VALUES (?, ?, ?)", rows_t)
    db.executemany("INSERT INTO w VALUES (?, ?)", rows_w)
    db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def _raw_mongo(uri: str, runs: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> float:
    import pymongo

    from provcausal.stores.codec import escape_keys

    with pymongo.MongoClient(uri) as client:
        db = client.get_default_database()
        started = time.perf_counter()
        docs_t = [escape_keys(t) for t in tasks]
        docs_w = [escape_keys(r) for r in runs]
        for i in range(0, len(docs_t), 1000):
            db.raw_tasks.insert_many(docs_t[i : i + 1000], ordered=False)
        db.raw_workflows.insert_many(docs_w, ordered=False)
        return time.perf_counter() - started


def json_floor(folder: Path) -> tuple[float, int]:
    """Seconds to ``json.load`` every audit file of the corpus (the physical floor of reading
    it: no mapping, no store), and how many files."""
    started = time.perf_counter()
    files = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            if name.endswith(".audit.json"):
                with open(os.path.join(parent, name), encoding="utf-8") as handle:
                    json.load(handle)
                files += 1
    return time.perf_counter() - started, files


def throughput(
    root: Path, runs: int, store: str, mongo_base: str | None, log: Any
) -> dict[str, Any]:
    folder = corpus(root, runs, log)
    tag = f"{store}-{runs}-{time.time_ns()}"
    if store == "sqlite":
        uri = f"sqlite://{root / (tag + '.db')}"
    else:
        assert mongo_base is not None
        uri = f"{mongo_base}/bench_{tag.replace('-', '_')}"
    cpu = time.process_time()
    floor, files = json_floor(folder)
    floor_cpu = time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    _, runs_iter = read_runs("scipipe", [folder], "bench", label="bench")
    records = [r.records for r in runs_iter if not isinstance(r, str)]
    read = time.perf_counter() - started
    read_cpu = time.process_time() - cpu
    with open_store(uri) as s:
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(records), BATCH_RUNS):
            s.put_runs(records[i : i + BATCH_RUNS])
        write = time.perf_counter() - started
        write_cpu = time.process_time() - cpu
    projection_cpu = _projection_cpu(records)
    runs_docs, tasks = _final_documents(uri)
    if store == "sqlite":
        raw = _raw_sqlite(root / f"{tag}-raw.db", runs_docs, tasks)
    else:
        raw = _raw_mongo(f"{mongo_base}/raw_{tag.replace('-', '_')}", runs_docs, tasks)
    n = len(tasks) + len(runs_docs)
    ours = read + write
    log(
        f"import {store} {runs} runs: {ours:.1f} s end to end ({n / ours:.0f} records/s: "
        f"read+map {read:.1f} s, store writes {write:.2f} s = {n / write:.0f} records/s); raw "
        f"bulk insert of the same documents {raw:.2f} s ({n / raw:.0f} records/s); json.load "
        f"of the {files} audit files {floor:.2f} s (read+map {read / floor:.0f}x that); CPU "
        f"seconds (load-independent): read+map {read_cpu:.2f}, json.load {floor_cpu:.2f} "
        f"(read+map {read_cpu / floor_cpu:.0f}x that), store writes {write_cpu:.2f}, of which "
        f"the analysis projection {projection_cpu:.2f} "
        f"({projection_cpu / (read_cpu + write_cpu):.0%} of the import's CPU)"
    )
    return {
        "store": store,
        "runs": runs,
        "records": n,
        "seconds": ours,
        "read_map_seconds": read,
        "write_seconds": write,
        "records_per_second": n / ours,
        "write_records_per_second": n / write,
        "raw_seconds": raw,
        "raw_records_per_second": n / raw,
        "write_ratio_to_raw": raw / write,
        "end_to_end_ratio_to_raw": raw / ours,
        "json_load_seconds": floor,
        "audit_files": files,
        "read_map_ratio_to_json_load": read / floor,
        "read_map_cpu_seconds": read_cpu,
        "json_load_cpu_seconds": floor_cpu,
        "read_map_cpu_ratio_to_json_load": read_cpu / floor_cpu,
        "write_cpu_seconds": write_cpu,
        "projection_cpu_seconds": projection_cpu,
        "projection_share_of_import_cpu": projection_cpu / (read_cpu + write_cpu),
    }


def _projection_cpu(records: list[Any]) -> float:
    """CPU seconds of computing the runs' analysis projection (part of every store write
    since issue 19), measured on its own: what the projection adds to an import."""
    from provcausal.projection import project_runs

    cpu = time.process_time()
    project_runs(records)
    return time.process_time() - cpu


def command(root: Path, runs: int, log: Any, repeats: int = 3) -> dict[str, Any]:
    """``provcausal import scipipe`` in a fresh process into a new SQLite store, ``repeats``
    times: wall seconds and the child's CPU seconds (user + system), start-up included."""
    folder = corpus(root, runs, log)
    walls, cpus = [], []
    for _ in range(repeats):
        db = root / f"cli-{runs}-{time.time_ns()}.db"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "provcausal.cli", "-q", "--store", f"sqlite://{db}"]
            + ["import", "scipipe", str(folder), "--workflow", "bench"],
            check=True,
            capture_output=True,
        )
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    log(
        f"provcausal import scipipe, {runs} runs, fresh process into a new SQLite store: "
        f"wall {min(walls):.2f}-{max(walls):.2f} s, CPU {min(cpus):.2f}-{max(cpus):.2f} s "
        f"({repeats} runs)"
    )
    return {"runs": runs, "wall_seconds": walls, "cpu_seconds": cpus}


def other_importers(root: Path, messages: int, log: Any, repeats: int = 3) -> list[dict[str, Any]]:
    """Read+map of a Node-RED chain log (``messages`` lines) and a Seldon inspect output
    (``messages`` / 2 requests), with the same builder and converter as SciPipe."""
    from provcausal.examples import nodered_chain, seldon_claims

    folder = root / f"others-{messages}"
    if not (folder / ".complete").exists():
        folder.mkdir(parents=True, exist_ok=True)
        flow = nodered_chain.chain_flow(6)
        nodered_chain.write_trace_log(folder / "chain.log", flow, messages, seed=1)
        nodered_chain.write_flow(folder / "flows.json", flow)
        seldon_claims.write_spec(folder / "pipeline.yaml")
        requests = seldon_claims.simulate(messages // 2, seed=1)
        seldon_claims.write_inspect(folder / "claims.txt", requests, fmt="raw29", verbose=True)
        (folder / ".complete").write_text("ok")
    cases = [
        ("nodered", f"{messages} messages", folder / "chain.log", {"flow": folder / "flows.json"}),
        (
            "seldon",
            f"{messages // 2} requests",
            folder / "claims.txt",
            {"pipeline": folder / "pipeline.yaml"},
        ),
    ]
    rows = []
    for system, size, path, opts in cases:
        walls, cpus = [], []
        for _ in range(repeats):
            started, cpu = time.perf_counter(), time.process_time()
            _, runs_iter = read_runs(system, [path], "bench", **opts)
            tasks = sum(r.tasks for r in runs_iter if not isinstance(r, str))
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
        log(
            f"read+map {system} ({size}, {tasks} tasks): CPU {min(cpus):.2f}-{max(cpus):.2f} s, "
            f"wall {min(walls):.2f}-{max(walls):.2f} s ({repeats} runs)"
        )
        rows.append(
            {
                "system": system,
                "size": size,
                "tasks": tasks,
                "cpu_seconds": cpus,
                "wall_seconds": walls,
            }
        )
    return rows


def peak_rss(root: Path, sizes: list[int], log: Any) -> dict[str, Any]:
    """Peak RSS (MiB) of a ``provcausal import`` child process per corpus size."""
    out: dict[str, float] = {}
    for runs in sizes:
        folder = corpus(root, runs, log)
        db = root / f"rss-{runs}-{time.time_ns()}.db"
        code = (
            "import sys\n"
            # cli(), not main(): main() ends the process with os._exit (no print after it).
            "from provcausal.cli import cli\n"
            "sys.argv = ['provcausal', '-q', '--store', sys.argv[1], 'import', 'scipipe', "
            "sys.argv[2], '--workflow', 'bench']\n"
            "try:\n    cli(prog_name='provcausal')\nexcept SystemExit:\n    pass\n"
            # VmHWM: this process's own peak. ru_maxrss would include the parent's peak,
            # which Linux carries into a child across fork + exec.
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, f"sqlite://{db}", str(folder)],
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ),
        )
        mib = int(done.stdout.strip().splitlines()[-1]) / 1024
        out[str(runs)] = mib
        log(f"peak RSS importing {runs} runs: {mib:.0f} MiB")
    small, large = str(min(sizes)), str(max(sizes))
    return {
        "peak_rss_mib": out,
        "ratio_large_to_small": out[large] / out[small],
        "corpus_ratio": max(sizes) / min(sizes),
    }


__all__ = ["throughput", "command", "other_importers", "peak_rss", "corpus", "json_floor"]
