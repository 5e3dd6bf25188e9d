"""The paper's experiments as acceptance tests: generated in the paper's shape, imported with
the real importers, attributed through the CLI. The node where the fault was introduced must
rank first in at least 95 % of the bootstrap repeats."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from provcausal.analysis.attribution import prepare
from provcausal.examples import nodered_chain, scipipe_gcratio, seldon_claims
from provcausal.stores import open_store
from tests.helpers import run_cli

pytestmark = pytest.mark.slow


def import_labelled(
    store_uri: str, system: str, path, workflow: str, label: str, *extra: str
) -> None:
    args = ("-q", "import", system, path, "--workflow", workflow, "--label", label, *extra)
    run_cli(*args, store=store_uri).ok()


def attribute(store_uri: str, workflow: str, comparison: str, *extra: str) -> dict:
    args = ("-q", "attribute", "--workflow", workflow, "--baseline", "normal")
    return run_cli(*args, "--comparison", comparison, "--json", *extra, store=store_uri).ok().json()


def assert_first(report: dict, node: str) -> None:
    top = report["attributions"][0]
    assert top["node"] == node, report["attributions"][:3]
    assert top["top_frequency"] >= 0.95, top
    scores = [a["score"] for a in report["attributions"]]
    assert scores == sorted(scores, reverse=True)


@pytest.fixture(scope="module")
def gcratio_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gcratio")
    scipipe_gcratio.write_runs(root / "normal", 30, seed=11)
    scipipe_gcratio.write_runs(root / "break-count1", 30, seed=12, count1_max=10)
    scipipe_gcratio.write_runs(root / "break-count2", 30, seed=13, count2_max=10)
    return root


@pytest.mark.parametrize(
    "broken, culprit", [("break-count1", "count1"), ("break-count2", "count2")]
)
def test_scipipe_gcratio_narrowed_count_ranks_first(gcratio_runs, sqlite_uri, broken, culprit):
    for label in ("normal", broken):
        import_labelled(sqlite_uri, "scipipe", str(gcratio_runs / label), "gcratio", label)
    report = attribute(sqlite_uri, "gcratio", broken)
    assert report["target"] == "gcratio" and report["metric"] == "value"
    assert report["baseline"] == {"samples": 30, "selection": "normal"}
    assert report["comparison"] == {"samples": 30, "selection": broken}
    assert_first(report, culprit)
    assert "contracted gccat (unobserved)" in report["notes"]
    assert ["gcsum", "gcratio"] in report["graph"]["edges"]


def test_mongodb_gives_the_attribution_exactly_the_inputs_sqlite_gives(
    gcratio_runs, sqlite_uri, mongo_uri
):
    """The attribution is a deterministic function of what ``prepare`` reads (seeded), so
    equal inputs from both stores stand in for running dowhy twice on the same data."""
    prepared = []
    for uri in (sqlite_uri, mongo_uri):
        for label in ("normal", "break-count1"):
            import_labelled(uri, "scipipe", gcratio_runs / label, "gcratio", label)
        with open_store(uri) as store:
            prepared.append(prepare(store, "gcratio", "normal", "break-count1"))
    lite, mongo = prepared
    assert sorted(mongo.graph.edges) == sorted(lite.graph.edges)
    assert mongo.graph.graph == lite.graph.graph
    assert (mongo.metric, mongo.labels, mongo.notes, mongo.outputs) == (
        lite.metric,
        lite.labels,
        lite.notes,
        lite.outputs,
    )
    assert lite.baseline.shape == (30, 9) and lite.comparison.shape == (30, 9)
    pd.testing.assert_frame_equal(mongo.baseline, lite.baseline)
    pd.testing.assert_frame_equal(mongo.comparison, lite.comparison)


@pytest.fixture(scope="module")
def claims(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("claims")
    seldon_claims.write_spec(root / "spec.yaml")
    for label, kwargs, seed in (
        ("normal", {}, 21),
        ("bug", {"complexity_bug": True}, 22),
        ("scaled", {"input_scale": 1.5}, 23),
    ):
        seldon_claims.write_inspect(
            root / f"{label}.txt",
            seldon_claims.simulate(150, seed=seed, **kwargs),
            fmt="raw29",
            verbose=True,
            seed=seed,
        )
    return root


@pytest.mark.parametrize(
    "comparison, culprit", [("bug", "claim-complexity"), ("scaled", "insurance-claims.inputs")]
)
def test_seldon_claims_fault_ranks_first(claims, sqlite_uri, comparison, culprit):
    for label in ("normal", comparison):
        import_labelled(
            sqlite_uri,
            "seldon",
            str(claims / f"{label}.txt"),
            "claims",
            label,
            "--pipeline",
            str(claims / "spec.yaml"),
        )
    report = attribute(sqlite_uri, "claims", comparison)
    assert report["target"] == "insurance-claims.outputs"
    assert_first(report, culprit)


def test_nodered_delayed_node_ranks_first(tmp_path, store_uri):
    flow = nodered_chain.chain_flow(5)
    nodered_chain.write_flow(tmp_path / "flows.json", flow)
    nodered_chain.write_trace_log(tmp_path / "normal.log", flow, 50, seed=31)
    nodered_chain.write_trace_log(tmp_path / "slow.log", flow, 50, seed=32, delay_step=2)
    for label in ("normal", "slow"):
        import_labelled(
            store_uri,
            "nodered",
            str(tmp_path / f"{label}.log"),
            "chain",
            label,
            "--flow",
            str(tmp_path / "flows.json"),
        )
    report = attribute(store_uri, "chain", "slow")
    assert report["metric"] == "latency"
    delayed = [n for n in flow if n.get("name") == "Step 2"][0]["id"]
    assert_first(report, delayed)
    assert report["attributions"][0]["label"] == "Step 2"


def test_same_seed_same_numbers_and_text_output(gcratio_runs, sqlite_uri):
    for label in ("normal", "break-count1"):
        import_labelled(sqlite_uri, "scipipe", str(gcratio_runs / label), "gcratio", label)
    first = attribute(sqlite_uri, "gcratio", "break-count1", "--repeats", "5", "--seed", "3")
    again = attribute(sqlite_uri, "gcratio", "break-count1", "--repeats", "5", "--seed", "3")
    first.pop("seconds"), again.pop("seconds")
    assert first == again
    plot = gcratio_runs / "plot.png"
    args = ("-q", "attribute", "--workflow", "gcratio", "--baseline", "normal")
    text = (
        run_cli(
            *args,
            *("--comparison", "break-count1", "--repeats", "3", "--show-graph", "--plot", plot),
            store=sqlite_uri,
        )
        .ok()
        .out
    )
    assert text.splitlines()[4].startswith("count1") and "graph used (cause -> effect):" in text
    assert (gcratio_runs / "plot.png").read_bytes()[:4] == b"\x89PNG"
