"""provcausal's default attribution against ``gcm.distribution_change`` with its defaults.

Synthetic chains and diamonds of 5/20/50/100 nodes with linear-Gaussian mechanisms (every node
unit variance), 2,000 samples per side, one node whose mechanism shifts by one standard
deviation in the comparison set. The shifted node is drawn among the last nodes before the
target so that the shift stays visible there. Both methods see the same graph and data; the
baseline is dowhy's ``distribution_change`` on a ``ProbabilisticCausalModel`` with
``gcm.auto.assign_causal_mechanisms`` (quality GOOD, its default).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

RHO = 0.95


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


def simulate(
    g: nx.DiGraph, rows: int, rng: np.random.Generator, shifted: str | None = None
) -> pd.DataFrame:
    data: dict[str, np.ndarray] = {}
    for node in nx.topological_sort(g):
        parents = sorted(g.predecessors(node))
        noise = rng.normal(0, 1, rows)
        if parents:
            mix = sum(data[p] for p in parents) / np.sqrt(len(parents))
            value = RHO * mix + np.sqrt(1 - RHO**2) * noise
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


def run(
    sizes: list[int],
    shapes: list[str],
    trials: int,
    baseline_trials: int,
    rows: int,
    seed: int,
    log: Any,
) -> list[dict[str, Any]]:
    from dowhy import gcm

    gcm.config.disable_progress_bars()
    # One untimed run of each method, so that imports and first-use costs count for neither.
    warm = chain(3)
    rng0 = np.random.default_rng(seed)
    small_old, small_new = simulate(warm, 200, rng0), simulate(warm, 200, rng0, "x001")
    provcausal_default(warm, small_old, small_new, "x002", 0)
    dowhy_default(warm, small_old, small_new, "x002")
    out = []
    for shape in shapes:
        for n in sizes:
            g = chain(n) if shape == "chain" else diamonds(n)
            target = max(g.nodes)
            stats: dict[str, dict[str, list[float]]] = {
                "provcausal": {"t": [], "hit": []},
                "dowhy": {"t": [], "hit": []},
            }
            for trial in range(trials):
                rng = np.random.default_rng(seed + 1000 * n + trial)
                shifted = pick_shifted(g, target, rng)
                old, new = simulate(g, rows, rng), simulate(g, rows, rng, shifted)
                runs: list[tuple[str, Any]] = [
                    (
                        "provcausal",
                        functools.partial(provcausal_default, g, old, new, target, trial),
                    )
                ]
                if trial < baseline_trials:
                    runs.append(("dowhy", functools.partial(dowhy_default, g, old, new, target)))
                for name, fn in runs:
                    started = time.perf_counter()
                    scores = fn()
                    elapsed = time.perf_counter() - started
                    top = max(scores, key=lambda k: scores[k])
                    stats[name]["t"].append(elapsed)
                    stats[name]["hit"].append(float(top == shifted))
                    log(
                        f"attribution {shape} n={n} trial {trial}: {name} {elapsed:.1f} s, "
                        f"top {top} (shifted {shifted})"
                    )
            row: dict[str, Any] = {"shape": shape, "nodes": n, "rows_per_side": rows}
            for name, s in stats.items():
                row[f"{name}_seconds"] = float(np.median(s["t"])) if s["t"] else None
                row[f"{name}_top1_rate"] = float(np.mean(s["hit"])) if s["hit"] else None
                row[f"{name}_trials"] = len(s["t"])
            if row["dowhy_seconds"] and row["provcausal_seconds"]:
                row["speedup"] = row["dowhy_seconds"] / row["provcausal_seconds"]
            out.append(row)
    return out
