"""Watching a workflow: notice a shift of its output as runs arrive, and say which node
caused it (``provcausal watch``; see ``docs/watch.md``).

``detector`` holds the sequential test, ``follower`` reads the runs not seen before,
``samples`` takes the target's values with the analysis' own code, ``checkpoint`` keeps the
state and alerts in provcausal's own metadata, and ``watcher`` runs the loop.
"""

from __future__ import annotations

from typing import Any

from provcausal.stores import Store
from provcausal.watch.checkpoint import FileState, StoreState, state_keeper
from provcausal.watch.detector import Detector, Sample, calibrate
from provcausal.watch.follower import Follower
from provcausal.watch.watcher import Watcher, WatchOptions

__all__ = [
    "Detector",
    "FileState",
    "Follower",
    "Sample",
    "StoreState",
    "WatchOptions",
    "Watcher",
    "calibrate",
    "list_alerts",
    "state_keeper",
]


def list_alerts(
    store: Store, workflow: str | None = None, state_dir: str | None = None
) -> list[dict[str, Any]]:
    """Past alerts of ``workflow`` (all workflows: ``None``), oldest first."""
    return state_keeper(store, state_dir).alerts(workflow)
