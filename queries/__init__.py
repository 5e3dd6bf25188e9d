"""Questions asked of a store, as plain functions returning pandas / networkx / prov objects.

Every function takes the store first (networkx style) and works the same on every store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Where each public name lives. The submodules are imported on first use (PEP 562), so that
#: the CLI's start-up (``provcausal --help``, ``import``) does not load pandas and networkx.
_HOME = {
    **dict.fromkeys(
        [
            "FORMATS",
            "export_document",
            "export_prov",
            "format_for_path",
            "run_document",
            "serialize",
            "write_atomic",
        ],
        "export",
    ),
    **dict.fromkeys(["lineage", "lineage_table"], "lineage"),
    **dict.fromkeys(
        [
            "delete_run",
            "delete_runs",
            "doctor",
            "label_runs",
            "list_runs",
            "list_workflows",
            "match_runs",
        ],
        "listings",
    ),
    **dict.fromkeys(["nodes_dot", "prov_dot", "write_picture"], "pictures"),
    **dict.fromkeys(["TASK_COLUMNS", "list_nodes", "list_tasks", "node_labels"], "tasks"),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


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
