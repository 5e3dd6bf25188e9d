"""Causal graph from lineage, sample data, selections, errors: small, exact cases."""

from __future__ import annotations

import datetime as dt

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from provcausal.analysis import causal_graph, sample_data
from provcausal.analysis.engine import attribute_frames, binned_kl
from provcausal.analysis.graph import graph_from_tasks
from provcausal.analysis.samples import metric_frame
from provcausal.analysis.selection import select_runs
from provcausal.analysis.tasks import TABLE_COLUMNS
from provcausal.errors import InvalidParameterError
from provcausal.model import flowcept as fc
from tests.helpers import T0, chain_run, run_cli


def table(rows):
    """Rows of the first 11 columns; no out-ports and no used names unless given."""
    full = [tuple(r) + ({}, [])[len(r) - 11 :] for r in rows]
    return pd.DataFrame(
        [dict(zip(TABLE_COLUMNS, r, strict=True)) for r in full], columns=TABLE_COLUMNS
    )


def test_loop_keeps_last_visits_and_reports_the_cut():
    t = table(
        [
            ("a0", "r", "a", "s", 0, None, 1.0, 0.0, 1.0, False, []),
            ("b0", "r", "b", "s", 0, None, 1.0, 1.0, 2.0, False, ["a0"]),
            ("a1", "r", "a", "s", 1, None, 1.0, 2.0, 3.0, False, ["b0"]),
            ("b1", "r", "b", "s", 1, None, 1.0, 3.0, 4.0, False, ["a1"]),
        ]
    )
    g = graph_from_tasks(t)
    assert list(g.edges) == [("a", "b")]
    assert g.graph["cut"] == [
        {"from": "b", "to": "a", "samples": 1, "why": "earlier visit in a loop"}
    ]


@pytest.mark.parametrize("seed", range(40))
def test_array_count_of_edges_is_the_loop_s(seed):
    """``graph_from_tasks`` counts edges with arrays; the per-task loop it replaced (kept for
    tables it cannot take) gives the same nodes, edges, counts and orders: loops, self-loops,
    fan-ins meeting again, unknown dependencies, repeated visits with the same number."""
    from provcausal.analysis.graph import _edges_numpy, _edges_python, _last_visit_positions

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(int(rng.integers(1, 60))):
        deps = [f"t{int(j)}" for j in rng.integers(0, i + 3, size=int(rng.integers(0, 4)))]
        node, sample = f"n{int(rng.integers(0, 5))}", f"s{int(rng.integers(0, 3))}"
        visit = int(rng.integers(0, 3))
        rows.append((f"t{i}", "r", node, sample, visit, 1.0, 1.0, 0, 1, False, deps))
    t = table(rows).iloc[rng.permutation(len(rows))]
    kept = _last_visit_positions(t)
    assert _edges_numpy(t, kept) == _edges_python(t, kept)
    got = _edges_numpy(t, kept)
    assert got is not None
    want = _edges_python(t, kept)
    assert [list(part) for part in got] == [list(part) for part in want]  # orders too
    if rng.random() < 0.3:  # a repeated task id: the loop's answer
        t = pd.concat([t, t.iloc[:1]], ignore_index=True)
        assert _edges_numpy(t, _last_visit_positions(t)) is None
        graph_from_tasks(t)


def test_unobserved_nodes_are_contracted_parents_to_children():
    t = table(
        [
            ("1", "r", "x", "s", 0, 1.0, 1.0, 0, 1, False, []),
            ("2", "r", "y", "s", 0, 2.0, 1.0, 0, 1, False, []),
            ("3", "r", "cat", "s", 0, None, None, 1, 2, True, ["1", "2"]),
            ("4", "r", "sum", "s", 0, 3.0, 1.0, 2, 3, False, ["3"]),
        ]
    )
    g = graph_from_tasks(t)
    assert sorted(g.edges) == [("x", "sum"), ("y", "sum")]
    assert g.graph["contracted"] == {"cat": "unobserved"}


def test_metrics_value_duration_latency_gated_missing_and_presence():
    t = table(
        [
            ("1", "r", "a", "s1", 0, 5.0, 0.5, 10.0, 10.5, False, []),
            ("2", "r", "b", "s1", 0, 7.0, 0.25, 11.0, 11.25, False, ["1"]),
            ("3", "r", "a", "s2", 0, 6.0, 0.5, 20.0, 20.5, False, []),
            ("4", "r", "f", "s1", 0, 0.0, 0.1, 10.5, 10.6, False, ["1"]),
            ("5", "r", "f", "s2", 0, None, 0.1, 20.5, 20.6, False, ["3"]),
        ]
    )
    # b did not run for s2: missing (routing models it), not 0; the presence variable f is
    # 1 where its task emitted it (even a BOOL [false]) and 0 where the task ran without it
    frame = metric_frame(t, "value", presence=["f"])
    assert frame["a"].tolist() == [5.0, 6.0]
    assert frame["b"].isna().tolist() == [False, True]
    assert frame["f"].tolist() == [1.0, 0.0]
    assert metric_frame(t, "value")["f"].isna().tolist() == [False, True]
    assert metric_frame(t, "duration")["b"].isna().tolist() == [False, True]
    assert metric_frame(t, "latency").loc["s1"].tolist() == pytest.approx([0.5, 1.25, 0.6])
    with pytest.raises(InvalidParameterError, match="unknown metric 'speed'") as caught:
        metric_frame(t, "speed")
    assert caught.value.parameters == ("metric",)


def test_store_api_graph_samples_and_selection(store):
    store.put_run(chain_run("/r1", label="normal", values=(1.0, 2.0, 3.0)))
    store.put_run(
        chain_run("/r2", label="broken", start=T0 + dt.timedelta(days=1), values=(1.0, 2.0, 9.0))
    )
    g = causal_graph(store, "wf")
    assert sorted(g.edges) == [("a", "b"), ("b", "c")]
    frame = sample_data(store, "wf")
    assert frame["c"].tolist() == [3.0, 9.0]
    assert len(select_runs(store, "wf", "normal,broken")) == 2
    since = (T0 + dt.timedelta(hours=12)).isoformat()
    assert [fc.run_label(r) for r in select_runs(store, "wf", f"{since}..")] == ["broken"]
    with pytest.raises(InvalidParameterError, match="labels: broken, normal"):
        select_runs(store, "wf", "nope")


def test_cli_errors_for_too_few_samples_and_unknown_target(store_uri):
    from provcausal.stores import open_store

    with open_store(store_uri) as store:
        store.put_run(chain_run("/r1", label="normal"))
        store.put_run(chain_run("/r2", label="broken"))
    result = run_cli("attribute", "-w", "wf", "-b", "normal", "-c", "broken", store=store_uri)
    result.error(2, "at least 5 are needed")
    result = run_cli("attribute", "-w", "nope", "-b", "a", "-c", "b", store=store_uri)
    result.error(2, "no runs of workflow 'nope'")


def test_binned_kl_is_tie_safe_and_zero_for_identical():
    ties = np.array([1.0] * 50 + [2.0] * 50)
    assert binned_kl(ties, ties) == 0.0
    assert binned_kl(ties, np.array([1.0] * 100)) > 0.5


def _chain_data(n_nodes, rows, rng, shift_at=None, scale=0.9):
    data = {}
    for i in range(n_nodes):
        noise = rng.normal(0, 1, rows) + (2.0 if i == shift_at else 0.0)
        data[f"x{i}"] = (scale * data[f"x{i - 1}"] if i else 0.0) + noise
    return pd.DataFrame(data)


def test_given_shifted_node_in_chain_when_attributed_then_it_ranks_first():
    rng = np.random.default_rng(5)
    g = nx.DiGraph([(f"x{i}", f"x{i + 1}") for i in range(5)])
    old, new = _chain_data(6, 400, rng), _chain_data(6, 400, rng, shift_at=3)
    result = attribute_frames(g, old, new, "x5", repeats=10, seed=1, n_jobs=1)
    assert result.top() == "x3"
    assert result.table.iloc[0]["top_frequency"] >= 0.9
    assert set(result.flagged) == {"x3"}
    row = result.table.iloc[0]
    assert row["ci_low"] <= row["score"] <= row["ci_high"]


def test_given_no_change_then_weak_evidence_is_reported():
    rng = np.random.default_rng(6)
    g = nx.DiGraph([("x0", "x1"), ("x1", "x2")])
    old, new = _chain_data(3, 300, rng), _chain_data(3, 300, rng)
    result = attribute_frames(g, old, new, "x2", repeats=5, seed=1, n_jobs=1)
    assert result.forced is True and result.flagged == []


@pytest.mark.slow
@pytest.mark.parametrize("quality", ["good", "better"])
def test_gcm_auto_qualities_rank_the_shifted_node_first(quality):
    rng = np.random.default_rng(8)
    g = nx.DiGraph([("x0", "x1"), ("x1", "x2"), ("x2", "x3")])
    old, new = _chain_data(4, 300, rng), _chain_data(4, 300, rng, shift_at=2)
    result = attribute_frames(g, old, new, "x3", quality=quality, repeats=3, seed=2, n_jobs=1)
    assert result.top() == "x2"
    # every ancestor of the target has a model, roots their empirical distribution
    assert sorted(result.models) == ["x0", "x1", "x2", "x3"]
    assert result.models["x0"] == "empirical" and all(result.models.values())


def _fork_run(source: str, label: str, shift: float):
    """A run of a → (b, c): two sinks."""
    from provcausal.model import ids
    from provcausal.model.convert import prov_to_flowcept
    from provcausal.model.prov import RunDocumentBuilder

    run = ids.run_id("test", "fork", source)
    b = RunDocumentBuilder(run, "fork", "test")
    rng = np.random.default_rng(int(source[2:]) + (100 if label == "broken" else 0))
    a_value = float(rng.normal())
    ta, ea = ids.task_id(run, "a"), ids.entity_id(run, "a")
    b.task(ta, "a", start=T0, end=T0, sample=run)
    b.entity(ea, name="a.out", value=a_value)
    b.generated(ea, ta)
    for node, value in (("b", a_value + shift), ("c", -a_value)):
        t, e = ids.task_id(run, node), ids.entity_id(run, node)
        b.task(t, node, start=T0, end=T0, sample=run)
        b.used(t, ea)
        b.entity(e, name=f"{node}.out", value=value + float(rng.normal()))
        b.generated(e, t)
    return prov_to_flowcept(
        b.document, run_id=run, workflow="fork", system="test", label=label, source=source
    )


def test_several_sinks_analyse_the_changed_one_and_a_named_target_works(sqlite_uri):
    from provcausal.stores import open_store

    with open_store(sqlite_uri) as store:
        for i in range(10):
            store.put_runs([_fork_run(f"/n{i}", "normal", 0.0)])
            store.put_runs([_fork_run(f"/b{i}", "broken", 6.0)])
    args = ("attribute", "-w", "fork", "-b", "normal", "-c", "broken", "--repeats", "2", "--json")
    doc = run_cli(*args, store=sqlite_uri).ok().json()
    assert doc["target"] == "b" and "also" not in doc, doc["notes"]  # only b changed
    assert any(
        "the workflow has 2 sinks (b, c); analysed the 1 whose distribution changed" in n
        and "unchanged: c" in n
        for n in doc["notes"]
    )
    named = run_cli(*args, "--target", "b", store=sqlite_uri).ok().json()
    assert named["target"] == "b"
    assert named["attributions"][0]["node"] == "b"  # b's own mechanism shifted by 6


def test_given_good_quality_and_a_changed_linear_mechanism_then_the_local_check_fits_it():
    """``--quality good``: gcm.auto's linear regression is a dowhy prediction model, whose
    ``fit`` returns nothing and whose ``predict`` returns a column. The local check of a
    linear node's change chained ``fit(...).predict(...)`` as for the ``fast`` models and
    failed whenever gcm.auto chose a linear model for a changed node (a fold draw of its own
    model selection decides that)."""
    from dowhy import gcm

    from provcausal.analysis.change_test import predictive_test
    from provcausal.analysis.mechanisms import NodeSpec

    rng = np.random.default_rng(4)

    def side(slope: float) -> pd.DataFrame:
        x = rng.normal(size=300)
        return pd.DataFrame({"x": x, "y": slope * x + rng.normal(0, 0.3, 300)})

    spec = NodeSpec("y", ("x",), "anm", "linear", gcm.ml.create_linear_regressor)
    assert predictive_test(spec, side(1.0), side(2.0), seed=0) < 0.001
    assert predictive_test(spec, side(1.0), side(1.0), seed=0) > 0.01
