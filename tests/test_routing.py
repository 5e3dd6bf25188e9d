"""Gated nodes and route variables (provcausal.analysis.routing), and the sample-count messages."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from provcausal.analysis.routing import add_routing
from tests.helpers import run_cli


def _switch_frames(rows: int, share: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = rng.normal(10, 1, rows)
    rare = rng.random(rows) < share
    a = np.where(rare, np.nan, s + 5 + rng.normal(0, 1, rows))
    b = np.where(rare, s + 7 + rng.normal(0, 1, rows), np.nan)
    c = np.where(rare, b + 1, np.nan)  # b's branch goes on: same samples reach c
    t = np.where(rare, c, a) + 1
    return pd.DataFrame({"s": s, "a": a, "b": b, "c": c, "t": t})


def test_given_a_switch_when_routing_is_added_then_samples_are_kept_and_routes_modelled():
    g = nx.DiGraph([("s", "a"), ("s", "b"), ("b", "c"), ("a", "t"), ("c", "t")])
    old, new = _switch_frames(200, 0.1, 1), _switch_frames(150, 0.1, 2)
    routing = add_routing(g, old, new, {"b": "Rare"})
    assert len(routing.baseline) == 200 and len(routing.comparison) == 150
    assert not routing.baseline.isna().any().any() and not routing.comparison.isna().any().any()
    # b and c are reached by the same samples: one route; a has its own
    assert routing.routes == {"route:a": ["a"], "route:b": ["b", "c"]}
    g2 = routing.graph
    assert set(g2.predecessors("route:b")) == {"s", "route:a"}  # siblings chained
    assert set(g2.successors("route:b")) == {"b", "c"}
    assert nx.is_directed_acyclic_graph(g2)
    reached = old["b"].notna()
    assert (routing.baseline.loc[reached, "route:b"] == 1).all()
    assert (routing.baseline.loc[~reached, ["route:b", "b", "c"]] == 0).all().all()
    assert routing.labels["route:b"] == "route to Rare"
    note = next(n for n in routing.notes if n.startswith("gated Rare, c"))
    assert f"reached by {int(reached.sum())} of 200 baseline" in note and "kept all" in note


def test_nodes_every_sample_reaches_get_no_route():
    g = nx.DiGraph([("s", "a")])
    frame = pd.DataFrame({"s": [1.0, 2.0, 3.0], "a": [2.0, 3.0, 4.0]})
    routing = add_routing(g, frame, frame)
    assert routing.routes == {} and routing.notes == [] and set(routing.graph) == {"s", "a"}


def test_too_few_samples_says_how_many_of_how_many(tmp_path, sqlite_uri):
    from provcausal.examples import scipipe_ports

    scipipe_ports.write_runs(tmp_path / "normal", 3, seed=1)
    scipipe_ports.write_runs(tmp_path / "broken", 6, seed=2)
    for label in ("normal", "broken"):
        run_cli(
            "import", "scipipe", tmp_path / label, "-w", "p", "--label", label, store=sqlite_uri
        ).ok()
    result = run_cli("attribute", "-w", "p", "-b", "normal", "-c", "broken", store=sqlite_uri)
    result.error(2, "only 3 complete baseline sample(s) of 3 selected; at least 5 are needed")
