"""Conditions on workflow-document fields: ``FIELD=VALUE`` joined with ``&``.

FIELD is a field of the run's workflow document or a dotted path into it (``campaign_id``,
``name``, ``user``, ``used.mode`` for FlowCept's ``workflow_args``, ``tags``). VALUE is text;
it also matches the number or boolean it spells (``used.n=3`` matches ``3`` and ``"3"``).
A list field matches when any element does (MongoDB's rule). Each store pushes the conditions
into its own query where it can (:func:`mongo_filter`, :func:`sql_filter`); :func:`matches` is
the one definition every store's result is checked against.

>>> conditions = parse_where("campaign_id=c1 & used.mode=faulty")
>>> conditions
[('campaign_id', 'c1'), ('used.mode', 'faulty')]
>>> matches({"campaign_id": "c1", "used": {"mode": "faulty"}}, conditions)
True
>>> matches({"campaign_id": "c1", "used": {"mode": "normal"}}, conditions)
False
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from provcausal.errors import BadInputError

__all__ = ["Condition", "parse_where", "looks_like_where", "matches", "mongo_filter", "sql_filter"]

Condition = tuple[str, str]

_MISSING = object()


def looks_like_where(text: str) -> bool:
    """Whether a selection is written as ``FIELD=VALUE`` conditions."""
    return "=" in text and ".." not in text.split("=", 1)[0]


def parse_where(text: str) -> list[Condition]:
    """``"a=1 & b.c=x"`` → ``[("a", "1"), ("b.c", "x")]``."""
    out: list[Condition] = []
    for part in text.split("&"):
        part = part.strip()
        if not part:
            continue
        field, sep, value = part.partition("=")
        field, value = field.strip(), value.strip()
        if not sep or not field or any(not seg for seg in field.split(".")):
            raise BadInputError(f"bad condition {part!r}: write FIELD=VALUE (FIELD may be a.b.c)")
        out.append((field, value))
    if not out:
        raise BadInputError(f"no condition in {text!r}: write FIELD=VALUE[&FIELD=VALUE…]")
    return out


def candidates(value: str) -> list[Any]:
    """The values the text ``value`` matches: itself, and the JSON scalar it spells."""
    out: list[Any] = [value]
    try:
        parsed = json.loads(value)
    except ValueError:
        return out
    if isinstance(parsed, (int, float, bool)) and not isinstance(parsed, str):
        out.append(parsed)
    return out


def _lookup(doc: Any, path: str) -> Any:
    node = doc
    for segment in path.split("."):
        if not isinstance(node, dict) or segment not in node:
            return _MISSING
        node = node[segment]
    return node


def _equal(stored: Any, wanted: list[Any]) -> bool:
    for w in wanted:
        if isinstance(stored, bool) != isinstance(w, bool):
            continue
        if stored == w:
            return True
    return False


def matches(doc: dict[str, Any], conditions: Sequence[Condition]) -> bool:
    """Whether a workflow document satisfies every condition."""
    for path, value in conditions:
        stored = _lookup(doc, path)
        if stored is _MISSING:
            return False
        wanted = candidates(value)
        items = stored if isinstance(stored, list) else [stored]
        if not any(_equal(item, wanted) for item in items):
            return False
    return True


def mongo_filter(conditions: Sequence[Condition]) -> dict[str, Any]:
    """The conditions as a MongoDB filter (``$in`` also matches list elements)."""
    query: dict[str, Any] = {}
    for path, value in conditions:
        wanted = {"$in": candidates(value)}
        if path in query:
            query.setdefault("$and", []).append({path: wanted})
        else:
            query[path] = wanted
    return query


def sql_filter(conditions: Sequence[Condition], column: str) -> tuple[str, list[Any]]:
    """A SQLite ``WHERE`` fragment over the JSON text in ``column`` that keeps every document
    the conditions may match (arrays pass; :func:`matches` decides them), and its arguments."""
    from provcausal.stores.codec import escape_key

    clauses, args = [], []
    for path, value in conditions:
        json_path = "$" + "".join(f'."{escape_key(seg)}"' for seg in path.split("."))
        wanted = [int(v) if isinstance(v, bool) else v for v in candidates(value)]
        marks = ",".join("?" * len(wanted))
        clauses.append(
            f"(json_extract({column}, ?) IN ({marks}) OR json_type({column}, ?) = 'array')"
        )
        args.extend([json_path, *wanted, json_path])
    return " AND ".join(clauses), args
