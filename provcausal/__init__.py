"""provcausal: dataflow provenance as W3C PROV in FlowCept's layout, and causal attribution.

The verbs (``import_paths``, ``list_runs``, ``causal_graph``, ``attribute``, ``anomalies``,
``lineage`` ...) take a :class:`Store` or a store URI first, show a progress bar in Jupyter,
and return results that show themselves in a notebook (see :mod:`provcausal.api`). They are
imported lazily so that ``import provcausal`` stays fast; the heavy analysis stack (dowhy)
loads only when an analysis runs.

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
    "import_paths": "provcausal.api",
    "get_importer": "provcausal.importers",
    "detect_system": "provcausal.importers",
    "list_workflows": "provcausal.api",
    "list_runs": "provcausal.api",
    "list_tasks": "provcausal.api",
    "list_nodes": "provcausal.api",
    "node_labels": "provcausal.api",
    "delete_run": "provcausal.api",
    "lineage": "provcausal.api",
    "export_prov": "provcausal.api",
    "export_document": "provcausal.api",
    "causal_graph": "provcausal.api",
    "sample_data": "provcausal.api",
    "attribute": "provcausal.api",
    "anomalies": "provcausal.api",
    "Attribution": "provcausal.analysis.attribution",
    "AnomalyTable": "provcausal.results",
    "CausalGraph": "provcausal.results",
    "LineageGraph": "provcausal.results",
    "Listing": "provcausal.results",
    "ProvcausalError": "provcausal.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'provcausal' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names (what tab completion offers), with the module's own attributes."""
    return sorted({*globals(), *_EXPORTS})
