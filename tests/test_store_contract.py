"""The contract every store passes: the embedded SQLite store and MongoDB alike."""

from __future__ import annotations

import base64
import datetime as dt
import os

import pytest

from provcausal.model import flowcept as fc
from provcausal.stores import Store
from provcausal.stores.base import PROV_CHUNK_BYTES
from tests.helpers import T0, chain_run


def _ms(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def test_given_empty_store_when_listing_then_nothing(store: Store) -> None:
    assert store.find_runs() == []
    assert store.get_run("nope") is None
    assert store.get_prov_json("nope") is None
    assert store.count_tasks() == 0


def test_given_run_when_stored_then_every_read_path_returns_it(store: Store) -> None:
    run = chain_run("/data/run1")
    store.put_run(run)

    (wf,) = store.find_runs(workflow="wf")
    assert wf["workflow_id"] == run.run_id
    assert wf["name"] == "wf"
    assert fc.run_label(wf) == "normal"
    assert isinstance(wf["started_at"], float)

    tasks = {t["activity_id"]: t for t in store.find_tasks([run.run_id])}
    assert set(tasks) == {"a", "b", "c"}
    assert tasks["b"]["dependencies"] == [tasks["a"]["task_id"]]
    assert tasks["a"]["started_at"].tzinfo is not None
    assert tasks["a"]["started_at"] == _ms(T0)
    assert fc.task_meta(tasks["c"])["value"] == 2.0

    only_b = list(store.find_tasks([run.run_id], nodes=["b"]))
    assert [t["activity_id"] for t in only_b] == ["b"]
    assert [t["task_id"] for t in store.tasks_by_id([tasks["c"]["task_id"]])] == [
        tasks["c"]["task_id"]
    ]
    downstream = store.tasks_depending_on([tasks["a"]["task_id"]])
    assert [t["activity_id"] for t in downstream] == ["b"]
    a_out = fc.task_meta(tasks["a"])["generated_ids"][0]
    assert [t["activity_id"] for t in store.tasks_by_entity([a_out], "generated")] == ["a"]
    assert [t["activity_id"] for t in store.tasks_by_entity([a_out], "used")] == ["b"]
    assert store.get_prov_json(run.run_id) == run.prov_json


def test_given_same_run_when_stored_twice_then_no_duplicates(store: Store) -> None:
    run = chain_run("/data/run1")
    store.put_run(run)
    store.put_run(chain_run("/data/run1"))
    assert len(store.find_runs()) == 1
    assert store.count_tasks() == 3


def test_given_changed_run_when_reimported_then_stale_tasks_go(store: Store) -> None:
    store.put_run(chain_run("/data/run1", nodes=("a", "b", "c")))
    run = chain_run("/data/run1", nodes=("a", "b"))
    store.put_run(run)
    assert sorted(t["activity_id"] for t in store.find_tasks([run.run_id])) == ["a", "b"]
    assert store.count_tasks() == 2


def test_given_two_runs_when_one_deleted_then_other_intact(store: Store) -> None:
    one, two = chain_run("/r1"), chain_run("/r2")
    store.put_run(one)
    store.put_run(two)
    assert store.delete_run(one.run_id) is True
    assert store.delete_run(one.run_id) is False
    assert [r["workflow_id"] for r in store.find_runs()] == [two.run_id]
    assert store.count_tasks() == 3
    assert store.get_prov_json(one.run_id) is None


def test_run_filters_by_label_time_and_ids(store: Store) -> None:
    early = chain_run("/r1", label="normal", start=T0)
    late = chain_run("/r2", label="broken", start=T0 + dt.timedelta(days=1))
    other = chain_run("/r3", workflow="other", label="normal")
    for run in (early, late, other):
        store.put_run(run)
    assert [r["workflow_id"] for r in store.find_runs(workflow="wf")] == [early.run_id, late.run_id]
    assert [r["workflow_id"] for r in store.find_runs(workflow="wf", labels=["broken"])] == [
        late.run_id
    ]
    since = T0 + dt.timedelta(hours=1)
    assert [r["workflow_id"] for r in store.find_runs(workflow="wf", since=since)] == [late.run_id]
    assert {r["workflow_id"] for r in store.find_runs(until=since.timestamp())} == {
        early.run_id,
        other.run_id,
    }
    assert [r["workflow_id"] for r in store.find_runs(run_ids=[other.run_id])] == [other.run_id]


def test_given_keys_mongodb_treats_specially_when_stored_then_they_come_back(store: Store) -> None:
    params = {"$where": "1", "a.b": {"c.d": "$x"}, "100%": "%2E", "plain": "v"}
    run = chain_run("/r1", task_attrs={"params": params})
    store.put_run(run)
    (task,) = [t for t in store.find_tasks([run.run_id]) if t["activity_id"] == "a"]
    assert fc.task_meta(task)["attrs"]["params"] == params
    assert task["used"] == {} and "a.out" in task["generated"]


def test_given_run_in_writing_state_then_it_is_invisible(store: Store) -> None:
    run = chain_run("/r1")
    fc.set_run_state(run.workflow, fc.STATE_WRITING)
    store.put_run(run)
    assert store.find_runs() == []
    assert store.get_run(run.run_id) is None


def test_given_prov_document_larger_than_a_chunk_then_it_round_trips(store: Store) -> None:
    run = chain_run("/r1")
    noise = base64.b64encode(os.urandom(PROV_CHUNK_BYTES + 100_000)).decode()
    run.prov_json = run.prov_json[:-1] + f', "padding": "{noise}"}}'
    store.put_run(run)
    assert store.get_prov_json(run.run_id) == run.prov_json
    smaller = chain_run("/r1")
    store.put_run(smaller)
    assert store.get_prov_json(run.run_id) == smaller.prov_json


@pytest.mark.parametrize("uri", ["sqlite:relative-not-absolute-ok.db"])
def test_relative_sqlite_uri_opens_in_cwd(uri: str, tmp_path, monkeypatch) -> None:
    from provcausal.stores import open_store

    monkeypatch.chdir(tmp_path)
    with open_store(uri) as s:
        assert s.find_runs() == []
    assert (tmp_path / "relative-not-absolute-ok.db").exists()


def test_given_same_run_twice_in_one_batch_then_last_write_wins(store: Store) -> None:
    first = chain_run("/r1", nodes=("a", "b", "c"))
    second = chain_run("/r1", nodes=("a", "b"))
    other = chain_run("/r2")
    store.put_runs([first, other, second])
    assert {r["workflow_id"] for r in store.find_runs()} == {first.run_id, other.run_id}
    assert sorted(t["activity_id"] for t in store.find_tasks([first.run_id])) == ["a", "b"]
    assert store.count_tasks() == 5


def test_run_index_and_metadata_answer_as_find_runs_does(store: Store) -> None:
    """What selection and ``prepare`` read instead of whole documents (``run_index``,
    ``run_metadata``) is what ``find_runs`` and the accessors give, on every store: labels
    given afterwards, runs being written, other workflows, escaped keys."""
    late = chain_run("/r2", label="broken", start=T0 + dt.timedelta(days=1))
    early = chain_run("/r1", label="normal", start=T0)
    unlabelled = chain_run("/r4", label=None, start=T0 + dt.timedelta(hours=2))
    other = chain_run("/r3", workflow="other", label="normal")
    hidden = chain_run("/r5", label="normal")
    fc.set_run_state(hidden.workflow, fc.STATE_WRITING)
    meta = fc.run_meta(late.workflow)
    meta[fc.NODE_LABELS] = {"a.1": "first", "b$": "100%"}
    meta[fc.OUTPUT_NODES] = ["c"]
    late.workflow[fc.META][fc.PC] = meta
    for run in (late, early, unlabelled, other, hidden):
        store.put_run(run)
    store.set_label([unlabelled.run_id], "relabelled")

    expected = [
        (str(d["workflow_id"]), fc.run_label(d), d["started_at"])
        for d in store.find_runs(workflow="wf")
    ]
    assert [tuple(e) for e in store.run_index("wf")] == expected
    assert [tuple(e) for e in Store.run_index(store, "wf")] == expected
    assert [e.run_id for e in store.run_index("wf")] == [
        early.run_id,
        unlabelled.run_id,
        late.run_id,
    ]
    assert store.run_index("nothing") == []

    keys = (fc.NODE_LABELS, fc.OUTPUT_NODES, fc.PRESENCE_NODES)
    ids = [late.run_id, hidden.run_id, early.run_id, "nope", other.run_id]
    got = store.run_metadata(ids, keys)
    assert [d["workflow_id"] for d in got] == [late.run_id, early.run_id, other.run_id]
    for doc, full in zip(got, Store.run_metadata(store, ids, keys), strict=True):
        assert fc.node_labels(doc) == fc.node_labels(full)
        assert fc.output_nodes(doc) == fc.output_nodes(full)
        assert fc.presence_nodes(doc) == fc.presence_nodes(full)
    assert fc.node_labels(got[0]) == {"a.1": "first", "b$": "100%"}
    assert fc.output_nodes(got[0]) == ["c"]
