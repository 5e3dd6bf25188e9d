"""Questions asked of a store, as plain functions returning pandas / networkx / prov objects.

Every function takes the store first (networkx style) and works the same on every store.
"""

from __future__ import annotations

from provcausal.queries.export import (
    FORMATS,
    export_document,
    export_prov,
    format_for_path,
    run_document,
    serialize,
    write_atomic,
)
from provcausal.queries.lineage import lineage, lineage_table
from provcausal.queries.listings import (
    delete_run,
    delete_runs,
    doctor,
    label_runs,
    list_runs,
    list_workflows,
    match_runs,
)
from provcausal.queries.pictures import nodes_dot, prov_dot, write_picture
from provcausal.queries.tasks import TASK_COLUMNS, list_nodes, list_tasks, node_labels

__all__ = [
    "list_workflows",
    "list_runs",
    "delete_run",
    "doctor",
    "delete_runs",
    "match_runs",
    "label_runs",
    "list_tasks",
    "list_nodes",
    "node_labels",
    "lineage",
    "lineage_table",
    "export_prov",
    "export_document",
    "run_document",
    "serialize",
    "FORMATS",
    "write_atomic",
    "format_for_path",
    "TASK_COLUMNS",
    "nodes_dot",
    "prov_dot",
    "write_picture",
]
