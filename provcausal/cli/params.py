"""click parameter types shared by commands."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from provcausal.model.times import parse_time

__all__ = ["TIME"]


class TimeType(click.ParamType):
    name = "time"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            return parse_time(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeType()
