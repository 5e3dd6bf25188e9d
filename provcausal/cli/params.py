"""click parameter types shared by commands."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

__all__ = ["TIME", "parse_time"]


def parse_time(text: str) -> dt.datetime:
    """ISO 8601 (a date, or date and time; UTC when no offset) or epoch seconds."""
    text = text.strip()
    try:
        return dt.datetime.fromtimestamp(float(text), dt.timezone.utc)
    except ValueError:
        pass
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


class TimeType(click.ParamType):
    name = "time"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            return parse_time(str(value))
        except ValueError:
            self.fail(f"{value!r} is neither ISO 8601 nor epoch seconds", param, ctx)


TIME = TimeType()
