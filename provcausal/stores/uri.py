"""Store URIs: parsing, redaction, and FlowCept's own MongoDB settings.

``sqlite:///abs/path.db`` (three slashes then an absolute path, as in ``file:///``),
``sqlite:relative/path.db``, ``mongodb://…``, ``mongodb+srv://…``, ``lmdb:///abs/folder``
(FlowCept's LMDB, read-only), or ``flowcept`` (the database that an existing FlowCept
deployment's settings enable).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote_plus, unquote, urlsplit

from provcausal.errors import StoreUriError

__all__ = [
    "DEFAULT_STORE",
    "ENV_STORE",
    "redact_uri",
    "redact_text",
    "sqlite_path",
    "flowcept_mongo_uri",
]

ENV_STORE = "PROVCAUSAL_STORE"
DEFAULT_STORE = "sqlite:.provcausal/store.db"

_USERINFO = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^@/\s]*)@", re.I
)


def redact_uri(uri: str) -> str:
    """``uri`` with its password (if any) replaced by ``***``.

    >>> redact_uri("mongodb://bob:s3cret@db.example:27017/flowcept")
    'mongodb://bob:***@db.example:27017/flowcept'
    """
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", uri)


def redact_text(text: str, uri: str) -> str:
    """``text`` with every form of ``uri``'s password removed (raw and percent-decoded)."""
    text = redact_uri(text)
    match = _USERINFO.search(uri)
    if match and match["pw"]:
        for secret in {match["pw"], unquote(match["pw"]), quote_plus(unquote(match["pw"]))}:
            if secret:
                text = text.replace(secret, "***")
    return text


def sqlite_path(uri: str) -> Path:
    """The file a ``sqlite:`` URI names."""
    rest = uri[len("sqlite:") :]
    if rest.startswith("//"):
        rest = rest[2:]
        if not rest.startswith("/"):
            raise StoreUriError(f"{uri}: write sqlite:///absolute/path or sqlite:relative/path")
    if not rest:
        raise StoreUriError(f"{uri}: no file named")
    return Path(os.path.expanduser(rest))


def flowcept_mongo_uri(env: dict[str, str] | None = None) -> tuple[str, str]:
    """The MongoDB URI and database of the local FlowCept deployment, as FlowCept 1.0.3 reads
    them (see :mod:`provcausal.stores.flowcept_settings`), whether or not it is enabled."""
    from provcausal.stores.flowcept_settings import load_flowcept_settings

    settings = load_flowcept_settings(env)
    return settings.mongo_connection_uri(), settings.mongo_db


def scheme_of(uri: str) -> str:
    if uri == "flowcept":
        return "flowcept"
    return urlsplit(uri).scheme.lower() if "://" in uri else uri.split(":", 1)[0].lower()
