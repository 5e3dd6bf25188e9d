"""PROV documents ⇄ FlowCept ``workflows``/``tasks`` documents, in both directions.

FlowCept's layout (``../shared/formats.md`` §4): a task document per ``prov:Activity`` with
``activity_id`` = the node, ``used``/``generated`` = named values, ``dependencies`` = upstream
task ids, BSON dates for task times; a workflow document per run with float-epoch times.
What FlowCept has no field for (sample, visit, entity ids, values) goes into provcausal's
metadata (:mod:`provcausal.model.flowcept`).

Reading PROV validates what it reads: a provcausal attribute with a value of the wrong kind
(``provcausal:visit "x"``) raises :class:`~provcausal.errors.BadInputError` naming the PROV
record and the attribute; the importer adds the file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import prov.model as pm
from prov.constants import PROV_LABEL, PROV_LOCATION, PROV_VALUE
from prov.serializers.provjson import ProvJSONEncoder

from provcausal.errors import BadInputError
from provcausal.model import flowcept as fc
from provcausal.model import ids
from provcausal.model import prov as P
from provcausal.model.links import flowcept_links
from provcausal.model.times import MAX_YEAR, MIN_YEAR, UTC, plausible, to_datetime

__all__ = ["prov_json_text", "prov_to_flowcept", "flowcept_to_prov"]

QN = pm.QualifiedName


class _Name(NamedTuple):
    """A PROV identifier as the converter needs it, without prov objects: its text
    (``pcid:…``), its local part, and whether provcausal's builder wrote it (``pcid``
    namespace)."""

    text: str
    local: str
    ours: bool


def _attr_value(local: str, value: Any) -> Any:
    """One provcausal-namespace attribute value as a task keeps it.

    Text is kept as text, except the attributes provcausal itself writes as JSON objects
    (:data:`provcausal.model.prov.JSON_ATTRS`), which are decoded back. Values a store cannot
    hold as they are (qualified names, literals of foreign datatypes) become their text.
    """
    if isinstance(value, pm.Literal):
        value = value.value
    if not isinstance(value, (str, bool, int, float, dt.datetime)):
        value = str(value)
    decode = local in P.JSON_ATTRS and isinstance(value, str)
    if decode and value.startswith("{") and value.endswith("}"):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    return value


def _attr_map(record: pm.ProvRecord) -> dict[str, Any]:
    """provcausal-namespace attributes of a prov record by local name (see
    :func:`_attr_value`)."""
    out: dict[str, Any] = {}
    for key, value in record.attributes:
        if isinstance(key, pm.QualifiedName) and key.namespace.uri == P.NS_ATTR:
            out[key.localpart] = _attr_value(key.localpart, value)
    return out


def _first(record: pm.ProvRecord, attr: Any) -> Any:
    values = record.get_attribute(attr)
    if not values:
        return None
    value = next(iter(values))
    if isinstance(value, pm.Literal):
        value = value.value
    return value


# -- validation of what is read ---------------------------------------------------------------


def _bad(qn: str, attr: str, value: Any, expected: str) -> BadInputError:
    return BadInputError(
        f"PROV record {qn}: {attr if ':' in attr else P.qualified(attr)} must be {expected}, "
        f"not {str(value)[:80]!r}"
    )


#: The integers MongoDB stores (64-bit).
MAX_INT = 2**63


def _value(qn: str, raw: Any) -> float | None:
    """A ``prov:value`` as a number: NaN or infinity is bad input; text that is not a
    finite number is no value."""
    value = fc.numeric(raw)
    if value is None or math.isfinite(value):
        return value
    if isinstance(raw, str):
        return None
    raise _bad(qn, "prov:value", raw, "a finite number")


def _whole(qn: str, attr: str, value: Any) -> int:
    """A count (``provcausal:visit``): an integer >= 0, possibly written as text or 2.0."""
    if value is None:
        return 0
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _bad(qn, attr, value, "a whole number >= 0 below 2^63") from None
    if (
        isinstance(number, bool)
        or not isinstance(number, (int, float))
        or not math.isfinite(number)
        or number != int(number)
        or not 0 <= number < MAX_INT
    ):
        raise _bad(qn, attr, value, "a whole number >= 0 below 2^63")
    return int(number)


def _flag(qn: str, attr: str, value: Any) -> bool:
    """A boolean (``provcausal:unobserved``): true/false, also as text ("false" is false)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise _bad(qn, attr, value, "true or false")


def _seconds(qn: str, attr: str, value: Any) -> float | None:
    """A duration in seconds (``provcausal:duration``): a finite number."""
    if value is None:
        return None
    number = fc.numeric(value)
    if number is None or isinstance(value, bool) or not math.isfinite(number):
        raise _bad(qn, attr, value, "a number of seconds")
    return number


def _text(qn: str, attr: str, value: Any, default: str) -> str:
    """A name (``provcausal:sample``, ``status``, ``node``): text or a number."""
    if value is None:
        return default
    if isinstance(value, (str, int, float, pm.QualifiedName)) and not isinstance(value, bool):
        return str(value)
    raise _bad(qn, attr, value, "text")


def _utc(qn: str, attr: str, value: dt.datetime | None) -> dt.datetime | None:
    """A PROV time as UTC (naive times are taken as UTC); Go's zero time is unknown."""
    if value is None or value.year <= 1:
        return None
    if not plausible(value):
        raise _bad(qn, attr, value.isoformat(), f"a time in the years {MIN_YEAR}-{MAX_YEAR - 1}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise BadInputError(
            f"PROV record {qn}: {attr} {value.isoformat()} is out of range in UTC"
        ) from None


# -- reading a PROV document ------------------------------------------------------------------


@dataclass
class _Entity:
    name: str
    value: float | None
    #: What FlowCept would hold for a value-less data item: its path, when it has one.
    ref: str | None = None


@dataclass
class _ActivityRecord:
    """What an activity record says, before validation: its provcausal attributes (by local
    name), its first ``prov:label``, and its start and end."""

    attrs: dict[str, Any]
    label: Any
    start: dt.datetime | None
    end: dt.datetime | None


@dataclass
class _Index:
    """The records of one run, by kind and relation, keyed by their identifiers' URIs; prov-free.

    Filled from a ``prov`` document (:func:`_index_document`: ``import prov``, JSON-LD,
    FlowCept round trips) or from a :class:`~provcausal.model.prov.RunDocumentBuilder`'s own
    records (:func:`_index_builder`: every importer); everything after it is shared."""

    activities: dict[str, _ActivityRecord] = field(default_factory=dict)
    entities: dict[str, _Entity] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    used: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    generated: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    generator: dict[str, str] = field(default_factory=dict)
    informants: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    associated: dict[str, str] = field(default_factory=dict)
    #: Each identifier's name: registered by the document adapter, made on first use for a
    #: builder's (all in provcausal's ``pcid`` namespace).
    names: dict[str, _Name] = field(default_factory=dict)

    def name(self, key: str) -> _Name:
        """The identifier ``key`` (a URI) as text, local part and origin."""
        known = self.names.get(key)
        if known is None:  # a builder's record: provcausal's own id
            local = key[_NS_ID_LEN:]
            known = self.names[key] = _Name(f"{P.ID_PREFIX}:{local}", local, True)
        return known

    def add_entity(
        self, key: str, attrs: dict[str, Any], label: Any, value: Any, location: Any
    ) -> None:
        ident = self.name(key)
        name = attrs.get(P.NAME) or label or ident.local
        number = _value(ident.text, value)
        path = attrs.get("path") or location
        self.entities[key] = _Entity(str(name), number, str(path) if path else None)

    def add_agent(self, key: str, attrs: dict[str, Any], label: Any) -> None:
        ident = self.name(key)
        node = attrs.get(P.NODE) or label or ident.local
        self.agents[key] = _text(ident.text, P.NODE, node, "")
        # Node-RED's editor shows a node without a name by its type (file, link out).
        shown = attrs.get(P.NODE_NAME) or attrs.get("nodeType")
        if shown:
            self.labels[self.agents[key]] = str(shown)

    def add_relation(self, kind: str, a: str, b: str) -> None:
        """One relation of PROV-JSON ``kind`` between ``a`` and ``b`` (PROV's argument order)."""
        if kind == P.USED:
            self.used[a].append(b)
        elif kind == P.GENERATED:
            self.generated[b].append(a)
            self.generator.setdefault(a, b)
        elif kind == P.INFORMED:
            self.informants[a].append(b)
        elif kind == P.ASSOCIATED:
            self.associated.setdefault(a, b)


_NS_ID_LEN = len(P.NS_ID)

#: prov's relation classes by the PROV-JSON kind the index knows them as.
_RELATIONS: tuple[tuple[type, str], ...] = (
    (pm.ProvUsage, P.USED),
    (pm.ProvGeneration, P.GENERATED),
    (pm.ProvCommunication, P.INFORMED),
    (pm.ProvAssociation, P.ASSOCIATED),
)


def _index_document(document: pm.ProvDocument) -> _Index:
    """The index of a ``prov`` document (the adapter for documents read from files)."""
    index = _Index()

    def key(qn: QN) -> str:
        uri = qn.uri
        if uri not in index.names:
            ours = qn.namespace.uri == P.NS_ID
            index.names[uri] = _Name(str(qn), qn.localpart, ours)
        return uri

    for record in document.get_records():
        if isinstance(record, (pm.ProvActivity, pm.ProvEntity, pm.ProvAgent)):
            ident = record.identifier
            if ident is None:
                continue
            k = key(ident)
            label = _first(record, PROV_LABEL)
            if isinstance(record, pm.ProvActivity):
                index.activities[k] = _ActivityRecord(
                    _attr_map(record), label, record.get_startTime(), record.get_endTime()
                )
            elif isinstance(record, pm.ProvEntity):
                index.add_entity(
                    k,
                    _attr_map(record),
                    label,
                    _first(record, PROV_VALUE),
                    _first(record, PROV_LOCATION),
                )
            else:
                index.add_agent(k, _attr_map(record), label)
        elif isinstance(record, pm.ProvRelation):
            a, b = record.args[0], record.args[1]
            if a is None or b is None:
                continue
            for cls, kind in _RELATIONS:
                if isinstance(record, cls):
                    index.add_relation(kind, key(a), key(b))
                    break
    return index


def _builder_attrs(attrs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A builder record's provcausal attributes by local name (the last value wins, as in
    :func:`_attr_map`), and the first value of each of its ``prov:`` attributes."""
    ours: dict[str, Any] = {}
    provs: dict[str, Any] = {}
    for key, value in attrs.items():
        if key.startswith(_ATTR_KEY):
            local = key[_ATTR_KEY_LEN:]
            kind = type(value)
            if kind is int or kind is float or (kind is str and local not in P.JSON_ATTRS):
                ours[local] = value  # what _attr_value gives, without the call
            else:
                ours[local] = _attr_value(local, value[-1] if kind is P.Values else value)
        elif key.startswith("prov:"):
            provs[key] = value[0] if type(value) is P.Values else value
    return ours, provs


_ATTR_KEY = f"{P.ATTR_PREFIX}:"
_ATTR_KEY_LEN = len(_ATTR_KEY)


def _index_builder(builder: P.RunDocumentBuilder) -> _Index:
    """The index of a builder's records, read directly (no prov objects)."""
    index = _Index()
    ns = P.NS_ID
    for rec in builder.records:
        if isinstance(rec, P.Relation):
            index.add_relation(rec.kind, ns + rec.first, ns + rec.second)
            continue
        key = ns + rec.ident
        attrs, provs = _builder_attrs(rec.attrs)
        label = provs.get("prov:label")
        if rec.kind == P.ACTIVITY:
            index.activities[key] = _ActivityRecord(attrs, label, rec.start, rec.end)
        elif rec.kind == P.ENTITY:
            index.add_entity(key, attrs, label, provs.get("prov:value"), provs.get("prov:location"))
        else:
            index.add_agent(key, attrs, label)
    return index


@dataclass
class _Ids:
    """FlowCept ids of PROV records: provcausal's own are kept (when ``keep``), others derived
    deterministically from the run."""

    run: str
    keep: bool
    index: _Index
    _tasks: dict[str, str] = field(default_factory=dict)
    _entities: dict[str, str] = field(default_factory=dict)

    def ours(self, key: str) -> bool:
        return self.keep and self.index.name(key).ours

    def task(self, key: str) -> str:
        found = self._tasks.get(key)
        if found is None:
            name = self.index.name(key)
            found = name.local if self.keep and name.ours else ids.task_id(self.run, name.text)
            self._tasks[key] = found
        return found

    def entity(self, key: str) -> str:
        found = self._entities.get(key)
        if found is None:
            name = self.index.name(key)
            ours = self.keep and name.ours
            found = name.local if ours else ids.entity_id(self.run, name.text)
            self._entities[key] = found
        return found


@dataclass
class _Activity:
    """What one activity says about its task, validated."""

    node: str
    sample: str
    visit: int
    status: str
    unobserved: bool
    duration: float | None
    start: dt.datetime | None
    end: dt.datetime | None
    attrs: dict[str, Any]


def _read_activity(key: str, index: _Index, run_id: str) -> _Activity:
    act = index.activities[key]
    qn = index.name(key).text
    attrs = dict(act.attrs)
    node = attrs.pop(P.NODE, None)
    if node is None:
        agent = index.associated.get(key)
        node = index.agents.get(agent) if agent is not None else None
    if node is None:
        node = act.label or index.name(key).local
    start = _utc(qn, "prov:startTime", act.start)
    end = _utc(qn, "prov:endTime", act.end)
    duration = _seconds(qn, P.DURATION, attrs.pop(P.DURATION, None))
    if duration is None and start is not None and end is not None:
        duration = (end - start).total_seconds()
    return _Activity(
        node=_text(qn, P.NODE, node, ""),
        sample=_text(qn, P.SAMPLE, attrs.pop(P.SAMPLE, None), run_id),
        visit=_whole(qn, P.VISIT, attrs.pop(P.VISIT, None)),
        status=_text(qn, P.STATUS, attrs.pop(P.STATUS, None), "FINISHED"),
        unobserved=_flag(qn, P.UNOBSERVED, attrs.pop(P.UNOBSERVED, None)),
        duration=duration,
        start=start,
        end=end,
        attrs=attrs,
    )


@dataclass
class _Uses:
    """An activity's entities as FlowCept sees them."""

    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    used: dict[str, Any] = field(default_factory=dict)
    generated: dict[str, Any] = field(default_factory=dict)
    used_ids: list[str] = field(default_factory=list)
    generated_ids: list[str] = field(default_factory=list)

    def value(self) -> float | None:
        """The value of the first generated entity that has one."""
        return next(
            (self.meta[e][fc.VALUE] for e in self.generated_ids if fc.VALUE in self.meta[e]), None
        )


def _uses(key: str, index: _Index, idmap: _Ids) -> _Uses:
    out = _Uses()
    for role, refs, named in (
        ("used", index.used.get(key, []), out.used),
        ("generated", index.generated.get(key, []), out.generated),
    ):
        for ent in refs:
            info = index.entities.get(ent) or _Entity(index.name(ent).local, None)
            e = idmap.entity(ent)
            emeta: dict[str, Any] = {"name": info.name, "role": role}
            if info.value is not None:
                emeta[fc.VALUE] = info.value
            if not idmap.ours(ent):
                emeta[fc.PROV_ID] = index.name(ent).text
            out.meta.setdefault(e, emeta)
            # FlowCept's value rule links equal values, so a value-less item shows its path
            # (a file), else its provcausal id: both are the same for producer and consumer.
            shown = info.value if info.value is not None else (info.ref or e)
            named.setdefault(info.name, shown)
    out.generated_ids = [idmap.entity(e) for e in index.generated.get(key, [])]
    out.used_ids = [idmap.entity(e) for e in index.used.get(key, [])]
    return out


def _dependencies(key: str, index: _Index, idmap: _Ids) -> list[str]:
    """Tasks that generated what the activity used, and its ``wasInformedBy`` informants."""
    used = index.used.get(key, [])
    deps = {idmap.task(index.generator[e]) for e in used if e in index.generator}
    deps.update(idmap.task(i) for i in index.informants.get(key, []))
    deps.discard(idmap.task(key))
    return sorted(deps)


def _task(
    key: str, index: _Index, idmap: _Ids, system: str, imported_at: dt.datetime
) -> dict[str, Any]:
    """The FlowCept task document of one activity."""
    act = _read_activity(key, index, idmap.run)
    uses = _uses(key, index, idmap)
    meta: dict[str, Any] = {
        fc.SAMPLE: act.sample,
        fc.VISIT: act.visit,
        fc.USED_IDS: uses.used_ids,
        fc.GENERATED_IDS: uses.generated_ids,
        fc.ENTITIES: uses.meta,
    }
    if act.unobserved:
        meta[fc.UNOBSERVED] = True
    value = uses.value()
    if value is not None:
        meta[fc.VALUE] = value
    if act.duration is not None:
        meta[fc.DURATION] = act.duration
    if not idmap.ours(key):
        meta[fc.PROV_ID] = index.name(key).text
    if act.attrs:
        meta[fc.ATTRS] = act.attrs
    fields = {
        "used": uses.used,
        "generated": uses.generated,
        "started_at": act.start,
        "ended_at": act.end,
        "registered_at": imported_at,
        "status": act.status,
        "dependencies": _dependencies(key, index, idmap),
    }
    return fc.task_document(
        task=idmap.task(key), run=idmap.run, node=act.node, system=system, fields=fields, meta=meta
    )


def _run_meta(tasks: list[dict[str, Any]], index: _Index) -> dict[str, Any]:
    """The counts a workflow document carries about its tasks."""
    nodes = {fc.task_node(t) for t in tasks}
    meta: dict[str, Any] = {
        fc.TASKS: len(tasks),
        fc.ENTITIES: len(index.entities),
        fc.SAMPLES: len({fc.task_sample(t) for t in tasks}),
        fc.NODES: sorted(nodes),
        fc.HAS_VALUES: any(fc.task_meta(t).get(fc.VALUE) is not None for t in tasks),
    }
    return meta


def _span(tasks: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    starts = [t["started_at"].timestamp() for t in tasks if t["started_at"] is not None]
    ends = [t["ended_at"].timestamp() for t in tasks if t["ended_at"] is not None]
    return (min(starts) if starts else None, max(ends) if ends else None)


def prov_json_text(document: pm.ProvDocument) -> str:
    """The PROV-JSON of ``document``, the same text as ``document.serialize(format="json")``.

    prov serializes with ``json.dump`` into a stream, which always takes the standard
    library's pure-Python encoder; ``json.dumps`` with the same encoder class takes the C
    encoder (about a third of an import's time was spent here)."""
    return json.dumps(document, cls=ProvJSONEncoder)


def prov_to_flowcept(
    document: pm.ProvDocument | P.RunDocumentBuilder,
    *,
    run_id: str,
    workflow: str,
    system: str,
    label: str | None = None,
    source: str | None = None,
    imported_at: dt.datetime | None = None,
    warnings: Iterable[str] = (),
    run_metadata: Mapping[str, Any] | None = None,
    keep_ids: bool = True,
) -> fc.RunRecords:
    """Turn one run's PROV document into FlowCept documents (and keep the PROV-JSON).

    Activities become tasks, entities become named ``used``/``generated`` values, and a task's
    ``dependencies`` are the tasks that generated what it used plus its ``wasInformedBy``
    informants. Foreign PROV ids (not provcausal's), and every id when ``keep_ids`` is false
    (a document imported as a new run), get deterministic ids derived from the run.
    ``document`` is a ``prov`` document, or an importer's builder, whose own records are read
    (no ``prov`` objects are created; the same records and PROV-JSON text as its document).
    Raises :class:`BadInputError` naming the record and attribute of an invalid value.
    """
    if isinstance(document, P.RunDocumentBuilder):
        index, prov_json = _index_builder(document), document.prov_json
    else:
        doc = document.flattened() if document.has_bundles() else document
        index, prov_json = _index_document(doc), functools.partial(prov_json_text, document)
    return _to_flowcept(
        index,
        prov_json,
        run_id=run_id,
        workflow=workflow,
        system=system,
        label=label,
        source=source,
        imported_at=imported_at,
        warnings=warnings,
        run_metadata=run_metadata,
        keep_ids=keep_ids,
    )


def _to_flowcept(
    index: _Index,
    prov_json: Callable[[], str],
    *,
    run_id: str,
    workflow: str,
    system: str,
    label: str | None,
    source: str | None,
    imported_at: dt.datetime | None,
    warnings: Iterable[str],
    run_metadata: Mapping[str, Any] | None,
    keep_ids: bool,
) -> fc.RunRecords:
    """The FlowCept records of an indexed run (validation, tasks, workflow document)."""
    imported_at = imported_at or dt.datetime.now(UTC)
    idmap = _Ids(run_id, keep_ids, index)
    tasks = [_task(key, index, idmap, system, imported_at) for key in index.activities]
    warnings = list(warnings)
    meta: dict[str, Any] = {
        fc.LABEL: label,
        fc.SYSTEM: system,
        fc.SOURCE: source,
        fc.STATE: fc.STATE_COMPLETE,
        **_run_meta(tasks, index),
        fc.WARNINGS: warnings,
    }
    labels = {n: index.labels[n] for n in sorted(index.labels) if n in meta[fc.NODES]}
    if labels:
        meta[fc.NODE_LABELS] = labels
    meta.update(run_metadata or {})
    started, ended = _span(tasks)
    workflow_doc = fc.workflow_document(
        run=run_id,
        workflow=workflow,
        system=system,
        meta=meta,
        created=imported_at.timestamp(),
        started=started,
        ended=ended,
    )
    return fc.RunRecords(
        workflow=workflow_doc,
        tasks=tasks,
        prov_json=prov_json(),
        warnings=warnings,
    )


# -- writing a PROV document ------------------------------------------------------------------


def flowcept_to_prov(
    workflow: Mapping[str, Any], tasks: Iterable[Mapping[str, Any]]
) -> pm.ProvDocument:
    """Write FlowCept task documents (captured by FlowCept itself, or ours) as PROV.

    Each task becomes an activity of its ``activity_id`` node; each named ``used``/``generated``
    value becomes an entity whose id is shared by a producer and a consumer when FlowCept's own
    lineage rule links them (see :func:`provcausal.model.links.flowcept_links`); explicit
    ``dependencies`` become ``wasInformedBy``.
    """
    run = str(workflow.get("workflow_id"))
    builder = P.RunDocumentBuilder(run, str(workflow.get("name") or run), "flowcept")
    task_list = list(tasks)
    links = flowcept_links(task_list)
    for task in task_list:
        builder.task(
            str(task["task_id"]),
            fc.task_node(task),
            start=to_datetime(task.get("started_at")),
            end=to_datetime(task.get("ended_at")),
            sample=fc.task_sample(task, run),
            visit=fc.task_visit(task),
            unobserved=fc.task_unobserved(task),
            status=str(task.get("status") or "UNKNOWN"),
        )
    for task in task_list:
        t = str(task["task_id"])
        for name, value in (task.get("generated") or {}).items():
            e = links.generated_entity(t, name)
            builder.entity(e, name=name, value=fc.numeric(value), attrs={P.REPR: _repr(value)})
            builder.generated(e, t)
        for name, value in (task.get("used") or {}).items():
            e = links.used_entity(t, name)
            builder.entity(e, name=name, value=fc.numeric(value), attrs={P.REPR: _repr(value)})
            builder.used(t, e)
        for dep in task.get("dependencies") or []:
            if links.has_task(str(dep)):
                builder.informed(t, str(dep))
    return builder.document


def _repr(value: Any) -> str | None:
    if value is None or isinstance(value, (int, float)):
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:1000]
