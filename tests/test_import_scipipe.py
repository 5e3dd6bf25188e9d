"""SciPipe importer on fixtures that follow ../shared/formats.md §1, every generation and quirk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import prov.model as pm
import pytest

from provcausal.examples.scipipe_gcratio import FORMAT_VERSIONS, write_run
from provcausal.ingest import import_paths, read_runs
from provcausal.model import flowcept as fc
from provcausal.stores import open_store
from tests.helpers import SAMPLES, needs_samples, run_cli

SHARED = (SAMPLES or Path("shared-samples-missing")) / "scipipe"


def by_node(store, run_id):
    return {t["activity_id"]: t for t in store.find_tasks([run_id])}


def test_given_gcratio_run_when_imported_then_values_lineage_and_times(tmp_path, store):
    values = write_run(tmp_path / "run1", seed=7)
    summary = import_paths(store, "scipipe", [tmp_path / "run1"], "gcratio", label="normal")
    assert summary.warnings == []
    (run_id,) = summary.runs
    tasks = by_node(store, run_id)
    assert set(tasks) == {
        "count1",
        "count2",
        "gccount1",
        "gccount2",
        "atcount1",
        "atcount2",
        "gccat",
        "atcat",
        "gcsum",
        "atsum",
        "gcratio",
    }
    for node, value in values.items():
        assert fc.task_meta(tasks[node])["value"] == pytest.approx(value, rel=1e-12)
    names = {t["task_id"]: n for n, t in tasks.items()}
    deps = {n: sorted(names[d] for d in t["dependencies"]) for n, t in tasks.items()}
    assert deps["gcratio"] == ["atsum", "gcsum"]
    assert deps["gcsum"] == ["gccat"]
    assert deps["gccat"] == ["gccount1", "gccount2"]
    assert deps["gccount1"] == ["count1"]
    assert fc.task_meta(tasks["gccat"])["unobserved"] is True
    assert "unobserved" not in fc.task_meta(tasks["gcsum"])
    audit = json.loads((tmp_path / "run1" / "gccounts.txt.sum.audit.json").read_text())
    meta = fc.task_meta(tasks["gcsum"])
    assert meta["attrs"]["execTimeNS"] == audit["ExecTimeNS"]
    assert meta["duration"] == audit["ExecTimeNS"] / 1e9
    assert meta["attrs"]["startTime"] == audit["StartTime"]  # nanoseconds kept as text
    assert meta["attrs"]["command"] == audit["Command"]
    assert tasks["gcsum"]["started_at"].isoformat().startswith(audit["StartTime"][:23])


def test_given_no_graph_when_imported_then_warns_where_lineage_has_gaps(tmp_path, store):
    write_run(tmp_path / "run1", seed=1, write_graph=False)
    summary = import_paths(store, "scipipe", [tmp_path], "gcratio")
    (warning,) = summary.warnings
    assert "lineage has gaps" in warning
    assert "gcsum used gccounts.txt" in warning and "atsum used atcounts.txt" in warning
    tasks = by_node(store, summary.runs[0])
    assert "gccat" not in tasks
    assert tasks["gcsum"]["dependencies"] == []


def test_given_graph_elsewhere_when_passed_with_option_then_lineage_repaired(tmp_path, store):
    write_run(tmp_path / "g", seed=1)
    write_run(tmp_path / "run1", seed=1, write_graph=False)
    summary = import_paths(
        store,
        "scipipe",
        [tmp_path / "run1"],
        "gcratio",
        graph=str(tmp_path / "g" / "workflow_graph.dot"),
    )
    assert summary.warnings == []
    assert "gccat" in by_node(store, summary.runs[0])


@pytest.mark.parametrize("version", FORMAT_VERSIONS)
def test_every_format_generation_reads_to_the_same_graph(tmp_path, version, store):
    values = write_run(tmp_path / version, seed=5, version=version)
    summary = import_paths(store, "scipipe", [tmp_path / version], "gcratio")
    tasks = by_node(store, summary.runs[0])
    assert len(tasks) == 11
    assert fc.task_meta(tasks["gcratio"])["value"] == pytest.approx(values["gcratio"])
    assert fc.task_meta(tasks["count1"])["duration"] is not None
    first = json.loads((tmp_path / version / "count1.txt.audit.json").read_text())
    assert ("OutFiles" in first) == (version == "0.12")
    assert ("Keys" in first) == (version in ("0.6", "0.2"))


def test_given_tasks_repeated_across_files_when_imported_then_deduplicated_by_id(tmp_path):
    write_run(tmp_path / "r", seed=2)
    _, runs = read_runs("scipipe", [tmp_path / "r"], "gcratio")
    (run,) = list(runs)
    assert run.tasks == 11
    assert run.entities == 11  # stub inputs keyed by path although their IDs are random


def test_given_two_folders_when_imported_twice_then_two_runs_and_no_duplicates(tmp_path, store):
    write_run(tmp_path / "a", seed=1)
    write_run(tmp_path / "b", seed=2)
    first = import_paths(store, "scipipe", [tmp_path], "gcratio", label="normal")
    again = import_paths(
        store, "scipipe", [tmp_path / "a", tmp_path / "b"], "gcratio", label="normal"
    )
    assert sorted(first.runs) == sorted(again.runs) and len(first.runs) == 2
    assert len(store.find_runs()) == 2
    assert store.count_tasks() == 22


def test_times_with_offsets_and_legacy_shape(tmp_path, store):
    folder = tmp_path / "legacy"
    folder.mkdir()
    record = {
        "ID": "omlcgx0izet4bprr7e5f",
        "ProcessName": "foo2bar",
        "Command": "sed 's/foo/bar/g' ../fooer.foo.txt \u003e fooer.foo.txt.foo2bar.bar.txt",
        "Params": {},
        "Tags": {},
        "StartTime": "2018-06-27T17:50:51.445311702+02:00",
        "FinishTime": "2018-06-27T17:50:51.451388569+02:00",
        "ExecTimeNS": 6000000,
        "Upstream": {
            "fooer.foo.txt": {
                "ID": "y23kkipm4p4y7kgdzuc1",
                "ProcessName": "fooer",
                "Command": "echo foo \u003e fooer.foo.txt",
                "Params": {},
                "Tags": {},
                "StartTime": "2018-06-27T17:50:51.437331897+02:00",
                "FinishTime": "2018-06-27T17:50:51.44444825+02:00",
                "ExecTimeNS": 7000000,
                "Upstream": {},
            }
        },
    }
    (folder / "fooer.foo.txt.foo2bar.bar.txt.audit.json").write_text(
        json.dumps(record, indent="\t")
    )
    summary = import_paths(store, "scipipe", [folder], "foo")
    tasks = by_node(store, summary.runs[0])
    # BSON dates keep milliseconds; the nanoseconds stay in the PROV attributes.
    assert tasks["foo2bar"]["started_at"].isoformat()[:23] == "2018-06-27T15:50:51.445"
    names = {t["task_id"]: n for n, t in tasks.items()}
    assert [names[d] for d in tasks["foo2bar"]["dependencies"]] == ["fooer"]


def test_document_round_trips_through_prov_json_and_prov_n(tmp_path):
    write_run(tmp_path / "r", seed=4)
    _, runs = read_runs("scipipe", [tmp_path / "r"], "gcratio")
    (run,) = list(runs)
    doc = run.document
    for fmt in ("json", "provn"):
        back = pm.ProvDocument.deserialize(content=doc.serialize(format=fmt), format=fmt)
        assert back == doc, fmt
    assert len(list(doc.get_records(pm.ProvActivity))) == 11


def test_output_values_only_from_small_text_files(tmp_path, store):
    from provcausal.importers.scipipe import read_output_value

    (tmp_path / "a").write_text("\t~0.37943925233644859813\n")
    (tmp_path / "b").write_bytes(b"12\x00binary")
    (tmp_path / "c").write_text("1\n" * 40_000)  # 80 KB
    (tmp_path / "d").write_text("not a number\n")
    (tmp_path / "e").write_text("  -1.5e3  \nmore\n")
    assert read_output_value(tmp_path / "a") == pytest.approx(0.37943925233644859813)
    assert read_output_value(tmp_path / "b") is None
    assert read_output_value(tmp_path / "c") is None
    assert read_output_value(tmp_path / "d") is None
    assert read_output_value(tmp_path / "e") == -1500.0
    assert read_output_value(tmp_path / "missing") is None


def test_params_with_mongodb_special_keys_come_back_unchanged(tmp_path, store):
    folder = tmp_path / "p"
    folder.mkdir()
    params = {"$set": "x", "a.b": "c", "plain": "1"}
    record = {
        "ID": "aaaaaaaaaaaaaaaaaaaa",
        "ProcessName": "p",
        "Command": "echo 1 > o.txt",
        "Params": params,
        "Tags": {"t.x": "$y"},
        "StartTime": "2023-03-13T02:23:35.989429427Z",
        "FinishTime": "2023-03-13T02:23:35.999429427Z",
        "ExecTimeNS": 10000000,
        "OutFiles": {"out": "o.txt"},
        "Upstream": {},
    }
    (folder / "o.txt.audit.json").write_text(json.dumps(record))
    (folder / "o.txt").write_text("1\n")
    summary = import_paths(store, "scipipe", [folder], "p")
    (task,) = store.find_tasks(summary.runs)
    attrs = fc.task_meta(task)["attrs"]
    assert attrs["params"] == params and attrs["tags"] == {"t.x": "$y"}
    assert task["generated"] == {"o.txt": 1.0}


BAD_CASES = {
    "not_json": (b"this is not json\n", "line 1"),
    "truncated": (None, "not valid JSON"),
    "wrong_type": (None, "'ExecTimeNS'"),
    "missing_key": (None, "'ProcessName'"),
    "empty": (b"", "file is empty"),
    "binary": (bytes(range(256)) * 4, "not UTF-8"),
    "bad_time": (None, "RFC 3339"),
}


def _bad_bytes(kind: str, good: bytes) -> bytes:
    data, _ = BAD_CASES[kind]
    if data is not None:
        return data
    record = json.loads(good)
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "wrong_type":
        record["ExecTimeNS"] = "fast"  # gccount1's own record (nested copies are deduplicated)
    elif kind == "missing_key":
        del record["Upstream"]["count1.txt"]["ProcessName"]
    elif kind == "bad_time":
        record["StartTime"] = "yesterday"
    return json.dumps(record, indent=4).encode()


@pytest.mark.parametrize("kind", sorted(BAD_CASES))
def test_bad_input_is_exit_2_naming_file_and_where_and_stores_nothing(tmp_path, store_uri, kind):
    write_run(tmp_path / "good", seed=1)
    write_run(tmp_path / "run", seed=2)
    bad = tmp_path / "run" / "chry.fa.gccnt1.audit.json"
    bad.write_bytes(_bad_bytes(kind, bad.read_bytes()))
    result = run_cli(
        "import", "scipipe", tmp_path / "run", "--workflow", "gcratio", store=store_uri
    )
    result.error(2, str(bad), BAD_CASES[kind][1])
    with open_store(store_uri) as store:
        assert store.find_runs() == [] and store.count_tasks() == 0
    report = (
        run_cli(
            *("import", "scipipe", tmp_path / "run", "--workflow", "gcratio", "--skip-bad"),
            "--json",
            store=store_uri,
        )
        .ok()
        .json()
    )
    assert report["skipped"] == 1 and str(bad) in report["skipped_where"][0]
    assert report["runs"] == 1 and report["tasks"] == 11
    with open_store(store_uri) as store:
        tasks = by_node(store, report["run_ids"][0])
    # gccount1's audit was skipped; the workflow graph still names it, so it is unobserved.
    assert fc.task_meta(tasks["gccount1"])["unobserved"] is True
    assert fc.task_meta(tasks["gccount2"]).get("unobserved") is None


def test_path_with_no_records_is_exit_2(tmp_path, store_uri):
    (tmp_path / "empty").mkdir()
    empty, missing = tmp_path / "empty", tmp_path / "nope"
    result = run_cli("import", "scipipe", empty, "--workflow", "x", store=store_uri)
    result.error(2, "no SciPipe audit files", str(empty))
    result = run_cli("import", "scipipe", missing, "--workflow", "x", store=store_uri)
    result.error(2, "no such file or folder", str(missing))


def test_import_auto_detects_scipipe_from_content(tmp_path, store_uri):
    write_run(tmp_path / "r", seed=1)
    renamed = tmp_path / "ratio.log"  # a name that says nothing about SciPipe
    shutil.copy(tmp_path / "r" / "gcratio.txt.audit.json", renamed)
    for path, tasks in ((tmp_path / "r", 11), (renamed, 3)):  # gcratio, gcsum, atsum
        report = (
            run_cli("import", "auto", path, "--workflow", "gcratio", "--json", store=store_uri)
            .ok()
            .json()
        )
        assert report["system"] == "scipipe" and report["detected"] is True
        assert report["tasks"] == tasks, path


@needs_samples
def test_shared_real_sample_imports_with_repaired_lineage(tmp_path, store):
    summary = import_paths(store, "scipipe", [SHARED / "run-normal-1"], "gcratio")
    tasks = by_node(store, summary.runs[0])
    assert fc.task_meta(tasks["gcratio"])["value"] == pytest.approx(0.379439252336)
    assert fc.task_meta(tasks["count1"])["value"] == 31
    assert len(tasks) == 11 and summary.warnings == []
