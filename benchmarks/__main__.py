"""``python -m benchmarks [--quick] [--json] [--only …] [--workdir DIR]``."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under two minutes")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument(
        "--only",
        action="append",
        choices=["import", "memory", "lineage", "attribution", "accuracy"],
        help="run only these (repeatable)",
    )
    parser.add_argument("--workdir", type=Path, help="keep corpora here between runs")
    parser.add_argument("--trials", type=int, help="attribution data sets per graph")
    parser.add_argument("--import-sizes", type=_sizes, help="run folders, e.g. 1000,10000")
    parser.add_argument("--memory-sizes", type=_sizes, help="run folders, e.g. 1000,100000")
    parser.add_argument("--lineage-tasks", type=int, help="tasks in the lineage store")
    parser.add_argument("--attribution-sizes", type=_sizes, help="nodes, e.g. 5,20,50,100")
    parser.add_argument(
        "--shapes", type=lambda t: t.split(","), help="accuracy shapes, e.g. switch,ports"
    )
    parser.add_argument("--repeats", type=int, help="accuracy: bootstrap repeats per call")
    args = parser.parse_args(argv)
    # accuracy runs only when asked for: 20 data sets of 5 shapes take tens of minutes
    wanted = set(args.only or ["import", "memory", "lineage", "attribution"])

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="provcausal-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"quick": args.quick, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    server = None
    try:
        if "import" in wanted:
            from benchmarks import imports
            from tests.mongo_server import WireServer

            sizes = args.import_sizes or ([200] if args.quick else [1_000, 10_000, 100_000])
            server = WireServer(work / "nx27017")
            server.start()
            rows = []
            for runs in sizes:
                rows.append(imports.throughput(work, runs, "sqlite", None, log))
                if runs <= 10_000:  # the wire-protocol test server is not a production mongod
                    rows.append(imports.throughput(work, runs, "mongodb", server.base_uri, log))
            report["import"] = rows
        if "memory" in wanted:
            from benchmarks import imports

            sizes = args.memory_sizes or ([100, 400] if args.quick else [1_000, 100_000])
            report["memory"] = imports.peak_rss(work, sizes, log)
        if "lineage" in wanted:
            from benchmarks import lineage

            tasks = args.lineage_tasks or (50_000 if args.quick else 1_000_000)
            uri = lineage.build(work / f"lineage-{tasks}.db", tasks, log)
            report["lineage"] = lineage.measure(uri, 20 if args.quick else 100, 0, log)
        if "attribution" in wanted:
            from benchmarks import attribution

            if args.quick:
                rows = attribution.run([5], ["chain"], args.trials or 2, 1, 2000, 0, log)
            else:
                sizes = args.attribution_sizes or [5, 20, 50, 100]
                rows = attribution.run(
                    sizes, ["chain", "diamond"], args.trials or 5, 1, 2000, 0, log
                )
            report["attribution"] = rows
        if "accuracy" in wanted:
            from benchmarks import accuracy
            from provcausal.examples.shapes import SHAPES

            report["accuracy"] = accuracy.run(
                args.shapes or list(SHAPES),
                args.trials or (3 if args.quick else 20),
                0 if args.repeats is None else args.repeats,
                log,
                work / "accuracy",
            )
    finally:
        if server is not None:
            server.stop()
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return 0


def render(report: dict[str, Any]) -> str:
    lines = []
    for row in report.get("import", []):
        lines.append(
            f"import {row['store']:7} {row['runs']:>7} runs: end to end "
            f"{row['records_per_second']:>7.0f} records/s; store writes "
            f"{row['write_records_per_second']:>7.0f} records/s vs raw bulk insert "
            f"{row['raw_records_per_second']:>8.0f}: ratio "
            f"{row['write_ratio_to_raw']:.2f}"
        )
    if "memory" in report:
        m = report["memory"]
        lines.append(
            f"memory: peak RSS {m['peak_rss_mib']} MiB; large/small "
            f"{m['ratio_large_to_small']:.2f} for a {m['corpus_ratio']:.0f}x corpus"
        )
    if "lineage" in report:
        x = report["lineage"]
        lines.append(
            f"lineage depth 20 in {x['tasks']} tasks: median {x['median_ms']:.1f} ms, "
            f"p95 {x['p95_ms']:.1f} ms, {x['ratio_to_point_lookup']:.0f}x one lookup"
        )
    for row in report.get("attribution", []):
        lines.append(
            f"attribution {row['shape']:7} {row['nodes']:>3} nodes: provcausal "
            f"{row['provcausal_seconds']:.1f} s (top-1 {row['provcausal_top1_rate']:.0%} of "
            f"{row['provcausal_trials']}), dowhy default "
            + (
                f"{row['dowhy_seconds']:.1f} s (top-1 {row['dowhy_top1_rate']:.0%} of "
                f"{row['dowhy_trials']}), speed-up {row['speedup']:.0f}x"
                if row.get("dowhy_seconds")
                else "not run"
            )
        )
    if "accuracy" in report:
        from benchmarks import accuracy

        lines += accuracy.render(report["accuracy"])
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
