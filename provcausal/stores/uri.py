"""Store URIs: parsing, redaction, and FlowCept's own MongoDB settings.

``sqlite:///abs/path.db`` (three slashes then an absolute path, as in ``file:///``),
``sqlite:relative/path.db``, ``mongodb://…``, ``mongodb+srv://…``, or ``flowcept`` (the
MongoDB that an existing FlowCept deployment is configured with).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote, urlsplit

from provcausal.errors import StoreError, StoreUriError

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


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise StoreError(f"cannot read FlowCept settings {path}: {exc}") from None
    return data if isinstance(data, dict) else {}


def flowcept_mongo_uri(env: dict[str, str] | None = None) -> tuple[str, str]:
    """The MongoDB URI and database of the local FlowCept deployment, as FlowCept reads them.

    Settings come from the file named by ``FLOWCEPT_SETTINGS_PATH`` (else
    ``~/.flowcept/settings.yaml``), key ``databases.mongodb.{uri,host,port,db}``; the
    environment variables ``MONGO_URI``, ``MONGO_HOST`` and ``MONGO_PORT`` win over the file.
    """
    env = dict(os.environ if env is None else env)
    path = Path(env.get("FLOWCEPT_SETTINGS_PATH") or Path.home() / ".flowcept" / "settings.yaml")
    settings = _load_yaml(path) if path.exists() else {}
    mongo = ((settings.get("databases") or {}).get("mongodb")) or {}
    db = str(mongo.get("db") or "flowcept")
    uri = env.get("MONGO_URI") or mongo.get("uri")
    if uri:
        return str(uri), db
    host = env.get("MONGO_HOST") or mongo.get("host") or "localhost"
    port = int(env.get("MONGO_PORT") or mongo.get("port") or 27017)
    return f"mongodb://{host}:{port}/{db}", db


def scheme_of(uri: str) -> str:
    if uri == "flowcept":
        return "flowcept"
    return urlsplit(uri).scheme.lower() if "://" in uri else uri.split(":", 1)[0].lower()
