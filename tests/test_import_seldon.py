"""Seldon importer on inspect output that follows ../shared/formats.md §3, every generation."""

from __future__ import annotations

from pathlib import Path

import prov.model as pm
import pytest
from provcausal.importers.seldon_inspect import tensor_values, xid_time

from provcausal.examples.seldon_claims import (
    FORMATS,
    PIPELINE,
    make_xid,
    simulate,
    write_inspect,
    write_spec,
)
from provcausal.ingest import import_paths, read_runs
from provcausal.model import flowcept as fc
from provcausal.stores import open_store
from tests.helpers import SAMPLES, needs_samples, run_cli

SHARED = (SAMPLES or Path("shared-samples-missing")) / "seldon"
EXPECTED_EDGES = {
    ("insurance-claims.inputs", "claim-complexity"),
    ("insurance-claims.inputs", "fraud-score"),
    ("claim-complexity", "triage"),
    ("claim-complexity", "manual-review"),
    ("triage", "manual-review"),
    ("claim-complexity", "payout"),
    ("fraud-score", "payout"),
    ("manual-review", "payout"),
    ("insurance-claims.inputs", "payout"),
    ("payout", "insurance-claims.outputs"),
}


def edges(store, run_id):
    tasks = {t["task_id"]: t for t in store.find_tasks([run_id])}
    return {
        (tasks[d]["activity_id"], t["activity_id"])
        for t in tasks.values()
        for d in t["dependencies"]
    }


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("verbose", [False, True])
def test_every_generation_with_spec_gives_the_spec_graph(tmp_path, store, fmt, verbose):
    requests = simulate(12, seed=2)
    path = write_inspect(tmp_path / "out.txt", requests, fmt=fmt, verbose=verbose)
    spec = write_spec(tmp_path / "spec.yaml")
    summary = import_paths(store, "seldon", [path], "claims", pipeline=str(spec))
    assert summary.samples == 12 and summary.warnings == []
    got = edges(store, summary.runs[0])
    reviewed = any("model.manual-review.outputs" in r["messages"] for r in requests)
    assert got == (
        EXPECTED_EDGES if reviewed else {e for e in EXPECTED_EDGES if "manual-review" not in e}
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_without_spec_route_headers_give_the_same_graph(tmp_path, store, fmt):
    requests = simulate(12, seed=2)
    path = write_inspect(tmp_path / "out.txt", requests, fmt=fmt, verbose=True)
    summary = import_paths(store, "seldon", [path], "claims")
    assert summary.warnings == []
    assert edges(store, summary.runs[0]) == EXPECTED_EDGES


def test_without_spec_or_headers_edges_from_values_with_warning(tmp_path, store):
    path = write_inspect(tmp_path / "out.txt", simulate(6, seed=1), fmt="raw28")
    summary = import_paths(store, "seldon", [path], "claims")
    assert any("matching tensor contents" in w for w in summary.warnings)
    got = edges(store, summary.runs[0])
    assert ("claim-complexity", "triage") in got and ("payout", "insurance-claims.outputs") in got


def test_values_int64_strings_times_durations_and_trigger_gating(tmp_path, store):
    requests = simulate(20, seed=4)
    path = write_inspect(tmp_path / "out.txt", requests, fmt="json29", verbose=True)
    summary = import_paths(
        store, "seldon", [path], "claims", pipeline=str(write_spec(tmp_path / "spec.yaml"))
    )
    tasks = list(store.find_tasks(summary.runs))
    by = {(fc.task_meta(t)["sample"], t["activity_id"]): t for t in tasks}
    for req in requests:
        key = req["key"]
        amount = req["messages"][f"pipeline.{PIPELINE}.inputs"]["value"]["inputs"][0]
        meta = fc.task_meta(by[(key, f"{PIPELINE}.inputs")])
        assert meta["value"] == pytest.approx(amount["contents"]["fp64Contents"][0])
        started = by[(key, "payout")]["started_at"]
        assert int(started.timestamp()) == xid_time(key)
        service = req["messages"]["model.payout.outputs"]["service"]
        assert fc.task_meta(by[(key, "payout")])["duration"] == service / 1000
        ran = "model.manual-review.outputs" in req["messages"]
        assert ((key, "manual-review") in by) == ran
    (wf,) = store.find_runs()
    assert fc.run_meta(wf)["gated_nodes"] == ["manual-review"]


def test_rename_maps_a_redeployed_model_to_the_same_node(tmp_path, store):
    path = write_inspect(tmp_path / "out.txt", simulate(4, seed=1), fmt="raw28", verbose=True)
    text = path.read_text().replace("fraud-score", "fraud-score-v2")
    path.write_text(text)
    summary = import_paths(store, "seldon", [path], "claims", rename=["fraud-score-v2=fraud-score"])
    nodes = {t["activity_id"] for t in store.find_tasks(summary.runs)}
    assert "fraud-score" in nodes and "fraud-score-v2" not in nodes
    assert ("fraud-score", "payout") in edges(store, summary.runs[0])


def test_a_bad_rename_is_a_parameter_error_naming_the_flag(tmp_path, store_uri):
    path = write_inspect(tmp_path / "out.txt", simulate(2), fmt="raw28")
    result = run_cli("import", "seldon", path, "-w", "w", "--rename", "x", store=store_uri)
    result.error(2, "rename takes OLD=NEW, got 'x' (--rename)")


def test_headers_with_dots_come_back_unchanged(tmp_path, store):
    path = write_inspect(tmp_path / "out.txt", simulate(2, seed=1), fmt="raw28", verbose=True)
    summary = import_paths(store, "seldon", [path], "claims")
    (task,) = [t for t in store.find_tasks(summary.runs) if t["activity_id"] == "payout"][:1]
    headers = fc.task_meta(task)["attrs"]["headers"]
    assert headers["x-request-id"] == [fc.task_meta(task)["sample"]]


def test_xid_and_tensor_decoding():
    key = make_xid(1_688_047_909, 5)
    assert xid_time(key) == 1_688_047_909
    assert xid_time("cg5g6ogfh5ss73a44vvg") == 1678443362
    assert xid_time("test-id") is None
    assert tensor_values({"datatype": "INT64", "contents": {"int64Contents": ["0", "12"]}}) == [
        0,
        12,
    ]
    raw = "AgAAAAQAAAAGAAAACAAAAA=="  # INT32 little-endian 2, 4, 6, 8
    assert tensor_values({"datatype": "INT32"}, raw) == [2, 4, 6, 8]


def test_document_round_trips(tmp_path):
    path = write_inspect(tmp_path / "out.txt", simulate(3, seed=1), fmt="raw29", verbose=True)
    _, runs = read_runs("seldon", [path], "claims")
    (run,) = list(runs)
    for fmt in ("json", "provn"):
        back = pm.ProvDocument.deserialize(content=run.document.serialize(format=fmt), format=fmt)
        assert back == run.document


@pytest.mark.parametrize(
    "content, where",
    [
        ("seldon.default.model.a.outputs\tkey1\t{broken\n", "line 1"),
        ("seldon.default.model.a.outputs\tkey1\n", "line 1"),
        ("not.a.topic\tk\t{}\n", "not a Seldon topic"),
        (
            '{"topics": [{"name": "seldon.default.model.a.outputs", "msgs": [{"value": {}}]}]}',
            "'topics[0].msgs[0].key'",
        ),
        ('{"inputs": [{"name": "x"}]}', "without its topic and key"),
        ('Topic: seldon.default.model.a.outputs\nk\t{"outputs": 3}\n', "request k"),
    ],
)
def test_bad_input_exit_2_naming_file_and_place(tmp_path, store_uri, content, where):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    run_cli("import", "seldon", path, "--workflow", "w", store=store_uri).error(2, str(path), where)
    with open_store(store_uri) as store:
        assert store.find_runs() == [] and store.count_tasks() == 0


def test_bad_spec_names_file_and_key(tmp_path, store_uri):
    path = write_inspect(tmp_path / "out.txt", simulate(2), fmt="raw28")
    spec = tmp_path / "spec.yaml"
    spec.write_text("kind: Pipeline\nmetadata:\n  name: p\nspec:\n  steps: 3\n")
    result = run_cli(
        "import", "seldon", path, "--workflow", "w", "--pipeline", spec, store=store_uri
    )
    result.error(2, "spec.steps", str(spec))


def test_auto_detects_each_generation(tmp_path, store_uri):
    for fmt in FORMATS:
        path = write_inspect(tmp_path / f"{fmt}.out", simulate(2), fmt=fmt)
        result = run_cli("import", "auto", path, "--workflow", fmt, "--json", store=store_uri)
        report = result.ok().json()
        assert (report["system"], report["detected"], report["samples"]) == ("seldon", True, 2)


@needs_samples
def test_real_doc_outputs_import(tmp_path, store):
    docs = sorted((SHARED / "docs").glob("*.txt"))
    for path in docs:
        if path.name.endswith("__09.txt"):  # a jq-extracted value, not inspect output
            continue
        summary = import_paths(store, "seldon", [path], path.stem)
        assert summary.samples >= 1, path
    summary = import_paths(
        store,
        "seldon",
        [SHARED / "docs" / "docs-gb_examples_pipeline-to-pipeline__20.txt"],
        "tfsimple",
    )
    assert summary.warnings == []
    assert edges(store, summary.runs[0]) == {
        ("tfsimple.inputs", "tfsimple1"),
        ("tfsimple1", "tfsimple.outputs"),
    }
