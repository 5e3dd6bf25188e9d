"""A FlowCept user's pipeline, captured through FlowCept's real write path.

Run as a script (FlowCept reads its settings at import, from ``FLOWCEPT_SETTINGS_PATH``):
``python flowcept_pipeline.py SPEC.json``. Six functions with the plain ``@flowcept_task``
decorator (no ``output_names``: outputs are stored as ``arg_0``, inputs under parameter
names) send their task messages to FlowCept's Redis MQ; FlowCept's own ``DocumentInserter``,
started here as FlowCept's consumer service, writes them to the enabled database (MongoDB
or LMDB). A fault can be injected in ``featurize``.

SPEC: ``{"name": "fcpipe", "mode": "workflows" | "loop", "batches": [{"campaign": "c-normal",
"faulty": false, "n": 200, "seed": 1, "workflow_id": "..."}]}``. ``workflows``: one
``with Flowcept(...)`` block per execution (its own workflow, marked by ``campaign_id`` and
``workflow_args``); ``loop``: one block per batch whose executions are the iterations of a
``FlowceptLoop``. Prints ``{"workflows": [...]}`` when every task is in the database.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

from flowcept import Flowcept, FlowceptLoop, flowcept_task

#: Set by the tests when the MongoDB is the nx-27017 wire-protocol server (see below).
ENV_PIPELINE_SHIM = "PROVCAUSAL_TEST_UPDATE_PIPELINE_SHIM"

GRAPH = [
    ("load", "clean"),
    ("load", "scale"),
    ("clean", "featurize"),
    ("featurize", "train"),
    ("scale", "train"),
    ("train", "evaluate"),
]
FAULT = {"on": False}


@flowcept_task
def load(seed):
    return 10.0 + random.Random(seed).gauss(0.0, 1.0)


@flowcept_task
def clean(raw, noise):
    return 0.9 * raw + noise


@flowcept_task
def scale(raw):
    return raw / 4.0 + random.gauss(0.0, 0.1)


@flowcept_task
def featurize(cleaned):
    shift = 3.0 if FAULT["on"] else 0.0
    return 1.5 * cleaned + shift + random.gauss(0.0, 0.2)


@flowcept_task
def train(features, scaled):
    return 0.5 * features + scaled + random.gauss(0.0, 0.2)


@flowcept_task
def evaluate(model):
    return 100.0 - 2.0 * model + random.gauss(0.0, 0.2)


def pipeline(seed: int) -> float:
    raw = load(seed)
    cleaned = clean(raw, random.gauss(0.0, 0.3))
    scaled = scale(raw)
    features = featurize(cleaned)
    return evaluate(train(features, scaled))


def _run_batch(name: str, mode: str, batch: dict) -> list[str]:
    FAULT["on"] = bool(batch["faulty"])
    random.seed(batch["seed"])
    args = {"mode": "faulty" if batch["faulty"] else "normal"}
    common = dict(
        workflow_name=name,
        campaign_id=batch["campaign"],
        workflow_args=args,
        start_persistence=False,  # the consumer service below persists
        check_safe_stops=False,
    )
    if mode == "loop":
        wid = batch["workflow_id"]
        with Flowcept(workflow_id=wid, **common):
            for i in FlowceptLoop(range(batch["n"]), loop_name="executions", item_name="i"):
                pipeline(batch["seed"] * 100_000 + i)
        return [wid]
    ids = []
    for i in range(batch["n"]):
        wid = f"{batch['campaign']}-{i:04d}"
        with Flowcept(workflow_id=wid, **common):
            pipeline(batch["seed"] * 100_000 + i)
        ids.append(wid)
    return ids


def _count_tasks() -> int:
    return int(Flowcept.db.query(filter={}, collection="tasks").__len__())


def install_update_pipeline_shim() -> None:
    """Test-harness workaround, never in provcausal: nx-27017 rejects every update given as
    an aggregation pipeline (``UpdateOne(q, [{"$set": doc}], upsert=True)``, the form
    FlowCept's ``MongoDBDAO.insert_and_update_many_tasks`` uses) with code 8, while classic
    update documents work. A pipeline of one ``$set`` stage whose values hold no expressions
    (no ``$``-strings or ``$``-keys, true of these tasks) is the same update as ``{"$set":
    doc}``, so FlowCept's DAO is given that form here."""
    import pymongo
    from flowcept.commons.daos.docdb_dao import mongodb_dao

    def update_one(filter, update, upsert=False, **kwargs):  # noqa: A002 - pymongo's name
        if isinstance(update, list) and len(update) == 1 and list(update[0]) == ["$set"]:
            update = update[0]
        return pymongo.UpdateOne(filter, update, upsert=upsert, **kwargs)

    mongodb_dao.UpdateOne = update_one


def main(spec_path: str) -> None:
    from flowcept.flowceptor.consumers.document_inserter import DocumentInserter

    if os.environ.get(ENV_PIPELINE_SHIM):
        install_update_pipeline_shim()
    with open(spec_path) as handle:
        spec = json.load(handle)
    inserter = DocumentInserter(check_safe_stops=False).start()
    ids: list[str] = []
    expected = 0
    for batch in spec["batches"]:
        ids += _run_batch(spec["name"], spec["mode"], batch)
        expected += batch["n"] * (7 if spec["mode"] == "loop" else 6)
    deadline = time.monotonic() + 300
    while _count_tasks() < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    inserter.stop()
    print(json.dumps({"workflows": ids, "tasks": _count_tasks(), "expected": expected}))


if __name__ == "__main__":
    main(sys.argv[1])
