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
SHARD_KEYS = {"tasks": "workflow_id", "provcausal_prov": "run_id"}
READS = {"find", "aggregate", "count", "distinct"}


class Recorder(monitoring.CommandListener):
    """Filters of the reads sent to the sharded collections while ``active``."""

    def __init__(self) -> None:
        self.active = False
        self.reads: list[tuple[str, str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
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
    assert [r[0] for r in RECORDER.reads].count("aggregate") == 3  # one batch each
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
