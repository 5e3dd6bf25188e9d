"""PROV export: a run's document exactly as imported, or a workflow's runs merged.

Runs FlowCept captured itself have no stored PROV document: it is written from their task
documents (:func:`provcausal.mapping.flowcept_to_prov`). Formats are prov's serializers:
PROV-JSON, PROV-N, PROV-XML (lxml, extra ``xml``), Turtle and JSON-LD (rdflib, extra ``rdf``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import prov.model as pm

from provcausal.errors import BadInputError, MissingDependencyError, NotFoundError
from provcausal.mapping import flowcept_to_prov
from provcausal.stores import Store

__all__ = ["FORMATS", "run_document", "export_prov", "serialize", "write_atomic", "atomic_path"]

#: CLI format name → (prov serializer, keyword arguments, extra that provides it).
FORMATS: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "json": ("json", {}, None),
    "provn": ("provn", {}, None),
    "xml": ("xml", {}, "xml"),
    "ttl": ("rdf", {"rdf_format": "turtle"}, "rdf"),
    "jsonld": ("rdf", {"rdf_format": "json-ld"}, "rdf"),
}


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


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary file beside ``path`` for the caller (or a program) to fill; renamed to
    ``path`` only when the block succeeds, removed otherwise. A full disk or an interrupt
    never leaves a truncated or empty ``path``; a missing folder is a clean error."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise BadInputError(f"cannot write: {exc.strerror or exc}", path=str(path)) from None
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise BadInputError(f"cannot write: {exc.strerror or exc}", path=str(path)) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        data = text.encode("utf-8")
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    return Path(path)
