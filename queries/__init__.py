"""Questions asked of a store, as plain functions returning pandas / networkx / prov objects.

Every function takes the store first (networkx style) and works the same on every store.
"""

from __future__ import annotations

from provcausal.queries.listings import delete_run, list_runs, list_workflows

__all__ = ["list_workflows", "list_runs", "delete_run"]
