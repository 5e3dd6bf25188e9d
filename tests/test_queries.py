"""Queries on both stores: tasks, nodes, lineage, PROV export/import round trips, pictures."""

from __future__ import annotations

import datetime as dt
import shutil

import prov.model as pm
import pytest
from provcausal.queries import (
    export_document,
    export_prov,
    lineage,
    lineage_table,
    list_nodes,
    list_tasks,
    node_labels,
)
from provcausal.queries.export import FORMATS

from provcausal.errors import InvalidParameterError
from provcausal.examples.scipipe_gcratio import write_run
from provcausal.ingest import import_paths
from provcausal.model import ids
from provcausal.model import prov as P
from provcausal.model.convert import prov_to_flowcept
from provcausal.model.prov import RunDocumentBuilder
from provcausal.stores import open_store
from tests.helpers import T0, run_cli


@pytest.fixture
def gc(tmp_path, store):
    write_run(tmp_path / "r1", seed=1)
    write_run(tmp_path / "r2", seed=2)
    summary = import_paths(
        store, "scipipe", [tmp_path / "r1", tmp_path / "r2"], "gcratio", label="normal"
    )
    return store, summary.runs


def test_tasks_of_a_run_and_of_a_node(gc):
    store, runs = gc
    tasks = list_tasks(store, run=runs[0])
    assert len(tasks) == 11 and tasks.iloc[0]["node"] == "count1"
    assert {"task_id", "node", "started_at", "ended_at", "duration", "status", "value"} <= set(
        tasks.columns
    )
    per_node = list_tasks(store, workflow="gcratio", node="gcratio")
    assert len(per_node) == 2 and set(per_node["run_id"]) == set(runs)


def test_nodes_count_runs_and_samples(gc):
    store, _ = gc
    nodes = list_nodes(store, "gcratio").set_index("node")
    assert nodes.loc["gcratio", "runs"] == 2 and nodes.loc["gccat", "unobserved"]
    assert nodes.loc["count1", "with_value"] == 2


def test_lineage_upstream_downstream_depth_and_entities(gc):
    store, runs = gc
    tasks = list_tasks(store, run=runs[0]).set_index("node")
    ratio, count1 = tasks.loc["gcratio", "task_id"], tasks.loc["count1", "task_id"]
    up = lineage(store, ratio)
    assert {up.nodes[n]["label"] for n in up if up.nodes[n]["kind"] == "task"} == set(tasks.index)
    shallow = lineage_table(lineage(store, ratio, depth=1))
    assert set(shallow[shallow.kind == "task"]["label"]) == {"gcratio", "gcsum", "atsum"}
    down = lineage(store, count1, "downstream", depth=20)
    assert "gcratio" in {down.nodes[n]["label"] for n in down}
    assert all(down.nodes[n]["run"] == runs[0] for n in down)  # never crosses into other runs
    entity = next(n for n in up if up.nodes[n]["label"] == "count1.txt")
    from_entity = lineage(store, entity, "downstream", depth=1)
    assert {from_entity.nodes[n]["label"] for n in from_entity} == {
        "count1.txt",
        "gccount1",
        "atcount1",
    }


def test_lineage_cli_json_and_unknown_id(gc, store_uri):
    store, runs = gc
    ratio = list_tasks(store, run=runs[0]).set_index("node").loc["gcratio", "task_id"]
    doc = run_cli("lineage", ratio, "--depth", "2", "--json", store=store_uri).ok().json()
    assert doc["direction"] == "upstream"
    tasks = {n["label"] for n in doc["nodes"] if n["kind"] == "task"}
    assert tasks == {"gcratio", "gcsum", "atsum", "gccat", "atcat"}
    ids = {n["id"] for n in doc["nodes"]}
    assert doc["edges"] and all(set(e[:2]) <= ids for e in doc["edges"])
    run_cli("lineage", "t-nope", store=store_uri).error(2, "no task or entity 't-nope'")


def test_given_a_run_when_tracing_lineage_then_the_id_is_looked_up_in_that_run_only(gc, store_uri):
    store, runs = gc
    ratio = list_tasks(store, run=runs[0]).set_index("node").loc["gcratio", "task_id"]
    doc = run_cli("lineage", ratio, "--run", runs[0], "--json", store=store_uri).ok().json()
    every_task = set(list_tasks(store, run=runs[0])["node"])
    assert {n["label"] for n in doc["nodes"] if n["kind"] == "task"} == every_task
    run_cli("lineage", ratio, "-r", runs[1], store=store_uri).error(
        2, f"no task or entity {ratio!r}"
    )


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_export_format_parses_back(gc, fmt):
    store, runs = gc
    doc = export_document(store, run=runs[0])
    spec = FORMATS[fmt]
    text = export_prov(store, runs[0], fmt)
    if fmt == "json":
        assert text == store.get_prov_json(runs[0])  # exactly as imported
    back = pm.ProvDocument.deserialize(content=text, format=spec.serializer, **spec.options)
    assert len(list(back.get_records(pm.ProvActivity))) == 11
    if fmt in ("json", "provn", "xml"):
        assert back == doc


def test_export_json_is_exactly_what_was_imported_and_workflow_merges(gc, store_uri):
    store, runs = gc
    out = run_cli("export", "--run", runs[0], store=store_uri).ok().out
    assert out == store.get_prov_json(runs[0]) + "\n"
    merged = export_document(store, workflow="gcratio", labels=["normal"])
    assert len(list(merged.get_records(pm.ProvActivity))) == 22


def test_export_import_export_gives_the_same_records(gc, store_uri, tmp_path):
    store, runs = gc
    for fmt in ("json", "provn", "xml"):
        out = tmp_path / f"run.{fmt}"
        run_cli("export", "--run", runs[0], "-f", fmt, "-o", out, store=store_uri).ok()
        (again,) = (
            run_cli("import", "prov", out, "--workflow", f"again-{fmt}", "--json", store=store_uri)
            .ok()
            .json()["run_ids"]
        )
        first = export_document(store, run=runs[0])
        second = export_document(store, run=again)
        assert set(first.get_records()) == set(second.get_records()), fmt
        assert len(list_tasks(store, run=again)) == 11


def test_foreign_prov_document_lands_in_the_store(tmp_path, store):
    doc = pm.ProvDocument()
    ex = doc.add_namespace("ex", "http://example.org/")
    doc.activity(
        "ex:compile", "2024-01-01T00:00:00", "2024-01-01T00:00:05", {"prov:label": "compile"}
    )
    doc.activity("ex:link", "2024-01-01T00:00:06", "2024-01-01T00:00:07")
    doc.entity("ex:main.o", {"prov:value": 3})
    doc.wasGeneratedBy("ex:main.o", "ex:compile")
    doc.used("ex:link", "ex:main.o")
    path = tmp_path / "toolbox.provn"
    path.write_text(doc.serialize(format="provn"))
    summary = import_paths(store, "auto", [path], "build")
    assert summary.system == "prov"
    tasks = list_tasks(store, run=summary.runs[0]).set_index("node")
    assert set(tasks.index) == {"compile", "link"}
    assert tasks.loc["compile", "value"] == 3.0
    link = store.tasks_by_id([tasks.loc["link", "task_id"]])[0]
    assert link["dependencies"] == [tasks.loc["compile", "task_id"]]
    assert ex.uri in export_prov(store, summary.runs[0])


def test_nodes_graph_dot_and_missing_graphviz(gc, store_uri, tmp_path, monkeypatch):
    store, runs = gc
    result = run_cli("graph", "-w", "gcratio", "-o", tmp_path / "g.dot", "--json", store=store_uri)
    assert ["gccount1", "gcsum"] in result.ok().json()["edges"]
    dot = (tmp_path / "g.dot").read_text()
    assert '"gcsum" -> "gcratio"' in dot and "contracted gccat (unobserved)" in dot
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    run_cli("graph", "-w", "gcratio", "-o", tmp_path / "g.svg", store=store_uri).error(
        2, "apt-get install graphviz"
    )
    assert not (tmp_path / "g.svg").exists()
    assert (tmp_path / "g.dot").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz (.ci/run installs it)")
def test_svg_and_png_pictures(gc, store_uri, tmp_path):
    store, runs = gc
    run_cli("graph", "-w", "gcratio", "-o", tmp_path / "nodes.svg", store=store_uri).ok()
    svg = (tmp_path / "nodes.svg").read_text()
    assert "<svg" in svg and "gcratio" in svg
    picture = tmp_path / "prov.png"
    run_cli("graph", "--kind", "prov", "--run", runs[0], "-o", picture, store=store_uri).ok()
    assert (tmp_path / "prov.png").read_bytes()[:4] == b"\x89PNG"


def test_runs_since_until_accept_iso_and_epoch(gc, store_uri):
    _, runs = gc
    since = run_cli("runs", "--since", "2023-03-13", "--json", store=store_uri).ok().json()
    assert sorted(r["run_id"] for r in since) == sorted(runs)
    assert run_cli("runs", "--since", "2100-01-01", "--json", store=store_uri).ok().json() == []
    assert run_cli("runs", "--until", "1000", "--json", store=store_uri).ok().json() == []
    until = run_cli("runs", "--until", "4102444800", "--json", store=store_uri).ok().json()
    assert len(until) == 2


def labelled_run(source: str, names: dict[str, str]):
    """A two-node run whose node agents carry human-readable names (as Node-RED's do)."""
    run = ids.run_id("test", "named", source)
    b = RunDocumentBuilder(run, "named", "test")
    prev = None
    for i, (node, name) in enumerate(names.items()):
        b.node_agent(node, {P.NODE_NAME: name})
        t = ids.task_id(run, node)
        b.task(t, node, start=T0 + dt.timedelta(seconds=i), end=None, sample=run)
        e = ids.entity_id(run, node)
        b.entity(e, name=node, value=float(i))
        b.generated(e, t)
        if prev is not None:
            b.used(t, prev)
        prev = e
    return prov_to_flowcept(b.document, run_id=run, workflow="named", system="test")


def test_node_labels_come_from_the_api_and_the_graph_command_draws_them(store, store_uri, tmp_path):
    store.put_run(labelled_run("one", {"n1": "Read", "n2": "Old name"}))
    store.put_run(labelled_run("two", {"n2": "Score"}))
    assert node_labels(store, "named") == {"n1": "Read", "n2": "Score"}  # the later run wins
    assert node_labels(store, "nothing") == {}
    run_cli("graph", "-w", "named", "-o", tmp_path / "g.dot", store=store_uri).ok()
    dot = (tmp_path / "g.dot").read_text()
    assert "Read" in dot and "Score" in dot and "Old name" not in dot


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export"], "give exactly one of a run or a workflow (--run, --workflow)"),
        (
            ["export", "-r", "x", "-w", "y"],
            "give exactly one of a run or a workflow (--run, --workflow)",
        ),
        (["tasks"], "give a run, or a workflow with a node (--run, --workflow, --node)"),
        (["graph", "--kind", "prov", "-o", "g.dot"], "kind prov draws one run: give a run (--run)"),
    ],
)
def test_parameter_errors_exit_2_and_the_cli_names_the_flags(store_uri, args, message):
    open_store(store_uri).close()  # an existing store: read commands never create one
    run_cli(*args, store=store_uri).error(2, message)


def test_the_api_raises_invalid_parameter_naming_parameters_not_flags(store):
    with pytest.raises(InvalidParameterError) as caught:
        export_document(store)
    assert caught.value.parameters == ("run", "workflow") and "--" not in str(caught.value)
    with pytest.raises(InvalidParameterError, match="unknown format 'yaml'"):
        export_prov(store, "r", "yaml")
    with pytest.raises(InvalidParameterError, match="direction is upstream or downstream"):
        lineage(store, "t-1", "sideways")
