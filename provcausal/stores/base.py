"""The one interface every store implements, and what all stores share.

A store holds runs (FlowCept ``workflows`` documents), their tasks (FlowCept ``tasks``
documents) and each run's original PROV-JSON. It knows nothing about SciPipe, Node-RED or
Seldon. A run is visible only once all of it is written: its workflow document is in state
``writing`` until then (:func:`provcausal.model.flowcept.run_state`; FlowCept-captured
workflows carry no state and are always visible).
"""

from __future__ import annotations

import datetime as dt
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from provcausal.errors import StoreError
from provcausal.model.flowcept import META, PC, RunRecords, is_visible, run_label, sample_row
from provcausal.model.times import to_epoch
from provcausal.stores.where import Condition, matches

if TYPE_CHECKING:
    from provcausal.projection import RunColumns

__all__ = [
    "Store",
    "RunEntry",
    "is_visible",
    "run_label",
    "compress_prov",
    "decompress_prov",
    "PROV_CHUNK_BYTES",
    "SAMPLE_BATCH_RUNS",
]

#: Runs per query when reading sample rows: one indexed query reads this many runs' tasks.
SAMPLE_BATCH_RUNS = 500

#: PROV-JSON is stored zlib-compressed in chunks, far below MongoDB's 16 MB document limit.
PROV_CHUNK_BYTES = 4 * 1024 * 1024


def compress_prov(prov_json: str) -> list[bytes]:
    data = zlib.compress(prov_json.encode("utf-8"), 1)  # fast; text compresses ~8x anyway
    return [data[i : i + PROV_CHUNK_BYTES] for i in range(0, len(data), PROV_CHUNK_BYTES)] or [b""]


def decompress_prov(chunks: Iterable[bytes]) -> str:
    return zlib.decompress(b"".join(chunks)).decode("utf-8")


def _epoch(value: Any) -> float | None:
    return to_epoch(value)


class RunEntry(NamedTuple):
    """What selecting runs by label, id or time reads of a run (:meth:`Store.run_index`)."""

    run_id: str
    #: the label shown by :meth:`Store.find_runs` (one given with ``set_label`` first)
    label: str | None
    #: epoch seconds, or ``None``
    started: float | None


def run_order(started: float | None, run_id: str) -> tuple[float, str]:
    """How :meth:`Store.find_runs` orders runs: oldest first, then by id."""
    return (started or 0.0, run_id)


class Store(ABC):
    """A place where runs, tasks and PROV documents live. Use it as a context manager."""

    #: The store's URI with any password replaced by ``***``.
    uri: str

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Release connections and files."""

    # -- writing -------------------------------------------------------------------------
    @abstractmethod
    def put_run(self, run: RunRecords) -> None:
        """Write (or replace) one run atomically as seen by readers: all of it or none."""

    def put_runs(self, runs: Sequence[RunRecords]) -> None:
        """Write several runs; each is still all-or-nothing for readers. Stores override this
        to share one transaction or bulk write among the runs."""
        for run in runs:
            self.put_run(run)

    @contextmanager
    def transaction(self) -> Iterator[bool]:
        """Group writes so that readers see all of them or none; yields whether the store
        can (``True``: an exception inside rolls everything back). The default cannot, and
        callers must undo what they wrote themselves."""
        yield False

    @abstractmethod
    def delete_run(self, run_id: str) -> bool:
        """Remove a run, its tasks and its PROV document; ``False`` if there was none."""

    # -- reading runs --------------------------------------------------------------------
    @abstractmethod
    def _workflow_docs(
        self,
        workflow: str | None,
        run_ids: Sequence[str] | None,
        where: Sequence[Condition] = (),
    ) -> Iterator[dict[str, Any]]:
        """Workflow documents, filtered by name, ids and (where the backend can) ``where``
        in the backend's query; :meth:`find_runs` checks ``where`` again."""

    def _label_overrides(self, run_ids: Sequence[str]) -> dict[str, str]:
        """Labels given with :meth:`set_label`, kept apart from the workflow documents."""
        return {}

    def set_label(self, run_ids: Sequence[str], label: str) -> int:
        """Label runs in provcausal's own metadata (never in a field FlowCept reads)."""
        raise StoreError(f"{self.uri} is read-only: labels cannot be stored here")

    def find_runs(
        self,
        *,
        workflow: str | None = None,
        labels: Sequence[str] | None = None,
        run_ids: Sequence[str] | None = None,
        since: dt.datetime | float | None = None,
        until: dt.datetime | float | None = None,
        where: Sequence[Condition] = (),
    ) -> list[dict[str, Any]]:
        """Visible runs, oldest first; ``labels``/``run_ids`` select any of those given,
        ``where`` conditions on workflow-document fields all hold (see ``stores.where``).
        A label set with :meth:`set_label` shows as the run's label in provcausal's metadata."""
        lo, hi = _epoch(since), _epoch(until)
        wanted = set(labels) if labels else None
        pushed = [c for c in where if not c[0].startswith(META)]
        docs = [d for d in self._workflow_docs(workflow, run_ids, pushed) if is_visible(d)]
        overrides = self._label_overrides([str(d["workflow_id"]) for d in docs]) if docs else {}
        out = []
        for doc in docs:
            if str(doc["workflow_id"]) in overrides:
                doc = _with_label(doc, overrides[str(doc["workflow_id"])])
            if where and not matches(doc, where):
                continue
            if wanted is not None and run_label(doc) not in wanted:
                continue
            start = doc.get("started_at")
            start = _epoch(start) if start is not None else None
            if lo is not None and (start is None or start < lo):
                continue
            if hi is not None and (start is None or start > hi):
                continue
            out.append(doc)
        out.sort(key=lambda d: run_order(_epoch(d.get("started_at")), str(d["workflow_id"])))
        return out

    def run_index(self, workflow: str) -> list[RunEntry]:
        """The visible runs of ``workflow`` as (id, label, start), in :meth:`find_runs`' order.
        Selecting runs by label, id or time reads only this; stores override it to answer
        from indexed fields instead of decoding every workflow document of the workflow."""
        return [
            RunEntry(str(d["workflow_id"]), run_label(d), _epoch(d.get("started_at")))
            for d in self.find_runs(workflow=workflow)
        ]

    def run_metadata(self, run_ids: Sequence[str], keys: Sequence[str]) -> list[dict[str, Any]]:
        """The workflow documents of the visible runs among ``run_ids``, in that order, holding
        at least ``workflow_id`` and provcausal's metadata ``keys`` (read with the accessors
        of :mod:`provcausal.model.flowcept`). Stores override it to read only those fields;
        this default returns whole documents."""
        wanted = list(dict.fromkeys(run_ids))
        docs = {str(d["workflow_id"]): d for d in self.find_runs(run_ids=wanted)}
        return [docs[r] for r in wanted if r in docs]

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """The visible run ``run_id``, or ``None``."""
        runs = self.find_runs(run_ids=[run_id])
        return runs[0] if runs else None

    # -- reading tasks -------------------------------------------------------------------
    @abstractmethod
    def find_tasks(
        self, run_ids: Sequence[str], nodes: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Tasks of the given runs (index on ``workflow_id``), optionally of some nodes only."""

    def sample_rows(
        self, run_ids: Sequence[str], batch: int = SAMPLE_BATCH_RUNS
    ) -> Iterator[dict[str, Any]]:
        """The sample row (:func:`provcausal.model.flowcept.sample_row`) of every task of
        ``run_ids``, with one indexed query per ``batch`` runs. Rows of one run are
        consecutive, in the run's task order. Stores override this to compute the rows in
        the backend; this default reads whole documents."""
        ids = list(dict.fromkeys(run_ids))
        for i in range(0, len(ids), batch):
            part = ids[i : i + batch]
            by_run: dict[str, list[dict[str, Any]]] = {r: [] for r in part}
            for task in self.find_tasks(part):
                by_run.setdefault(str(task["workflow_id"]), []).append(sample_row(task))
            for rows in by_run.values():
                yield from rows

    # -- the analysis projection (provcausal.projection) ---------------------------------
    def read_projection(self, run_ids: Sequence[str]) -> Iterator[RunColumns]:
        """The stored analysis projection of those of ``run_ids`` that have one, in the
        order of ``run_ids`` (several records per run for a large run on some stores). The
        default keeps none: the analysis computes it from :meth:`sample_rows`."""
        return iter(())

    def write_projection(self, records: Sequence[RunColumns]) -> bool:
        """Keep projections built lazily (FlowCept-captured runs, runs written before the
        projection existed); ``False`` where the store cannot keep them (read-only)."""
        return False

    def task_fingerprints(self, run_ids: Sequence[str]) -> dict[str, str]:
        """What the tasks of each of ``run_ids`` look like now (count, latest times): a
        lazily built projection whose fingerprint differs is rebuilt."""
        return {}

    # ``runs``: when given, only tasks of these runs. Lineage passes the runs it walks in, so
    # that on a cluster sharded by ``workflow_id`` the lookup goes only to their shards.
    @abstractmethod
    def tasks_by_id(
        self, task_ids: Sequence[str], runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Tasks by ``task_id`` (unique index)."""

    @abstractmethod
    def tasks_depending_on(
        self, task_ids: Sequence[str], runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Tasks whose ``dependencies`` name any of ``task_ids`` (index)."""

    @abstractmethod
    def tasks_by_entity(
        self, entity_ids: Sequence[str], role: str, runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Tasks that ``role`` (``"used"`` or ``"generated"``) any of ``entity_ids`` (index)."""

    @abstractmethod
    def get_prov_json(self, run_id: str) -> str | None:
        """The PROV-JSON a run was imported from, exactly; ``None`` if it has none."""

    @abstractmethod
    def count_tasks(self) -> int:
        """How many task documents the store holds (all runs, visible or not)."""

    # -- leftovers of interrupted writes -----------------------------------------------
    def leftovers(self) -> list[dict[str, Any]]:
        """What interrupted imports or deletions left behind, one dict per item
        (``kind``, ``id`` and counts); empty when the store is clean. The default suits a
        store whose every write is atomic: it can leave nothing."""
        return []

    def repair(self) -> list[dict[str, Any]]:
        """Remove the leftovers (never a complete run, never a running import's data) and
        return what was removed."""
        return []

    # -- following new runs, and provcausal watch's own state (``provcausal.watch``) ------
    #: Whether watch checkpoints and alerts can be kept in this store's own metadata.
    keeps_watch_state = False
    #: Seconds by which a run may appear in the store after a run with a later position (a
    #: publish that overtakes another); a follower looks back this far. 0: never.
    arrival_slack = 30.0

    def runs_after(
        self, workflow: str, after: dict[str, Any] | None, limit: int = 200
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Visible runs of ``workflow`` that arrived after position ``after`` (``None``: from
        the first), in arrival order, at most ``limit``, each as ``(position, document)``.
        Positions are JSON-able. This default orders the workflow's documents by
        ``(utc_timestamp, workflow_id)`` after reading them all (FlowCept's LMDB has no
        index); stores with an index override it."""
        docs = [d for d in self._workflow_docs(workflow, None) if is_visible(d)]
        keyed = sorted(
            (({"ts": float(d["utc_timestamp"]), "id": str(d["workflow_id"])}, d)
             for d in docs if isinstance(d.get("utc_timestamp"), (int, float))),
            key=lambda pair: (pair[0]["ts"], pair[0]["id"]),
        )  # fmt: skip
        if after is not None:
            mark = (float(after["ts"]), str(after["id"]))
            keyed = [p for p in keyed if (p[0]["ts"], p[0]["id"]) > mark]
        return keyed[:limit]

    def refresh(self) -> None:
        """Forget what was cached, so that the next read sees what was written since."""
        return None

    def get_watch_state(self, key: str) -> dict[str, Any] | None:
        """The checkpoint ``provcausal watch`` saved under ``key``, or ``None``."""
        raise StoreError(f"{self.uri} is read-only: watch state cannot be kept here")

    def put_watch_state(self, key: str, state: dict[str, Any]) -> None:
        """Save a watch checkpoint (provcausal's own metadata, never a FlowCept document)."""
        raise StoreError(f"{self.uri} is read-only: watch state cannot be kept here")

    def add_alert(self, alert: dict[str, Any]) -> None:
        """Keep one alert (``alert["id"]``, ``alert["workflow"]``); an id kept before is
        replaced, so a repeated write never makes a second alert."""
        raise StoreError(f"{self.uri} is read-only: alerts cannot be kept here")

    def list_alerts(self, workflow: str | None = None) -> list[dict[str, Any]]:
        """Alerts kept with :meth:`add_alert`, oldest first."""
        return []


def _with_label(doc: dict[str, Any], label: str) -> dict[str, Any]:
    """A copy of a workflow document showing a label given with ``Store.set_label``."""
    custom = dict(doc.get(META) or {})
    custom[PC] = {**(custom.get(PC) or {}), "label": label}
    return {**doc, META: custom}
