"""click parameter types shared by commands."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from provcausal.model.names import check_name
from provcausal.model.times import parse_time

__all__ = ["TIME", "NAME", "SEED", "check_name"]


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


class NameType(click.ParamType):
    """A workflow name or label: not empty, no control characters (a newline would break
    every table, and could forge rows)."""

    name = "name"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        try:
            return check_name(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


NAME = NameType()


#: A random seed: numpy's generators take 0 … 2**32 - 1 (``--seed -1`` is a usage error,
#: exit 2, not a ``ValueError`` deep in the analysis).
SEED = click.IntRange(0, 2**32 - 1)
