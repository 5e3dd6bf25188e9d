"""Building PROV documents the way every importer needs them, and provcausal's PROV names.

One place knows provcausal's namespaces, the names of its PROV attributes (the constants below,
which :mod:`provcausal.model.convert` reads back), how values become plain PROV literals (the
prov package mishandles numpy scalars, dicts, lists and ``None``), and how a task, a data item
and a node are written. Importers describe what they read; this module writes it as PROV.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import prov.model as pm

from provcausal.errors import MissingDependencyError
from provcausal.model.ids import stable_hash

__all__ = [
    "NS_ATTR",
    "NS_ID",
    "ATTR_PREFIX",
    "ID_PREFIX",
    "NODE",
    "SAMPLE",
    "VISIT",
    "STATUS",
    "UNOBSERVED",
    "DURATION",
    "NAME",
    "NODE_NAME",
    "REPR",
    "NODE_TYPE",
    "JSON_ATTRS",
    "qualified",
    "ProvFormat",
    "FORMATS",
    "serialize",
    "deserialize",
    "new_document",
    "plain_value",
    "RunDocumentBuilder",
    "Element",
    "Relation",
    "Values",
    "ACTIVITY",
    "ENTITY",
    "AGENT",
    "USED",
    "GENERATED",
    "INFORMED",
    "DERIVED",
    "ASSOCIATED",
    "datetime_text",
    "json_value",
]

NS_ATTR = "https://provcausal.org/ns#"
NS_ID = "https://provcausal.org/id/"
ATTR_PREFIX = "provcausal"
ID_PREFIX = "pcid"

# provcausal's own PROV attributes (local names in the ``provcausal`` namespace). The builder
# writes them and the converter reads them back; nothing else spells them out.
#: On a ``provcausal:Node`` agent and on each activity: the workflow node's stable identity.
NODE = "node"
#: On an activity: the sample (message, request, run) the task belongs to.
SAMPLE = "sample"
#: On an activity: how many times the node ran before in this sample (loops), an integer >= 0.
VISIT = "visit"
#: On an activity: FlowCept's task status (``FINISHED``, ``ERROR`` ...).
STATUS = "status"
#: On an activity or entity: ``true`` when it was inferred, not observed.
UNOBSERVED = "unobserved"
#: On an activity: the node's own processing time in seconds.
DURATION = "duration"
#: On an entity: its name (a path, ``msg``, a tensor name).
NAME = "name"
#: On a node agent: the node's human-readable name (Node-RED's node name).
NODE_NAME = "nodeName"
#: On an entity written from a FlowCept value that is not a number: its JSON text.
REPR = "repr"
#: ``prov:type`` of the agents that stand for workflow nodes (``provcausal:Node``).
NODE_TYPE = "Node"

#: Source attributes whose values are objects, which the builder writes as JSON text (PROV
#: literals are scalars) and the converter decodes: SciPipe's ``params`` and ``tags``,
#: Seldon's ``headers``. Any other text stays text, however much it looks like JSON.
JSON_ATTRS = frozenset({"params", "tags", "headers"})


def qualified(local: str) -> str:
    """``provcausal:<local>``, the qualified name of one of provcausal's attributes."""
    return f"{ATTR_PREFIX}:{local}"


@dataclass(frozen=True)
class ProvFormat:
    """One PROV serialization: what users call it, its file extension, prov's serializer (and
    its options), and the provcausal extra that installs what the serializer needs."""

    name: str
    extension: str
    serializer: str
    options: dict[str, str] = field(default_factory=dict)
    extra: str | None = None


#: The PROV formats provcausal reads (``import prov``) and writes (``export``), by name.
FORMATS: dict[str, ProvFormat] = {
    f.name: f
    for f in (
        ProvFormat("json", ".json", "json"),
        ProvFormat("provn", ".provn", "provn"),
        ProvFormat("xml", ".xml", "xml", extra="xml"),
        ProvFormat("ttl", ".ttl", "rdf", {"rdf_format": "turtle"}, "rdf"),
        ProvFormat("jsonld", ".jsonld", "rdf", {"rdf_format": "json-ld"}, "rdf"),
    )
}


def _format(fmt: str) -> ProvFormat:
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown PROV format {fmt!r}; choose {', '.join(FORMATS)}") from None


def serialize(document: pm.ProvDocument, fmt: str) -> str:
    """``document`` as text in ``fmt`` (a :data:`FORMATS` name); a missing optional
    dependency raises :class:`MissingDependencyError` naming the extra to install."""
    spec = _format(fmt)
    try:
        text = document.serialize(format=spec.serializer, **spec.options)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{fmt} needs {exc.name}: pip install 'provcausal[{spec.extra}]'"
        ) from None
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)


def deserialize(text: str, fmt: str) -> pm.ProvDocument:
    """The document ``text`` holds in ``fmt``; prov's own errors pass through (the importer
    names the file), a missing optional dependency raises :class:`MissingDependencyError`."""
    spec = _format(fmt)
    try:
        return pm.ProvDocument.deserialize(content=text, format=spec.serializer, **spec.options)
    except ImportError as exc:
        raise MissingDependencyError(
            f"reading {fmt} needs {exc.name}: pip install 'provcausal[{spec.extra}]'"
        ) from None


def new_document() -> pm.ProvDocument:
    """An empty document with provcausal's two namespaces declared (prov needs them first)."""
    doc = pm.ProvDocument()
    doc.add_namespace(ATTR_PREFIX, NS_ATTR)
    doc.add_namespace(ID_PREFIX, NS_ID)
    return doc


def plain_value(value: Any) -> Any:
    """Convert ``value`` to a type prov serializes and reads back unchanged, or ``None``.

    numpy scalars become Python numbers, dicts and lists become JSON text, non-finite floats
    become strings ("nan", "inf"): PROV-JSON cannot carry them as numbers.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool:  # the common case, first
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


#: Prefixes a builder attribute key may carry (prov resolves no other one in a run document).
_KNOWN_PREFIXES = frozenset({"prov", "xsd", ATTR_PREFIX, ID_PREFIX})


def _attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes as ``prefix:local`` text -> plain value; ``None`` values are dropped and a
    bare name goes into the ``provcausal`` namespace."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        v = plain_value(value)
        if v is None:
            continue
        if ":" in key:
            if key.split(":", 1)[0] not in _KNOWN_PREFIXES:
                raise pm.ProvExceptionInvalidQualifiedName(key)
            out[key] = v
        else:
            out[f"{ATTR_PREFIX}:{key}"] = v
    return out


class Values(list[Any]):
    """Several values of one attribute (in the order added), as PROV allows; rare: only when
    an importer's own ``prov:`` attribute meets one the builder writes."""


def _add_value(attrs: dict[str, Any], key: str, value: Any) -> None:
    """Add ``value`` to ``attrs[key]``, keeping distinct values as prov does: by type and
    value (``1`` and ``True`` are two values, ``"a"`` twice is one)."""
    if key not in attrs:
        attrs[key] = value
        return
    old = attrs[key]
    values = old if type(old) is Values else Values([old])
    if not any(type(v) is type(value) and v == value for v in values):
        values.append(value)
    attrs[key] = values if len(values) > 1 else values[0]


class Element(NamedTuple):
    """An activity, entity or agent the builder wrote: its PROV-JSON kind, its local id in
    the ``pcid`` namespace, its attributes (``prefix:local`` -> plain value or
    :class:`Values`), and an activity's start and end."""

    kind: str
    ident: str
    attrs: dict[str, Any]
    start: dt.datetime | None = None
    end: dt.datetime | None = None


class Relation(NamedTuple):
    """A relation the builder wrote: its PROV-JSON kind, the local ids of its two formal
    arguments (in PROV's order), and its time (usage and generation only)."""

    kind: str
    first: str
    second: str
    time: dt.datetime | None = None


ACTIVITY, ENTITY, AGENT = "activity", "entity", "agent"
USED, GENERATED, INFORMED = "used", "wasGeneratedBy", "wasInformedBy"
DERIVED, ASSOCIATED = "wasDerivedFrom", "wasAssociatedWith"

#: The formal attributes of each relation kind, as PROV-JSON names them.
_FORMAL: dict[str, tuple[str, str, str]] = {
    USED: ("prov:activity", "prov:entity", "prov:time"),
    GENERATED: ("prov:entity", "prov:activity", "prov:time"),
    INFORMED: ("prov:informed", "prov:informant", ""),
    DERIVED: ("prov:generatedEntity", "prov:usedEntity", ""),
    ASSOCIATED: ("prov:activity", "prov:agent", ""),
}

_UTC = dt.timezone.utc
_ID = f"{ID_PREFIX}:"
_INT32 = 2**31
_INT64 = 2**63


def datetime_text(value: dt.datetime) -> str:
    """xsd:dateTime text as prov writes it: ISO 8601, an offset that is not a whole number
    of minutes moved to UTC."""
    if value.tzinfo is _UTC:  # the common case: nothing to normalise
        return value.isoformat()
    offset = value.utcoffset()
    if offset is not None and (offset.total_seconds() % 60 or offset.microseconds):
        value = value.astimezone(dt.timezone.utc)
    return value.isoformat()


def _double_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return float.__repr__(value)


def json_value(value: Any) -> Any:
    """One attribute value as PROV-JSON writes it (prov's typed literals: ints by
    magnitude, floats as xsd:double text, datetimes as xsd:dateTime)."""
    kind = type(value)
    if kind is str or kind is bool:
        return value
    if isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        datatype = (
            "xsd:int"
            if -_INT32 <= value < _INT32
            else "xsd:long"
            if -_INT64 <= value < _INT64
            else "xsd:integer"
        )
        return {"$": str(value), "type": datatype}
    if isinstance(value, float):
        return {"$": _double_text(value), "type": "xsd:double"}
    if isinstance(value, dt.datetime):
        return {"$": datetime_text(value), "type": "xsd:dateTime"}
    if type(value) is Values:
        return [json_value(v) for v in value]
    return value


class RunDocumentBuilder:
    """Writes one run's tasks, data items and nodes as PROV records.

    Ids are provcausal's deterministic ids (see :mod:`provcausal.model.ids`) in the ``pcid``
    namespace; source-specific attributes go into the ``provcausal`` namespace. The records
    are kept as plain Python values (:attr:`records`, in the order written), because creating
    ``prov`` objects was most of an import's time: :meth:`prov_json` writes their PROV-JSON
    directly (the same text prov writes for :attr:`document`), the converter reads them
    directly (:func:`provcausal.model.convert.prov_to_flowcept`), and :attr:`document`
    builds the ``prov`` document only when someone asks for it.
    """

    def __init__(self, run_id: str, workflow: str, system: str) -> None:
        self.run_id = run_id
        self.workflow = workflow
        self.system = system
        #: Every record in the order written: :class:`Element` and :class:`Relation`.
        self.records: list[Element | Relation] = []
        self._agents: dict[str, str] = {}
        self._activities: set[str] = set()
        self._entities: set[str] = set()
        self._edges: set[tuple[str, str, str]] = set()
        self._document: pm.ProvDocument | None = None

    def node_agent(self, node: str, attrs: Mapping[str, Any] | None = None) -> str:
        """The ``prov:Agent`` standing for a workflow node (created once per node); returns
        its local id."""
        agent = self._agents.get(node)
        if agent is None:
            agent = f"node-{stable_hash(self.workflow, node, length=16)}"
            values: dict[str, Any] = {
                "prov:label": node,
                f"{ATTR_PREFIX}:{NODE}": node,
                "prov:type": qualified(NODE_TYPE),
            }
            for key, value in _attrs(attrs or {}).items():
                # prov keeps an importer's own prov:label or prov:type beside the builder's
                if key in ("prov:label", "prov:type"):
                    _add_value(values, key, value)
                else:
                    values[key] = value
            self._add(Element(AGENT, agent, values))
            self._agents[node] = agent
        return agent

    def task(
        self,
        task_id: str,
        node: str,
        *,
        start: dt.datetime | None,
        end: dt.datetime | None,
        sample: str,
        visit: int = 0,
        unobserved: bool = False,
        status: str = "FINISHED",
        duration: float | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> str:
        """Add one execution of ``node`` as a ``prov:Activity`` associated with its node agent.

        ``duration`` is the node's own processing time in seconds when the source records it
        (else the converter uses end - start); ``attrs`` are kept as source attributes.
        """
        if task_id in self._activities:
            return task_id
        extra: dict[str, Any] = {
            NODE: node,
            SAMPLE: sample,
            VISIT: visit,
            STATUS: status,
            UNOBSERVED: True if unobserved else None,
        }
        extra.update(attrs or {})
        if duration is not None:
            extra[DURATION] = duration
        self._add(Element(ACTIVITY, task_id, _attrs(extra), _time(start), _time(end)))
        self._activities.add(task_id)
        self._add(Relation(ASSOCIATED, task_id, self.node_agent(node)))
        return task_id

    def entity(
        self,
        entity_id: str,
        *,
        name: str,
        value: float | int | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> str:
        """Add one data item as a ``prov:Entity`` (with ``prov:value`` when it is numeric)."""
        if entity_id in self._entities:
            return entity_id
        extra: dict[str, Any] = {NAME: name}
        extra.update(attrs or {})
        values = _attrs(extra)
        v = plain_value(value)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            _add_value(values, "prov:value", v)
        self._add(Element(ENTITY, entity_id, values))
        self._entities.add(entity_id)
        return entity_id

    def has_entity(self, entity_id: str) -> bool:
        return entity_id in self._entities

    def has_task(self, task_id: str) -> bool:
        return task_id in self._activities

    def _once(self, kind: str, a: str, b: str) -> bool:
        key = (kind, a, b)
        if key in self._edges:
            return False
        self._edges.add(key)
        return True

    def _add(self, record: Element | Relation) -> None:
        self.records.append(record)
        self._document = None

    def used(self, task_id: str, entity_id: str, time: dt.datetime | None = None) -> None:
        if self._once(USED, task_id, entity_id):
            self._add(Relation(USED, task_id, entity_id, _time(time)))

    def generated(self, entity_id: str, task_id: str, time: dt.datetime | None = None) -> None:
        if self._once(GENERATED, entity_id, task_id):
            self._add(Relation(GENERATED, entity_id, task_id, _time(time)))

    def informed(self, informed: str, informant: str) -> None:
        if informed != informant and self._once(INFORMED, informed, informant):
            self._add(Relation(INFORMED, informed, informant))

    def derived(self, generated: str, used: str) -> None:
        if generated != used and self._once(DERIVED, generated, used):
            self._add(Relation(DERIVED, generated, used))

    def prov_json(self) -> str:
        """The PROV-JSON of the records: the same text as
        ``prov_json_text(self.document)``, written without creating ``prov`` objects
        (relations get prov's blank ids ``_:id1``, ``_:id2`` … in the order written)."""
        container: dict[str, Any] = {"prefix": {ATTR_PREFIX: NS_ATTR, ID_PREFIX: NS_ID}}
        # by object (the records keep them alive): a task's times recur in its relations
        times: dict[int, str] = {}

        def time_text(value: dt.datetime) -> str:
            text = times.get(id(value))
            if text is None:
                text = times[id(value)] = datetime_text(value)
            return text

        anon = 0
        for rec in self.records:
            if isinstance(rec, Relation):
                anon += 1
                first, second, at = _FORMAL[rec.kind]
                body: dict[str, Any] = {first: _ID + rec.first, second: _ID + rec.second}
                if rec.time is not None:
                    body[at] = time_text(rec.time)
                key = f"_:id{anon}"
            else:
                body = {}
                if rec.start is not None:
                    body["prov:startTime"] = time_text(rec.start)
                if rec.end is not None:
                    body["prov:endTime"] = time_text(rec.end)
                for name, value in rec.attrs.items():
                    body[name] = value if type(value) is str else json_value(value)
                key = _ID + rec.ident
            kind = container.get(rec.kind)
            if kind is None:
                kind = container[rec.kind] = {}
            kind[key] = body
        return json.dumps(container)

    @property
    def document(self) -> pm.ProvDocument:
        """The records as a ``prov`` document, built on first use (export, pictures, tests)."""
        if self._document is None:
            self._document = self._build_document()
        return self._document

    def _build_document(self) -> pm.ProvDocument:
        doc = new_document()

        def qn(local: str) -> pm.QualifiedName:
            name = doc.valid_qualified_name(f"{ID_PREFIX}:{local}")
            assert name is not None  # the pcid namespace is always declared
            return name

        relate: dict[str, Any] = {
            USED: doc.usage,
            GENERATED: doc.generation,
            INFORMED: doc.communication,
            DERIVED: doc.derivation,
            ASSOCIATED: doc.association,
        }
        for rec in self.records:
            if isinstance(rec, Relation):
                if rec.time is not None:
                    relate[rec.kind](qn(rec.first), qn(rec.second), rec.time)
                else:
                    relate[rec.kind](qn(rec.first), qn(rec.second))
                continue
            pairs = [
                (key, v)
                for key, value in rec.attrs.items()
                for v in (value if type(value) is Values else (value,))
            ]
            if rec.kind == ACTIVITY:
                doc.activity(qn(rec.ident), rec.start, rec.end, pairs)
            elif rec.kind == ENTITY:
                doc.entity(qn(rec.ident), pairs)
            else:
                doc.agent(qn(rec.ident), pairs)
        return doc


def _time(value: dt.datetime | None) -> dt.datetime | None:
    """A record time: aware (naive is UTC), or ``None``."""
    if value is None or (type(value) is dt.datetime and value.tzinfo is not None):
        return value
    time = plain_value(value)
    if time is not None and not isinstance(time, dt.datetime):
        raise TypeError(f"a PROV time must be a datetime, not {type(value).__name__}")
    return time
