"""FlowCept's own lineage rules, for tasks that FlowCept captured (no PROV entity ids).

A task depends on the tasks in its ``dependencies``, and on a task whose ``generated`` holds
the same named value as its ``used`` when that producer ended before it started (the closest
such producer wins). Tasks provcausal imported carry explicit entity ids and do not need this.

Positional outputs: a plain ``@flowcept_task`` (no ``output_names``) stores its return value
as ``generated={"arg_0": v}`` while the consumer receives it under a parameter name, so the
names can never agree. An ``arg_N`` output is therefore matched on its value alone, with the
value rule of FlowCept's dataflow view (``webservice/services/dataflow.py``): the value must
not be trivial (``None``, a boolean, a string of at most one character, 0, 1 or -1), must be
equal, and the producer must have ended before the consumer started.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from provcausal.model.ids import stable_hash
from provcausal.model.times import to_epoch

__all__ = ["FlowceptLinks", "flowcept_links", "is_trivial", "is_positional"]

_POSITIONAL = re.compile(r"^arg_\d+$")


def is_positional(name: str) -> bool:
    """Whether an output name is FlowCept's positional ``arg_N``."""
    return bool(_POSITIONAL.match(name))


def is_trivial(value: Any) -> bool:
    """Values too common to imply a producer → consumer link (FlowCept's dataflow view)."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str) and len(value) <= 1:
        return True
    return isinstance(value, (int, float)) and value in (0, 1, -1)


def _value_key(value: Any) -> str | None:
    if value is None or value == "" or value == [] or value == {}:
        return None
    return json.dumps(value, sort_keys=True, default=str)


def _producers(
    tasks: list[Mapping[str, Any]],
) -> dict[tuple[str, str], list[tuple[float, str, str]]]:
    """(value name, value) → [(end time, task id, name)] of the tasks that generated it."""
    producers: dict[tuple[str, str], list[tuple[float, str, str]]] = defaultdict(list)
    for task in tasks:
        end = to_epoch(task.get("ended_at"))
        for name, value in (task.get("generated") or {}).items():
            key = _value_key(value)
            if key is not None:
                producers[(name, key)].append(
                    (end if end is not None else float("-inf"), str(task["task_id"]), name)
                )
    return producers


def _positional_producers(
    tasks: list[Mapping[str, Any]],
) -> dict[str, list[tuple[float, str, str]]]:
    """value → [(end time, task id, ``arg_N``)] for non-trivial positional outputs."""
    out: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
    for (name, key), found in _producers(tasks).items():
        if is_positional(name) and not is_trivial(json.loads(key)):
            out[key].extend(found)
    return out


class FlowceptLinks:
    """Entity identities and task-to-task edges implied by FlowCept's rules."""

    def __init__(self, tasks: Iterable[Mapping[str, Any]]) -> None:
        task_list = list(tasks)
        self._tasks = {str(t["task_id"]) for t in task_list}
        self._used_source: dict[tuple[str, str], tuple[str, str]] = {}
        self.upstream: dict[str, set[str]] = defaultdict(set)
        producers = _producers(task_list)
        positional = _positional_producers(task_list)
        for task in task_list:
            self._link(task, producers, positional)

    def _link(
        self,
        task: Mapping[str, Any],
        producers: dict[tuple[str, str], list[tuple[float, str, str]]],
        positional: dict[str, list[tuple[float, str, str]]],
    ) -> None:
        """Upstream edges of one task: its ``dependencies``, then the closest earlier producer
        of each value it used (named alike, or a positional ``arg_N`` output)."""
        t = str(task["task_id"])
        start = to_epoch(task.get("started_at"))
        for dep in task.get("dependencies") or []:
            if str(dep) in self._tasks and str(dep) != t:
                self.upstream[t].add(str(dep))
        for name, value in (task.get("used") or {}).items():
            key = _value_key(value)
            if key is None:
                continue
            found = producers.get((name, key), []) + positional.get(key, [])
            candidates = [c for c in found if c[1] != t and (start is None or c[0] <= start)]
            if candidates:
                _, producer, out_name = max(candidates)
                self._used_source[(t, name)] = (producer, out_name)
                self.upstream[t].add(producer)

    def has_task(self, task_id: str) -> bool:
        return task_id in self._tasks

    def generated_entity(self, task_id: str, name: str) -> str:
        return f"e-{stable_hash(task_id, 'generated', name)}"

    def used_entity(self, task_id: str, name: str) -> str:
        source = self._used_source.get((task_id, name))
        if source is not None:
            return self.generated_entity(*source)
        return f"e-{stable_hash(task_id, 'used', name)}"


def flowcept_links(tasks: Iterable[Mapping[str, Any]]) -> FlowceptLinks:
    """Apply FlowCept's lineage rules to a set of tasks (usually one run)."""
    return FlowceptLinks(tasks)
