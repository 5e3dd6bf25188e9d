"""Seldon steps that return one of several tensors, and the steps those tensors trigger
(issue 18, "Conditional outputs are variables").

A classifier returns only ``is_simple_claim`` or only ``is_complex_claim`` (each a BOOL
``[true]``); two payout steps are triggered by them (``triggersJoinType: any``) and the
pipeline's output is ``stepsJoin: any`` over both. A classifier that always says "simple" must
be found: the signal is which tensor it emitted.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from provcausal.analysis.attribution import attribute, prepare
from provcausal.analysis.routing import add_routing
from provcausal.examples import seldon_claims, seldon_triggers
from provcausal.examples.shapes import is_expected, write_example
from provcausal.ingest import import_paths
from provcausal.model import flowcept as fc
from provcausal.stores import open_store
from tests.helpers import run_cli

CLASSIFY = seldon_triggers.CLASSIFIER
FLAGS = [f"{CLASSIFY}.is_complex_claim", f"{CLASSIFY}.is_simple_claim"]


def _import(store, tmp_path: Path, label: str, requests: list, spec: bool = True) -> str:
    path = seldon_claims.write_inspect(
        tmp_path / f"{label}.txt", requests, fmt="raw29", verbose=True
    )
    extra = {"pipeline": str(seldon_triggers.write_spec(tmp_path / "spec.yaml"))} if spec else {}
    summary = import_paths(store, "seldon", [path], "trig", label=label, **extra)
    return summary.runs[0]


def _task_ports(store, run_id: str) -> list:
    return [
        json.loads(fc.task_meta(t)["attrs"]["outPorts"])
        for t in store.find_tasks([run_id])
        if t["activity_id"] == CLASSIFY
    ]


def test_the_classifier_s_tensors_are_out_ports_and_flags(tmp_path, store):
    run_id = _import(store, tmp_path, "normal", seldon_triggers.simulate(30, seed=1))
    ports = _task_ports(store, run_id)
    assert len(ports) == 30
    assert all(
        p == {"is_complex_claim": "is_complex_claim", "is_simple_claim": "is_simple_claim"}
        for p in ports
    )
    (wf,) = store.find_runs()
    assert fc.presence_nodes(wf) == FLAGS
    # the payout steps' tasks have a single output: no out-ports
    assert all(
        "outPorts" not in (fc.task_meta(t).get("attrs") or {})
        for t in store.find_tasks([run_id])
        if t["activity_id"] != CLASSIFY
    )


def test_a_classifier_that_never_varies_still_gets_both_ports_from_the_spec(tmp_path, store):
    """The buggy set alone emits only is_simple_claim: the spec's triggers name both."""
    run_id = _import(
        store, tmp_path, "broken", seldon_triggers.simulate(20, seed=2, classify_bug=True)
    )
    assert {json.dumps(p, sort_keys=True) for p in _task_ports(store, run_id)} == {
        json.dumps({"is_complex_claim": "is_complex_claim", "is_simple_claim": "is_simple_claim"})
    }


def test_without_a_spec_varying_tensors_are_out_ports_too(tmp_path, store):
    run_id = _import(store, tmp_path, "normal", seldon_triggers.simulate(30, seed=1), spec=False)
    assert len(_task_ports(store, run_id)) == 30
    (wf,) = store.find_runs()
    assert fc.presence_nodes(wf) == FLAGS


def test_flags_are_one_emitted_zero_not_and_triggered_steps_are_routed(tmp_path, store):
    requests = seldon_triggers.simulate(60, seed=3)
    _import(store, tmp_path, "normal", requests)
    _import(store, tmp_path, "broken", seldon_triggers.simulate(60, seed=4, classify_bug=True))
    prep = prepare(store, "trig", "normal", "broken")
    complex_claim = pd.Series(
        ["model.complex-payout.outputs" in r["messages"] for r in requests], dtype="float64"
    )
    assert 5 < complex_claim.sum() < 55
    old, new = prep.baseline, prep.comparison
    assert sorted(old[FLAGS[0]].tolist()) == sorted(complex_claim.tolist())
    assert (old[FLAGS[0]] + old[FLAGS[1]] == 1).all()
    assert (new[FLAGS[0]] == 0).all() and (new[FLAGS[1]] == 1).all()
    # the triggered steps were missing where they did not run, so routing modelled them:
    # each route's parents include its trigger tensor, the classifier's output that moved
    g = prep.graph
    assert f"{CLASSIFY}.is_complex_claim" in set(g.predecessors("route:complex-payout"))
    assert f"{CLASSIFY}.is_simple_claim" in set(g.predecessors("route:simple-payout"))
    assert (old["route:complex-payout"] == old[FLAGS[0]]).all()
    assert (new["route:complex-payout"] == 0).all() and len(new) == 60  # no sample dropped
    assert CLASSIFY not in g  # the step is its two variables
    assert any(n.startswith("gated complex-payout: reached by") for n in prep.notes)
    result = attribute(store, "trig", "normal", "broken", repeats=0, seed=0, n_jobs=1)
    assert result.table.iloc[0]["node"] in FLAGS, result.table.head(3)


def test_exclusive_flags_are_chained_as_one_decision():
    g = nx.DiGraph([("x", "f.a"), ("x", "f.b"), ("f.a", "y"), ("f.b", "y")])
    a = pd.Series([1.0, 0.0, 1.0, 0.0, 0.0])
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "f.a": a, "f.b": 1 - a, "y": a * 2})
    routing = add_routing(g, frame, frame.assign(**{"f.a": 0.0, "f.b": 1.0}))
    assert ("f.a", "f.b") in routing.graph.edges
    assert any(n.startswith("exclusive flags f.a, f.b") for n in routing.notes)
    # flags that are not exclusive (both 0 in a sample) are left alone
    loose = add_routing(g, frame, frame.assign(**{"f.a": 0.0, "f.b": 0.0}))
    assert ("f.a", "f.b") not in loose.graph.edges and loose.notes == []


def _experiment(tmp_path: Path, seed: int, fault: str) -> tuple[bool, str]:
    folder = tmp_path / f"{fault}-{seed}"
    example = write_example("triggers", folder, size=200, seed=10 * seed, fault=fault)
    uri = f"sqlite://{folder / 'store.db'}"
    for command in example.commands[:-1]:
        run_cli(*shlex.split(command)[1:], store=uri).ok()
    with open_store(uri) as store:
        result = attribute(store, "triggers", "normal", "broken", repeats=0, seed=0, n_jobs=1)
    top = str(result.table.iloc[0]["label"])
    return is_expected(example, top), top


@pytest.mark.slow
def test_the_buggy_classifier_deployed_as_a_second_pipeline_ranks_first(tmp_path):
    example = write_example("triggers", tmp_path / "ex", size=100, seed=5)
    assert "--rename insurance-claims-v2=insurance-claims" in example.commands[1]
    assert f"--rename {CLASSIFY}-v2={CLASSIFY}" in example.commands[1]
    uri = f"sqlite://{tmp_path / 'store.db'}"
    for command in example.commands[:-1]:
        run_cli(*shlex.split(command)[1:], store=uri).ok()
    doc = run_cli(
        "attribute", "-w", "triggers", "-b", "normal", "-c", "broken", "--json",
        "--repeats", "3", store=uri,
    ).ok().json()  # fmt: skip
    assert doc["target"] == "insurance-claims.outputs"
    first = doc["attributions"][0]
    assert first["label"] in FLAGS and first["changed"] is True, doc["attributions"][:3]
    assert "insurance-claims-v2.outputs" not in doc["graph"]["nodes"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault, least", [(CLASSIFY, 9), ("input", 9)], ids=["classifier", "input-shift"]
)
def test_ten_experiments_rank_the_fault_first(tmp_path, fault, least):
    results = [_experiment(tmp_path, seed, fault) for seed in range(1, 11)]
    hits = sum(hit for hit, _ in results)
    assert hits >= least, results


@pytest.mark.slow
def test_anomalies_on_a_seldon_pipeline_explain_its_declared_output(tmp_path, sqlite_uri):
    """triage's priority is consumed by no step once triage is split (its manual_review flag
    varies): a second sink. anomalies, like attribute, explains the declared output."""
    spec = str(seldon_claims.write_spec(tmp_path / "spec.yaml"))
    for label, requests in (
        ("normal", seldon_claims.simulate(60, seed=7)),
        ("bad", seldon_claims.simulate(4, seed=8, complexity_bug=True)),
    ):
        path = seldon_claims.write_inspect(
            tmp_path / f"{label}.txt", requests, fmt="raw29", verbose=True
        )
        with open_store(sqlite_uri) as store:
            import_paths(store, "seldon", [path], "claims", label=label, pipeline=spec)
    from provcausal.analysis.anomaly import anomalies

    with open_store(sqlite_uri) as store:
        result = anomalies(store, "claims", requests[1]["key"], baseline="normal", seed=0)
    assert result.attrs["target"] == "insurance-claims.outputs"


def test_which_steps_get_out_ports():
    from provcausal.importers.seldon_ports import step_ports

    always_two = [("s", [("mean", "FP64"), ("std", "FP64")])] * 3
    one_of_two = [("c", [("a", "BOOL")]), ("c", [("b", "BOOL")])]
    sometimes = [("t", [("p", "FP64")]), ("t", [("p", "FP64"), ("q", "INT64")])]
    ports = step_ports([*always_two, *one_of_two, *sometimes], None)
    # a step that always emits the same tensors stays one variable (its first tensor)
    assert ports.ports == {"c": ["a", "b"], "t": ["p", "q"]}
    assert ports.presence_nodes() == ["c.a", "c.b"]  # BOOL: presence; INT64 q: its value
    assert ports.out_ports("c") == {"a": "a", "b": "b"} and ports.out_ports("s") is None
