"""Reuse of loaded task tables between calls of the Python API, where that is safe.

In a notebook the same runs are analysed again and again (graph, data, attribution, another
target); loading their tasks is most of the cost of each call. A table is reused only when
every run was imported by provcausal and is complete: such a run's tasks are written once, by
the import that also stamps the run's document (``utc_timestamp``, the import time, and on
MongoDB the PROV chunks' token). Re-importing, deleting and importing again, or relabelling
(not part of the table) all show in the key, whichever process did it. Runs FlowCept
captured are never cached: FlowCept may still be adding tasks to them.

Caching is on only inside :func:`caching` (the verbs of :mod:`provcausal.api` turn it on), so
the CLI and library callers keep their memory profile; at most :data:`MAX_TABLES` tables are
kept, and callers get a copy.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import pandas as pd

from provcausal.model import flowcept as fc
from provcausal.stores import Store

__all__ = ["caching", "cached_table", "clear", "MAX_TABLES"]

#: How many task tables are kept (the least recently used goes first).
MAX_TABLES = 4

_ACTIVE: ContextVar[bool] = ContextVar("provcausal_table_cache", default=False)
_TABLES: OrderedDict[Hashable, pd.DataFrame] = OrderedDict()


@contextmanager
def caching() -> Iterator[None]:
    """Within this block, :func:`cached_table` reuses tables loaded before."""
    token = _ACTIVE.set(True)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def clear() -> None:
    """Forget every cached table."""
    _TABLES.clear()


def _key(store: Store, run_ids: Sequence[str]) -> Hashable | None:
    """What identifies the tables of ``run_ids`` as stored now; ``None`` when not cacheable."""
    wanted = list(dict.fromkeys(run_ids))
    docs = store.find_runs(run_ids=wanted)
    if len(docs) != len(wanted):
        return None
    stamps = []
    for doc in docs:
        stamp = doc.get("utc_timestamp")
        if fc.is_captured(doc) or fc.run_state(doc) != fc.STATE_COMPLETE or stamp is None:
            return None
        stamps.append((fc.run_id(doc), float(stamp), fc.run_prov_token(doc)))
    database = getattr(store, "database_name", "")
    return (type(store).__name__, store.uri, database, tuple(run_ids), tuple(sorted(stamps)))


def cached_table(
    store: Store, run_ids: Sequence[str], load: Callable[[], pd.DataFrame]
) -> pd.DataFrame:
    """``load()``, or a copy of the table it returned before for the same stored runs."""
    if not _ACTIVE.get() or not run_ids:
        return load()
    key = _key(store, run_ids)
    if key is None:
        return load()
    table = _TABLES.get(key)
    if table is None:
        table = load()
        _TABLES[key] = table
        while len(_TABLES) > MAX_TABLES:
            _TABLES.popitem(last=False)
    else:
        _TABLES.move_to_end(key)
    return table.copy()
