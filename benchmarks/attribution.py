"""provcausal's default attribution against ``gcm.distribution_change`` with its defaults.

Measured side by side in one run, on the same graph and data:

- workflow-shaped data: the README's GC-ratio workflow (``count1`` narrowed), the Seldon
  insurance-claims pipeline (a bug in ``claim-complexity``) and a Node-RED chain (one node
  delayed), generated in the real formats, imported with the real importers and read back
  with :func:`provcausal.analysis.prepare`;
- synthetic chains and diamonds with linear-Gaussian mechanisms (every node unit variance),
  2,000 samples per side, one node whose mechanism shifts by one standard deviation in the
  comparison set, drawn among the last nodes before the target so that the shift stays
  visible there;
- start-up: ``provcausal --help`` and ``import provcausal`` in a fresh interpreter.

The baseline is dowhy's ``distribution_change`` on a ``ProbabilisticCausalModel`` with
``gcm.auto.assign_causal_mechanisms`` (quality GOOD, its default). A data set counts as a
hit when the method ranks the faulty node first.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

RHO = 0.95

#: The method under test, as it is named in the results.
OURS = "provcausal"


def chain(n: int) -> nx.DiGraph:
    return nx.DiGraph([(f"x{i:03d}", f"x{i + 1:03d}") for i in range(n - 1)])


def diamonds(n: int) -> nx.DiGraph:
    """Diamonds in series: a → (b, c) → d → (b', c') → d' …, ``n`` nodes in all."""
    g = nx.DiGraph()
    head = "x000"
    g.add_node(head)
    i = 1
    while i + 2 < n:
        b, c, d = f"x{i:03d}", f"x{i + 1:03d}", f"x{i + 2:03d}"
        g.add_edges_from([(head, b), (head, c), (b, d), (c, d)])
        head, i = d, i + 3
    while i < n:
        g.add_edge(head, f"x{i:03d}")
        head, i = f"x{i:03d}", i + 1
    return g


def unit_weights(g: nx.DiGraph) -> dict[str, float]:
    """Each node's weight on the sum of its parents so that every node has unit variance in
    the baseline: correlated parents (the two arms of a diamond) would otherwise make the
    variance grow geometrically along a series of diamonds (about 1.8x per diamond; a
    standard deviation of 6.5e6 at 200 nodes, where no method can see a shift of 1)."""
    order = list(nx.topological_sort(g))
    index = {n: i for i, n in enumerate(order)}
    cov = np.zeros((len(order), len(order)))
    weights: dict[str, float] = {}
    for node in order:
        i, parents = index[node], [index[p] for p in g.predecessors(node)]
        if parents:
            weights[node] = RHO / np.sqrt(cov[np.ix_(parents, parents)].sum())
            cov[i, :i] = cov[:i, i] = weights[node] * cov[parents, :i].sum(axis=0)
        cov[i, i] = 1.0
    return weights


def simulate(
    g: nx.DiGraph, rows: int, rng: np.random.Generator, shifted: str | None = None
) -> pd.DataFrame:
    """Linear-Gaussian data, every node of unit variance in the baseline; ``shifted`` gets
    +1 (one standard deviation) on its mechanism."""
    weights = unit_weights(g)
    data: dict[str, np.ndarray] = {}
    for node in nx.topological_sort(g):
        parents = sorted(g.predecessors(node))
        noise = rng.normal(0, 1, rows)
        if parents:
            mix = sum(data[p] for p in parents)
            value = weights[node] * mix + np.sqrt(1 - RHO**2) * noise
        else:
            value = noise
        if node == shifted:
            value = value + 1.0
        data[node] = value
    return pd.DataFrame(data)


def pick_shifted(g: nx.DiGraph, target: str, rng: np.random.Generator) -> str:
    candidates = sorted(n for n in g if n != target and nx.shortest_path_length(g, n, target) <= 8)
    return str(rng.choice(candidates))


def dowhy_default(
    g: nx.DiGraph, old: pd.DataFrame, new: pd.DataFrame, target: str
) -> dict[str, float]:
    from dowhy import gcm

    model = gcm.ProbabilisticCausalModel(g)
    gcm.auto.assign_causal_mechanisms(model, old)
    result = gcm.distribution_change(model, old, new, target)
    return {str(k): float(v) for k, v in result.items()}


def provcausal_default(
    g: nx.DiGraph, old: pd.DataFrame, new: pd.DataFrame, target: str, seed: int
) -> dict[str, float]:
    from provcausal.analysis.engine import attribute_frames

    result = attribute_frames(g, old, new, target, seed=seed)
    return dict(zip(result.table["node"], result.table["score"], strict=True))


def warm_up(seed: int = 0) -> None:
    """One untimed run of each method, so that imports and first-use costs count for
    neither (start-up is measured on its own)."""
    from dowhy import gcm

    gcm.config.disable_progress_bars()
    warm = chain(3)
    rng0 = np.random.default_rng(seed)
    small_old, small_new = simulate(warm, 200, rng0), simulate(warm, 200, rng0, "x001")
    provcausal_default(warm, small_old, small_new, "x002", 0)
    dowhy_default(warm, small_old, small_new, "x002")


def run(
    sizes: list[int],
    shapes: list[str],
    trials: int,
    baseline_trials: int,
    rows: int,
    seed: int,
    log: Any,
) -> list[dict[str, Any]]:
    """Synthetic graphs of each shape and size: ``trials`` data sets for provcausal, the
    first ``baseline_trials`` of them also for dowhy, one call after the other."""
    warm_up(seed)
    out = []
    for shape in shapes:
        for n in sizes:
            g = chain(n) if shape == "chain" else diamonds(n)
            target = max(g.nodes)
            stats: dict[str, list[dict[str, Any]]] = {OURS: [], "dowhy": []}
            for trial in range(trials):
                rng = np.random.default_rng(seed + 1000 * n + trial)
                shifted = pick_shifted(g, target, rng)
                old, new = simulate(g, rows, rng), simulate(g, rows, rng, shifted)
                what = f"{shape} n={n} trial {trial}"
                fn = functools.partial(provcausal_default, g, old, new, target, trial)
                stats[OURS].append(_timed(OURS, fn, shifted, log, what))
                if trial < baseline_trials:
                    fn = functools.partial(dowhy_default, g, old, new, target)
                    stats["dowhy"].append(_timed("dowhy", fn, shifted, log, what))
            out.append(_row({"shape": shape, "nodes": n, "rows_per_side": rows}, stats))
    return out


def _timed(name: str, fn: Any, culprit: str, log: Any, what: str) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    scores = fn()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    top = max(scores, key=lambda k: scores[k])
    log(
        f"attribution {what}: {name} {elapsed:.1f} s (this process's CPU {cpu:.1f} s), "
        f"top {top} (faulty {culprit})"
    )
    return {"seconds": elapsed, "cpu_seconds": cpu, "hit": float(top == culprit)}


def _row(what: dict[str, Any], stats: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    row = dict(what)
    for name, runs in stats.items():
        times = [r["seconds"] for r in runs]
        row[f"{name}_seconds"] = float(np.median(times)) if times else None
        row[f"{name}_seconds_range"] = [min(times), max(times)] if times else None
        cpu = [r["cpu_seconds"] for r in runs]
        row[f"{name}_cpu_seconds"] = float(np.median(cpu)) if cpu else None
        row[f"{name}_seconds_all"] = times
        row[f"{name}_top1_rate"] = float(np.mean([r["hit"] for r in runs])) if runs else None
        row[f"{name}_trials"] = len(runs)
    if row.get("dowhy_seconds") and row.get("provcausal_seconds"):
        row["speedup"] = row["dowhy_seconds"] / row["provcausal_seconds"]
    return row


def interactive_median(rows: list[dict[str, Any]], max_nodes: int = 20) -> float | None:
    """The median wall seconds per provcausal call over every call on a graph of at most
    ``max_nodes`` nodes (issue 14: <= 2 s for <= 20 nodes and <= 2,000 samples per side)."""
    times = [
        t
        for row in rows
        if row["nodes"] <= max_nodes and row["rows_per_side"] <= 2000
        for t in row.get(f"{OURS}_seconds_all") or []
    ]
    return float(np.median(times)) if times else None


def _console_script() -> str:
    script = Path(sys.executable).with_name("provcausal")
    return str(script) if script.exists() else "provcausal"


def startup(log: Any, repeats: int = 3) -> dict[str, float]:
    """Median seconds of ``provcausal --help`` and ``import provcausal`` in a fresh process."""
    out: dict[str, float] = {}
    commands = {
        "cli_help": [_console_script(), "--help"],
        "import_provcausal": [sys.executable, "-c", "import provcausal"],
        "import_analysis": [sys.executable, "-c", "import provcausal.analysis"],
    }
    for name, command in commands.items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        out[name] = float(np.median(times))
        log(f"start-up {name}: {out[name]:.2f} s")
    return out


def _import(uri: str, system: str, path: Path, label: str, *extra: str) -> None:
    from click.testing import CliRunner

    from provcausal.cli import cli

    args = ["--store", uri, "-q", "import", system, str(path), "-w", "wf", "--label", label]
    result = CliRunner().invoke(cli, [*args, *extra])
    if result.exit_code != 0:
        raise RuntimeError(result.output)


def _prepared(uri: str, culprit_label: str | None = None) -> tuple[Any, str, str]:
    from provcausal.analysis import prepare
    from provcausal.analysis.targets import resolve_target
    from provcausal.stores import open_store

    with open_store(uri) as store:
        prep = prepare(store, "wf", "normal", "broken")
    culprit = culprit_label or ""
    if culprit_label:
        by_label = [n for n, lab in prep.labels.items() if lab == culprit_label]
        culprit = by_label[0] if by_label else culprit_label
    declared = prep.outputs[0] if len(prep.outputs) == 1 else None  # a Seldon pipeline's
    return prep, resolve_target(prep.graph, declared), culprit


def workflow_data(kind: str, rows: int, seed: int, work: Path) -> tuple[Any, str, str]:
    """(prepared frames, target, faulty node) of a generated, imported example workflow."""
    from provcausal.examples import nodered_chain, scipipe_gcratio, seldon_claims

    root = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=work))
    uri = f"sqlite://{root / 'store.db'}"
    if kind == "gcratio":
        scipipe_gcratio.write_runs(root / "normal", rows, seed=seed)
        scipipe_gcratio.write_runs(root / "broken", rows, seed=seed + 1, count1_max=10)
        for label in ("normal", "broken"):
            _import(uri, "scipipe", root / label, label)
        return _prepared(uri, "count1")
    if kind == "claims":
        seldon_claims.write_spec(root / "spec.yaml")
        for label, kwargs, s in (
            ("normal", {}, seed),
            ("broken", {"complexity_bug": True}, seed + 1),
        ):
            data = seldon_claims.simulate(rows, seed=s, **kwargs)
            seldon_claims.write_inspect(
                root / f"{label}.txt", data, fmt="raw29", verbose=True, seed=s
            )
            _import(
                uri, "seldon", root / f"{label}.txt", label, "--pipeline", str(root / "spec.yaml")
            )
        return _prepared(uri, "claim-complexity")
    flow = nodered_chain.chain_flow(5)
    nodered_chain.write_flow(root / "flows.json", flow)
    nodered_chain.write_trace_log(root / "normal.log", flow, rows, seed=seed)
    nodered_chain.write_trace_log(root / "broken.log", flow, rows, seed=seed + 1, delay_step=2)
    for label in ("normal", "broken"):
        _import(uri, "nodered", root / f"{label}.log", label, "--flow", str(root / "flows.json"))
    return _prepared(uri, "Step 2")


def workflows(
    kinds: list[str], rows: int, trials: int, baseline_trials: int, work: Path, log: Any
) -> list[dict[str, Any]]:
    """Each example workflow at ``rows`` samples per side: provcausal against dowhy."""
    warm_up()
    out = []
    for kind in kinds:
        stats: dict[str, list[dict[str, Any]]] = {OURS: [], "dowhy": []}
        for trial in range(trials):
            prep, target, culprit = workflow_data(kind, rows, 11 + 100 * trial, work)
            g, old, new = prep.graph, prep.baseline, prep.comparison
            what = f"{kind} ({len(g)} nodes, {len(old)}/{len(new)} samples) trial {trial}"
            fn = functools.partial(provcausal_default, g, old, new, target, trial)
            stats[OURS].append(_timed(OURS, fn, culprit, log, what))
            if trial < baseline_trials:
                fn = functools.partial(dowhy_default, g, old, new, target)
                stats["dowhy"].append(_timed("dowhy", fn, culprit, log, what))
        shape = {"shape": kind, "nodes": len(g), "rows_per_side": rows}
        out.append(_row(shape, stats))
    return out


def large_dag(nodes: int, rows: int, seed: int, log: Any) -> dict[str, Any]:
    """provcausal alone on one large diamond DAG."""
    warm_up(seed)
    g = diamonds(nodes)
    target = max(g.nodes)
    rng = np.random.default_rng(seed)
    shifted = pick_shifted(g, target, rng)
    old, new = simulate(g, rows, rng), simulate(g, rows, rng, shifted)
    fn = functools.partial(provcausal_default, g, old, new, target, seed)
    result = _timed("provcausal", fn, shifted, log, f"diamond n={nodes}")
    return _row(
        {"shape": "diamond", "nodes": nodes, "rows_per_side": rows}, {"provcausal": [result]}
    )


# -- the whole command (issue 19) ----------------------------------------------------------------
def readme_store(uri: str, rows: int, work: Path, log: Any, others: int = 0) -> None:
    """The README's GC-ratio workflow at ``rows`` runs per side (``count1`` narrowed in the
    ``broken`` runs), imported with the real importer; ``others`` more runs of another
    workflow written directly as documents (:mod:`benchmarks.extraction`), so that the store
    holds more than the selection."""
    from benchmarks import extraction
    from provcausal.examples import scipipe_gcratio
    from provcausal.stores import open_store

    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix=f"readme-{rows}-", dir=work))
    for label, seed, extra in (("normal", 11, {}), ("broken", 12, {"count1_max": 10})):
        scipipe_gcratio.write_runs(root / label, rows, seed=seed, **extra)
        _import(uri, "scipipe", root / label, label)
        shutil.rmtree(root / label)
    if others:
        with open_store(uri) as store:
            extraction.fill(store, 0, others, lambda i: "other", log)
    log(f"README store {uri.split('?')[0]}: {rows} runs per side + {others} others written "
        f"in {time.perf_counter() - started:.0f} s")  # fmt: skip


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _process(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the child) and stdout of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def whole_command(
    uri: str, rows: int, log: Any, repeats: int = 3, dowhy: bool = True
) -> dict[str, Any]:
    """``provcausal attribute … --json`` as a whole process, ``repeats`` times, beside its
    parts measured in this process (imports in a fresh interpreter, the task table's load,
    the engine) and dowhy's ``distribution_change`` call alone on the same frames and graph."""
    from provcausal.analysis import prepare
    from provcausal.analysis.targets import resolve_target
    from provcausal.analysis.tasks import load_task_table
    from provcausal.stores import open_store

    command = [_console_script(), "--store", uri, "attribute", "--workflow", "wf",
               "--baseline", "normal", "--comparison", "broken", "--json"]  # fmt: skip
    out: dict[str, Any] = {"rows_per_side": rows, "store": uri.split(":", 1)[0]}
    out["load_before"] = _load()
    walls, cpus, firsts = [], [], []
    for _ in range(repeats):
        wall, cpu, stdout = _process(command)
        result = json.loads(stdout)
        walls.append(wall)
        cpus.append(cpu)
        firsts.append(result["attributions"][0]["node"])
    out.update(command_seconds=walls, command_cpu_seconds=cpus, first=firsts)
    out["command_median"] = float(np.median(walls))
    out["command_cpu_median"] = float(np.median(cpus))
    imports = [_process([sys.executable, "-c", IMPORTS_OF_ATTRIBUTE]) for _ in range(repeats)]
    out["import_seconds"] = float(np.median([w for w, _, _ in imports]))
    out["import_cpu_seconds"] = float(np.median([c for _, c, _ in imports]))
    with open_store(uri) as store:
        ids = [r["workflow_id"] for r in store.find_runs(workflow="wf")]
        loads = []
        for _ in range(repeats):
            started, cpu = time.perf_counter(), time.process_time()
            tasks = load_task_table(store, ids)
            loads.append((time.perf_counter() - started, time.process_time() - cpu))
        out["tasks"] = len(tasks)
        out["load_seconds"] = float(np.median([w for w, _ in loads]))
        out["load_cpu_seconds"] = float(np.median([c for _, c in loads]))
        prep = prepare(store, "wf", "normal", "broken")
    target = resolve_target(prep.graph, None)
    ours = functools.partial(
        provcausal_default, prep.graph, prep.baseline, prep.comparison, target, 0
    )
    engine = _timed(OURS, ours, "count1", log, f"README {rows}/side engine")
    out["engine_seconds"], out["engine_cpu_seconds"] = engine["seconds"], engine["cpu_seconds"]
    if dowhy:
        from dowhy import gcm

        gcm.config.disable_progress_bars()
        fn = functools.partial(dowhy_default, prep.graph, prep.baseline, prep.comparison, target)
        theirs = _timed("dowhy", fn, "count1", log, f"README {rows}/side")
        out["dowhy_seconds"], out["dowhy_cpu_seconds"] = theirs["seconds"], theirs["cpu_seconds"]
        out["dowhy_top1"] = bool(theirs["hit"])
        out["speedup_whole_command"] = theirs["seconds"] / out["command_median"]
    out["load_after"] = _load()
    log(
        f"attribute as a whole process, README workflow {rows}/side ({out['tasks']} tasks): "
        f"{min(walls):.2f}-{max(walls):.2f} s wall (median {out['command_median']:.2f}), CPU "
        f"{out['command_cpu_median']:.2f} s, first {sorted(set(firsts))}; parts: imports "
        f"{out['import_seconds']:.2f} s, load {out['load_seconds']:.3f} s, engine "
        f"{out['engine_seconds']:.2f} s"
        + (
            f"; dowhy's call alone {out['dowhy_seconds']:.1f} s = "
            f"{out['speedup_whole_command']:.0f}x"
            if dowhy
            else ""
        )  # fmt: skip
        + f"; load average {out['load_before']} -> {out['load_after']}"
    )
    return out


#: What ``provcausal attribute`` imports on the README workflow (a fresh interpreter): the
#: command, the analysis (pandas, networkx, the k-d tree of the local model: pykdtree) and the
#: store. Neither scikit-learn nor scipy.
IMPORTS_OF_ATTRIBUTE = (
    "import provcausal.cli, provcausal.cli.commands_analysis, provcausal.analysis, "
    "provcausal.stores.sqlite"
)
