"""A read-only store over the LMDB database that FlowCept writes (``databases.lmdb``).

FlowCept 1.0.3's ``LMDBDAO`` keeps one LMDB environment (a folder holding ``data.mdb`` and
``lock.mdb``) with the named databases ``tasks`` (key: ``task_id``), ``workflows`` (key:
``workflow_id``), ``agents`` and ``dashboards``; each value is the document as JSON text, with
times as float epoch seconds. There are no secondary indexes: FlowCept scans. This store scans
once per store object to index tasks by ``workflow_id``, then reads tasks by key.

Never locking out a running FlowCept: the environment is opened ``readonly=True`` with LMDB's
normal reader locking. LMDB readers never block its writer (MVCC): a reader only takes a slot in
the reader table of ``lock.mdb`` so that the writer does not reuse pages the reader still sees.
``lock=False`` (``MDB_NOLOCK``) would skip that slot, and LMDB's documentation says the caller
must then ensure "that no readers are using old transactions while a writer is active", which
a reader next to a running FlowCept cannot. It is used only when there is no ``lock.mdb`` (no
process has the environment open with locking, and opening then creates no file in FlowCept's
folder). Read transactions are kept short (one per call), so the writer can reclaim pages.
"""

from __future__ import annotations

import json
import os
import struct
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from provcausal.errors import BadInputError, MissingDependencyError, StoreError, StoreFileError
from provcausal.model import flowcept as fc
from provcausal.model.flowcept import RunRecords
from provcausal.stores.base import Store
from provcausal.stores.where import Condition, matches

__all__ = ["LMDBStore", "lmdb_path"]

_DATABASES = (b"tasks", b"workflows", b"agents", b"dashboards")


def lmdb_path(uri: str) -> str:
    """The folder an ``lmdb:///abs/path`` or ``lmdb:rel/path`` URI names."""
    rest = uri[len("lmdb:") :]
    if rest.startswith("//"):
        rest = rest[2:]
        if not rest.startswith("/"):
            raise StoreError(f"{uri}: write lmdb:///absolute/path or lmdb:relative/path")
    if not rest:
        raise StoreError(f"{uri}: no folder named")
    return os.path.expanduser(rest)


#: LMDB's meta pages (``MDB_meta`` after a 16-byte page header, 64-bit layout): the magic,
#: the page size (``mm_dbs[FREE_DBI].md_pad``), the last page used and the transaction id.
_MAGIC = 0xBEEFC0DE
_META_PSIZE, _META_LAST_PAGE = 16 + 24, 16 + 120


def _needed_bytes(data: str) -> tuple[int, int] | None:
    """(bytes the newest meta page says the map uses, the file's size), or ``None`` when the
    file's layout is not the one checked here (then LMDB itself judges the file)."""
    try:
        with open(data, "rb") as file:
            head = file.read(4096)
            if len(head) < _META_LAST_PAGE + 16:
                return None
            magic, psize = (
                struct.unpack_from("<I", head, 16)[0],
                struct.unpack_from("<I", head, _META_PSIZE)[0],
            )
            if magic != _MAGIC or psize < 512 or psize > 65536 or psize & (psize - 1):
                return None
            file.seek(0)
            pages = file.read(2 * psize)
            size = os.fstat(file.fileno()).st_size
    except OSError:
        return None
    metas = []
    for offset in (0, psize):
        if len(pages) >= offset + _META_LAST_PAGE + 16:
            last, txnid = struct.unpack_from("<QQ", pages, offset + _META_LAST_PAGE)
            if struct.unpack_from("<I", pages, offset + 16)[0] == _MAGIC:
                metas.append((txnid, last))
    if not metas:
        return None
    _txnid, last = max(metas)
    return (last + 1) * psize, size


def _check_whole(path: str, where: str, key: str | None) -> None:
    """Refuse a ``data.mdb`` shorter than its newest meta page says: LMDB maps the file and
    a read of a page past its end kills the process with SIGBUS (a truncated copy)."""
    data = os.path.join(path, "data.mdb")
    found = _needed_bytes(data)
    if found is not None and found[1] < found[0]:
        needed, size = found
        at = data if where == path else f"{where} ({data})"
        raise StoreFileError(
            f"{at}: truncated LMDB file: it holds {size} bytes and its pages need {needed} "
            "(an incomplete copy?); copy it again from FlowCept's folder"
        )


def _open_env(path: str, where: str, key: str | None) -> Any:
    try:
        import lmdb
    except ImportError:
        raise MissingDependencyError(
            "reading FlowCept's LMDB needs the lmdb package: pip install 'provcausal[lmdb]'"
        ) from None
    if not os.path.isdir(path) or not os.path.exists(os.path.join(path, "data.mdb")):
        what = "not an LMDB environment (no data.mdb)"
        raise BadInputError(what if where == path else f"{path} is {what}", where, key=key)
    _check_whole(path, where, key)
    options: dict[str, Any] = {
        "readonly": True,
        "create": False,
        "max_dbs": len(_DATABASES),
        "subdir": True,
    }
    # No lock.mdb: no process has the environment open with locking (a writer creates it at
    # open), so there is nobody to coordinate with, and opening creates nothing.
    lock = os.path.exists(os.path.join(path, "lock.mdb"))
    try:
        return lmdb.open(path, lock=lock, **options)
    except lmdb.Error as exc:
        reason = str(exc).split(": ", 1)[-1]
        raise BadInputError(f"{path} is not a readable LMDB: {reason}", where, key=key) from None


def _in_runs(docs: list[dict[str, Any]], runs: Sequence[str] | None) -> list[dict[str, Any]]:
    """``docs`` of ``runs`` only (all when ``runs`` is ``None``)."""
    if runs is None:
        return docs
    keep = set(runs)
    return [d for d in docs if d.get("workflow_id") in keep]


class LMDBStore(Store):
    """FlowCept's LMDB, read-only. ``where``/``key`` name the setting that chose the path."""

    def __init__(self, path: str, *, where: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.uri = f"lmdb://{os.path.abspath(path)}"
        self._env = _open_env(path, where or path, key)  # says how to install lmdb if absent
        import lmdb

        self._dbs: dict[bytes, Any] = {}
        for name in (b"tasks", b"workflows"):
            try:
                self._dbs[name] = self._env.open_db(name, create=False)
            except lmdb.NotFoundError:
                self._dbs[name] = None  # FlowCept has not written one yet
            except lmdb.Error as exc:
                raise BadInputError(
                    f"{path} is not FlowCept's LMDB: {exc}", where or path, key=key
                ) from None
        self._by_workflow: dict[str, list[bytes]] | None = None

    def close(self) -> None:
        self._env.close()

    # -- FlowCept writes; this store only reads -------------------------------------------
    def put_run(self, run: RunRecords) -> None:
        raise StoreError(f"{self.uri} is FlowCept's LMDB and read-only here; import elsewhere")

    def delete_run(self, run_id: str) -> bool:
        raise StoreError(f"{self.uri} is FlowCept's LMDB and read-only here")

    # -- reading -------------------------------------------------------------------------
    def _scan(self, name: bytes) -> Iterator[tuple[bytes, dict[str, Any]]]:
        db = self._dbs.get(name)
        if db is None:
            return
        with self._env.begin(db=db, buffers=False) as txn:
            items = list(txn.cursor())
        for key, value in items:
            try:
                doc = json.loads(value)
            except ValueError:
                continue  # not a FlowCept document
            if isinstance(doc, dict):
                yield key, doc

    def _get(self, name: bytes, keys: Sequence[bytes]) -> list[dict[str, Any]]:
        db = self._dbs.get(name)
        if db is None:
            return []
        with self._env.begin(db=db) as txn:
            values = [txn.get(k) for k in keys]
        return [json.loads(v) for v in values if v is not None]

    def _index(self) -> dict[str, list[bytes]]:
        """Task keys by ``workflow_id``, from one scan (FlowCept keeps no index)."""
        if self._by_workflow is None:
            index: dict[str, list[bytes]] = defaultdict(list)
            for key, doc in self._scan(b"tasks"):
                index[str(doc.get("workflow_id"))].append(key)
            self._by_workflow = dict(index)
        return self._by_workflow

    def _workflow_docs(
        self,
        workflow: str | None,
        run_ids: Sequence[str] | None,
        where: Sequence[Condition] = (),
    ) -> Iterator[dict[str, Any]]:
        if run_ids is not None and workflow is None:
            yield from self._get(b"workflows", [str(r).encode() for r in dict.fromkeys(run_ids)])
            return
        wanted = set(run_ids) if run_ids is not None else None
        for _key, doc in self._scan(b"workflows"):
            if workflow is not None and doc.get("name") != workflow:
                continue
            if wanted is not None and doc.get("workflow_id") not in wanted:
                continue
            if where and not matches(doc, where):
                continue
            yield doc

    def find_tasks(
        self, run_ids: Sequence[str], nodes: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        index = self._index()
        only = set(nodes) if nodes is not None else None
        for run in dict.fromkeys(run_ids):
            for doc in self._get(b"tasks", index.get(str(run), [])):
                if only is None or doc.get("activity_id") in only:
                    yield doc

    def tasks_by_id(
        self, task_ids: Sequence[str], runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        docs = self._get(b"tasks", [str(t).encode() for t in dict.fromkeys(task_ids)])
        return _in_runs(docs, runs)

    def tasks_depending_on(
        self, task_ids: Sequence[str], runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        wanted = set(task_ids)
        return _in_runs(
            [
                doc
                for _key, doc in self._scan(b"tasks")
                if wanted.intersection(doc.get("dependencies") or [])
            ],
            runs,
        )

    def tasks_by_entity(
        self, entity_ids: Sequence[str], role: str, runs: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        wanted = set(entity_ids)
        out = []
        for _key, doc in self._scan(b"tasks"):
            if wanted.intersection(fc.entity_ids(doc, role)):
                out.append(doc)
        return _in_runs(out, runs)

    def get_prov_json(self, run_id: str) -> str | None:
        return None  # FlowCept's LMDB keeps no PROV documents

    def count_tasks(self) -> int:
        db = self._dbs.get(b"tasks")
        if db is None:
            return 0
        with self._env.begin(db=db) as txn:
            return int(txn.stat(db)["entries"])

    # -- following new runs -------------------------------------------------------------
    def refresh(self) -> None:
        """Forget the task index, so that tasks FlowCept wrote since are found."""
        self._by_workflow = None
