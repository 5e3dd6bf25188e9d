"""``python -m benchmarks [--quick] [--json] [--only …] [--workdir DIR]``."""

from __future__ import annotations

import argparse
import compileall
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _compile_project() -> None:
    """Write the project's bytecode, as ``pip install`` does for an installed package. Under
    ``PYTHONDONTWRITEBYTECODE`` (set on the project's machine) an editable install otherwise
    compiles every module it imports in every process, which a user's installed copy never
    does: 0.05-0.07 s of each timed ``provcausal`` process."""
    root = Path(__file__).resolve().parents[1]
    for package in ("provcausal", "importers", "queries"):
        compileall.compile_dir(root / package, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under two minutes")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument(
        "--only",
        action="append",
        choices=[
            "import",
            "memory",
            "lineage",
            "extraction",
            "attribution",
            "accuracy",
            "false_alarms",
            "dowhy",
            "watch",
        ],
        help="run only these (repeatable)",
    )
    parser.add_argument("--workdir", type=Path, help="keep corpora here between runs")
    parser.add_argument("--trials", type=int, help="attribution data sets per graph")
    parser.add_argument("--import-sizes", type=_sizes, help="run folders, e.g. 1000,10000")
    parser.add_argument("--memory-sizes", type=_sizes, help="run folders, e.g. 1000,100000")
    parser.add_argument("--lineage-tasks", type=int, help="tasks in the lineage store")
    parser.add_argument(
        "--extraction-runs",
        type=_sizes,
        help="runs per side, runs stored [, runs stored at the first measure] (SQLite), "
        "default 1100,100000,10000",
    )
    parser.add_argument(
        "--extraction-mongo-runs", type=_sizes, help="the same on MongoDB, e.g. 1000,10000"
    )
    parser.add_argument("--attribution-sizes", type=_sizes, help="nodes, e.g. 5,20,50,100")
    parser.add_argument(
        "--baseline-trials", type=int, help="data sets per size also given to dowhy (default 3)"
    )
    parser.add_argument(
        "--workflow-rows", type=int, help="samples per side of the example workflows (1000)"
    )
    parser.add_argument("--large-dag", type=int, help="nodes of the large DAG (200; 0: skip)")
    parser.add_argument(
        "--graph-shapes", default="chain,diamond", help="synthetic graph shapes (chain,diamond)"
    )
    parser.add_argument(
        "--attribution-parts",
        default="startup,command,workflows,synthetic,large",
        help="which attribution measurements (startup,command,workflows,synthetic,large)",
    )
    parser.add_argument(
        "--command-runs",
        type=_sizes,
        help="whole attribute command: README runs per side, each size in its own store "
        "(1000,10000; a store of 10,000 per side is filled to 100,000 runs)",
    )
    parser.add_argument(
        "--command-mongo-runs", type=_sizes, help="the same on MongoDB (nx-27017): 1000"
    )
    parser.add_argument(
        "--workflow-kinds", default="gcratio,claims,nodered", help="example workflows to run"
    )
    parser.add_argument(
        "--shapes",
        type=lambda t: t.split(","),
        help="accuracy rows: shapes, or shape:fault, e.g. switch,triggers:input",
    )
    parser.add_argument("--repeats", type=int, help="accuracy: bootstrap repeats per call")
    parser.add_argument(
        "--false-alarm-sizes",
        type=_sizes,
        help="false_alarms: runs/messages/requests per set, e.g. 20,60,150",
    )
    parser.add_argument(
        "--false-alarm-comparisons", type=int, help="false_alarms: comparisons per example and size"
    )
    parser.add_argument(
        "--false-alarm-examples",
        type=lambda t: t.split(","),
        help="false_alarms: which examples (default: all of `provcausal example`)",
    )
    parser.add_argument("--watch-window", type=int, default=50, help="watch: window (50)")
    parser.add_argument("--watch-trials", type=int, help="watch: trials per shape (50)")
    parser.add_argument(
        "--watch-latency-window", type=int, help="watch: runs per window for the latency (1000)"
    )
    args = parser.parse_args(argv)
    # accuracy, false_alarms, dowhy and watch run only when asked for: each takes minutes
    wanted = set(args.only or ["import", "memory", "lineage", "extraction", "attribution"])

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="provcausal-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    _compile_project()
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
            report["import_command"] = [imports.command(work, runs, log) for runs in sizes[:1]]
            report["import_others"] = imports.other_importers(
                work, 200 if args.quick else 2_000, log
            )
        if "memory" in wanted:
            from benchmarks import imports

            sizes = args.memory_sizes or ([100, 400] if args.quick else [1_000, 100_000])
            report["memory"] = imports.peak_rss(work, sizes, log)
        if "lineage" in wanted:
            from benchmarks import lineage

            tasks = args.lineage_tasks or (50_000 if args.quick else 1_000_000)
            uri = lineage.build(work / f"lineage-{tasks}.db", tasks, log)
            report["lineage"] = lineage.measure(uri, 20 if args.quick else 100, 0, log)
        if "extraction" in wanted:
            server = _extraction(args, work, report, server, log)
        if "attribution" in wanted:
            report["attribution_startup"] = _attribution(args, work, report, log)
        if "accuracy" in wanted:
            from benchmarks import accuracy

            report["accuracy"] = accuracy.run(
                args.shapes or accuracy.DEFAULT_ROWS,
                args.trials or (3 if args.quick else 20),
                0 if args.repeats is None else args.repeats,
                log,
                work / "accuracy",
            )
        if "false_alarms" in wanted:
            from benchmarks import false_alarms

            report["false_alarms"] = false_alarms.run(
                args.false_alarm_examples or false_alarms.examples(),
                args.false_alarm_sizes or ([20] if args.quick else [20, 60, 150]),
                args.false_alarm_comparisons or (1 if args.quick else 13),
                log,
                work / "false-alarms",
            )
        if "dowhy" in wanted:  # dowhy's own scenarios side by side (issue 18)
            from benchmarks import dowhy_scenarios

            seeds = args.trials or (3 if args.quick else 20)
            report["dowhy_scenarios"] = dowhy_scenarios.run(seeds, args.baseline_trials or 3, log)
        if "watch" in wanted:
            from benchmarks import watch

            report["watch"] = watch.run(
                work / "watch",
                args.watch_window,
                args.watch_trials or (10 if args.quick else 50),
                args.watch_latency_window or (200 if args.quick else 1000),
                log,
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


def _attribution(
    args: argparse.Namespace, work: Path, report: dict[str, Any], log: Any
) -> dict[str, float]:
    """Start-up, example workflows and synthetic graphs, provcausal beside dowhy."""
    from benchmarks import attribution

    parts = set(args.attribution_parts.split(","))
    startup = attribution.startup(log) if "startup" in parts else {}
    base = args.baseline_trials
    quick = args.quick
    rows = args.workflow_rows or (100 if quick else 1000)
    trials = args.trials or (2 if quick else 3)
    base = (1 if quick else trials) if base is None else base
    if "command" in parts:
        report["attribution_command"] = _whole_command(args, work, log)
    if "workflows" in parts:
        kinds = ["gcratio"] if quick else args.workflow_kinds.split(",")
        report["attribution_workflows"] = attribution.workflows(
            kinds, rows, 1 if quick else trials, 0 if quick else base, work, log
        )
    if "synthetic" in parts:
        sizes = args.attribution_sizes or ([5] if quick else [20, 50])
        shapes = ["chain"] if quick else args.graph_shapes.split(",")
        report["attribution"] = attribution.run(sizes, shapes, trials, base, 2000, 0, log)
    if "large" in parts and not quick and args.large_dag != 0:
        report["attribution_large"] = [attribution.large_dag(args.large_dag or 200, 2000, 0, log)]
    return startup


def _whole_command(args: argparse.Namespace, work: Path, log: Any) -> list[dict[str, Any]]:
    """``provcausal attribute`` as a whole process on the README workflow (issue 19), on
    SQLite and on the MongoDB wire server; dowhy's call alone beside it at up to 1,000 runs
    per side (it takes over a minute there)."""
    from benchmarks import attribution
    from tests.mongo_server import WireServer

    sizes = args.command_runs or ([200] if args.quick else [1_000, 10_000])
    mongo_sizes = args.command_mongo_runs or ([200] if args.quick else [1_000])
    rows = []
    tag = time.time_ns()
    for side in sizes:
        uri = f"sqlite://{work / f'readme-{side}-{tag}.db'}"
        others = max(0, 100_000 - 2 * side) if side >= 10_000 else 0
        attribution.readme_store(uri, side, work, log, others)
        rows.append(attribution.whole_command(uri, side, log, dowhy=side <= 1_000))
    if mongo_sizes:
        server = WireServer(work / f"nx27017-command-{tag}")
        server.start()
        try:
            for side in mongo_sizes:
                uri = f"{server.base_uri}/readme_{side}_{tag}"
                attribution.readme_store(uri, side, work, log)
                rows.append(attribution.whole_command(uri, side, log, dowhy=side <= 1_000))
        finally:
            server.stop()
    return rows


def _command_line(row: dict[str, Any]) -> str:
    walls = row["command_seconds"]
    line = (
        f"attribute (whole process) {row['store']:7} README {row['rows_per_side']}/side "
        f"({row['tasks']} tasks): median {row['command_median']:.2f} s wall "
        f"({min(walls):.2f}-{max(walls):.2f}), {row['command_cpu_median']:.2f} s CPU; "
        f"imports {row['import_seconds']:.2f} s, load {row['load_seconds']:.3f} s, engine "
        f"{row['engine_seconds']:.2f} s; first {','.join(sorted(set(row['first'])))}"
    )
    if row.get("dowhy_seconds"):
        line += (
            f"; dowhy's call alone {row['dowhy_seconds']:.1f} s = "
            f"{row['speedup_whole_command']:.0f}x"
        )
    return line + f"; load average {row['load_before']} -> {row['load_after']}"


def _attribution_line(row: dict[str, Any]) -> str:
    line = (
        f"attribution {row['shape']:8} {row['nodes']:>3} nodes, {row['rows_per_side']} rows: "
        f"provcausal {row['provcausal_seconds']:.2f} s wall, "
        f"{row.get('provcausal_cpu_seconds') or 0:.2f} s CPU "
        f"(top-1 {row['provcausal_top1_rate']:.0%} "
        f"of {row['provcausal_trials']}), dowhy default "
    )
    if not row.get("dowhy_seconds"):
        return line + "not run"
    return line + (
        f"{row['dowhy_seconds']:.1f} s (top-1 {row['dowhy_top1_rate']:.0%} of "
        f"{row['dowhy_trials']}), speed-up {row['speedup']:.0f}x"
    )


def _extraction(args: Any, work: Path, report: dict[str, Any], server: Any, log: Any) -> Any:
    """SQLite at full size, MongoDB (the nx-27017 test server) at what fits in time."""
    from benchmarks import extraction
    from tests.mongo_server import WireServer

    # issue 19: 22,000 tasks (1,100 runs of 10 tasks per side), 10,000 then 100,000 stored
    side, total, *first = args.extraction_runs or (
        [500, 5_000] if args.quick else [1_100, 100_000, 10_000]
    )
    m_default = [100, 400] if args.quick else [1_100, 10_000, 2_200]
    m_side, m_total, *m_first = args.extraction_mongo_runs or m_default
    tag = time.time_ns()
    uri = f"sqlite://{work / f'extract-{tag}.db'}"
    rows = [extraction.run(uri, side, total, 7, log, (first or [None])[0])]
    if server is None:
        server = WireServer(work / "nx27017")
        server.start()
    from provcausal.errors import StoreError

    try:
        m_uri = f"{server.base_uri}/extract_{tag}"
        rows.append(extraction.run(m_uri, m_side, m_total, 7, log, (m_first or [None])[0]))
    except StoreError as exc:  # the test server can time out on large stores: keep SQLite's
        log(f"extraction on MongoDB stopped: {exc}")
        rows.append({"store": "mongodb", "side": m_side, "error": str(exc)})
    report["extraction"] = rows
    return server


def _attribution_lines(report: dict[str, Any]) -> list[str]:
    from benchmarks.attribution import interactive_median

    lines = [_command_line(row) for row in report.get("attribution_command", [])]
    for key in ("attribution_workflows", "attribution", "attribution_large"):
        lines.extend(_attribution_line(row) for row in report.get(key, []))
    rows = report.get("attribution_workflows", []) + report.get("attribution", [])
    median = interactive_median(rows)
    if median is not None:
        calls = sum(len(r.get("provcausal_seconds_all") or []) for r in rows if r["nodes"] <= 20)
        lines.append(
            f"attribution: median {median:.2f} s wall per call over {calls} calls on graphs of "
            "<= 20 nodes and <= 2,000 samples per side (goal <= 2 s)"
        )
    for row in report.get("attribution_large", []):
        lines.append(
            f"attribution: {row['nodes']}-node DAG {row['provcausal_seconds']:.1f} s wall, "
            f"{row['provcausal_cpu_seconds']:.1f} s CPU (goal < 30 s)"
        )
    return lines


def render(report: dict[str, Any]) -> str:
    lines = []
    if "dowhy_scenarios" in report:
        from benchmarks.dowhy_scenarios import render as render_dowhy

        lines.extend(render_dowhy(report["dowhy_scenarios"]))
    for row in report.get("import", []):
        lines.append(
            f"import {row['store']:7} {row['runs']:>7} runs: end to end "
            f"{row['records_per_second']:>7.0f} records/s; store writes "
            f"{row['write_records_per_second']:>7.0f} records/s vs raw bulk insert "
            f"{row['raw_records_per_second']:>8.0f}: ratio "
            f"{row['write_ratio_to_raw']:.2f}; {row['seconds']:.1f} s end to end, read+map "
            f"{row['read_map_seconds']:.1f} s = {row['read_map_ratio_to_json_load']:.0f}x "
            f"json.load of the audit files ({row['json_load_seconds']:.2f} s)"
        )
    for row in report.get("import_command", []):
        lines.append(
            f"provcausal import scipipe {row['runs']:>7} runs (fresh process, SQLite): wall "
            f"{min(row['wall_seconds']):.2f}-{max(row['wall_seconds']):.2f} s, CPU "
            f"{min(row['cpu_seconds']):.2f}-{max(row['cpu_seconds']):.2f} s"
        )
    for row in report.get("import", []):
        lines.append(
            f"read+map {row['store']} {row['runs']} runs: CPU {row['read_map_cpu_seconds']:.2f} s"
            f" = {row['read_map_cpu_ratio_to_json_load']:.0f}x json.load's "
            f"{row['json_load_cpu_seconds']:.2f} s"
        )
    for row in report.get("import_others", []):
        lines.append(
            f"read+map {row['system']} ({row['size']}): CPU {min(row['cpu_seconds']):.2f}-"
            f"{max(row['cpu_seconds']):.2f} s, wall {min(row['wall_seconds']):.2f}-"
            f"{max(row['wall_seconds']):.2f} s"
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
    for row in report.get("extraction", []):
        if "error" in row:
            side = row["side"]
            lines.append(f"extraction {row['store']:7} {side} vs {side}: {row['error']}")
            continue
        small, large = row["small"], row["large"]
        lines.append(
            f"extraction {row['store']:7} {row['side']} vs {row['side']} runs: load "
            f"{large['load_median']:.3f} s vs bare three-column read "
            f"{large['bare_median']:.3f} s "
            f"(ratio {large['ratio']:.2f}) with {large['stored_runs']} runs stored; "
            f"{small['load_median']:.3f} s with {small['stored_runs']} stored "
            f"(growth {row['growth']:.2f}x, CPU {row['cpu_growth']:.2f}x, for "
            f"{large['stored_runs'] / small['stored_runs']:.0f}x)"
        )
    if report.get("attribution_startup"):
        x = report["attribution_startup"]
        lines.append(
            f"start-up: provcausal --help {x['cli_help']:.2f} s, import provcausal "
            f"{x['import_provcausal']:.2f} s, import provcausal.analysis "
            f"{x['import_analysis']:.2f} s"
        )
    lines += _attribution_lines(report)
    if "accuracy" in report:
        from benchmarks import accuracy

        lines += accuracy.render(report["accuracy"])
    if "false_alarms" in report:
        from benchmarks import false_alarms

        lines += false_alarms.render(report["false_alarms"])
    if "watch" in report:
        from benchmarks import watch

        lines += watch.render(report["watch"])
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
