"""MongoDB only: FlowCept's collections and indexes are where FlowCept expects them."""

from __future__ import annotations

import pymongo

from provcausal.model import flowcept as fc
from provcausal.stores import open_store
from tests.helpers import chain_run


def _index_keys(collection) -> dict[tuple[str, ...], bool]:
    return {
        tuple(k for k, _ in info["key"]): bool(info.get("unique"))
        for info in collection.index_information().values()
    }


def test_flowcept_collections_and_indexes(mongo_uri: str) -> None:
    run = chain_run("/r1")
    with open_store(mongo_uri) as store:
        store.put_run(run)
    db_name = mongo_uri.rsplit("/", 1)[1]
    with pymongo.MongoClient(mongo_uri) as client:
        db = client[db_name]
        tasks = _index_keys(db.tasks)
        assert tasks[("task_id",)] is True
        for key in ("workflow_id", "parent_task_id", "campaign_id", "dependencies"):
            assert (key,) in tasks
        assert _index_keys(db.workflows)[("workflow_id",)] is True
        doc = db.tasks.find_one({"activity_id": "b"})
        assert doc["workflow_id"] == run.run_id
        assert doc["status"] == "FINISHED"
        assert doc["started_at"].year == 2023  # a BSON date, as FlowCept writes it
        wf = db.workflows.find_one({"workflow_id": run.run_id})
        assert isinstance(wf["started_at"], float) and wf["type"] == "workflow"
        assert doc["used"] == {"a.out": 0.0}  # readable in FlowCept's UI (MongoDB >= 5)
        assert fc.entities(doc)  # provcausal's own keys
