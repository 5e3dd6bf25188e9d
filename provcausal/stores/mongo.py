"""The MongoDB store, in FlowCept's database layout, so FlowCept's API and UI see our runs.

Collections ``workflows`` and ``tasks`` hold FlowCept-shaped documents with FlowCept's indexes
(``tasks.task_id`` unique, ``tasks.workflow_id``, ``tasks.parent_task_id``,
``tasks.campaign_id``, ``workflows.workflow_id`` unique), plus indexes lineage needs
(``dependencies``, entity ids). ``provcausal_prov`` holds each run's PROV-JSON, compressed and
chunked below the 16 MB document limit. Documents are keyed by ``_id`` = the FlowCept id, so an
upsert is a primary-key write.

A run is written in the order: workflow document marked ``writing`` → tasks → stale tasks
removed → PROV chunks → workflow document marked ``complete``. Readers skip ``writing`` runs,
so an interrupted import is invisible, and running it again completes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from provcausal.errors import StoreError, StoreUnreachableError
from provcausal.model.flowcept import (
    GENERATED_IDS,
    STATE,
    STATE_WRITING,
    USED_IDS,
    RunRecords,
    meta_path,
    run_label,
)
from provcausal.stores.base import Store, compress_prov, decompress_prov
from provcausal.stores.codec import escape_record, unescape_keys
from provcausal.stores.uri import redact_text
from provcausal.stores.where import Condition, mongo_filter

__all__ = ["MongoStore", "DEFAULT_DB"]

DEFAULT_DB = "flowcept"
PROV_COLLECTION = "provcausal_prov"
#: Labels given after the fact (``provcausal label``): FlowCept never reads this collection.
LABELS_COLLECTION = "provcausal_labels"
_BATCH = 1000


def _duplicates_only(exc: Any) -> bool:
    errors = (getattr(exc, "details", None) or {}).get("writeErrors") or []
    return bool(errors) and all(e.get("code") == 11000 for e in errors)


def _bulk_upsert(collection: Any, ops: list[Any]) -> None:
    """Upserts keyed by ``_id``; two importers racing on one document can make one upsert
    fail with a duplicate key, and it then succeeds as a replacement when retried once."""
    from pymongo.errors import BulkWriteError

    try:
        collection.bulk_write(ops, ordered=False)
    except BulkWriteError as exc:
        if not _duplicates_only(exc):
            raise
        collection.bulk_write(ops, ordered=False)


def _insert_ignoring_duplicates(collection: Any, docs: list[dict[str, Any]]) -> None:
    """Insert PROV chunks; a duplicate means a concurrent import of the same input already
    wrote the same bytes (the PROV-JSON of an input is deterministic)."""
    from pymongo.errors import BulkWriteError

    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        if not _duplicates_only(exc):
            raise


def _clean(doc: dict[str, Any]) -> dict[str, Any]:
    doc = unescape_keys(doc)
    doc.pop("_id", None)
    return doc


class MongoStore(Store):
    """A MongoDB database (``flowcept`` by default) reached through pymongo."""

    def __init__(
        self,
        uri: str,
        database: str | None = None,
        *,
        timeout_ms: int = 3000,
        display_uri: str | None = None,
        create: bool = True,
    ) -> None:
        import pymongo
        from pymongo.errors import PyMongoError
        from pymongo.uri_parser import parse_uri

        self.uri = display_uri or redact_text(uri, uri)
        try:
            parsed = parse_uri(uri, validate=False, warn=True) if "+srv" not in uri else {}
        except PyMongoError as exc:
            raise StoreError(f"bad MongoDB URI {self.uri}: {redact_text(str(exc), uri)}") from None
        self.database_name = database or parsed.get("database") or DEFAULT_DB
        nodes = parsed.get("nodelist") or []
        self.hosts = ",".join(f"{h}:{p}" for h, p in nodes) or self.uri
        try:
            self._client: Any = pymongo.MongoClient(
                uri,
                tz_aware=True,
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                socketTimeoutMS=max(timeout_ms * 20, 60000),
            )
            self._client.admin.command("ping")
        except PyMongoError as exc:
            reason = str(exc).splitlines()[0].split(" (configured timeouts")[0]
            reason = reason.split(", Timeout:")[0]
            raise StoreUnreachableError(
                f"cannot reach MongoDB at {self.hosts} within {timeout_ms / 1000:g} s: "
                f"{redact_text(reason, uri)[:200]}"
            ) from None
        db = self._client[self.database_name]
        self._wfs = db["workflows"]
        self._tasks = db["tasks"]
        self._prov = db[PROV_COLLECTION]
        self._labels = db[LABELS_COLLECTION]
        if not create:
            self._refuse_missing(db)
        self._ensure_indexes()

    def _refuse_missing(self, db: Any) -> None:
        """A reader must not create a database (creating indexes would): a database with no
        runs or tasks yet is a :class:`StoreUnreachableError` naming it."""
        with self._guard("listing collections"):
            names = set(db.list_collection_names())
        if not names & {"workflows", "tasks"}:
            raise StoreUnreachableError(
                f"no store in database {self.database_name!r} at {self.hosts} ({self.uri}): "
                "nothing was imported there; check --store"
            )

    def _ensure_indexes(self) -> None:
        import pymongo

        self._tasks.create_index("task_id", unique=True)
        self._tasks.create_index("workflow_id")
        self._tasks.create_index("parent_task_id")
        self._tasks.create_index("campaign_id")
        self._tasks.create_index("dependencies")
        self._tasks.create_index(meta_path(USED_IDS))
        self._tasks.create_index(meta_path(GENERATED_IDS))
        self._tasks.create_index(
            [("workflow_id", pymongo.ASCENDING), ("activity_id", pymongo.ASCENDING)]
        )
        self._wfs.create_index("workflow_id", unique=True)
        self._wfs.create_index("name")
        self._prov.create_index("run_id")

    def close(self) -> None:
        self._client.close()

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn pymongo's errors into provcausal's, with the password redacted."""
        from pymongo.errors import AutoReconnect, PyMongoError, ServerSelectionTimeoutError

        try:
            yield
        except (ServerSelectionTimeoutError, AutoReconnect):
            raise StoreUnreachableError(f"lost MongoDB at {self.hosts} while {what}") from None
        except PyMongoError as exc:
            raise StoreError(
                f"MongoDB refused {what}: {redact_text(str(exc), self.uri)[:300]}"
            ) from None

    # -- writing -------------------------------------------------------------------------
    def put_run(self, run: RunRecords) -> None:
        self.put_runs([run])

    def put_runs(self, runs: Sequence[RunRecords]) -> None:
        """Write runs with shared bulk writes, in the order that keeps each one invisible
        until it is complete (see the module docstring)."""
        from pymongo import ReplaceOne, UpdateOne

        runs = list({run.run_id: run for run in runs}.values())  # the last write of a run wins
        if not runs:
            return
        ids = [run.run_id for run in runs]
        with self._guard(f"writing {len(ids)} run(s) ({ids[0]}…)"):
            writing = {meta_path(STATE): STATE_WRITING}
            self._wfs.bulk_write(
                [
                    UpdateOne(
                        {"_id": run.run_id},
                        {
                            "$set": writing,
                            "$setOnInsert": {
                                "workflow_id": run.run_id,
                                "name": run.workflow.get("name"),
                            },
                        },
                        upsert=True,
                    )
                    for run in runs
                ],
                ordered=False,
            )
            keep: set[str] = set()
            batch = []
            for run in runs:
                for task in run.tasks:
                    doc = escape_record(task)
                    doc["_id"] = doc["task_id"]
                    keep.add(doc["_id"])
                    batch.append(ReplaceOne({"_id": doc["_id"]}, doc, upsert=True))
                    if len(batch) >= _BATCH:
                        _bulk_upsert(self._tasks, batch)
                        batch = []
            if batch:
                _bulk_upsert(self._tasks, batch)
            stale = [
                d["_id"]
                for d in self._tasks.find({"workflow_id": {"$in": ids}}, {"_id": 1})
                if d["_id"] not in keep
            ]
            for i in range(0, len(stale), _BATCH):
                self._tasks.delete_many({"_id": {"$in": stale[i : i + _BATCH]}})
            # Delete-then-insert (not replace): the runs are still marked "writing" here, and
            # the wire-protocol test server cannot replace a document holding binary data.
            self._prov.delete_many({"run_id": {"$in": ids}})
            chunks = [
                {"_id": f"{run.run_id}:{i}", "run_id": run.run_id, "seq": i, "data": c}
                for run in runs
                for i, c in enumerate(compress_prov(run.prov_json))
            ]
            for i in range(0, len(chunks), _BATCH):
                _insert_ignoring_duplicates(self._prov, chunks[i : i + _BATCH])
            workflows = []
            for run in runs:
                workflow = escape_record(dict(run.workflow))
                workflow["_id"] = run.run_id
                workflows.append(ReplaceOne({"_id": run.run_id}, workflow, upsert=True))
            _bulk_upsert(self._wfs, workflows)
            labelled = [run.run_id for run in runs if run_label(run.workflow) is not None]
            if labelled:  # an import's own label is the newer statement
                self._labels.delete_many({"_id": {"$in": labelled}})

    def delete_run(self, run_id: str) -> bool:
        with self._guard(f"deleting run {run_id}"):
            found = self._wfs.find_one({"_id": run_id}, {"_id": 1}) or self._wfs.find_one(
                {"workflow_id": run_id}, {"_id": 1}
            )
            if found is None:
                return False
            self._wfs.update_one({"_id": found["_id"]}, {"$set": {meta_path(STATE): STATE_WRITING}})
            self._tasks.delete_many({"workflow_id": run_id})
            self._prov.delete_many({"run_id": run_id})
            self._labels.delete_one({"_id": run_id})
            self._wfs.delete_one({"_id": found["_id"]})
            return True

    # -- reading -------------------------------------------------------------------------
    def _workflow_docs(
        self,
        workflow: str | None,
        run_ids: Sequence[str] | None,
        where: Sequence[Condition] = (),
    ) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] = mongo_filter(where)
        if workflow is not None:
            query["name"] = workflow
        if run_ids is not None:
            query["workflow_id"] = {"$in": list(run_ids)}
        with self._guard("reading workflows"):
            docs = list(self._wfs.find(query))
        for doc in docs:
            yield _clean(doc)

    def _label_overrides(self, run_ids: Sequence[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, str] = {}
        with self._guard("reading labels"):
            for i in range(0, len(ids), _BATCH):
                for d in self._labels.find({"_id": {"$in": ids[i : i + _BATCH]}}):
                    out[str(d["_id"])] = str(d["label"])
        return out

    def set_label(self, run_ids: Sequence[str], label: str) -> int:
        from pymongo import ReplaceOne

        ids = list(dict.fromkeys(run_ids))
        with self._guard(f"labelling {len(ids)} run(s)"):
            for i in range(0, len(ids), _BATCH):
                ops = [
                    ReplaceOne({"_id": r}, {"_id": r, "label": label}, upsert=True)
                    for r in ids[i : i + _BATCH]
                ]
                _bulk_upsert(self._labels, ops)
        return len(ids)

    def find_tasks(
        self, run_ids: Sequence[str], nodes: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        for run in dict.fromkeys(run_ids):
            query: dict[str, Any] = {"workflow_id": run}
            if nodes is not None:
                query["activity_id"] = {"$in": list(nodes)}
            with self._guard("reading tasks"):
                docs = list(self._tasks.find(query))
            for doc in docs:
                yield _clean(doc)

    def _find(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        with self._guard("reading tasks"):
            return [_clean(d) for d in self._tasks.find(query)]

    def tasks_by_id(self, task_ids: Sequence[str]) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(task_ids))
        out: list[dict[str, Any]] = []
        for i in range(0, len(ids), _BATCH):
            out.extend(self._find({"task_id": {"$in": ids[i : i + _BATCH]}}))
        return out

    def tasks_depending_on(self, task_ids: Sequence[str]) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(task_ids))
        out: list[dict[str, Any]] = []
        for i in range(0, len(ids), _BATCH):
            out.extend(self._find({"dependencies": {"$in": ids[i : i + _BATCH]}}))
        return out

    def tasks_by_entity(self, entity_ids: Sequence[str], role: str) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(entity_ids))
        field = meta_path({"used": USED_IDS, "generated": GENERATED_IDS}[role])
        out: list[dict[str, Any]] = []
        for i in range(0, len(ids), _BATCH):
            out.extend(self._find({field: {"$in": ids[i : i + _BATCH]}}))
        return out

    def get_prov_json(self, run_id: str) -> str | None:
        with self._guard(f"reading the PROV document of {run_id}"):
            docs = sorted(self._prov.find({"run_id": run_id}), key=lambda d: d["seq"])
        if not docs:
            return None
        return decompress_prov(bytes(d["data"]) for d in docs)

    def count_tasks(self) -> int:
        with self._guard("counting tasks"):
            return int(self._tasks.count_documents({}))
