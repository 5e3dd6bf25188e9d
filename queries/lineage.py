"""Lineage: what a task or entity derives from (upstream) or leads to (downstream).

Walks the ``used``/``wasGeneratedBy`` chain one task generation at a time, with one indexed
query per step in each store (entity ids, ``dependencies``), so a depth-20 walk in a store of
a million tasks stays well under a second. Tasks FlowCept captured (no entity ids) are
followed through ``dependencies`` and FlowCept's used/generated value rule.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import pandas as pd

from provcausal.errors import InvalidParameterError, NotFoundError
from provcausal.model import flowcept as fc
from provcausal.model.links import flowcept_links
from provcausal.stores import Store

__all__ = ["lineage", "lineage_table"]


class _Walker:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.visible: dict[str, bool] = {}
        self.captured_links: dict[str, Any] = {}

    def keep(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for task in tasks:
            run = str(task.get("workflow_id"))
            if run not in self.visible:
                self.visible[run] = self.store.get_run(run) is not None
            if self.visible[run]:
                out.append(task)
        return out

    def links(self, run: str) -> Any:
        if run not in self.captured_links:
            self.captured_links[run] = flowcept_links(
                t for t in self.store.find_tasks([run]) if fc.is_captured(t)
            )
        return self.captured_links[run]


def lineage(
    store: Store,
    item_id: str,
    direction: str = "upstream",
    depth: int | None = None,
    run: str | None = None,
) -> nx.DiGraph:
    """The lineage of a task or entity as a graph (edges cause → effect: entity → task that
    used it, task → entity it generated, task → task for dependencies without entities).

    Node attributes: ``kind`` (task/entity), ``label`` (node or entity name), ``depth``
    (task generations away), ``run``, ``value``. The walk stays within the runs of the tasks
    it reached (every step's lookup names them: targeted on a sharded cluster); ``run``, when
    known, makes the first lookup targeted too (else it asks every shard).
    """
    if direction not in ("upstream", "downstream"):
        raise InvalidParameterError("direction is upstream or downstream", "direction")
    walker = _Walker(store)
    g = nx.DiGraph()
    limit = depth if depth is not None else 10**9
    entry = None if run is None else [run]
    start_tasks = walker.keep(store.tasks_by_id([item_id], entry))
    frontier: list[dict[str, Any]]
    if start_tasks:
        level = 0
        task = start_tasks[0]
        _add_task(g, task, 0)
        frontier = [task]
    else:
        level = 1
        generators = walker.keep(store.tasks_by_entity([item_id], "generated", entry))
        # Users matter downstream, or to tell an entity nobody generated from a wrong id.
        users = (
            walker.keep(store.tasks_by_entity([item_id], "used", entry))
            if direction == "downstream" or not generators
            else []
        )
        if not generators and not users:
            raise NotFoundError(f"no task or entity {item_id!r} in {store.uri}")
        owner = (generators or users)[0]
        _add_entity(g, item_id, fc.entity_info(owner, item_id), owner, 0)
        frontier = []
        if limit >= 1:
            for t in generators if direction == "upstream" else users:
                _add_task(g, t, 1)
                if direction == "upstream":
                    g.add_edge(t["task_id"], item_id)
                else:
                    g.add_edge(item_id, t["task_id"])
                frontier.append(t)
    while frontier and level < limit:
        level += 1
        frontier = _step(g, walker, frontier, direction, level)
    g.graph.update({"root": item_id, "direction": direction, "depth": depth})
    return g


def _add_task(g: nx.DiGraph, task: dict[str, Any], depth: int) -> None:
    tid = str(task["task_id"])
    if tid in g:
        return
    g.add_node(
        tid,
        kind="task",
        label=str(task.get("activity_id")),
        depth=depth,
        run=task.get("workflow_id"),
        value=fc.task_value(task),
        sample=None if fc.is_captured(task) else fc.task_sample(task),
    )


def _add_entity(
    g: nx.DiGraph, eid: str, info: dict[str, Any], task: dict[str, Any], depth: int
) -> None:
    if eid in g:
        return
    g.add_node(
        eid,
        kind="entity",
        label=str(info.get("name", eid)),
        depth=depth,
        run=task.get("workflow_id"),
        value=info.get("value"),
        sample=None,
    )


def _runs(frontier: list[dict[str, Any]]) -> list[str]:
    """The runs a step looks in: its frontier's (lookups name them, see docs/scale-out.md)."""
    return sorted({str(t["workflow_id"]) for t in frontier})


def _step(
    g: nx.DiGraph, walker: _Walker, frontier: list[dict[str, Any]], direction: str, level: int
) -> list[dict[str, Any]]:
    """One level of the walk: the tasks next to ``frontier`` in ``direction``, added to ``g``."""
    step = _step_upstream if direction == "upstream" else _step_downstream
    nxt = step(g, walker, frontier, level)
    return [t for tid, t in nxt.items() if g.nodes[tid]["depth"] == level]


def _step_upstream(
    g: nx.DiGraph, walker: _Walker, frontier: list[dict[str, Any]], level: int
) -> dict[str, dict[str, Any]]:
    """Producers of what ``frontier`` used, then the dependencies no entity explains."""
    nxt: dict[str, dict[str, Any]] = {}
    explained = _entity_step(g, walker, frontier, level, nxt, upstream=True)
    extra: dict[str, set[str]] = {}
    for task in frontier:
        deps = set(task.get("dependencies") or [])
        if fc.is_captured(task):
            deps |= walker.links(str(task.get("workflow_id"))).upstream.get(
                str(task["task_id"]), set()
            )
        for dep in deps - explained.get(task["task_id"], set()):
            extra.setdefault(dep, set()).add(task["task_id"])
    for dep_task in (
        walker.keep(walker.store.tasks_by_id(list(extra), _runs(frontier))) if extra else []
    ):
        _add_task(g, dep_task, level)
        for user_id in extra[dep_task["task_id"]]:
            g.add_edge(dep_task["task_id"], user_id)
        nxt[dep_task["task_id"]] = dep_task
    return nxt


def _entity_step(
    g: nx.DiGraph,
    walker: _Walker,
    frontier: list[dict[str, Any]],
    level: int,
    nxt: dict[str, dict[str, Any]],
    upstream: bool,
) -> dict[str, set[str]]:
    """Add the entities ``frontier`` used (``upstream``) or generated, and the tasks that
    generated or used them; returns, per task of the frontier, the tasks found through
    entities. Edges run from producer to entity to user either way."""
    own_ids, other_ids = (
        (fc.used_ids, fc.generated_ids) if upstream else (fc.generated_ids, fc.used_ids)
    )

    def edge(task_id: str, eid: str, own: bool) -> tuple[str, str]:
        return (eid, task_id) if upstream == own else (task_id, eid)

    wanted: dict[str, list[str]] = {}
    found: dict[str, set[str]] = {}
    for task in frontier:
        for eid in own_ids(task):
            _add_entity(g, eid, fc.entity_info(task, eid), task, level)
            g.add_edge(*edge(task["task_id"], eid, True))
            wanted.setdefault(eid, []).append(task["task_id"])
    if not wanted:
        return found
    role = "generated" if upstream else "used"
    for other in walker.keep(walker.store.tasks_by_entity(list(wanted), role, _runs(frontier))):
        for eid in other_ids(other):
            if eid in wanted:
                _add_task(g, other, level)
                g.add_edge(*edge(other["task_id"], eid, False))
                nxt[other["task_id"]] = other
                for task_id in wanted[eid]:
                    found.setdefault(task_id, set()).add(other["task_id"])
    return found


def _step_downstream(
    g: nx.DiGraph, walker: _Walker, frontier: list[dict[str, Any]], level: int
) -> dict[str, dict[str, Any]]:
    """Consumers of what ``frontier`` generated, tasks naming it in ``dependencies``, and
    (for FlowCept-captured tasks) later tasks linked by FlowCept's value rule."""
    nxt: dict[str, dict[str, Any]] = {}
    _entity_step(g, walker, frontier, level, nxt, upstream=False)
    ids = [t["task_id"] for t in frontier]
    for dependent in walker.keep(walker.store.tasks_depending_on(ids, _runs(frontier))):
        if dependent["task_id"] in nxt:
            continue
        _add_task(g, dependent, level)
        for dep in dependent.get("dependencies") or []:
            if dep in ids:
                g.add_edge(dep, dependent["task_id"])
        nxt[dependent["task_id"]] = dependent
    for task in frontier:
        if fc.is_captured(task):
            _value_rule_dependents(g, walker, task, level, nxt)
    return nxt


def _value_rule_dependents(
    g: nx.DiGraph,
    walker: _Walker,
    task: dict[str, Any],
    level: int,
    nxt: dict[str, dict[str, Any]],
) -> None:
    """Later tasks of the same run that FlowCept's value rule links to ``task``."""
    links = walker.links(str(task.get("workflow_id")))
    later = [t for t, ups in links.upstream.items() if task["task_id"] in ups]
    for dependent in (
        walker.keep(walker.store.tasks_by_id(later, [str(task["workflow_id"])])) if later else []
    ):
        if dependent["task_id"] not in nxt:
            _add_task(g, dependent, level)
            g.add_edge(task["task_id"], dependent["task_id"])
            nxt[dependent["task_id"]] = dependent


def lineage_table(graph: nx.DiGraph) -> pd.DataFrame:
    """The lineage graph's nodes as a table, nearest first."""
    rows = [
        {
            "id": n,
            **{
                k: graph.nodes[n].get(k)
                for k in ("kind", "label", "depth", "run", "sample", "value")
            },
        }
        for n in graph.nodes
    ]
    frame = pd.DataFrame(rows, columns=["id", "kind", "label", "depth", "run", "sample", "value"])
    return frame.sort_values(["depth", "kind", "label", "id"]).reset_index(drop=True)
