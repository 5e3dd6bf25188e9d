"""Every query the analysis and the queries send to the sharded collections names the shard
key (``docs/scale-out.md``): ``tasks`` and ``provcausal_prov`` are sharded by run
(``workflow_id`` / ``run_id``), so such a query goes only to the shards holding those runs.

The commands are recorded with pymongo's command monitoring against the test server."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import monitoring

from provcausal import queries
from provcausal.analysis import causal_graph, prepare, sample_data
from provcausal.model import flowcept as fc
from provcausal.stores import open_store
from tests.helpers import chain_run

#: sharded collection -> its shard key's field
SHARD_KEYS = {
    "tasks": "workflow_id",
    "provcausal_prov": "run_id",
    "provcausal_analysis": "run_id",
}
#: sharded collection -> every field of its shard key (what an upsert must name)
FULL_SHARD_KEYS = {
    "tasks": ("workflow_id", "task_id"),
    "provcausal_prov": ("run_id", "seq"),
    "provcausal_analysis": ("run_id",),
}
READS = {"find", "aggregate", "count", "distinct"}
WRITES = {"insert": "documents", "update": "updates", "delete": "deletes"}


class Recorder(monitoring.CommandListener):
    """Filters of the reads sent to the sharded collections while ``active``."""

    def __init__(self) -> None:
        self.active = False
        self.reads: list[tuple[str, str, dict[str, Any]]] = []
        self.writes: list[tuple[str, str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.active and event.command_name in WRITES | {"createIndexes": "indexes"}:
            self._write(event)
        if not self.active or event.command_name not in READS:
            return
        collection = str(event.command.get(event.command_name))
        if collection not in SHARD_KEYS:
            return
        if event.command_name == "aggregate":
            stages = event.command.get("pipeline") or [{}]
            where = stages[0].get("$match", {})
        else:
            where = event.command.get("filter") or event.command.get("query") or {}
        self.reads.append((event.command_name, collection, dict(where)))

    def _write(self, event: monitoring.CommandStartedEvent) -> None:
        collection = str(event.command.get(event.command_name))
        if collection in FULL_SHARD_KEYS:
            field = (WRITES | {"createIndexes": "indexes"})[event.command_name]
            for item in event.command.get(field) or []:
                self.writes.append((event.command_name, collection, dict(item)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def untargeted(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [r for r in self.reads if SHARD_KEYS[r[1]] not in r[2]]


RECORDER = Recorder()
monitoring.register(RECORDER)  # clients created from here on report to it


@pytest.fixture
def recorded(mongo_uri: str) -> Any:
    runs = [chain_run(f"/data/base{i}", label="base", values=(i, i, i)) for i in range(6)]
    runs += [chain_run(f"/data/comp{i}", label="comp", values=(i, i, 5 * i)) for i in range(6)]
    with open_store(mongo_uri) as store:
        store.put_runs(runs)
        RECORDER.reads.clear()
        RECORDER.active = True
        try:
            yield store, runs
        finally:
            RECORDER.active = False


def test_given_the_analysis_when_it_reads_then_every_read_names_the_run(recorded: Any) -> None:
    store, _ = recorded
    prepare(store, "wf", "base", "comp")
    causal_graph(store, "wf")
    sample_data(store, "wf", "base")
    assert RECORDER.reads, "nothing was recorded"
    # one batch each, from the analysis projection; no task document is read
    assert [r[:2] for r in RECORDER.reads] == [("find", "provcausal_analysis")] * 3
    assert RECORDER.untargeted() == []


def test_given_the_queries_when_they_read_then_every_read_names_the_run(recorded: Any) -> None:
    store, runs = recorded
    run = runs[0].run_id
    tasks = {t["activity_id"]: t for t in store.find_tasks([run])}
    entity = fc.generated_ids(tasks["a"])[0]
    RECORDER.reads.clear()
    queries.list_tasks(store, run=run)
    queries.list_nodes(store, "wf")
    queries.export_prov(store, run, "json")
    up = queries.lineage(store, tasks["c"]["task_id"], "upstream", run=run)
    down = queries.lineage(store, entity, "downstream", run=run)
    assert {"a", "b", "c"} <= {d["label"] for _, d in up.nodes(data=True)}
    assert {"b", "c"} <= {d["label"] for _, d in down.nodes(data=True)}
    assert len(RECORDER.reads) >= 8
    assert RECORDER.untargeted() == []


def test_given_lineage_without_a_run_then_only_its_first_lookup_asks_every_shard(
    recorded: Any,
) -> None:
    store, runs = recorded
    (c,) = list(store.find_tasks([runs[0].run_id], nodes=["c"]))
    RECORDER.reads.clear()
    queries.lineage(store, c["task_id"], "upstream")
    first, *steps = RECORDER.reads
    assert RECORDER.untargeted() == [first] and first[2] == {"task_id": {"$in": [c["task_id"]]}}
    assert len(steps) >= 2


def test_a_recorder_that_sees_an_untargeted_read_reports_it(recorded: Any) -> None:
    store, _ = recorded
    RECORDER.reads.clear()
    store.tasks_by_id(["nope"])
    assert RECORDER.untargeted() == [("find", "tasks", {"task_id": {"$in": ["nope"]}})]


def test_given_no_concerns_in_the_uri_then_majority_reads_and_writes(mongo_uri: str) -> None:
    from provcausal.stores.mongo import MongoStore, consistency_options

    assert consistency_options("mongodb://h/db?w=1&readConcernLevel=local") == {}
    assert consistency_options("mongodb://h/db?W=2") == {"readConcernLevel": "majority"}
    with open_store(mongo_uri) as store:
        assert isinstance(store, MongoStore)
        assert store._client.write_concern.document == {"w": "majority"}
        assert store._client.read_concern.level == "majority"


def _unsharded_writes(writes: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
    """Writes a sharded cluster refuses: an insert without the whole shard key, an upsert
    whose filter does not name it, a single-document delete or update naming neither the
    shard key nor ``_id``, a unique index not prefixed by the shard key."""
    bad = []
    for command, collection, item in writes:
        key = FULL_SHARD_KEYS[collection]
        if command == "insert":
            ok = all(f in item for f in key)
        elif command == "update":
            q = item.get("q") or {}
            ok = all(f in q for f in key) if item.get("upsert") else "_id" in q or key[0] in q
            ok = ok or bool(item.get("multi"))
        elif command == "delete":
            q = item.get("q") or {}
            ok = item.get("limit") == 0 or "_id" in q or all(f in q for f in key)
        else:  # createIndexes
            fields = list(item.get("key") or {})
            ok = not item.get("unique") or fields[: len(key)] == list(key)
        if not ok:
            bad.append((command, collection, item))
    return bad


def _shard_ready(uri: str) -> None:
    """The set-up docs/scale-out.md asks of an administrator before sharding ``tasks``."""
    import pymongo

    with pymongo.MongoClient(uri) as client:
        tasks = client.get_default_database()["tasks"]
        tasks.create_index([("workflow_id", 1), ("task_id", 1)], unique=True)
        tasks.create_index("task_id")


def test_given_a_collection_prepared_for_sharding_then_imports_write_only_what_it_accepts(
    mongo_uri: str,
) -> None:
    _shard_ready(mongo_uri)
    runs = [chain_run(f"/data/run{i}", label="base", values=(i, i, i)) for i in range(3)]
    RECORDER.writes.clear()
    RECORDER.active = True
    try:
        with open_store(mongo_uri) as store:
            store.put_runs(runs)
            store.put_runs(runs[:2])  # a re-import replaces through upserts
            store.delete_run(runs[2].run_id)
            kept = {str(w["workflow_id"]) for w in store.find_runs()}
            assert kept == {r.run_id for r in runs[:2]}
    finally:
        RECORDER.active = False
    commands = {(c, coll) for c, coll, _ in RECORDER.writes}
    assert {("insert", "provcausal_prov"), ("update", "tasks")} <= commands
    assert _unsharded_writes(RECORDER.writes) == []
    upserts = [
        i for c, coll, i in RECORDER.writes if c == "update" and coll == "tasks" and i.get("upsert")
    ]
    assert all(set(FULL_SHARD_KEYS["tasks"]) <= set(i["q"]) for i in upserts)


def test_given_the_unique_task_id_index_in_a_write_then_the_check_reports_it() -> None:
    writes = [
        ("createIndexes", "tasks", {"key": {"task_id": 1}, "unique": True}),
        ("update", "tasks", {"q": {"_id": "t"}, "u": {}, "upsert": True}),
        ("insert", "provcausal_prov", {"_id": "c", "run_id": "r"}),
        ("delete", "tasks", {"q": {"activity_id": "a"}, "limit": 1}),
    ]
    assert _unsharded_writes(writes) == writes
    fine = [
        ("createIndexes", "tasks", {"key": {"workflow_id": 1, "task_id": 1}, "unique": True}),
        (
            "update",
            "tasks",
            {"q": {"_id": "t", "workflow_id": "r", "task_id": "t"}, "upsert": True},
        ),
        ("delete", "tasks", {"q": {"workflow_id": "r"}, "limit": 0}),
    ]
    assert _unsharded_writes(fine) == []
