"""Store URIs: parsing, redaction, and FlowCept's own MongoDB settings.

``sqlite:///abs/path.db`` (three slashes then an absolute path, as in ``file:///``),
``sqlite:relative/path.db``, ``mongodb://…``, ``mongodb+srv://…``, ``lmdb:///abs/folder``
(FlowCept's LMDB, read-only), or ``flowcept`` (the database that an existing FlowCept
deployment's settings enable).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote

from provcausal.errors import StoreUriError

__all__ = [
    "DEFAULT_STORE",
    "ENV_STORE",
    "redact_uri",
    "redact_text",
    "uri_secrets",
    "shorten",
    "sqlite_path",
    "flowcept_mongo_uri",
]

ENV_STORE = "PROVCAUSAL_STORE"
DEFAULT_STORE = "sqlite:.provcausal/store.db"

#: A URI token: scheme, then everything up to whitespace or a quote. The scheme may not start
#: inside a run of scheme characters (the look-behind), so a failed match costs the run once
#: and the scan stays linear however long the text. ``mongodb:/user:pw@h`` and
#: ``mongodb:user:pw@h`` (one slash or none) are tokens too: pymongo refuses them, but the
#: message that says so must not show the password.
_URI_TOKEN = re.compile(
    r"(?<![a-z0-9+.-])(?P<scheme>[a-z][a-z0-9+.-]*://|mongodb(?:\+srv)?:/?)"
    r"(?P<rest>[^\s'\"<>]*)",
    re.I,
)
#: Words that make a query option secret (matched case-insensitively, as MongoDB reads them).
_SECRET_WORDS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "credential",
    "authmechanismproperties",
)
#: Secrets looked for in a text at most: each is one pass over the text.
_MAX_SECRETS = 64
#: Characters of a URI shown in a message at most (a 40 KB URI is not echoed whole).
MAX_SHOWN = 300


def _is_secret_option(key: str) -> bool:
    key = key.lower()
    return any(word in key for word in _SECRET_WORDS)


def _options(query: str) -> Iterator[tuple[str, str | None, str, bool]]:
    """(key, value, rest, secret) of each piece of ``query`` split at ``&``/``;``: the value
    runs to ``#`` and ``rest`` is the ``#…`` after it; a separator or a piece without ``=``
    comes as (text, None, "", False). A value holding ``…password=`` (``a=b?password=x``)
    is secret too. One pass, no backtracking."""
    for part in re.split(r"([&;])", query):
        key, eq, value = part.partition("=")
        if not eq or "#" in key:
            yield part, None, "", False
            continue
        value, hash_, fragment = value.partition("#")
        secret = _is_secret_option(key) or _is_secret_option(value.rpartition("=")[0])
        yield key, value, hash_ + fragment, secret


def _redact_query(query: str) -> str:
    out = []
    for key, value, rest, secret in _options(query):
        out.append(key if value is None else f"{key}={'***' if secret else value}{rest}")
    return "".join(out)


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
        query = _redact_query(query)
    return f"{scheme}{head}{mark}{query}"


def redact_uri(uri: str) -> str:
    """``uri`` (or any text holding URIs) with every password, and the value of every
    secret-bearing query option, replaced by ``***``. Linear in the length of the text.

    >>> redact_uri("mongodb://bob:s3cret@db.example:27017/flowcept")
    'mongodb://bob:***@db.example:27017/flowcept'
    >>> redact_uri("mongodb://bob:p@ss@db/x?tlsCertificateKeyFilePassword=k")
    'mongodb://bob:***@db/x?tlsCertificateKeyFilePassword=***'
    >>> redact_uri("mongodb:/bob:s3cret@db/x")
    'mongodb:/bob:***@db/x'
    """
    return _URI_TOKEN.sub(_redact_token, uri)


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


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
        for _key, value, _rest, secret in _options(query):
            if value and secret:
                found.append(value)
                found.extend(v.split(":", 1)[-1] for v in value.split(","))
            if len(found) > _MAX_SECRETS:
                break
    secrets = set()
    for raw in found[:_MAX_SECRETS]:
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
    """The scheme of a store URI, lower-case (no URL parsing: ``mongodb://[::1`` is a URI
    pymongo refuses with a message, not a ``ValueError`` here)."""
    if uri == "flowcept":
        return "flowcept"
    return uri.split(":", 1)[0].lower()
