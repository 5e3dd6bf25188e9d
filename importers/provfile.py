"""Any W3C PROV document → a run: PROV-JSON, PROV-N, PROV-XML, or PROV-O (Turtle, JSON-LD).

Provenance exported by other tools (ProvToolbox, noWorkflow, CamFlow, ProvStore) lands in the
same store. Each file is one run; the document is stored as it was read, so exporting the run
gives the same records back. Activities become tasks whose node is ``provcausal:node``, else the
associated agent's label, else the activity's ``prov:label``, else its local name.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import prov.model as pm
from prov.constants import PROV_ATTR_ACTIVITY, PROV_N_MAP
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
from provcausal.model.prov import NODE, NS_ATTR, deserialize

__all__ = ["ProvImporter", "detect_prov_format", "read_prov"]


_PROV_NS = "http://www.w3.org/ns/prov#"
#: The top-level keys of PROV-JSON: ``prefix`` and every record type (a document may hold
#: one relation only, as prov's own test documents do).
_JSON_KEYS = ('"prefix"', *(f'"{kind}"' for kind in sorted(set(PROV_N_MAP.values()))))
#: The attributes that name an activity's node (``provcausal:node``, ``prov:label``).
_NAME_KEYS = {(NS_ATTR, NODE), (_PROV_NS, "label")}
_TURTLE_START = re.compile(r"(@prefix|@base|prefix|base)\s", re.I)
_XML_ROOT = re.compile(r"<(?:[\w.-]+:)?document[\s>/]")


def _after_comments(text: str, line: str, block: tuple[str, str] | None = None) -> str:
    """``text`` from its first character that is neither blank nor in a comment (``line``
    comments run to the end of the line, ``block`` comments between two markers)."""
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if text.startswith(line, pos):
            end = text.find("\n", pos)
            pos = len(text) if end == -1 else end + 1
        elif block is not None and text.startswith(block[0], pos):
            end = text.find(block[1], pos + len(block[0]))
            pos = len(text) if end == -1 else end + len(block[1])
        else:
            return text[pos:]


def _xml_start(text: str) -> str:
    """``text`` from its first element, past the XML declaration, comments and processing
    instructions (and a DOCTYPE, which :func:`read_prov` refuses)."""
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if text.startswith("<!DOCTYPE", pos):
            bracket, close = text.find("[", pos), text.find(">", pos)
            if -1 < bracket < close:  # an internal subset: <!DOCTYPE d [ ... ]>
                close = text.find("]", bracket)
                close = -1 if close == -1 else text.find(">", close)
            if close == -1:
                return ""
            pos = close + 1
            continue
        for opening, closing in (("<?", "?>"), ("<!--", "-->")):
            if text.startswith(opening, pos):
                end = text.find(closing, pos + len(opening))
                if end == -1:
                    return ""
                pos = end + len(closing)
                break
        else:
            return text[pos:]


def detect_prov_format(text: str) -> str | None:
    """``json``, ``provn``, ``xml``, ``ttl`` or ``jsonld`` from the content (the whole text
    given: a Turtle file may declare 300 prefixes before PROV's), else ``None``. Comments
    before the content are skipped: ``#`` (Turtle), ``//`` and ``/* */`` (PROV-N), ``<!--``
    and the XML declaration (PROV-XML)."""
    text = text.lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith("<"):
        return "xml" if _XML_ROOT.match(_xml_start(stripped)) else None
    if stripped.startswith(("{", "[")):
        if looks_like_jsonld(stripped):
            return "jsonld"
        return "json" if any(k in stripped for k in _JSON_KEYS) else None
    if _after_comments(stripped, "//", ("/*", "*/")).startswith("document"):
        return "provn"
    if _TURTLE_START.match(_after_comments(stripped, "#")) and _PROV_NS in text:
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


#: The most namespace prefixes a document may declare. prov registers each one in time
#: proportional to those before it: 2,000 take 0.5 s to read, 40,000 took 167 s. Real
#: documents declare tens; provcausal's own exports, one per source tool.
MAX_PREFIXES = 1000
_JSON_PREFIXES = re.compile(r'"prefix"\s*:\s*\{([^{}]*)\}')
_PREFIX_PATTERNS = {
    "provn": re.compile(r"\bprefix\s+[^\s<]+\s*<"),
    "xml": re.compile(r"\sxmlns:"),
    "ttl": re.compile(r"^\s*(?:@prefix|prefix)\s", re.M | re.I),
    # JSON-LD terms whose value is a namespace (an IRI ending in # or /)
    "jsonld": re.compile(r'"[^"\\]*"\s*:\s*"[^"\\]*[#/]"'),
}


def count_prefixes(text: str, fmt: str) -> int:
    """How many namespace prefixes ``text`` (in ``fmt``) declares, counted on the text."""
    if fmt == "json":
        return sum(body.count('":') for body in _JSON_PREFIXES.findall(text))
    return len(_PREFIX_PATTERNS[fmt].findall(text))


def _check_prefixes(text: str, fmt: str, path: Path) -> None:
    count = count_prefixes(text, fmt)
    if count > MAX_PREFIXES:
        raise BadInputError(
            f"{count:,} namespace prefixes; the limit is {MAX_PREFIXES:,}", path=str(path)
        )


def read_prov(text: str, path: Path) -> pm.ProvDocument:
    """Deserialize a PROV document in any format prov reads; errors name the file."""
    fmt = detect_prov_format(text)
    if fmt is None:
        raise BadInputError(
            "not a PROV document (PROV-JSON, PROV-N, PROV-XML or PROV-O)", path=str(path)
        )
    _check_prefixes(text, fmt, path)
    if fmt == "provn":
        _check_provn(text, path)
    if fmt == "json":
        check_nesting(text, path)  # prov's reader and the store's encoder recurse per level
    if fmt == "xml":
        text = _plain_xml(text, path)
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


def _plain_xml(text: str, path: Path) -> str:
    """PROV-XML as prov's reader can take it: one element, without the comments and
    processing instructions around or inside it (prov trips over a comment outside the
    root). A DOCTYPE is refused: provcausal resolves no entities, and prov would drop an
    entity reference silently, leaving an empty name."""
    from lxml import etree

    body = _xml_start(text.lstrip("\ufeff"))
    prolog = text[: len(text) - len(body)]
    if "<!DOCTYPE" in prolog:
        raise BadInputError(
            "PROV-XML with a DOCTYPE: provcausal reads no DTD and resolves no entities "
            "(write the text itself instead of &entity; references)",
            path=str(path),
            line=prolog.count("\n", 0, prolog.index("<!DOCTYPE")) + 1,
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        line = prolog.count("\n") + (exc.lineno or 1)
        why = re.sub(r", line \d+, column \d+$", "", str(exc.msg))
        raise BadInputError(f"not valid XML ({why})", path=str(path), line=line) from None
    if root.tag != f"{{{_PROV_NS}}}document":
        raise BadInputError(
            f"not a PROV-XML document (its root element is {root.tag!r})", path=str(path)
        )
    return str(etree.tostring(root, encoding="unicode"))


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
        if not records:
            raise BadInputError("the document has no records", path=str(path))
        if not any(isinstance(r, pm.ProvActivity) for r in records):
            raise BadInputError(_no_activity(records), path=str(path))
        warnings = _merged_activities(document, path)
        _refuse_empty_names(records, path)
        run = ids.run_id(self.name, options.workflow, content_digest(text))
        imported = self.finish(
            document,
            run_id=run,
            source=source,
            options=options,
            samples=1,
            warnings=warnings,
            skipped=[],
        )
        return imported


def _refuse_empty_names(records: list[pm.ProvRecord], path: Path) -> None:
    """An activity's node name given empty (``provcausal:node`` or ``prov:label``, as a
    dropped entity reference leaves it) is bad input: a task is never stored nameless."""
    for record in records:
        if not isinstance(record, pm.ProvActivity):
            continue
        for key, value in record.attributes:
            namespace = getattr(getattr(key, "namespace", None), "uri", None)
            name = (namespace, getattr(key, "localpart", None))
            if name in _NAME_KEYS and not str(value).strip():
                raise BadInputError(
                    f"activity {record.identifier} has an empty {key}: a task needs a name",
                    path=str(path),
                )


def _no_activity(records: list[pm.ProvRecord]) -> str:
    """Why a document without activities makes no run: what it holds instead, and the
    activities its relations name without declaring them."""
    held = Counter(PROV_N_MAP.get(r.get_type(), str(r.get_type())) for r in records)
    named = sorted(
        {
            str(value)
            for r in records
            if isinstance(r, pm.ProvRelation)
            for key, value in r.formal_attributes
            if key == PROV_ATTR_ACTIVITY and value is not None
        }
    )
    holds = ", ".join(f"{count} {kind}" for kind, count in sorted(held.items()))
    reason = f"no activity to make a run of: the document declares none (it holds {holds})"
    if named:
        reason += f"; its relations name {', '.join(named[:5])} without declaring it an activity"
    return reason


def _merged_activities(document: pm.ProvDocument, path: Path) -> list[str]:
    """Warnings for activities defined in more than one bundle under different names:
    flattening merges them into one task, and all but one name would vanish unnoticed."""
    places: dict[str, list[tuple[str, set[str]]]] = {}
    for bundle in [document, *document.bundles]:
        where = "the document" if bundle is document else f"bundle {bundle.identifier}"
        for record in bundle.get_records(pm.ProvActivity):
            names = {
                str(value)
                for key, value in record.attributes
                if getattr(key, "localpart", "") in ("node", "label")
            }
            places.setdefault(str(record.identifier), []).append((where, names))
    warnings = []
    for ident, found in sorted(places.items()):
        if len(found) > 1 and len({frozenset(names) for _, names in found}) > 1:
            wheres = ", ".join(where for where, _ in found)
            shown = ", ".join(sorted(set().union(*(n for _, n in found))))
            warnings.append(
                f"{path}: activity {ident} is defined in {wheres} with different names "
                f"({shown}): they are merged into one task"
            )
    return warnings
