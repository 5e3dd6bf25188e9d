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
from urllib.parse import quote, quote_plus, unquote, urlsplit

from provcausal.errors import StoreUriError

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
