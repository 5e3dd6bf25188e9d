"""The verbs of ``import provcausal``, shaped for notebooks and scripts.

Each verb is the library function of the same name (same parameters, same docstring) with:

- ``store`` as a :class:`~provcausal.stores.Store` *or* a store URI (``sqlite:demo.db``,
  ``mongodb://host/db``, ``lmdb:///folder``, ``flowcept``): a URI is opened for the call and
  closed after it; verbs that only read never create a store (a typo is an error naming it);
- a progress bar inside Jupyter (``progress=None``, the default; see :mod:`provcausal.progress`)
  and none anywhere else, for the verbs that take ``progress``;
- task tables reused between calls on the same stored runs
  (:mod:`provcausal.analysis.table_cache` says when that is safe);
- results that show themselves in a notebook (:mod:`provcausal.results`).

Errors are :mod:`provcausal.errors` exceptions with a one-line message, as from the library.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from provcausal.stores import Store

__all__ = [
    "import_paths",
    "list_workflows",
    "list_runs",
    "list_tasks",
    "list_nodes",
    "node_labels",
    "delete_run",
    "lineage",
    "export_prov",
    "export_document",
    "causal_graph",
    "sample_data",
    "attribute",
    "anomalies",
    "StoreLike",
]

#: What a verb's ``store`` can be: an open store, or the URI of one.
StoreLike = Store | str | os.PathLike

_STORE_NOTE = """

``store``: a :class:`provcausal.Store` or a store URI (``sqlite:demo.db``,
``mongodb://host/db``, ``lmdb:///folder``, ``flowcept``), opened for this call only."""

_PROGRESS_NOTE = """
``progress``: ``None`` (default) draws a progress bar in Jupyter and nothing elsewhere,
``False`` none, a callable is called as the library function calls it."""


@contextmanager
def _opened(store: StoreLike, create: bool) -> Iterator[Store]:
    """``store`` itself, or the store its URI names, open for the block."""
    if isinstance(store, Store):
        yield store
        return
    if not isinstance(store, (str, os.PathLike)):
        from provcausal.errors import InvalidParameterError

        raise InvalidParameterError(
            f"store is a Store or a store URI, not {type(store).__name__}", "store"
        )
    from provcausal.stores import open_store

    with open_store(os.fspath(store), create=create) as opened:
        yield opened


def _caption(what: str, args: inspect.BoundArguments) -> str:
    workflow = args.arguments.get("workflow")
    run = args.arguments.get("run")
    return what + (f" of {workflow}" if workflow else "") + (f" of run {run}" if run else "")


def _verb(
    module: str,
    name: str,
    *,
    writes: bool = False,
    progress: str | None = None,
    iterates: bool = False,
    shape: Callable[[Any, inspect.BoundArguments, Store], Any] | None = None,
) -> Callable[..., Any]:
    """The notebook-friendly form of ``module.name`` (see the module docstring)."""
    func = getattr(importlib.import_module(module), name)
    sig = inspect.signature(func)

    @functools.wraps(func)
    def verb(*args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(*args, **kwargs)
        from provcausal.analysis.table_cache import caching
        from provcausal.progress import notebook_bar

        _check_quality(bound)
        bar = None
        if progress is not None:
            given, bar = notebook_bar(progress, bound.arguments.get("progress"))
            bound.arguments["progress"] = bar.iterate if bar is not None and iterates else given
        with _opened(bound.arguments["store"], writes) as opened, caching():
            bound.arguments["store"] = opened
            try:
                result = func(*bound.args, **bound.kwargs)
            finally:
                if bar is not None:
                    bar.close()
            return shape(result, bound, opened) if shape is not None else result

    params = [
        p.replace(annotation="Store | str") if p.name == "store" else p
        for p in sig.parameters.values()
    ]
    verb.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    verb.__doc__ = (
        inspect.cleandoc(func.__doc__ or "") + _STORE_NOTE + (_PROGRESS_NOTE if progress else "")
    )
    verb.__module__ = __name__
    return verb


def _check_quality(args: inspect.BoundArguments) -> None:
    """``quality`` names one of the presets (the library would fail with a KeyError)."""
    if "quality" not in args.arguments:
        return
    from provcausal.analysis.attribution import DEFAULT_REPEATS
    from provcausal.errors import InvalidParameterError

    if args.arguments["quality"] not in DEFAULT_REPEATS:
        raise InvalidParameterError(
            f"unknown quality {args.arguments['quality']!r}; choose one of "
            f"{', '.join(DEFAULT_REPEATS)}",
            "quality",
        )


def _listing(what: str) -> Callable[[Any, inspect.BoundArguments, Store], Any]:
    def shape(frame: Any, args: inspect.BoundArguments, store: Store) -> Any:
        from provcausal.results import Listing

        return Listing.of(frame, _caption(what, args))

    return shape


def _lineage(graph: Any, args: inspect.BoundArguments, store: Store) -> Any:
    from provcausal.results import LineageGraph

    return LineageGraph(graph)


def _causal(graph: Any, args: inspect.BoundArguments, store: Store) -> Any:
    from provcausal.queries import node_labels
    from provcausal.results import CausalGraph

    return CausalGraph(graph, node_labels(store, args.arguments["workflow"]))


def _anomaly(table: Any, args: inspect.BoundArguments, store: Store) -> Any:
    from provcausal.results import AnomalyTable

    shaped = AnomalyTable(table)
    shaped.attrs.update(table.attrs)
    return shaped


def _attribution(result: Any, args: inspect.BoundArguments, store: Store) -> Any:
    for one in [result, *result.also]:
        one.store_uri = store.uri  # what report() names in its "reproduce" command
    return result


_Q = "provcausal.queries"
_A = "provcausal.analysis"

import_paths = _verb(
    "provcausal.ingest", "import_paths", writes=True, progress="importing", iterates=True
)
list_workflows = _verb(_Q, "list_workflows", shape=_listing("workflows"))
list_runs = _verb(_Q, "list_runs", shape=_listing("runs"))
list_tasks = _verb(_Q, "list_tasks", shape=_listing("tasks"))
list_nodes = _verb(_Q, "list_nodes", shape=_listing("nodes"))
node_labels = _verb(_Q, "node_labels")
delete_run = _verb(_Q, "delete_run")
lineage = _verb(_Q, "lineage", shape=_lineage)
export_prov = _verb(_Q, "export_prov")
export_document = _verb(_Q, "export_document")
causal_graph = _verb(_A, "causal_graph", shape=_causal)
sample_data = _verb(_A, "sample_data")
attribute = _verb(
    "provcausal.analysis.attribution", "attribute", progress="attributing", shape=_attribution
)
anomalies = _verb("provcausal.analysis.anomaly", "anomalies", progress="anomalies", shape=_anomaly)
