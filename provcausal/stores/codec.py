"""How documents are made safe for a store and read back unchanged.

MongoDB rejects or misreads field names that start with ``$`` or contain ``.`` or NUL; source
data (SciPipe Params, Seldon headers) may hold such keys. Both stores write keys escaped the
same reversible way (``%`` → ``%25``, ``.`` → ``%2E``, NUL → ``%00``, a leading ``$`` → ``%24``)
and unescape them on read. The embedded store also needs datetimes in its JSON text.

The names of a document's ``used`` and ``generated`` values are what FlowCept's API, UI and
dataflow view display, so there a ``.`` is kept as it is (``count1.txt``, not
``count1%2Etxt``): MongoDB 5.0 and later store field names with dots (they are only not
addressable by a dotted query path). The other escapes still apply there, so the mapping stays
reversible: :func:`unescape_keys` is the same for both.

>>> escape_record({"used": {"count1.txt": 1, "$x": 2}, "attrs": {"a.b": 3}})
{'used': {'count1.txt': 1, '%24x': 2}, 'attrs': {'a%2Eb': 3}}
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from provcausal.model.times import from_epoch

__all__ = [
    "escape_keys",
    "escape_record",
    "unescape_keys",
    "dumps",
    "loads",
    "loads_value",
    "escape_key",
    "unescape_key",
    "READABLE_FIELDS",
]

#: Top-level fields whose key names keep their dots (FlowCept displays them).
READABLE_FIELDS = ("used", "generated")

_UNESCAPE = re.compile(r"%(25|2E|24|00)")
_UTC = dt.timezone.utc


def escape_key(key: str, dots: bool = True) -> str:
    """One key made safe; ``dots=False`` keeps ``.`` (see the module docstring)."""
    if "%" in key or (dots and "." in key) or "\x00" in key:
        key = key.replace("%", "%25").replace("\x00", "%00")
        if dots:
            key = key.replace(".", "%2E")
    if key.startswith("$"):
        key = "%24" + key[1:]
    return key


def unescape_key(key: str) -> str:
    if "%" not in key:
        return key
    return _UNESCAPE.sub(lambda m: chr(int(m.group(1), 16)), key)


def escape_keys(value: Any, dots: bool = True) -> Any:
    """A copy of ``value`` whose dict keys (at every depth) are safe for MongoDB."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                key = str(key)
            if "." in key or "%" in key or "\x00" in key or key[:1] == "$":
                key = escape_key(key, dots)
            if type(item) is not str and isinstance(item, (dict, list, tuple)):
                item = escape_keys(item, dots)
            out[key] = item
        return out
    if isinstance(value, (list, tuple)):
        return [escape_keys(v, dots) if isinstance(v, (dict, list, tuple)) else v for v in value]
    return value


def escape_record(document: dict[str, Any]) -> dict[str, Any]:
    """A workflow or task document made safe, with readable ``used``/``generated`` names."""
    out = {}
    for key, item in document.items():
        dots = key not in READABLE_FIELDS
        out[escape_key(str(key))] = (
            escape_keys(item, dots) if isinstance(item, (dict, list, tuple)) else item
        )
    return out


def _clean(value: Any, dots: bool) -> bool:
    """Whether no key of ``value``, at any depth, needs escaping (nothing is copied)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str or "%" in key or "\x00" in key or key[:1] == "$":
                return False
            if dots and "." in key:
                return False
            nested = type(item) is not str and isinstance(item, (dict, list, tuple))
            if nested and not _clean(item, dots):
                return False
        return True
    return all(
        type(v) is str or not isinstance(v, (dict, list, tuple)) or _clean(v, dots) for v in value
    )


def _escape_for_text(document: dict[str, Any]) -> dict[str, Any]:
    """:func:`escape_record` for a document about to be serialized: a subtree whose keys are
    all safe (nearly always) is shared rather than copied, which halves the cost."""
    out = {}
    for key, item in document.items():
        if type(item) is not str and isinstance(item, (dict, list, tuple)):
            dots = key not in READABLE_FIELDS
            if not _clean(item, dots):
                item = escape_keys(item, dots)
        out[escape_key(str(key))] = item
    return out


def unescape_keys(value: Any) -> Any:
    """The inverse of :func:`escape_keys`."""
    if isinstance(value, dict):
        return {unescape_key(k): unescape_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unescape_keys(v) for v in value]
    return value


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_UTC)
        return {"$date": value.timestamp()}
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store a {type(value).__name__}")


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$date" in obj:
        return from_epoch(obj["$date"])
    return {unescape_key(k): v for k, v in obj.items()}


def dumps(document: dict[str, Any]) -> str:
    """JSON text for the embedded store: keys escaped, datetimes as ``{"$date": epoch}``."""
    return json.dumps(
        _escape_for_text(document),
        default=_default,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )


def loads(text: str) -> dict[str, Any]:
    """The inverse of :func:`dumps`."""
    result: dict[str, Any] = loads_value(text)
    return result


def loads_value(text: str) -> Any:
    """The inverse of :func:`dumps` for any JSON value (a part of a stored document)."""
    if "%" not in text and '"$date"' not in text:
        # Nothing to unescape and no date: the C decoder alone, without a Python call per
        # object (half the cost of reading a workflow document). :func:`dumps` never writes
        # ``%`` or ``$`` as a JSON escape, so a key to unescape always shows its ``%``.
        return json.loads(text)
    return json.loads(text, object_hook=_hook)
