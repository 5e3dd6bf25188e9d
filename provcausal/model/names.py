"""Workflow names and run labels: what users type and every table prints.

A name must not be empty (``--workflow ""`` selects nothing and names nothing) and must hold
no control character: a newline or carriage return in a name breaks every table and can forge
rows in it.
"""

from __future__ import annotations

import re

__all__ = ["check_name"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_name(value: str, what: str = "a name") -> str:
    """``value`` if it is a usable workflow name or label, else ``ValueError`` saying why.

    >>> check_name("gcratio")
    'gcratio'
    >>> check_name("two\\nlines")
    Traceback (most recent call last):
    ...
    ValueError: a name must not contain control characters (found '\\n')
    """
    if not value.strip():
        raise ValueError(f"{what} must not be empty")
    bad = _CONTROL.search(value)
    if bad:
        raise ValueError(f"{what} must not contain control characters (found {bad.group()!r})")
    return value
