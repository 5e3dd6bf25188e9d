"""Drives the real ``flowcept`` package in a subprocess (it reads its settings at import).

Usage: ``python flowcept_driver.py query RUN_ID`` prints what FlowCept's own API returns for a
run; ``watch SECONDS`` prints, query after query, how many tasks FlowCept returns per run;
``dataflow RUN_ID`` prints FlowCept's dataflow view of it; ``capture SPEC.json`` writes
workflows and tasks with FlowCept's own code. ``FLOWCEPT_SETTINGS_PATH`` names the settings
file.
"""

from __future__ import annotations

import json
import sys


def query(run_id: str) -> None:
    from flowcept import Flowcept

    tasks = Flowcept.db.query(filter={"workflow_id": run_id})
    workflows = Flowcept.db.workflow_query(filter={"workflow_id": run_id})
    print(json.dumps({"tasks": tasks, "workflows": workflows}, default=str))


def watch(seconds: str) -> None:
    """Query every task through FlowCept's API until ``seconds`` pass; one JSON line per
    query: the number of tasks FlowCept returned per workflow_id."""
    import time
    from collections import Counter

    from flowcept import Flowcept

    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        tasks = Flowcept.db.query(filter={}, projection=["workflow_id"]) or []
        print(json.dumps(Counter(str(t.get("workflow_id")) for t in tasks)), flush=True)
        time.sleep(0.05)


def dataflow(run_id: str) -> None:
    """FlowCept's own dataflow view of a run (``webservice/services/dataflow.py``)."""
    from flowcept import Flowcept
    from flowcept.webservice.services.dataflow import build_dataflow

    graph = build_dataflow(Flowcept.db, run_id) or {"nodes": [], "edges": []}
    print(json.dumps(graph, default=str))


def capture(spec_path: str) -> None:
    """Write FlowCept's way: workflow objects and task objects through its DB API (float
    times), and task messages curated by its consumer code (BSON dates)."""
    import pymongo
    from flowcept import Flowcept
    from flowcept.commons.flowcept_dataclasses.task_object import TaskObject
    from flowcept.commons.flowcept_dataclasses.workflow_object import WorkflowObject
    from flowcept.commons.vocabulary import Status
    from flowcept.configs import MONGO_DB, MONGO_HOST, MONGO_PORT
    from flowcept.flowceptor.consumers.consumer_utils import curate_dict_task_messages

    with open(spec_path) as handle:
        spec = json.load(handle)
    curated_messages = []
    for wf in spec["workflows"]:
        Flowcept.db.insert_or_update_workflow(
            WorkflowObject(workflow_id=wf["workflow_id"], name=wf["name"])
        )
        for t in wf["tasks"]:
            if t.pop("via_consumer", False):
                curated_messages.append(t)
                continue
            task = TaskObject()
            for key, value in t.items():
                setattr(task, key, value)
            task.status = Status.FINISHED
            Flowcept.db.insert_or_update_task(task)
    if curated_messages:
        # FlowCept's consumer curates messages (times become BSON dates) then upserts them
        # with an update pipeline the wire-protocol test server lacks; insert them instead.
        curated = curate_dict_task_messages(curated_messages, "task_id")
        with pymongo.MongoClient(MONGO_HOST, MONGO_PORT) as client:
            client[MONGO_DB]["tasks"].insert_many(list(curated.values()))
    print(json.dumps({"ok": True}))


if __name__ == "__main__":
    {"query": query, "capture": capture, "watch": watch, "dataflow": dataflow}[sys.argv[1]](
        sys.argv[2]
    )
