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
from typing import Any

import prov.model as pm
from prov.constants import PROV_LABEL, PROV_TYPE, PROV_VALUE

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


def _attrs(attrs: Mapping[str, Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in attrs.items():
        v = plain_value(value)
        if v is None:
            continue
        out[key if ":" in key else qualified(key)] = v
    return out


class RunDocumentBuilder:
    """Writes one run's tasks, data items and nodes into a fresh PROV document.

    Ids are provcausal's deterministic ids (see :mod:`provcausal.model.ids`) in the ``pcid``
    namespace; source-specific attributes go into the ``provcausal`` namespace.
    """

    def __init__(self, run_id: str, workflow: str, system: str) -> None:
        self.run_id = run_id
        self.workflow = workflow
        self.system = system
        self.document = new_document()
        self._agents: dict[str, pm.QualifiedName] = {}
        self._activities: dict[str, pm.ProvActivity] = {}
        self._entities: dict[str, pm.ProvEntity] = {}
        self._edges: set[tuple[str, str, str]] = set()

    def _qn(self, local: str) -> pm.QualifiedName:
        qn = self.document.valid_qualified_name(f"{ID_PREFIX}:{local}")
        assert qn is not None  # the pcid namespace is always declared
        return qn

    def node_agent(self, node: str, attrs: Mapping[str, Any] | None = None) -> pm.QualifiedName:
        """The ``prov:Agent`` standing for a workflow node (created once per node)."""
        if node not in self._agents:
            qn = self._qn(f"node-{stable_hash(self.workflow, node, length=16)}")
            self.document.agent(
                qn,
                {
                    PROV_LABEL: node,
                    qualified(NODE): node,
                    PROV_TYPE: qualified(NODE_TYPE),
                    **_attrs(attrs or {}),
                },
            )
            self._agents[node] = qn
        return self._agents[node]

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
        activity = self.document.activity(
            self._qn(task_id), plain_value(start), plain_value(end), _attrs(extra)
        )
        self._activities[task_id] = activity
        self.document.association(activity, self.node_agent(node))
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
        pattrs = _attrs(extra)
        v = plain_value(value)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            pattrs[PROV_VALUE] = v
        self._entities[entity_id] = self.document.entity(self._qn(entity_id), pattrs)
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

    def used(self, task_id: str, entity_id: str, time: dt.datetime | None = None) -> None:
        if self._once("used", task_id, entity_id):
            self.document.usage(self._qn(task_id), self._qn(entity_id), plain_value(time))

    def generated(self, entity_id: str, task_id: str, time: dt.datetime | None = None) -> None:
        if self._once("gen", entity_id, task_id):
            self.document.generation(self._qn(entity_id), self._qn(task_id), plain_value(time))

    def informed(self, informed: str, informant: str) -> None:
        if informed != informant and self._once("inf", informed, informant):
            self.document.communication(self._qn(informed), self._qn(informant))

    def derived(self, generated: str, used: str) -> None:
        if generated != used and self._once("der", generated, used):
            self.document.derivation(self._qn(generated), self._qn(used))
