"""PROV export: a run's document exactly as imported, or a workflow's runs merged.

Runs FlowCept captured itself have no stored PROV document: it is written from their task
documents (:func:`provcausal.model.convert.flowcept_to_prov`). Formats are prov's serializers
(:data:`provcausal.model.prov.FORMATS`, the table ``import prov`` reads with too): PROV-JSON,
PROV-N, PROV-XML (lxml), Turtle and JSON-LD (rdflib); lxml and rdflib are core dependencies
(``prov[rdf,xml]``) so that every advertised format works after ``pip install .``.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import prov.model as pm

from provcausal.errors import BadInputError, InvalidParameterError, NotFoundError
from provcausal.model import prov as P
from provcausal.model.convert import flowcept_to_prov
from provcausal.stores import Store

__all__ = [
    "FORMATS",
    "EXTENSIONS",
    "format_for_path",
    "run_document",
    "export_document",
    "export_prov",
    "serialize",
    "write_atomic",
    "atomic_path",
]

#: Format name → :class:`provcausal.model.prov.ProvFormat` (one table for export and import).
FORMATS = P.FORMATS

#: File extension → format, for ``export -o FILE`` without ``--format`` (from :data:`FORMATS`,
#: plus ``.provx``, PROV-XML's registered extension).
EXTENSIONS = {
    **{f".{spec.extension.lstrip('.')}": name for name, spec in FORMATS.items()},
    ".provx": "xml",
}


def format_for_path(path: str) -> str:
    """The export format a file name asks for; an unknown extension is a usage error."""
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise InvalidParameterError(
            f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}: use "
            f"{', '.join(EXTENSIONS)} or name the format",
            "fmt",
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


def export_document(
    store: Store,
    run: str | None = None,
    workflow: str | None = None,
    labels: Sequence[str] | None = None,
) -> pm.ProvDocument:
    """One run's document, or the union of the documents of a workflow's (labelled) runs."""
    if (run is None) == (workflow is None):
        raise InvalidParameterError("give exactly one of a run or a workflow", "run", "workflow")
    if run is not None:
        return run_document(store, run)
    assert workflow is not None
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


def export_prov(
    store: Store,
    run: str | None = None,
    fmt: str = "json",
    *,
    workflow: str | None = None,
    labels: Sequence[str] | None = None,
) -> str:
    """PROV text of one run, or of a workflow's (labelled) runs merged, in ``fmt``.

    A run exported as PROV-JSON is exactly the document it was imported from, byte for byte.
    """
    if fmt not in FORMATS:
        raise InvalidParameterError(f"unknown format {fmt!r}; choose {', '.join(FORMATS)}", "fmt")
    if run is not None and workflow is None and fmt == "json":
        if store.get_run(run) is None:
            raise NotFoundError(f"no run {run!r} in {store.uri}")
        stored = store.get_prov_json(run)
        if stored is not None:
            return stored
    return serialize(export_document(store, run, workflow, labels), fmt)


def serialize(document: pm.ProvDocument, fmt: str) -> str:
    """Text of ``document`` in ``fmt`` (a :data:`FORMATS` name). PROV-XML cannot hold a
    control character at all (XML 1.0 has no escape for it): such a document is refused,
    naming the record, rather than written changed or as a file no XML reader accepts."""
    if fmt not in FORMATS:
        raise InvalidParameterError(f"unknown format {fmt!r}; choose {', '.join(FORMATS)}", "fmt")
    if fmt == "xml":
        _check_xml_text(document)
    return P.serialize(document, fmt)


#: What XML 1.0 cannot hold, even as a character reference.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _record_texts(document: pm.ProvDocument) -> Iterator[tuple[str, str]]:
    """``(record, text)`` for every identifier and attribute value of ``document``."""
    for bundle in [document, *document.bundles]:
        if bundle.identifier is not None:
            yield str(bundle.identifier), str(bundle.identifier)
        for record in bundle.get_records():
            where = str(record.identifier or record.get_type())
            yield where, where
            for key, value in record.attributes:
                yield where, str(key)
                yield where, str(value)


def _check_xml_text(document: pm.ProvDocument) -> None:
    for where, text in _record_texts(document):
        found = _NOT_XML.search(text)
        if found:
            raise InvalidParameterError(
                f"PROV-XML cannot hold the character U+{ord(found.group()):04X} of {text!r} "
                f"(in {where!r}): XML 1.0 has no way to write it; export as json, provn, "
                "ttl or jsonld instead",
                "fmt",
            )


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
