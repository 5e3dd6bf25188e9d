"""provcausal: dataflow provenance as W3C PROV in FlowCept's layout, and causal attribution.

The top-level verbs are imported lazily so that ``import provcausal`` stays fast; the heavy
analysis stack (dowhy) loads only when an analysis runs.

>>> import provcausal
>>> provcausal.__version__
'0.1.0'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "open_store": "provcausal.stores",
    "Store": "provcausal.stores",
    "import_paths": "provcausal.ingest",
    "get_importer": "provcausal.importers",
    "detect_system": "provcausal.importers",
    "list_workflows": "provcausal.queries",
    "list_runs": "provcausal.queries",
    "list_tasks": "provcausal.queries",
    "list_nodes": "provcausal.queries",
    "node_labels": "provcausal.queries",
    "delete_run": "provcausal.queries",
    "lineage": "provcausal.queries",
    "export_prov": "provcausal.queries",
    "export_document": "provcausal.queries",
    "causal_graph": "provcausal.analysis",
    "sample_data": "provcausal.analysis",
    "attribute": "provcausal.analysis",
    "anomalies": "provcausal.analysis",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'provcausal' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
