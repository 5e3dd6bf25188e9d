"""Reading the runs of one workflow that arrived since the last look, in arrival order.

The store answers :meth:`~provcausal.stores.Store.runs_after` through an indexed position
(SQLite: the ``workflows`` table's ``rowid``, which grows in commit order; MongoDB:
``(utc_timestamp, workflow_id)`` under an index; FlowCept's LMDB has no index and is read
whole, see ``docs/watch.md``). Where a run can become visible after one with a later position
(MongoDB: a slow import overtaken by a quick one), the follower looks back
``store.arrival_slack`` seconds and skips the runs it has already taken.

Runs FlowCept captured get their workflow document when they start and their tasks while
they run; such a run is taken once FlowCept marked it finished (``ended_at``) at least
``settle`` seconds ago, so that FlowCept's inserter has written its tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from provcausal.model import flowcept as fc
from provcausal.model.times import to_epoch
from provcausal.stores import Store

__all__ = ["Follower", "PAGE", "MAX_PENDING", "UNFINISHED_AFTER"]

#: Runs read per query.
PAGE = 200
#: Captured runs waiting to finish that are remembered (the oldest is given up beyond this).
MAX_PENDING = 1000
#: A captured run that has not finished after this many seconds is taken as it is.
UNFINISHED_AFTER = 600.0


def _captured(doc: dict[str, Any]) -> bool:
    """A run FlowCept wrote itself (provcausal's imports carry a write state)."""
    return fc.run_state(doc) is None


@dataclass
class Follower:
    """Where reading stopped, and the runs taken recently (for the look-back)."""

    workflow: str
    position: dict[str, Any] | None = None
    #: run id -> arrival time, for runs inside the look-back (bounded by the arrival rate).
    recent_ids: dict[str, float] = field(default_factory=dict)
    #: captured runs seen but not finished yet: run id -> utc_timestamp
    pending: dict[str, float] = field(default_factory=dict)
    settle: float = 2.0
    clock: Callable[[], float] = time.time

    def poll(self, store: Store) -> list[dict[str, Any]]:
        """The runs that arrived since the last poll and are complete, oldest first."""
        new: list[dict[str, Any]] = []
        start = self._start(store)
        while True:
            page = store.runs_after(self.workflow, start, PAGE)
            for position, doc in page:
                start = position
                run_id = str(doc["workflow_id"])
                if run_id in self.recent_ids or run_id in self.pending:
                    continue
                self._advance(position)
                self.recent_ids[run_id] = float(position.get("ts", 0.0))
                if _captured(doc):
                    self.pending[run_id] = float(doc.get("utc_timestamp") or self.clock())
                else:
                    new.append(doc)
            if len(page) < PAGE:
                break
        self._forget_old(store)
        return new + self._finished(store)

    def _start(self, store: Store) -> dict[str, Any] | None:
        if self.position is None or "ts" not in self.position or store.arrival_slack <= 0:
            return self.position
        return {"ts": float(self.position["ts"]) - store.arrival_slack, "id": ""}

    def _advance(self, position: dict[str, Any]) -> None:
        if self.position is None:
            self.position = position
        elif "seq" in position:
            self.position = max(self.position, position, key=lambda p: int(p.get("seq", 0)))
        else:
            key = (float(position["ts"]), str(position["id"]))
            if key > (float(self.position.get("ts", 0)), str(self.position.get("id", ""))):
                self.position = position

    def _forget_old(self, store: Store) -> None:
        if self.position is None or "ts" not in self.position:
            self.recent_ids.clear()
            return
        floor = float(self.position["ts"]) - store.arrival_slack - 1.0
        self.recent_ids = {r: t for r, t in self.recent_ids.items() if t >= floor}

    def _finished(self, store: Store) -> list[dict[str, Any]]:
        """Captured runs that finished ``settle`` seconds ago (or never will), in order."""
        if not self.pending:
            return []
        while len(self.pending) > MAX_PENDING:
            self.pending.pop(next(iter(self.pending)))
        now = self.clock()
        ready = []
        for doc in store.find_runs(run_ids=list(self.pending)):
            run_id = str(doc["workflow_id"])
            ended = to_epoch(doc.get("ended_at"))
            if (ended is not None and now - ended >= self.settle) or (
                now - self.pending[run_id] >= UNFINISHED_AFTER
            ):
                ready.append(doc)
        for doc in ready:
            self.pending.pop(str(doc["workflow_id"]), None)
        ready.sort(key=lambda d: (float(d.get("utc_timestamp") or 0.0), str(d["workflow_id"])))
        return ready

    # -- checkpoint ---------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "recent_ids": self.recent_ids,
            "pending": self.pending,
        }

    @classmethod
    def from_state(cls, workflow: str, state: dict[str, Any], settle: float) -> Follower:
        return cls(
            workflow,
            position=state.get("position"),
            recent_ids={str(k): float(v) for k, v in (state.get("recent_ids") or {}).items()},
            pending={str(k): float(v) for k, v in (state.get("pending") or {}).items()},
            settle=settle,
        )
