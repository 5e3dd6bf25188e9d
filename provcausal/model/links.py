"""FlowCept's own lineage rules, for tasks that FlowCept captured (no PROV entity ids).

A task depends on the tasks in its ``dependencies``, and on a task whose ``generated`` holds
the same named value as its ``used`` when that producer ended before it started (the closest
such producer wins). Tasks provcausal imported carry explicit entity ids and do not need this.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from provcausal.model.ids import stable_hash
from provcausal.model.times import to_epoch

__all__ = ["FlowceptLinks", "flowcept_links"]


def _value_key(value: Any) -> str | None:
    if value is None or value == "" or value == [] or value == {}:
        return None
    return json.dumps(value, sort_keys=True, default=str)


def _producers(
    tasks: list[Mapping[str, Any]],
) -> dict[tuple[str, str], list[tuple[float, str]]]:
    """(value name, value) → [(end time, task id)] of the tasks that generated it."""
    producers: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for task in tasks:
        end = to_epoch(task.get("ended_at"))
        for name, value in (task.get("generated") or {}).items():
            key = _value_key(value)
            if key is not None:
                producers[(name, key)].append(
                    (end if end is not None else float("-inf"), str(task["task_id"]))
                )
    return producers


class FlowceptLinks:
    """Entity identities and task-to-task edges implied by FlowCept's rules."""

    def __init__(self, tasks: Iterable[Mapping[str, Any]]) -> None:
        task_list = list(tasks)
        self._tasks = {str(t["task_id"]) for t in task_list}
        self._used_source: dict[tuple[str, str], tuple[str, str]] = {}
        self.upstream: dict[str, set[str]] = defaultdict(set)
        producers = _producers(task_list)
        for task in task_list:
            self._link(task, producers)

    def _link(
        self, task: Mapping[str, Any], producers: dict[tuple[str, str], list[tuple[float, str]]]
    ) -> None:
        """Upstream edges of one task: its ``dependencies``, then the closest earlier producer
        of each named value it used."""
        t = str(task["task_id"])
        start = to_epoch(task.get("started_at"))
        for dep in task.get("dependencies") or []:
            if str(dep) in self._tasks and str(dep) != t:
                self.upstream[t].add(str(dep))
        for name, value in (task.get("used") or {}).items():
            key = _value_key(value)
            if key is None:
                continue
            candidates = [
                (end, p)
                for end, p in producers.get((name, key), [])
                if p != t and (start is None or end <= start)
            ]
            if candidates:
                _, producer = max(candidates)
                self._used_source[(t, name)] = (producer, name)
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
