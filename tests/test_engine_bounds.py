"""Issue 22: the engine scales with the graph and never starts more workers than it can use."""

from __future__ import annotations

import os
import time
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from provcausal.analysis import engine
from provcausal.analysis.change_test import predictive_test
from provcausal.analysis.engine import Replicate, attribute_frames, workers


def _chain(nodes: int, rows: int, seed: int = 0) -> tuple[nx.DiGraph, pd.DataFrame, pd.DataFrame]:
    names = [f"x{i:04d}" for i in range(nodes)]
    g = nx.DiGraph(list(zip(names, names[1:], strict=False)))
    rng = np.random.default_rng(seed)

    def side(shift: float) -> pd.DataFrame:
        data: dict[str, np.ndarray] = {}
        previous = np.zeros(rows)
        for i, name in enumerate(names):
            value = 0.6 * previous + rng.normal(0, 1, rows)
            if i == nodes - 3:
                value = value + shift
            data[name] = previous = value
        return pd.DataFrame(data)

    return g, side(0.0), side(2.0)


def test_workers_are_capped_by_resamples_and_cpus():
    cpus = os.cpu_count() or 1
    assert workers(64, 20) == min(20, cpus)
    assert workers(64, 1) == 1
    assert workers(1, 20) == 1
    assert workers(0, 20) == 1


def test_jobs_64_starts_no_more_workers_than_resamples_and_cpus(monkeypatch):
    import joblib

    from provcausal.analysis import engine

    started: list[int] = []
    real = joblib.Parallel

    def recording(*args: Any, n_jobs: int = 1, **kwargs: Any) -> Any:
        started.append(n_jobs)
        return real(*args, n_jobs=1, **kwargs)  # run in this process: the count is the test

    def forked(work: list[Any], jobs: int, *args: Any, **kwargs: Any) -> list[Any]:
        started.append(jobs)
        return [engine._run_replicate(*w) for w in work]

    monkeypatch.setattr(joblib, "Parallel", recording)
    monkeypatch.setattr(engine, "_forked", forked)
    g, old, new = _chain(4, 60)
    attribute_frames(g, old, new, "x0003", repeats=3, n_jobs=64)
    assert started and max(started) <= min(3, os.cpu_count() or 1)


def test_a_large_graph_retests_on_resamples_only_the_nodes_that_may_have_changed():
    g, old, new = _chain(engine.SCREEN_NODES + 20, 40)
    calls: list[str] = []

    def counted(spec: Any, a: pd.DataFrame, b: pd.DataFrame, seed: int) -> float:
        calls.append(spec.name)
        return predictive_test(spec, a, b, seed, fold_repeats=1)

    nodes = len(g)
    result = attribute_frames(g, old, new, max(g), repeats=4, n_jobs=1, change_test=counted)
    assert result.top() == f"x{nodes - 3:04d}"
    # every node on the data as given, a few on each resample (all of them before)
    assert nodes <= len(calls) < nodes + 4 * nodes // 4


def test_a_small_graph_tests_every_node_on_every_resample():
    g, old, new = _chain(5, 40)
    calls: list[str] = []

    def counted(spec: Any, a: pd.DataFrame, b: pd.DataFrame, seed: int) -> float:
        calls.append(spec.name)
        return predictive_test(spec, a, b, seed, fold_repeats=1)

    attribute_frames(g, old, new, "x0004", repeats=4, n_jobs=1, change_test=counted)
    assert len(calls) == 5 * 5


def test_the_summary_is_linear_in_the_nodes():
    """3,000 nodes and 21 replicates: the first node of each resample was looked up per
    node (quadratic: minutes); now well under a second."""
    order = [f"n{i:04d}" for i in range(3000)]
    rng = np.random.default_rng(0)
    replicates = [
        Replicate(dict(zip(order, rng.uniform(0, 1, len(order)), strict=True)), {}, [], True)
        for _ in range(21)
    ]
    for r in replicates:
        r.pvalues = dict.fromkeys(order, 1.0)
    started = time.perf_counter()
    table = engine._summary(order, replicates, {})
    assert time.perf_counter() - started < 10
    assert table["top_frequency"].sum() == 1.0


def test_more_nodes_than_the_bound_are_refused_with_the_size_named(monkeypatch):
    import pytest

    from provcausal.errors import AnalysisError

    monkeypatch.setattr(engine, "MAX_NODES", 10)
    g, old, new = _chain(12, 20)
    with pytest.raises(AnalysisError, match="has 11 upstream nodes; attribution is bounded at 10"):
        attribute_frames(g, old, new, "x0011", repeats=0)
    assert AnalysisError.exit_code == 2
    attribute_frames(g, old, new, "x0009", repeats=0)  # 10 nodes: within the bound
