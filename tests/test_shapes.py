"""Attribution on real dataflow shapes (issue 10), end to end through the CLI.

Each shape is written by ``provcausal example <shape>`` in its system's real format, imported
with the commands the example prints, and analysed with ``attribute --json``: the node the
faulty set broke must rank first.
"""

from __future__ import annotations

import shlex
import shutil

import pytest

from provcausal.examples import shapes
from tests.helpers import CliResult, run_cli


def run(store_uri: str, args: list) -> CliResult:
    return run_cli(*args, store=store_uri).ok()


def example(store_uri: str, shape: str, folder, *extra: str) -> dict:
    """Write the example, run the import commands it prints; return its --json report."""
    report = run(store_uri, ["example", shape, folder, "--json", *extra]).json()
    for command in report["next"][:-1]:
        run(store_uri, shlex.split(command)[1:])
    return report


def attribute(store_uri: str, workflow: str, *extra: str) -> dict:
    args = ["attribute", "-w", workflow, "-b", "normal", "-c", "broken", "--json"]
    return run(store_uri, [*args, "--repeats", "3", *extra]).json()


@pytest.mark.parametrize(
    "shape, fault",
    [
        pytest.param("fanout", "Detect", marks=pytest.mark.slow),
        pytest.param("fanout", "Enrich", marks=pytest.mark.slow),
        ("ports", "stats.high"),
        ("ports", "stats.low"),
    ],
)
def test_given_a_shape_when_a_node_breaks_then_it_ranks_first(tmp_path, sqlite_uri, shape, fault):
    report = example(sqlite_uri, shape, tmp_path, "--fault", fault)
    doc = attribute(sqlite_uri, report["workflow"])
    assert doc["attributions"][0]["label"] == fault, doc["attributions"][:3]
    assert doc["attributions"][0]["changed"] is True


@pytest.mark.slow
def test_switch_fault_in_the_10_percent_branch_ranks_first_and_no_sample_drops(
    tmp_path, sqlite_uri
):
    example(sqlite_uri, "switch", tmp_path, "--fault", "Rare")
    doc = attribute(sqlite_uri, "switch")
    assert doc["attributions"][0]["label"] == "Rare", doc["attributions"][:3]
    lines = len((tmp_path / "normal.log").read_text().splitlines())
    assert doc["baseline"]["samples"] == lines  # one line per join group, none dropped
    gated = [n for n in doc["notes"] if n.startswith("gated Rare")]
    assert gated and "kept all samples" in gated[0]
    assert not any(n.startswith("dropped") or "Rare (" in n for n in doc["notes"])
    assert any(a["node"].startswith("route:") for a in doc["attributions"])


@pytest.mark.slow
def test_a_changed_routing_decision_is_attributed_to_the_route(tmp_path, sqlite_uri):
    from provcausal.examples import nodered_shapes as ns

    flow = ns.shape_flow("switch")
    flows = ns.write_flow(tmp_path / "flows.json", flow)
    ns.write_shape_log(tmp_path / "normal.log", flow, 800, seed=3)
    ns.write_shape_log(tmp_path / "broken.log", flow, 800, seed=4, rare_share=0.5)
    for label in ("normal", "broken"):
        log = str(tmp_path / f"{label}.log")
        run(
            sqlite_uri,
            ["import", "nodered", log, "-w", "sw", "--label", label, "--flow", str(flows)],
        )
    doc = attribute(sqlite_uri, "sw")
    assert doc["attributions"][0]["label"] in ("route to Rare", "route to Common")


@pytest.mark.slow
def test_several_sinks_analyse_the_changed_sink(tmp_path, sqlite_uri):
    example(sqlite_uri, "sinks", tmp_path, "--fault", "Right")
    doc = attribute(sqlite_uri, "sinks")
    labels = {a["node"]: a["label"] for a in doc["attributions"]}
    assert labels[doc["target"]] == "right file"
    assert doc["attributions"][0]["label"] == "Right"
    assert any(
        "the workflow has 2 sinks" in n and "unchanged: left file" in n for n in doc["notes"]
    )


@pytest.mark.slow
def test_a_renamed_pipeline_compares_and_its_output_is_the_target(tmp_path, sqlite_uri):
    report = example(sqlite_uri, "renamed", tmp_path, "--runs", "150")
    assert any("--rename insurance-claims-v2=insurance-claims" in c for c in report["next"])
    doc = attribute(sqlite_uri, "claims")
    assert doc["target"] == "insurance-claims.outputs"
    assert doc["attributions"][0]["label"] == "claim-complexity"
    assert "insurance-claims-v2.outputs" not in doc["graph"]["nodes"]


def test_same_data_in_two_folders_and_import_orders_gives_identical_scores(tmp_path):
    first, second = tmp_path / "a", tmp_path / "deeper" / "b"
    store_a = f"sqlite:///{tmp_path / 'a.db'}"
    store_b = f"sqlite:///{tmp_path / 'b.db'}"
    example(store_a, "ports", first, "--runs", "25")
    shutil.copytree(first, second)
    for label in ("broken", "normal"):  # the other order, and run folders one by one
        folders = sorted((second / label).iterdir(), reverse=True)
        run(store_b, ["import", "scipipe", *map(str, folders), "-w", "ports", "--label", label])
    a, b = attribute(store_a, "ports"), attribute(store_b, "ports")
    for doc in (a, b):
        doc.pop("seconds")
    assert a == b
    assert a["attributions"][0]["label"] == "stats.high"


def test_shapes_list_their_faults_and_refuse_unknown_ones(tmp_path, sqlite_uri):
    assert shapes.faults("switch") == ["Parse", "Common", "Rare"]
    result = run_cli("example", "switch", tmp_path, "--fault", "Nope", store=sqlite_uri)
    result.error(2, "Parse, Common, Rare", usage=True)
