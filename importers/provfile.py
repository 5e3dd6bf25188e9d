"""Any W3C PROV document → a run: PROV-JSON, PROV-N, PROV-XML, or PROV-O (Turtle, JSON-LD).

Provenance exported by other tools (ProvToolbox, noWorkflow, CamFlow, ProvStore) lands in the
same store. Each file is one run; the document is stored as it was read, so exporting the run
gives the same records back. Activities become tasks whose node is ``provcausal:node``, else the
associated agent's label, else the activity's ``prov:label``, else its local name.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import prov.model as pm
from provcausal.importers.base import (
    ImportedRun,
    Importer,
    ImportOptions,
    RunSource,
    check_nesting,
    content_digest,
    lone_surrogate_line,
    read_text,
)
from provcausal.importers.jsonld import inline_contexts, looks_like_jsonld

from provcausal.errors import BadInputError, MissingDependencyError
from provcausal.model import ids
from provcausal.model.prov import deserialize

__all__ = ["ProvImporter", "detect_prov_format", "read_prov"]


def detect_prov_format(text: str) -> str | None:
    """``json``, ``provn``, ``xml``, ``ttl`` or ``jsonld`` from the content, else ``None``."""
    head = text.lstrip()[:4096]
    if head.startswith("document"):
        return "provn"
    if head.startswith("<") and "prov" in head and "document" in head:
        return "xml"
    if head.startswith(("{", "[")):
        if looks_like_jsonld(head):
            return "jsonld"
        keys = (
            '"prefix"',
            '"activity"',
            '"entity"',
            '"agent"',
            '"wasGeneratedBy"',
            '"used"',
            '"bundle"',
        )
        return "json" if any(k in head for k in keys) else None
    if head.startswith("@prefix") and "prov" in head:
        return "ttl"
    return None


#: The longest string literal a PROV-N file may hold. prov's PROV-N reader needs ~140 bytes
#: of memory per character of one literal (a 5 MB literal peaks at 700 MB), so longer
#: literals are refused before parsing; PROV-JSON has no such limit.
MAX_PROVN_LITERAL = 1 << 20


def longest_provn_literal(text: str) -> tuple[int, int]:
    r"""The length and start offset of the longest ``"…"`` literal in PROV-N text, found
    with ``str.find`` jumps (linear, no regular expression backtracking).

    >>> longest_provn_literal('entity(e, [prov:label="ab\\"c"])')
    (5, 22)
    """
    best = (0, 0)
    pos = text.find('"')
    while pos != -1:
        end = pos + 1
        while True:
            end = text.find('"', end)
            if end == -1:
                end = len(text)
                break
            slashes = 0
            while text[end - 1 - slashes] == "\\":
                slashes += 1
            if slashes % 2 == 0:
                break
            end += 1
        if end - pos - 1 > best[0]:
            best = (end - pos - 1, pos)
        pos = text.find('"', end + 1)
    return best


def _check_provn(text: str, path: Path) -> None:
    length, start = longest_provn_literal(text)
    if length > MAX_PROVN_LITERAL:
        raise BadInputError(
            f"a PROV-N string of {length / 2**20:.1f} MiB; the limit is "
            f"{MAX_PROVN_LITERAL / 2**20:.0f} MiB (write it as PROV-JSON instead)",
            path=str(path),
            line=text.count("\n", 0, start) + 1,
        )


def read_prov(text: str, path: Path) -> pm.ProvDocument:
    """Deserialize a PROV document in any format prov reads; errors name the file."""
    fmt = detect_prov_format(text)
    if fmt is None:
        raise BadInputError(
            "not a PROV document (PROV-JSON, PROV-N, PROV-XML or PROV-O)", path=str(path)
        )
    if fmt == "provn":
        _check_provn(text, path)
    if fmt == "json":
        check_nesting(text, path)  # prov's reader and the store's encoder recurse per level
    if fmt == "jsonld":
        text = inline_contexts(text, str(path))  # never fetch a context, never read a file
    try:
        with warnings.catch_warnings():  # prov warns about minted prefixes: not the user's problem
            warnings.simplefilter("ignore")
            document = deserialize(text, fmt)
    except MissingDependencyError:
        raise
    except Exception as exc:  # prov raises many kinds; all mean the same to the user
        raise BadInputError(
            f"cannot read this {fmt} document: {type(exc).__name__}: {str(exc)[:200]}",
            path=str(path),
        ) from None
    _check_text(document, text, path)
    return document


def _texts(document: pm.ProvDocument) -> Iterator[str]:
    """Every identifier, attribute and namespace of ``document`` as text."""
    for bundle in [document, *document.bundles]:
        yield from (ns.uri for ns in bundle.get_registered_namespaces())
        for record in bundle.get_records():
            yield str(record.identifier)
            for key, value in record.attributes:
                yield str(key)
                yield str(value)


def _check_text(document: pm.ProvDocument, text: str, path: Path) -> None:
    """Refuse what no store can hold: a lone surrogate (``"\\ud800"`` in JSON, ``\\uD800``
    in Turtle) is half of a UTF-16 pair, not text."""
    for value in _texts(document):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadInputError(
                f"{value[exc.start]!r} in {value[:60]!r} is half of a UTF-16 pair, not text",
                path=str(path),
                line=lone_surrogate_line(text),
            ) from None


class ProvImporter(Importer):
    """``provcausal import prov``: PROV documents written by any tool."""

    name = "prov"
    keeps_ids = False

    def sniff(self, head: bytes) -> bool:
        return detect_prov_format(head.decode("utf-8", "replace")) is not None

    def plan(self, paths: Sequence[Path], options: ImportOptions) -> list[RunSource]:
        files = list(self.iter_files(paths, options))
        if not files:
            raise BadInputError("no PROV documents found", path=", ".join(map(str, paths)))
        return [RunSource(key=str(f), paths=[f], display=str(f)) for f in files]

    def read(self, source: RunSource, options: ImportOptions) -> ImportedRun:
        (path,) = source.paths
        text = read_text(path)
        document = read_prov(text, path)
        flat = document.flattened() if document.has_bundles() else document
        records = list(flat.get_records())
        activities = [r for r in records if isinstance(r, pm.ProvActivity)]
        if not records:
            raise BadInputError("the document has no records", path=str(path))
        warnings = []
        if not activities:
            warnings.append(f"{path}: no activities: the run has no tasks")
        run = ids.run_id(self.name, options.workflow, content_digest(text))
        return self.finish(
            document,
            run_id=run,
            source=source,
            options=options,
            samples=1,
            warnings=warnings,
            skipped=[],
        )
