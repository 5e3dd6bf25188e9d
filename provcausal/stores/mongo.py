"""The MongoDB store, in FlowCept's database layout, so FlowCept's API and UI see our runs.

Collections ``workflows`` and ``tasks`` hold FlowCept-shaped documents with FlowCept's indexes
(``tasks.task_id`` unique, ``tasks.workflow_id``, ``tasks.parent_task_id``,
``tasks.campaign_id``, ``workflows.workflow_id`` unique), plus indexes lineage needs
(``dependencies``, entity ids). ``provcausal_prov`` holds each run's PROV-JSON, compressed and
chunked below the 16 MB document limit. Documents are keyed by ``_id`` = the FlowCept id, so an
upsert is a primary-key write.

No reader, FlowCept's included, may see half a run, and a re-import must keep the old run
visible until the new one is whole. A batch of runs is written as:

1. a lease in ``provcausal_imports`` (which runs, which process) so that ``doctor`` can tell
   an interrupted import from a running one;
2. the PROV chunks under a fresh token, where FlowCept never looks (readers follow the token
   the workflow document names, so new chunks stay unseen);
3. the tasks, published together: in a transaction where the server has them (replica set,
   mongos), else in one bulk command per batch. Task ids are deterministic, so a re-import
   replaces each task in place and a run never has fewer tasks than it had;
4. the workflow documents, naming the new token;
5. clean-up: tasks the new version no longer has, the lease, then chunks of tokens that no
   workflow document names and no running import holds (also an interrupted import's).

An import killed before step 3 leaves only chunks and a lease (``doctor`` lists them,
``doctor --repair`` or the next import of the same runs removes them); killed between 3 and
4, the tasks of a first import are complete but have no workflow document yet.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from provcausal.errors import InvalidParameterError, StoreError, StoreUnreachableError
from provcausal.model import flowcept as fc
from provcausal.model.flowcept import (
    GENERATED_IDS,
    STATE_WRITING,
    USED_IDS,
    RunRecords,
    meta_path,
    run_label,
)
from provcausal.model.times import to_epoch
from provcausal.projection import RunColumns, project_runs
from provcausal.stores import projection
from provcausal.stores.base import (
    SAMPLE_BATCH_RUNS,
    RunEntry,
    Store,
    compress_prov,
    decompress_prov,
    run_order,
)
from provcausal.stores.codec import escape_record, unescape_key, unescape_keys
from provcausal.stores.uri import redact_text, shorten
from provcausal.stores.where import Condition, mongo_filter

__all__ = ["MongoStore", "DEFAULT_DB", "sample_pipeline", "consistency_options"]

DEFAULT_DB = "flowcept"
PROV_COLLECTION = "provcausal_prov"
IMPORTS_COLLECTION = "provcausal_imports"
#: Labels given after the fact (``provcausal label``): FlowCept never reads this collection.
LABELS_COLLECTION = "provcausal_labels"
_BATCH = 1000
#: A field ``doctor --repair`` and ``delete_run`` mark documents with before removing them
#: (see :meth:`MongoStore._claimed_delete`); an import's replacement never carries it.
CLAIM = "_provcausal_claim"
#: A lease older than this belongs to an import that died (imports renew nothing: a batch of
#: runs is written in well under this time).
LEASE_SECONDS = 3600


def _has_transactions(client: Any) -> bool:
    """Whether the server runs multi-document transactions: a replica set member or mongos
    (a standalone mongod has none; the wire-protocol test server reports none either)."""
    hello = client.admin.command("hello")
    return bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"


def _lease(token: str, runs: Sequence[str]) -> dict[str, Any]:
    now = dt.datetime.now(dt.timezone.utc)
    return {
        "_id": token,
        "runs": list(runs),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": now,
        "expires_at": now + dt.timedelta(seconds=LEASE_SECONDS),
    }


def _lease_dead(lease: dict[str, Any]) -> bool:
    """An import that is over without removing its lease: its process is gone (same host),
    or the lease expired."""
    expires = lease.get("expires_at")
    if isinstance(expires, dt.datetime):
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.timezone.utc)
        if expires < dt.datetime.now(dt.timezone.utc):
            return True
    if lease.get("host") == socket.gethostname() and isinstance(lease.get("pid"), int):
        try:
            os.kill(lease["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def _prov_token(workflow: dict[str, Any]) -> Any:
    return fc.run_prov_token(unescape_keys(workflow))


def _duplicates_only(exc: Any) -> bool:
    errors = (getattr(exc, "details", None) or {}).get("writeErrors") or []
    return bool(errors) and all(e.get("code") == 11000 for e in errors)


def _bulk_upsert(collection: Any, ops: list[Any], session: Any = None) -> None:
    """Upserts keyed by ``_id``; two importers racing on one document can make one upsert
    fail with a duplicate key, and it then succeeds as a replacement when retried once."""
    from pymongo.errors import BulkWriteError

    try:
        collection.bulk_write(ops, ordered=False, session=session)
    except BulkWriteError as exc:
        if not _duplicates_only(exc) or session is not None:
            raise
        collection.bulk_write(ops, ordered=False)


def consistency_options(uri: str) -> dict[str, Any]:
    """Write concern ``majority`` and read concern ``majority`` unless the URI sets them.

    On a replica set an acknowledged run then survives a failover (no rollback can take its
    ``complete`` marker or some of its tasks back), and readers only see what is majority
    committed; see ``docs/scale-out.md``. On a standalone server both act as ``w: 1``/
    ``local``."""
    query = uri.partition("?")[2].lower()
    given = {part.partition("=")[0] for part in query.replace(";", "&").split("&")}
    out: dict[str, Any] = {}
    if "w" not in given:
        out["w"] = "majority"
    if "readconcernlevel" not in given:
        out["readConcernLevel"] = "majority"
    return out


def _field(path: str) -> str:
    return "$" + path


def _is_null(path: str) -> dict[str, Any]:
    return {"$eq": [{"$ifNull": [_field(path), None]}, None]}


def sample_pipeline(run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The aggregation that reshapes the tasks of ``run_ids`` into raw sample columns
    (:data:`provcausal.model.flowcept.SAMPLE_COLUMNS`) on the server."""
    paths = fc.SAMPLE_PATHS
    # Absent and null are one case here ({"$ifNull": [x, None]}), as in fc.finish_sample_row
    # (nx-27017's $type does not answer "missing" for an absent field).
    captured = _is_null(f"{fc.META}.{fc.PC}")
    no_value = _is_null(paths["value"])
    has_ports = {"$not": [_is_null(paths["out_ports"])]}
    project: dict[str, Any] = {"_id": 0}
    project.update({column: _field(path) for column, path in paths.items()})
    project["used_names"] = {
        "$map": {
            "input": {"$objectToArray": "$used"},  # null when absent
            "as": "kv",
            "in": "$$kv.k",
        }
    }
    project["captured"] = captured
    project["used"] = {"$cond": [captured, "$used", None]}  # see fc.needs_values
    project["generated"] = {"$cond": [{"$or": [captured, no_value, has_ports]}, "$generated", None]}
    return [{"$match": {"workflow_id": {"$in": list(run_ids)}}}, {"$project": project}]


def _unescape_sample(raw: dict[str, Any]) -> dict[str, Any]:
    """Field names inside ``used``/``generated`` are stored escaped (see ``codec``)."""
    raw["used_names"] = [unescape_key(str(k)) for k in raw.get("used_names") or []]
    for key in ("used", "generated"):
        if raw.get(key):
            raw[key] = unescape_keys(raw[key])
    return raw


def _clean(doc: dict[str, Any]) -> dict[str, Any]:
    doc = unescape_keys(doc)
    doc.pop("_id", None)
    doc.pop(CLAIM, None)  # a repair's mark, for the instant between marking and deleting
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
        from pymongo.errors import ConfigurationError, PyMongoError
        from pymongo.uri_parser import parse_uri

        self.uri = shorten(display_uri or redact_text(uri, uri))
        self._raw_uri = uri  # only ever used to find the secrets to redact from messages
        try:
            parsed = parse_uri(uri, validate=False, warn=True) if "+srv" not in uri else {}
        except Exception as exc:  # pymongo also raises ValueError, KeyError... for bad URIs
            raise self._bad_uri(exc) from None
        self.database_name = database or parsed.get("database") or DEFAULT_DB
        nodes = parsed.get("nodelist") or []
        self.hosts = shorten(",".join(f"{h}:{p}" for h, p in nodes)) or self.uri
        try:
            self._client: Any = pymongo.MongoClient(
                uri,
                **consistency_options(uri),
                tz_aware=True,
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                socketTimeoutMS=max(timeout_ms * 20, 60000),
            )
            self._client.admin.command("ping")
        except ConfigurationError as exc:
            raise self._bad_uri(exc) from None
        except PyMongoError as exc:
            reason = str(exc).splitlines()[0].split(" (configured timeouts")[0]
            reason = reason.split(", Timeout:")[0]
            raise StoreUnreachableError(
                f"cannot reach MongoDB at {self.hosts} within {timeout_ms / 1000:g} s: "
                f"{redact_text(reason, uri)[:200]}"
            ) from None
        except Exception as exc:  # outside pymongo's hierarchy: the options it was given
            raise self._bad_uri(exc) from None
        db = self._client[self.database_name]
        self._wfs = db["workflows"]
        self._tasks = db["tasks"]
        self._prov = db[PROV_COLLECTION]
        self._imports = db[IMPORTS_COLLECTION]
        self._labels = db[LABELS_COLLECTION]
        self._analysis = db[projection.MONGO_COLLECTION]
        if not create:
            self._refuse_missing(db)
        with self._guard(f"opening database {self.database_name}"):
            self._transactions = _has_transactions(self._client)
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

        self._ensure_task_id_index()
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
        self._imports.create_index("runs")
        self._analysis.create_index("run_id")

    def _ensure_task_id_index(self) -> None:
        """FlowCept's unique ``task_id`` index, unless the collection already has an index on
        ``task_id``: FlowCept's own, or the plain one of a collection prepared for sharding
        (``docs/scale-out.md``), where uniqueness is held by ``{workflow_id, task_id}``
        because a sharded collection refuses unique indexes not prefixed by its shard key."""
        indexes = self._tasks.index_information().values()
        if any([field for field, _ in info.get("key") or []] == ["task_id"] for info in indexes):
            return
        self._tasks.create_index("task_id", unique=True)

    def close(self) -> None:
        self._client.close()

    def _bad_uri(self, exc: BaseException) -> InvalidParameterError:
        reason = redact_text(f"{type(exc).__name__}: {exc}", self._raw_uri)
        return InvalidParameterError(f"bad MongoDB URI {self.uri}: {reason[:300]}", "store")

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn pymongo's errors, and what its driver raises outside its own hierarchy
        (``KeyError``, ``ValueError``...), into provcausal's, with every secret redacted."""
        from pymongo.errors import AutoReconnect, PyMongoError, ServerSelectionTimeoutError

        try:
            yield
        except (ServerSelectionTimeoutError, AutoReconnect):
            raise StoreUnreachableError(f"lost MongoDB at {self.hosts} while {what}") from None
        except PyMongoError as exc:
            raise StoreError(
                f"MongoDB refused {what}: {redact_text(str(exc), self._raw_uri)[:300]}"
            ) from None
        except (KeyError, ValueError, TypeError, AttributeError, OSError) as exc:
            reason = redact_text(f"{type(exc).__name__}: {exc}", self._raw_uri)
            raise StoreError(f"MongoDB client failed while {what}: {reason[:300]}") from None

    # -- writing -------------------------------------------------------------------------
    def put_run(self, run: RunRecords) -> None:
        self.put_runs([run])

    def put_runs(self, runs: Sequence[RunRecords]) -> None:
        """Write runs so that no reader sees half of one (see the module docstring)."""
        runs = list({run.run_id: run for run in runs}.values())  # the last write of a run wins
        if not runs:
            return
        ids = [run.run_id for run in runs]
        token = uuid.uuid4().hex[:16]
        with self._guard(f"writing {len(ids)} run(s) ({ids[0]}…)"):
            self._imports.insert_one(_lease(token, ids))
            try:
                self._write_runs(runs, ids, token)
            except (Exception, KeyboardInterrupt):  # a kill leaves what doctor lists
                self._roll_back(ids, token)
                raise
            # The lease goes before the clean-up: then the last of several concurrent
            # imports of a run sees every other token as unused and removes its chunks.
            self._imports.delete_one({"_id": token})
            self._clean_chunks(ids)

    def _write_runs(self, runs: Sequence[RunRecords], ids: list[str], token: str) -> None:
        chunks = [
            {"_id": f"{run.run_id}:{token}:{i}", "run_id": run.run_id, "token": token,
             "seq": i, "data": c}
            for run in runs
            for i, c in enumerate(compress_prov(run.prov_json))
        ]  # fmt: skip
        for i in range(0, len(chunks), _BATCH):
            self._prov.insert_many(chunks[i : i + _BATCH], ordered=False)
        keep = self._publish(runs, token)
        labelled = [run.run_id for run in runs if run_label(run.workflow) is not None]
        if labelled:  # an import's own label is the newer statement
            self._labels.delete_many({"_id": {"$in": labelled}})
        self._remove_stale_tasks(ids, keep)
        self._remove_stale_projection(ids)

    def _roll_back(self, ids: Sequence[str], token: str) -> None:
        """Remove what a failed :meth:`put_runs` wrote (its lease still holds the runs, so
        ``doctor`` keeps off): the runs' workflow documents and tasks, the chunks of its
        token, then the lease. Tasks already published replaced an older version in place,
        so a run the batch re-imported goes too, as the importer's undo of earlier batches
        removes its runs. Best effort: what a lost server keeps, ``doctor`` lists."""
        with contextlib.suppress(Exception):
            self._wfs.delete_many({"_id": {"$in": list(ids)}})
            self._tasks.delete_many({"workflow_id": {"$in": list(ids)}})
            self._analysis.delete_many({"run_id": {"$in": list(ids)}})
            self._prov.delete_many({"token": token})
            self._imports.delete_one({"_id": token})

    def _publish(self, runs: Sequence[RunRecords], token: str) -> set[str]:
        """Tasks, then workflow documents naming ``token``: one transaction if the server
        has them, else one bulk command for the tasks (atomic on the test server)."""
        from pymongo import ReplaceOne

        tasks, keep = [], set()
        for run in runs:
            for task in run.tasks:
                doc = escape_record(task)
                doc["_id"] = doc["task_id"]
                keep.add(doc["_id"])
                # the whole shard key of ``tasks`` (docs/scale-out.md): a sharded cluster
                # refuses an upsert that does not name it
                key = {"_id": doc["_id"], "workflow_id": doc["workflow_id"], "task_id": doc["_id"]}
                tasks.append(ReplaceOne(key, doc, upsert=True))
        workflows = []
        for run in runs:
            workflow = escape_record(dict(run.workflow))
            workflow["_id"] = run.run_id
            fc.set_run_prov_token(workflow, token)
            workflows.append(ReplaceOne({"_id": run.run_id}, workflow, upsert=True))

        analysis = [
            ReplaceOne({"_id": d["_id"], "run_id": d["run_id"]}, d, upsert=True)
            for d in projection.mongo_documents(project_runs(runs, projection.mongo_as_stored))
        ]

        def write(session: Any = None) -> None:
            if tasks:
                _bulk_upsert(self._tasks, tasks, session)
            _bulk_upsert(self._analysis, analysis, session)
            _bulk_upsert(self._wfs, workflows, session)

        self._in_transaction(write)
        return keep

    def _in_transaction(self, write: Callable[[Any], None]) -> None:
        if not self._transactions:
            write(None)
            return
        with self._client.start_session() as session:
            session.with_transaction(write)

    def _remove_stale_tasks(self, ids: Sequence[str], keep: set[str]) -> None:
        stale = [
            d["_id"]
            for d in self._tasks.find({"workflow_id": {"$in": list(ids)}}, {"_id": 1})
            if d["_id"] not in keep
        ]
        for i in range(0, len(stale), _BATCH):
            self._tasks.delete_many({"_id": {"$in": stale[i : i + _BATCH]}})

    def _live_tokens(self) -> set[str]:
        return {str(d["_id"]) for d in self._imports.find({}) if not _lease_dead(d)}

    def _clean_chunks(self, ids: Sequence[str]) -> None:
        """Remove the chunks of ``ids`` that no workflow document names and no running
        import is writing: older versions, and what interrupted imports left."""
        named = {
            str(d["_id"]): _prov_token(d)
            for d in self._wfs.find({"_id": {"$in": list(ids)}}, {fc.META: 1})
        }
        live = self._live_tokens()
        for chunk in self._prov.find({"run_id": {"$in": list(ids)}}, {"run_id": 1, "token": 1}):
            token = chunk.get("token")
            if token != named.get(str(chunk["run_id"])) and token not in live:
                self._prov.delete_one({"_id": chunk["_id"]})
        for lease in self._imports.find({"runs": {"$in": list(ids)}}):
            if _lease_dead(lease):  # an interrupted import of these runs: forget them
                rest = [r for r in lease.get("runs") or [] if r not in set(ids)]
                if rest:
                    self._imports.update_one({"_id": lease["_id"]}, {"$set": {"runs": rest}})
                else:
                    self._imports.delete_one({"_id": lease["_id"]})

    def delete_run(self, run_id: str) -> bool:
        """The workflow document goes first (the run disappears at once), then its tasks,
        then its PROV chunks; ``doctor`` finds what an interruption left.

        A re-import of the run racing the deletion is never cut in half: what is removed is
        marked first, a running import of the run (a live lease) cancels the deletion, and
        whatever an import writes after the mark replaces the marked document and stays."""
        with self._guard(f"deleting run {run_id}"):
            found = self._wfs.find_one({"_id": run_id}, {"_id": 1}) or self._wfs.find_one(
                {"workflow_id": run_id}, {"_id": 1}
            )
            if found is None:
                return False
            queries = [
                (self._wfs, {"_id": found["_id"]}),
                (self._tasks, {"workflow_id": run_id}),
                (self._prov, {"run_id": run_id}),
                (self._analysis, {"run_id": run_id}),
            ]

            def unchanged(claim: str) -> bool:
                """No import holds the run, and none replaced its workflow document since
                the mark (its tasks, written before, would go without it)."""
                if self._importing(run_id):
                    return False
                return self._wfs.find_one({"_id": found["_id"], CLAIM: claim}) is not None

            if not self._claimed_delete(queries, unchanged):
                raise StoreError(
                    f"run {run_id} is being imported right now: nothing deleted; delete it "
                    "once that import is done"
                )
            self._labels.delete_one({"_id": run_id})
            return True

    def _importing(self, run_id: str) -> bool:
        """Whether a running import (a live lease, read now) holds ``run_id``."""
        leases = self._imports.find({"runs": {"$in": [run_id]}})  # nx-27017: index
        return any(not _lease_dead(lease) for lease in leases)

    def _claimed_delete(
        self, queries: Sequence[tuple[Any, dict[str, Any]]], still_gone: Callable[[str], bool]
    ) -> bool:
        """Delete what ``queries`` match now, if ``still_gone(claim)`` (asked after marking)
        holds.

        Each matched document is marked with a fresh claim, the condition is checked, and
        only documents still carrying the claim are deleted. An import writes leases first
        and replaces whole documents (``ReplaceOne``): one that started before the mark is
        seen by ``still_gone``, and one that writes after it erases the mark, so its data is
        never removed. ``False``: nothing was deleted and the marks are gone again."""
        claim = uuid.uuid4().hex
        for collection, query in queries:
            collection.update_many(query, {"$set": {CLAIM: claim}})
        keep = not still_gone(claim)
        for collection, _query in queries:
            if keep:
                collection.update_many({CLAIM: claim}, {"$unset": {CLAIM: ""}})
            else:
                collection.delete_many({CLAIM: claim})
        return not keep

    # -- leftovers -----------------------------------------------------------------------
    def leftovers(self) -> list[dict[str, Any]]:
        with self._guard("looking for leftovers"):
            return [item for item, _ in self._leftovers()]

    def repair(self) -> list[dict[str, Any]]:
        """Remove the leftovers, each only if it is still one when its documents are marked
        (see :meth:`_claimed_delete`): an import that started after the scan, or finished
        during it, keeps all of its data."""
        with self._guard("removing leftovers"):
            return [item for item, remove in self._leftovers() if remove()]

    def _leftovers(self) -> list[tuple[dict[str, Any], Callable[[], bool]]]:
        """What interrupted writes left, each with the action that removes it (and says
        whether it did)."""
        out: list[tuple[dict[str, Any], Callable[[], bool]]] = []
        leases = list(self._imports.find({}))
        live = {str(d["_id"]) for d in leases if not _lease_dead(d)}
        busy = {r for d in leases if str(d["_id"]) in live for r in d.get("runs") or []}
        for lease in leases:
            if str(lease["_id"]) not in live:
                out.append(
                    (
                        {"kind": "interrupted import", "id": str(lease["_id"]),
                         "runs": len(lease.get("runs") or []), "host": lease.get("host"),
                         "pid": lease.get("pid")},
                        self._remover([(self._imports, {"_id": lease["_id"]})], lambda: True),
                    )
                )  # fmt: skip
        workflows = {str(d["_id"]): d for d in self._wfs.find({}, {fc.META: 1, "workflow_id": 1})}
        runs = [*self._half_runs(workflows, busy), *self._orphan_tasks(workflows, busy)]
        out.extend((item, self._and_projection(item["id"], remove)) for item, remove in runs)
        out.extend(self._orphan_chunks(workflows, live))
        out.extend(self._orphan_projection(workflows, busy | {item["id"] for item, _ in runs}))
        return out

    def _remover(
        self, queries: list[tuple[Any, dict[str, Any]]], still_left: Callable[[], bool]
    ) -> Callable[[], bool]:
        return lambda: self._claimed_delete(queries, lambda _claim: still_left())

    def _unheld(self, run_id: str, *, writing_ok: bool = False) -> Callable[[], bool]:
        """Asked after marking: no running import holds ``run_id`` and the run has no
        workflow document (``writing_ok``: or one still marked ``writing``). Leases are read
        first: an import removes its lease only after writing the workflow document."""

        def check() -> bool:
            if self._importing(run_id):
                return False
            doc = self._wfs.find_one({"_id": run_id}, {fc.META: 1})
            if doc is None:
                return True
            return writing_ok and fc.run_state(unescape_keys(doc)) == STATE_WRITING

        return check

    def _unnamed(self, run_id: str, token: Any) -> Callable[[], bool]:
        """Asked after marking: the chunks of ``token`` belong to no running import and the
        run's workflow document does not name them."""

        def check() -> bool:
            lease = self._imports.find_one({"_id": token}) if token is not None else None
            if lease is not None and not _lease_dead(lease):
                return False
            doc = self._wfs.find_one({"_id": run_id}, {fc.META: 1})
            return doc is None or _prov_token(doc) != token

        return check

    def _half_runs(
        self, workflows: dict[str, dict[str, Any]], busy: set[str]
    ) -> Iterator[tuple[dict[str, Any], Callable[[], bool]]]:
        """Runs still marked ``writing`` (written by provcausal before 0.2, or deleted
        half-way): hidden from provcausal, but their tasks are in FlowCept's ``tasks``."""
        for run_id, doc in workflows.items():
            if fc.run_state(unescape_keys(doc)) == STATE_WRITING and run_id not in busy:
                tasks = self._tasks.count_documents({"workflow_id": run_id})
                queries = [
                    (self._tasks, {"workflow_id": run_id}),
                    (self._prov, {"run_id": run_id}),
                    (self._wfs, {"_id": run_id}),
                ]
                item = {"kind": "half-written run", "id": run_id, "tasks": tasks}
                yield item, self._remover(queries, self._unheld(run_id, writing_ok=True))

    def _orphan_tasks(
        self, workflows: dict[str, dict[str, Any]], busy: set[str]
    ) -> Iterator[tuple[dict[str, Any], Callable[[], bool]]]:
        """provcausal's tasks whose run has no workflow document (FlowCept's own tasks,
        whose workflow document may come later, are left alone)."""
        ours = {"adapter_id": {"$regex": r"^provcausal\."}}
        counts = Counter(
            str(d.get("workflow_id")) for d in self._tasks.find(ours, {"workflow_id": 1})
        )
        for run_id, count in sorted(counts.items()):
            if run_id in workflows or run_id in busy:
                continue
            query = {"workflow_id": run_id, **ours}
            item = {"kind": "tasks without a run", "id": run_id, "tasks": count}
            yield item, self._remover([(self._tasks, query)], self._unheld(run_id))

    def _orphan_chunks(
        self, workflows: dict[str, dict[str, Any]], live: set[str]
    ) -> Iterator[tuple[dict[str, Any], Callable[[], bool]]]:
        found: dict[tuple[str, Any], int] = {}
        for chunk in self._prov.find({}, {"run_id": 1, "token": 1}):
            run_id, token = str(chunk["run_id"]), chunk.get("token")
            if token in live:
                continue
            doc = workflows.get(run_id)
            if doc is not None and _prov_token(doc) == token:
                continue
            found[(run_id, token)] = found.get((run_id, token), 0) + 1
        for (run_id, token), count in sorted(found.items(), key=str):
            query = {"run_id": run_id, "token": token}  # None: chunks without a token
            item = {"kind": "PROV chunks without a run", "id": run_id, "chunks": count}
            yield item, self._remover([(self._prov, query)], self._unnamed(run_id, token))

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
            doc = _clean(doc)
            fc.set_run_prov_token(doc, None)
            yield doc

    def run_index(self, workflow: str) -> list[RunEntry]:
        """One aggregation by the ``name`` index returning only the id, start, label and
        state of each run (no whole document crosses the wire or is decoded), and the labels
        given with ``set_label``."""
        project = {
            "_id": 0,
            "workflow_id": 1,
            "started_at": 1,
            "label": _field(meta_path(fc.LABEL)),
            "state": _field(meta_path(fc.STATE)),
        }
        pipeline: list[dict[str, Any]] = [{"$match": {"name": workflow}}, {"$project": project}]
        with self._guard("reading workflows"):
            rows = [r for r in self._wfs.aggregate(pipeline) if r.get("state") != fc.STATE_WRITING]
        overrides = self._label_overrides([str(r["workflow_id"]) for r in rows]) if rows else {}
        out = []
        for r in rows:
            run_id, label = str(r["workflow_id"]), r.get("label")
            label = overrides.get(run_id, None if label is None else str(label))
            out.append(RunEntry(run_id, label, to_epoch(r.get("started_at"))))
        out.sort(key=lambda r: run_order(r.started, r.run_id))
        return out

    def run_metadata(self, run_ids: Sequence[str], keys: Sequence[str]) -> list[dict[str, Any]]:
        """Only ``keys`` of provcausal's metadata, by one aggregation per batch of runs on the
        ``workflow_id`` index."""
        ids = list(dict.fromkeys(run_ids))
        project: dict[str, Any] = {"_id": 0, "workflow_id": 1}
        project.update({f"k{i}": _field(meta_path(k)) for i, k in enumerate(keys)})
        project["state"] = _field(meta_path(fc.STATE))
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), _BATCH):
            pipeline = [
                {"$match": {"workflow_id": {"$in": ids[i : i + _BATCH]}}},
                {"$project": project},
            ]
            with self._guard("reading workflows"):
                for row in self._wfs.aggregate(pipeline):
                    if row.get("state") == fc.STATE_WRITING:
                        continue
                    meta = {
                        k: unescape_keys(row[f"k{j}"])
                        for j, k in enumerate(keys)
                        if row.get(f"k{j}") is not None
                    }
                    found[str(row["workflow_id"])] = {
                        "workflow_id": row["workflow_id"],
                        fc.META: {fc.PC: meta},
                    }
        return [found[r] for r in ids if r in found]

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

    def sample_rows(
        self, run_ids: Sequence[str], batch: int = SAMPLE_BATCH_RUNS
    ) -> Iterator[dict[str, Any]]:
        """Sample rows computed by the server: one aggregation per ``batch`` runs whose
        ``$match`` uses the ``workflow_id`` index and whose ``$project`` returns only the
        columns the analysis reads (see :func:`sample_pipeline`)."""
        ids = list(dict.fromkeys(run_ids))
        for i in range(0, len(ids), batch):
            part = ids[i : i + batch]
            by_run: dict[str, list[dict[str, Any]]] = {r: [] for r in part}
            with self._guard("reading sample rows"):
                for raw in self._tasks.aggregate(sample_pipeline(part)):
                    row = fc.finish_sample_row(_unescape_sample(raw))
                    by_run.setdefault(row["workflow_id"], []).append(row)
            for rows in by_run.values():
                yield from rows

    def read_projection(self, run_ids: Sequence[str]) -> Iterator[RunColumns]:
        """Projections of ``provcausal_analysis`` by its ``run_id`` index, only the stored
        columns (no ``_id``), one query per batch of runs."""
        ids = list(dict.fromkeys(run_ids))
        for i in range(0, len(ids), SAMPLE_BATCH_RUNS):
            part = ids[i : i + SAMPLE_BATCH_RUNS]
            with self._guard("reading the analysis projection"):
                docs = list(self._analysis.find({"run_id": {"$in": part}}, projection.MONGO_FIELDS))
            yield from projection.mongo_records(docs, part)

    def write_projection(self, records: Sequence[RunColumns]) -> bool:
        """Keep lazily built projections (runs FlowCept captured) in ``provcausal_analysis``."""
        from pymongo import ReplaceOne

        docs = projection.mongo_documents(records)
        with self._guard("keeping the analysis projection"):
            for i in range(0, len(docs), _BATCH):
                ops = [
                    ReplaceOne({"_id": d["_id"], "run_id": d["run_id"]}, d, upsert=True)
                    for d in docs[i : i + _BATCH]
                ]
                _bulk_upsert(self._analysis, ops)
            self._remove_stale_projection([r.run_id for r in records])
        return True

    def task_fingerprints(self, run_ids: Sequence[str]) -> dict[str, str]:
        """Per run: how many tasks, the latest start and end (one aggregation per batch)."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, str] = {}
        for i in range(0, len(ids), SAMPLE_BATCH_RUNS):
            pipeline = projection.mongo_fingerprint_pipeline(ids[i : i + SAMPLE_BATCH_RUNS])
            with self._guard("reading task counts"):
                out.update(projection.mongo_fingerprints(self._tasks.aggregate(pipeline)))
        return out

    def _remove_stale_projection(self, ids: Sequence[str]) -> None:
        """Parts of earlier, longer versions of these runs' projections."""
        fields = {"run_id": 1, "token": 1, "part": 1}
        docs = list(self._analysis.find({"run_id": {"$in": list(ids)}}, fields))
        tokens = {str(d["run_id"]): d.get("token") for d in docs if d.get("part") == 0}
        stale = [d["_id"] for d in docs if d.get("token") != tokens.get(str(d["run_id"]))]
        if stale:
            self._analysis.delete_many({"run_id": {"$in": list(ids)}, "_id": {"$in": stale}})

    def _and_projection(self, run_id: str, remove: Callable[[], bool]) -> Callable[[], bool]:
        """``remove``, then, if it removed the run's leftovers, the run's analysis projection
        (it goes with the run's tasks)."""

        def both() -> bool:
            if not remove():
                return False
            self._analysis.delete_many({"run_id": run_id})
            return True

        return both

    def _orphan_projection(
        self, workflows: dict[str, dict[str, Any]], busy: set[str]
    ) -> Iterator[tuple[dict[str, Any], Callable[[], bool]]]:
        """Analysis projections whose run is gone (rebuilt if it comes back)."""
        counts = Counter(str(d["run_id"]) for d in self._analysis.find({}, {"run_id": 1}))
        for run_id, count in sorted(counts.items()):
            if run_id in workflows or run_id in busy:
                continue
            item = {"kind": "analysis rows without a run", "id": run_id, "documents": count}
            query = {"run_id": run_id}
            yield item, self._remover([(self._analysis, query)], self._unheld(run_id))

    def _find(self, query: dict[str, Any], runs: Sequence[str] | None) -> list[dict[str, Any]]:
        if runs is not None:
            query = {"workflow_id": {"$in": list(dict.fromkeys(runs))}, **query}
        with self._guard("reading tasks"):
            return [_clean(d) for d in self._tasks.find(query)]

    def _find_in(
        self, field: str, values: Sequence[str], runs: Sequence[str] | None
    ) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(values))
        out: list[dict[str, Any]] = []
        for i in range(0, len(ids), _BATCH):
            out.extend(self._find({field: {"$in": ids[i : i + _BATCH]}}, runs))
        return out

    def tasks_by_id(
        self, task_ids: Sequence[str], runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        return self._find_in("task_id", task_ids, runs)

    def tasks_depending_on(
        self, task_ids: Sequence[str], runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        return self._find_in("dependencies", task_ids, runs)

    def tasks_by_entity(
        self, entity_ids: Sequence[str], role: str, runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        field = meta_path({"used": USED_IDS, "generated": GENERATED_IDS}[role])
        return self._find_in(field, entity_ids, runs)

    def get_prov_json(self, run_id: str) -> str | None:
        """The chunks of the token the run's workflow document names; if a re-import
        swapped the token between the two reads, read again."""
        with self._guard(f"reading the PROV document of {run_id}"):
            for _ in range(5):
                doc = self._wfs.find_one({"_id": run_id}, {fc.META: 1})
                token = _prov_token(doc) if doc is not None else None
                query: dict[str, Any] = {"run_id": run_id}
                if token is not None:
                    query["token"] = token
                docs = [d for d in self._prov.find(query) if d.get("token") == token]
                if docs or doc is None:
                    break
        if not docs:
            return None
        docs.sort(key=lambda d: d["seq"])
        return decompress_prov(bytes(d["data"]) for d in docs)

    def count_tasks(self) -> int:
        with self._guard("counting tasks"):
            return int(self._tasks.count_documents({}))

    # -- following new runs, and provcausal watch's own state ---------------------------
    keeps_watch_state = True
    _arrival_index = False

    def runs_after(
        self, workflow: str, after: dict[str, Any] | None, limit: int = 200
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Runs by ``(utc_timestamp, workflow_id)`` through an index on ``name``, then both
        (created on first use: FlowCept and provcausal both set ``utc_timestamp``)."""
        import pymongo

        order = [("utc_timestamp", pymongo.ASCENDING), ("workflow_id", pymongo.ASCENDING)]
        query: dict[str, Any] = {"name": workflow, "utc_timestamp": {"$type": "number"}}
        if after is not None:
            ts, wid = float(after["ts"]), str(after["id"])
            query["$or"] = [
                {"utc_timestamp": {"$gt": ts}},
                {"utc_timestamp": ts, "workflow_id": {"$gt": wid}},
            ]
        with self._guard("reading new runs"):
            if not self._arrival_index:
                self._wfs.create_index([("name", pymongo.ASCENDING), *order])
                self._arrival_index = True
            docs = list(self._wfs.find(query).sort(order).limit(limit))
        out = []
        for doc in docs:
            doc = _clean(doc)
            fc.set_run_prov_token(doc, None)
            if fc.is_visible(doc):
                position = {"ts": float(doc["utc_timestamp"]), "id": str(doc["workflow_id"])}
                out.append((position, doc))
        return out

    def get_watch_state(self, key: str) -> dict[str, Any] | None:
        import json

        with self._guard("reading the watch checkpoint"):
            doc = self._client[self.database_name][WATCH_COLLECTION].find_one({"_id": key})
        return None if doc is None else dict(json.loads(doc["state"]))

    def put_watch_state(self, key: str, state: dict[str, Any]) -> None:
        import json

        with self._guard("saving the watch checkpoint"):
            self._client[self.database_name][WATCH_COLLECTION].replace_one(
                {"_id": key}, {"_id": key, "state": json.dumps(state)}, upsert=True
            )

    def add_alert(self, alert: dict[str, Any]) -> None:
        import json

        alerts = self._client[self.database_name][ALERTS_COLLECTION]
        doc = {"_id": str(alert["id"]), "workflow": str(alert["workflow"]),
               "at": dt.datetime.now(dt.timezone.utc), "alert": json.dumps(alert)}  # fmt: skip
        with self._guard("keeping an alert"):
            alerts.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    def list_alerts(self, workflow: str | None = None) -> list[dict[str, Any]]:
        import json

        query = {} if workflow is None else {"workflow": workflow}
        with self._guard("reading alerts"):
            docs = list(self._client[self.database_name][ALERTS_COLLECTION].find(query))
        docs.sort(key=lambda d: d.get("at") or dt.datetime.min.replace(tzinfo=dt.timezone.utc))
        return [dict(json.loads(d["alert"])) for d in docs]


#: provcausal watch's checkpoints and alerts (``provcausal.watch``).
WATCH_COLLECTION = "provcausal_watch"
ALERTS_COLLECTION = "provcausal_alerts"
