"""Every time provcausal parses or formats, in one place.

Stores keep task times as UTC datetimes and workflow times as float epoch seconds (FlowCept's
layout); sources write RFC 3339 (Go, nanoseconds), ISO 8601, or epoch (milli)seconds. Go's zero
time ``0001-01-01T00:00:00Z`` means "unknown" and becomes ``None``. A value that is not a time,
not finite, or out of range raises :class:`TimeValueError` (a ``ValueError``) with a message the
caller can put into a :class:`~provcausal.errors.BadInputError` naming its file and key.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

__all__ = [
    "UTC",
    "GO_ZERO_TIME",
    "MIN_YEAR",
    "MAX_YEAR",
    "plausible",
    "TimeValueError",
    "to_epoch",
    "to_datetime",
    "from_epoch",
    "parse_time",
    "parse_iso",
    "parse_rfc3339",
    "format_iso",
]

UTC = dt.timezone.utc

#: Go's zero ``time.Time`` as SciPipe and Seldon write it: the time is unknown.
GO_ZERO_TIME = "0001-01-01T00:00:00Z"

# datetime's own limits, as epoch seconds: year 1 .. year 9999.
_MIN_EPOCH = dt.datetime(1, 1, 2, tzinfo=UTC).timestamp()
_MAX_EPOCH = dt.datetime(9999, 12, 30, tzinfo=UTC).timestamp()


#: Years a record's time may have; outside them it is bad input (a typo or a corrupt record:
#: near the ends of datetime's and BSON's ranges, arithmetic on such times overflows).
MIN_YEAR, MAX_YEAR = 1900, 3000


def plausible(value: dt.datetime) -> bool:
    """Whether a time lies in the years :data:`MIN_YEAR` to :data:`MAX_YEAR` - 1."""
    return MIN_YEAR <= value.year < MAX_YEAR


class TimeValueError(ValueError):
    """A value is not a usable time: not a time at all, not finite, or out of range."""


def _is_go_zero(value: dt.datetime) -> bool:
    return value.year <= 1


def _checked_epoch(seconds: Any) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TimeValueError(f"not a time: {seconds!r}")
    if not math.isfinite(seconds) or not _MIN_EPOCH <= seconds <= _MAX_EPOCH:
        raise TimeValueError(f"time out of range: {seconds!r} epoch seconds")
    return float(seconds)


def from_epoch(seconds: float) -> dt.datetime:
    """A UTC datetime from epoch seconds; non-finite or out-of-range values raise.

    >>> from_epoch(0).isoformat()
    '1970-01-01T00:00:00+00:00'
    """
    return dt.datetime.fromtimestamp(_checked_epoch(seconds), UTC)


def parse_iso(text: str) -> dt.datetime | None:
    """An ISO 8601 text as an aware datetime (UTC when it has no offset); Go's zero time is
    ``None``.

    >>> parse_iso("2024-05-01T10:00:00Z").isoformat()
    '2024-05-01T10:00:00+00:00'
    >>> parse_iso(GO_ZERO_TIME) is None
    True
    """
    stripped = text.strip()
    try:
        value = dt.datetime.fromisoformat(stripped.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        m = _RFC3339.match(stripped)
        if m is None:
            raise TimeValueError(f"not an ISO 8601 time: {text[:80]!r}") from None
        parsed = _from_rfc3339(m, stripped)
        return parsed[0] if parsed is not None else None
    if _is_go_zero(value):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_epoch(value: Any) -> float | None:
    """Epoch seconds of a datetime, a number, or an ISO 8601 string; ``None`` if absent or
    Go's zero time.

    >>> to_epoch("1970-01-01T00:01:00Z")
    60.0
    >>> to_epoch(None) is None and to_epoch(GO_ZERO_TIME) is None
    True
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if _is_go_zero(value):
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, (int, float)):
        return _checked_epoch(value)
    if isinstance(value, str):
        return to_epoch(parse_iso(value))
    raise TimeValueError(f"not a time: {value!r}")


def to_datetime(value: Any) -> dt.datetime | None:
    """A UTC datetime from a datetime, epoch seconds or ISO 8601 text (FlowCept stores both)."""
    epoch = to_epoch(value)
    if epoch is None:
        return None
    return from_epoch(epoch)


def parse_time(text: str) -> dt.datetime:
    """A time a user typed: ISO 8601 (a date, or date and time; UTC when no offset) or epoch
    seconds. Raises :class:`TimeValueError` (a ``ValueError``) otherwise.

    >>> parse_time("0").isoformat()
    '1970-01-01T00:00:00+00:00'
    >>> parse_time("2024-05-01").isoformat()
    '2024-05-01T00:00:00+00:00'
    """
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return from_epoch(seconds)
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TimeValueError(f"{text!r} is neither ISO 8601 nor epoch seconds") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


def _from_rfc3339(m: re.Match[str], text: str) -> tuple[dt.datetime, int] | None:
    """(datetime, epoch ns) of a matched RFC 3339 time; ``None`` for Go's zero time."""
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if year <= 1:
        return None
    frac = (m.group(7) or "").ljust(9, "0")
    zone = m.group(8)
    tz = UTC
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        base = dt.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise TimeValueError(f"not a valid time: {text!r} ({exc})") from None
    nanos = int(frac)
    when = base.astimezone(UTC) + dt.timedelta(microseconds=nanos // 1000)
    epoch_ns = int(base.timestamp()) * 1_000_000_000 + nanos
    return when, epoch_ns


def parse_rfc3339(text: str) -> tuple[dt.datetime, int] | None:
    """An RFC 3339 time (Go's, nanoseconds and offset) as (UTC datetime, nanoseconds since
    epoch); ``None`` for Go's zero time. Raises :class:`TimeValueError` when it is not RFC 3339.

    >>> parse_rfc3339("2023-03-13T02:23:35.989429427Z")[1]
    1678674215989429427
    >>> parse_rfc3339(GO_ZERO_TIME) is None
    True
    """
    m = _RFC3339.match(text)
    if m is None:
        raise TimeValueError(f"not an RFC 3339 time: {text!r}")
    return _from_rfc3339(m, text)


def format_iso(value: dt.datetime | None, *, zulu: bool = False) -> str | None:
    """ISO 8601 text of a datetime in UTC (naive ones are taken as UTC); ``None`` stays.
    ``zulu`` writes the offset as ``Z``, as the CLI's JSON does.

    >>> format_iso(from_epoch(0))
    '1970-01-01T00:00:00+00:00'
    >>> format_iso(from_epoch(0), zulu=True)
    '1970-01-01T00:00:00Z'
    """
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z") if zulu else text
