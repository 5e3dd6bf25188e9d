"""JSON-LD without the network: the standard PROV context is known locally, nothing is fetched.

A JSON-LD document may name its ``@context`` (or ``@import`` one) by URL; a JSON-LD processor
would then download it, or read a local file for a relative or ``file:`` reference. An
importer must do neither: the bytes the user named are the only input. The PROV-O context
(``http://www.w3.org/ns/prov`` and its spellings) is replaced by the local
:data:`PROV_CONTEXT`; any other referenced context is a :class:`BadInputError` naming it.
"""

from __future__ import annotations

import json
from typing import Any

from provcausal.importers.base import check_nesting

from provcausal.errors import BadInputError

__all__ = ["PROV_CONTEXT", "KNOWN_CONTEXTS", "inline_contexts", "looks_like_jsonld"]

PROV = "http://www.w3.org/ns/prov#"
XSD = "http://www.w3.org/2001/XMLSchema#"

_CLASSES = [
    "Entity",
    "Activity",
    "Agent",
    "Bundle",
    "Collection",
    "EmptyCollection",
    "Person",
    "Organization",
    "SoftwareAgent",
    "Plan",
    "Location",
    "Usage",
    "Generation",
    "Start",
    "End",
    "Invalidation",
    "Communication",
    "Association",
    "Attribution",
    "Delegation",
    "Derivation",
    "Revision",
    "Quotation",
    "PrimarySource",
    "Influence",
]
_LINKS = [
    "used",
    "wasGeneratedBy",
    "wasInformedBy",
    "wasStartedBy",
    "wasEndedBy",
    "wasInvalidatedBy",
    "wasDerivedFrom",
    "wasRevisionOf",
    "wasQuotedFrom",
    "hadPrimarySource",
    "wasAttributedTo",
    "wasAssociatedWith",
    "actedOnBehalfOf",
    "specializationOf",
    "alternateOf",
    "hadMember",
    "hadPlan",
    "hadRole",
    "hadActivity",
    "hadGeneration",
    "hadUsage",
    "agent",
    "entity",
    "activity",
    "atLocation",
    "generated",
    "invalidated",
    "influenced",
    "wasInfluencedBy",
    "qualifiedUsage",
    "qualifiedGeneration",
    "qualifiedAssociation",
    "qualifiedAttribution",
    "qualifiedDerivation",
    "qualifiedCommunication",
    "qualifiedStart",
    "qualifiedEnd",
    "qualifiedDelegation",
    "qualifiedInvalidation",
    "qualifiedRevision",
    "qualifiedQuotation",
    "qualifiedPrimarySource",
    "qualifiedInfluence",
]
_TIMES = ["startedAtTime", "endedAtTime", "generatedAtTime", "invalidatedAtTime", "atTime"]

#: The PROV-O JSON-LD context, known locally: prefixes, classes, and properties with the
#: right value types (links are ``@id``s, times ``xsd:dateTime``).
PROV_CONTEXT: dict[str, Any] = {
    "prov": PROV,
    "xsd": XSD,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    **{name: PROV + name for name in _CLASSES},
    **{name: {"@id": PROV + name, "@type": "@id"} for name in _LINKS},
    **{name: {"@id": PROV + name, "@type": XSD + "dateTime"} for name in _TIMES},
    "value": PROV + "value",
    "label": "http://www.w3.org/2000/01/rdf-schema#label",
}

#: Context URLs that mean the PROV-O context (with or without ``#``, ``.jsonld``, https).
KNOWN_CONTEXTS: dict[str, dict[str, Any]] = {
    f"{scheme}://www.w3.org/ns/prov{tail}": PROV_CONTEXT
    for scheme in ("http", "https")
    for tail in ("", "#", ".jsonld", "-o", "-o#")
}


def looks_like_jsonld(head: str) -> bool:
    """JSON-LD from its first characters: a context or graph, or expanded PROV-O."""
    if not head.startswith(("{", "[")):
        return False
    if '"@context"' in head or '"@graph"' in head:
        return True
    return '"@id"' in head and ("@type" in head) and PROV in head


def _resolve(context: Any, where: str) -> Any:
    """A context with every reference to another context replaced by its local copy."""
    if isinstance(context, list):
        return [_resolve(item, where) for item in context]
    if isinstance(context, str):
        known = KNOWN_CONTEXTS.get(context.strip())
        if known is None:
            raise BadInputError(
                f"refers to the JSON-LD context {context!r}, which provcausal does not know "
                "and never fetches or reads: put the context inline (only the PROV-O context "
                "is known)",
                path=where,
                key="@context",
            )
        return known
    if isinstance(context, dict):
        out = {}
        for key, value in context.items():
            if key == "@import":
                imported = _resolve(value, where)
                out.update({k: v for k, v in imported.items() if k not in context})
                continue
            # Scoped contexts live inside term definitions.
            if isinstance(value, dict) and "@context" in value:
                value = {**value, "@context": _resolve(value["@context"], where)}
            out[key] = value
        return out
    return context


def _walk(node: Any, where: str) -> Any:
    if isinstance(node, list):
        return [_walk(item, where) for item in node]
    if isinstance(node, dict):
        return {
            key: _resolve(value, where) if key == "@context" else _walk(value, where)
            for key, value in node.items()
        }
    return node


def inline_contexts(text: str, where: str) -> str:
    """``text`` (JSON-LD) with every context inline; errors name the file ``where``."""
    check_nesting(text, where)  # rdflib's reader recurses per level
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"not JSON: {exc.msg}", path=where, line=exc.lineno) from None
    return json.dumps(_walk(data, where))
