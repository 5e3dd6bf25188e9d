"""PROV export: a run's document exactly as imported, or a workflow's runs merged.

Runs FlowCept captured itself have no stored PROV document: it is written from their task
documents (:func:`provcausal.mapping.flowcept_to_prov`). Formats are prov's serializers:
PROV-JSON, PROV-N, PROV-XML (lxml), Turtle and JSON-LD (rdflib); lxml and rdflib are core
dependencies (``prov[rdf,xml]``) so that every advertised format works after ``pip install .``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import prov.model as pm

from provcausal.errors import BadInputError, MissingDependencyError, NotFoundError
from provcausal.mapping import flowcept_to_prov
from provcausal.stores import Store

__all__ = ["FORMATS", "EXTENSIONS", "format_for_path", "run_document", "export_prov", "serialize"]

#: CLI format name → (prov serializer, keyword arguments, extra that provides it).
FORMATS: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "json": ("json", {}, None),
    "provn": ("provn", {}, None),
    "xml": ("xml", {}, "xml"),
    "ttl": ("rdf", {"rdf_format": "turtle"}, "rdf"),
    "jsonld": ("rdf", {"rdf_format": "json-ld"}, "rdf"),
}


#: File extension → format, for ``export -o FILE`` without ``--format``.
EXTENSIONS = {
    ".json": "json",
    ".provn": "provn",
    ".xml": "xml",
    ".provx": "xml",
    ".ttl": "ttl",
    ".jsonld": "jsonld",
}


def format_for_path(path: str) -> str:
    """The export format a file name asks for; an unknown extension is a usage error."""
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise BadInputError(
            f"cannot tell the format from the extension {suffix or '(none)'!r}: use "
            f"{', '.join(EXTENSIONS)} or give --format",
            path=path,
        )
    return EXTENSIONS[suffix]


def run_document(store: Store, run_id: str) -> pm.ProvDocument:
    """The PROV document of one visible run."""
    run = store.get_run(run_id)
    if run is None:
        raise NotFoundError(f"no run {run_id!r} in {store.uri}")
    text = store.get_prov_json(run_id)
    if text is not None:
        return pm.ProvDocument.deserialize(content=text, format="json")
    return flowcept_to_prov(run, list(store.find_tasks([run_id])))


def export_prov(
    store: Store,
    run: str | None = None,
    workflow: str | None = None,
    labels: Sequence[str] | None = None,
) -> pm.ProvDocument:
    """One run's document, or the union of the documents of a workflow's (labelled) runs."""
    if run is not None:
        return run_document(store, run)
    if workflow is None:
        raise NotFoundError("give a run id or a workflow")
    runs = store.find_runs(workflow=workflow, labels=labels)
    if not runs:
        raise NotFoundError(
            f"no runs of workflow {workflow!r}"
            + (f" labelled {', '.join(labels)}" if labels else "")
        )
    merged = pm.ProvDocument()
    for doc in runs:
        merged.update(run_document(store, str(doc["workflow_id"])))
    return merged


def serialize(document: pm.ProvDocument, fmt: str, *, stored_json: str | None = None) -> str:
    """Text of ``document`` in ``fmt``; PROV-JSON of a single stored run is returned as stored."""
    if fmt == "json" and stored_json is not None:
        return stored_json
    try:
        name, kwargs, extra = FORMATS[fmt]
    except KeyError:
        raise NotFoundError(f"unknown format {fmt!r}; choose {', '.join(FORMATS)}") from None
    try:
        text = document.serialize(format=name, **kwargs)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{fmt} needs {exc.name}: pip install 'provcausal[{extra}]'"
        ) from None
    if isinstance(text, bytes):
        return text.decode("utf-8")
    return str(text)
