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
from urllib.parse import quote, quote_plus, unquote, urlsplit

from provcausal.errors import StoreError

__all__ = [
    "DEFAULT_STORE",
    "ENV_STORE",
    "redact_uri",
    "redact_text",
    "uri_secrets",
    "sqlite_path",
    "flowcept_mongo_uri",
]

ENV_STORE = "PROVCAUSAL_STORE"
DEFAULT_STORE = "sqlite:.provcausal/store.db"

#: A URI token: scheme, then everything up to whitespace or a quote.
_URI_TOKEN = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<rest>[^\s'\"<>]*)", re.I)
#: Query options that carry secrets (matched case-insensitively, as MongoDB reads them).
_SECRET_OPTION = re.compile(
    r"(?P<key>[^&=?#;]*(?:password|passwd|pwd|secret|token|credential|"
    r"authmechanismproperties)[^&=?#;]*)=(?P<value>[^&#;]*)",
    re.I,
)


def _split_userinfo(rest: str) -> tuple[str, str, str] | None:
    """(user, password, after) of ``user:password@after``: the password runs to the *last*
    ``@`` (an unescaped ``@`` in a password is still the password, as pymongo reads it)."""
    cut = rest.split("?", 1)[0].split("#", 1)[0]
    at = cut.rfind("@")
    if at < 0 or ":" not in cut[:at]:
        return None
    user, password = cut[:at].split(":", 1)
    return user, password, rest[at + 1 :]


def _redact_token(match: re.Match[str]) -> str:
    scheme, rest = match["scheme"], match["rest"]
    parts = _split_userinfo(rest)
    if parts is not None:
        rest = f"{parts[0]}:***@{parts[2]}"
    head, mark, query = rest.partition("?")
    if mark:
        query = _SECRET_OPTION.sub(lambda m: f"{m['key']}=***", query)
    return f"{scheme}{head}{mark}{query}"


def redact_uri(uri: str) -> str:
    """``uri`` (or any text holding URIs) with every password, and the value of every
    secret-bearing query option, replaced by ``***``.

    >>> redact_uri("mongodb://bob:s3cret@db.example:27017/flowcept")
    'mongodb://bob:***@db.example:27017/flowcept'
    >>> redact_uri("mongodb://bob:p@ss@db/x?tlsCertificateKeyFilePassword=k")
    'mongodb://bob:***@db/x?tlsCertificateKeyFilePassword=***'
    """
    return _URI_TOKEN.sub(_redact_token, uri)


def uri_secrets(uri: str) -> set[str]:
    """Every secret ``uri`` holds, raw, percent-decoded and re-encoded: its password and the
    values of its secret-bearing query options (and their ``KEY:value`` parts)."""
    found: list[str] = []
    match = _URI_TOKEN.search(uri)
    if match:
        parts = _split_userinfo(match["rest"])
        if parts is not None:
            found.append(parts[1])
        query = match["rest"].partition("?")[2]
        for option in _SECRET_OPTION.finditer(query):
            found.append(option["value"])
            found.extend(v.split(":", 1)[-1] for v in option["value"].split(","))
    secrets = set()
    for raw in found:
        for form in (raw, unquote(raw), quote_plus(unquote(raw)), quote(unquote(raw), safe="")):
            if len(form) >= 3:  # a one- or two-letter secret would blank out ordinary text
                secrets.add(form)
    return secrets


def redact_text(text: str, uri: str) -> str:
    """``text`` with every URI redacted and every form of ``uri``'s secrets removed."""
    text = redact_uri(text)
    for secret in sorted(uri_secrets(uri), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def sqlite_path(uri: str) -> Path:
    """The file a ``sqlite:`` URI names."""
    rest = uri[len("sqlite:") :]
    if rest.startswith("//"):
        rest = rest[2:]
        if not rest.startswith("/"):
            raise StoreError(f"{uri}: write sqlite:///absolute/path or sqlite:relative/path")
    if not rest:
        raise StoreError(f"{uri}: no file named")
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
