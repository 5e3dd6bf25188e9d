"""Stores: where provenance lives. One interface (:class:`Store`), two implementations.

>>> from provcausal.stores import open_store
>>> with open_store("sqlite:///tmp/provcausal-doctest.db") as store:
...     isinstance(store.find_runs(), list)
True
"""

from __future__ import annotations

import os

from provcausal.errors import ProvcausalError, StoreUriError
from provcausal.stores.base import Store, is_visible, run_label
from provcausal.stores.uri import (
    DEFAULT_STORE,
    ENV_STORE,
    redact_uri,
    scheme_of,
    shorten,
    sqlite_path,
)

__all__ = ["Store", "open_store", "resolve_store_uri", "is_visible", "run_label", "redact_uri"]


def resolve_store_uri(uri: str | None = None) -> str:
    """The URI to use: the one given, else ``$PROVCAUSAL_STORE``, else the embedded default."""
    return uri or os.environ.get(ENV_STORE) or DEFAULT_STORE


def open_store(uri: str | None = None, *, timeout_ms: int = 3000, create: bool = True) -> Store:
    """Open the store a URI names (see :mod:`provcausal.stores.uri`); use it with ``with``.

    ``create=False`` refuses to create a store that does not exist yet, embedded file or
    MongoDB database (read-only callers must not leave empty databases behind a typo).
    """
    uri = resolve_store_uri(uri)
    scheme = scheme_of(uri)
    if scheme == "sqlite":
        from provcausal.stores.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(uri), uri=uri, create=create)
    if scheme in ("mongodb", "mongodb+srv"):
        from provcausal.stores.mongo import MongoStore

        return MongoStore(uri, timeout_ms=timeout_ms, create=create)
    if scheme == "flowcept":
        return _open_flowcept(timeout_ms, create)
    if scheme == "lmdb":
        from provcausal.stores.lmdb import LMDBStore, lmdb_path

        return LMDBStore(lmdb_path(uri))
    if uri.endswith((".db", ".sqlite", ".sqlite3")) and "://" not in uri:
        from provcausal.stores.sqlite import SQLiteStore

        return SQLiteStore(uri, uri=f"sqlite:{uri}", create=create)
    raise StoreUriError(
        f"unknown store {shorten(redact_uri(uri))!r}: use sqlite:///path, mongodb://host/db, "
        "mongodb+srv://…, lmdb:///path or flowcept"
    )


def _open_flowcept(timeout_ms: int, create: bool) -> Store:
    """The database FlowCept's own settings enable: MongoDB, else LMDB (read-only)."""
    from provcausal.stores.flowcept_settings import load_flowcept_settings

    settings = load_flowcept_settings()
    if settings.database() == "mongodb":
        from provcausal.stores.mongo import MongoStore

        mongo_uri = settings.mongo_connection_uri()
        # a URI from ${oc.env:SECRET} shows as the expression (the whole value may be secret)
        shown = settings.expressions.get("uri") if settings.mongo_uri else None
        try:
            return MongoStore(
                mongo_uri,
                settings.mongo_db,
                timeout_ms=timeout_ms,
                display_uri=f"flowcept ({shown or redact_uri(mongo_uri)})",
                create=create,
            )
        except ProvcausalError as exc:  # no ${oc.env:…} value in the message, ever
            exc.args = tuple(settings.hide_values(str(a)) for a in exc.args)
            raise
    from provcausal.stores.lmdb import LMDBStore

    return LMDBStore(settings.lmdb_path, where=settings.path, key="databases.lmdb.path")
