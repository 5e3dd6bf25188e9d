"""PROV documents ⇄ FlowCept ``workflows``/``tasks`` documents, in both directions.

FlowCept's layout (``../shared/formats.md`` §4): a task document per ``prov:Activity`` with
``activity_id`` = the node, ``used``/``generated`` = named values, ``dependencies`` = upstream
task ids, BSON dates for task times; a workflow document per run with float-epoch times.
What FlowCept has no field for (sample, visit, entity ids, values) goes under
``custom_metadata.provcausal``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import prov.model as pm
from prov.constants import PROV_LABEL, PROV_VALUE

from provcausal import ids
from provcausal.errors import BadInputError
from provcausal.provdoc import NS_ATTR, NS_ID, RunDocumentBuilder
from provcausal.records import PC, RunRecords

__all__ = [
    "prov_to_flowcept",
    "flowcept_to_prov",
    "to_epoch",
    "to_datetime",
    "task_value",
    "task_duration",
]

UTC = dt.timezone.utc

#: Times outside these years are refused as bad input: they are typos or corrupt records, and
#: near the ends of Python's and BSON's date ranges arithmetic on them overflows.
MIN_YEAR, MAX_YEAR = 1900, 3000
#: Integers MongoDB can store (64-bit).
MAX_INT = 2**63


def _bad(qn: Any, attr: str, message: str) -> BadInputError:
    return BadInputError(message, key=f"{qn} {attr}")


def _checked_time(value: dt.datetime | None, qn: Any, attr: str) -> dt.datetime | None:
    if value is not None and not MIN_YEAR <= value.year < MAX_YEAR:
        raise _bad(
            qn, attr, f"time {value.isoformat()} is out of range ({MIN_YEAR} to {MAX_YEAR - 1})"
        )
    return value


def _int_attr(value: Any, qn: Any, attr: str) -> int:
    """An integer attribute (``provcausal:visit``) from a number or its text."""
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < MAX_INT:
        return value
    raise _bad(qn, attr, f"expected an integer, got {str(value)[:40]!r}")


def _flag_attr(value: Any, qn: Any, attr: str) -> bool:
    """A boolean attribute (``provcausal:unobserved``); the text "false" is false."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no", ""):
            return False
        raise _bad(qn, attr, f"expected true or false, got {value[:40]!r}")
    return bool(value)


def _value_attr(value: Any, qn: Any) -> float | None:
    """A numeric ``prov:value``; NaN or infinity is bad input, text that is not a number
    is no value."""
    if isinstance(value, str):
        number = _numeric(value)
        return number if number is not None and math.isfinite(number) else None
    number = _numeric(value)
    if number is not None and not math.isfinite(number):
        raise _bad(qn, "prov:value", f"{number} is not a finite number")
    return number


def to_epoch(value: Any) -> float | None:
    """Epoch seconds of a datetime, a number, or an ISO 8601 string; ``None`` if absent."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return to_epoch(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
    raise TypeError(f"not a time: {value!r}")


def to_datetime(value: Any) -> dt.datetime | None:
    """A UTC datetime from a datetime, epoch seconds or ISO 8601 text (FlowCept stores both)."""
    epoch = to_epoch(value)
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, UTC)


def _local(qn: Any) -> str:
    return qn.localpart if isinstance(qn, pm.QualifiedName) else str(qn)


def _is_ours(qn: pm.QualifiedName) -> bool:
    return qn.namespace.uri == NS_ID


def _attr_map(record: pm.ProvRecord) -> dict[str, Any]:
    """provcausal-namespace attributes by local name, JSON objects decoded."""
    out: dict[str, Any] = {}
    for key, value in record.attributes:
        if isinstance(key, pm.QualifiedName) and key.namespace.uri == NS_ATTR:
            if isinstance(value, pm.Literal):
                value = value.value
            if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            out[key.localpart] = value
    return out


def _first(record: pm.ProvRecord, attr: Any) -> Any:
    values = record.get_attribute(attr)
    if not values:
        return None
    value = next(iter(values))
    if isinstance(value, pm.Literal):
        value = value.value
    return value


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def task_value(task: Mapping[str, Any]) -> float | None:
    """The numeric value of a task's (first) output, from either provenance source.

    Tasks provcausal wrote carry it under ``custom_metadata.provcausal.value``; tasks FlowCept
    captured have named ``generated`` values: the first numeric one is used.
    """
    meta = (task.get("custom_metadata") or {}).get(PC) or {}
    if "value" in meta:
        return _numeric(meta["value"])
    for value in (task.get("generated") or {}).values():
        number = _numeric(value)
        if number is not None:
            return number
    return None


def task_duration(task: Mapping[str, Any]) -> float | None:
    """A task's own processing time in seconds: the importer's figure (SciPipe's
    ``ExecTimeNS``, Node-RED's onReceive→onSend, Seldon's service time), else end − start."""
    meta = (task.get("custom_metadata") or {}).get(PC) or {}
    duration = _numeric(meta.get("duration"))
    if duration is None:
        start, end = to_epoch(task.get("started_at")), to_epoch(task.get("ended_at"))
        if start is not None and end is not None:
            duration = end - start
    return duration


def prov_to_flowcept(
    document: pm.ProvDocument,
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
) -> RunRecords:
    """Turn one run's PROV document into FlowCept documents (and keep the PROV-JSON).

    Activities become tasks, entities become named ``used``/``generated`` values, and a task's
    ``dependencies`` are the tasks that generated what it used plus its ``wasInformedBy``
    informants. Foreign PROV ids (not provcausal's), and every id when ``keep_ids`` is false
    (a document imported as a new run), get deterministic ids derived from the run.
    """
    doc = document.flattened() if document.has_bundles() else document
    imported_at = imported_at or dt.datetime.now(UTC)

    def ours(qn: pm.QualifiedName) -> bool:
        return keep_ids and _is_ours(qn)

    def tid(qn: pm.QualifiedName) -> str:
        return qn.localpart if ours(qn) else ids.task_id(run_id, str(qn))

    def eid(qn: pm.QualifiedName) -> str:
        return qn.localpart if ours(qn) else ids.entity_id(run_id, str(qn))

    activities: dict[pm.QualifiedName, pm.ProvActivity] = {}
    entities: dict[pm.QualifiedName, dict[str, Any]] = {}
    agents: dict[pm.QualifiedName, str] = {}
    labels: dict[str, str] = {}
    used: dict[pm.QualifiedName, list[pm.QualifiedName]] = defaultdict(list)
    generated: dict[pm.QualifiedName, list[pm.QualifiedName]] = defaultdict(list)
    generator: dict[pm.QualifiedName, pm.QualifiedName] = {}
    informants: dict[pm.QualifiedName, list[pm.QualifiedName]] = defaultdict(list)
    associated: dict[pm.QualifiedName, pm.QualifiedName] = {}

    for record in doc.get_records():
        if record.identifier is None and isinstance(
            record, (pm.ProvActivity, pm.ProvEntity, pm.ProvAgent)
        ):
            continue
        ident: pm.QualifiedName = record.identifier  # type: ignore[assignment]
        if isinstance(record, pm.ProvActivity):
            activities[ident] = record
        elif isinstance(record, pm.ProvEntity):
            attrs = _attr_map(record)
            name = attrs.get("name") or _first(record, PROV_LABEL) or _local(ident)
            value = _value_attr(_first(record, PROV_VALUE), ident)
            entities[ident] = {"name": str(name), "value": value, "attrs": attrs}
        elif isinstance(record, pm.ProvAgent):
            attrs = _attr_map(record)
            agents[ident] = str(attrs.get("node") or _first(record, PROV_LABEL) or _local(ident))
            if attrs.get("nodeName"):
                labels[agents[ident]] = str(attrs["nodeName"])
        elif isinstance(record, pm.ProvUsage):
            act, ent = record.args[0], record.args[1]
            if act is not None and ent is not None:
                used[act].append(ent)
        elif isinstance(record, pm.ProvGeneration):
            ent, act = record.args[0], record.args[1]
            if act is not None and ent is not None:
                generated[act].append(ent)
                generator.setdefault(ent, act)
        elif isinstance(record, pm.ProvCommunication):
            informed, informant = record.args[0], record.args[1]
            if informed is not None and informant is not None:
                informants[informed].append(informant)
        elif isinstance(record, pm.ProvAssociation):
            act, agent = record.args[0], record.args[1]
            if act is not None and agent is not None:
                associated.setdefault(act, agent)

    tasks: list[dict[str, Any]] = []
    samples: set[str] = set()
    nodes: set[str] = set()
    has_values = False
    starts: list[float] = []
    ends: list[float] = []
    for qn, act in activities.items():
        attrs = _attr_map(act)
        node = attrs.pop("node", None)
        if node is None:
            agent = associated.get(qn)
            node = agents.get(agent) if agent is not None else None
        if node is None:
            node = _first(act, PROV_LABEL) or _local(qn)
        node = str(node)
        start = _checked_time(act.get_startTime(), qn, "prov:startTime")
        end = _checked_time(act.get_endTime(), qn, "prov:endTime")
        sample = str(attrs.pop("sample", run_id))
        visit = _int_attr(attrs.pop("visit", 0), qn, "provcausal:visit")
        status = str(attrs.pop("status", "FINISHED"))
        unobserved = _flag_attr(attrs.pop("unobserved", False), qn, "provcausal:unobserved")
        duration = _numeric(attrs.pop("duration", None))
        if duration is None and start is not None and end is not None:
            duration = (end - start).total_seconds()

        entity_meta: dict[str, dict[str, Any]] = {}
        used_named: dict[str, Any] = {}
        gen_named: dict[str, Any] = {}
        for role, refs, named in (
            ("used", used.get(qn, []), used_named),
            ("generated", generated.get(qn, []), gen_named),
        ):
            for ent in refs:
                info = entities.get(ent, {"name": _local(ent), "value": None, "attrs": {}})
                e = eid(ent)
                emeta: dict[str, Any] = {"name": info["name"], "role": role}
                if info["value"] is not None:
                    emeta["value"] = info["value"]
                if not ours(ent):
                    emeta["prov_id"] = str(ent)
                entity_meta.setdefault(e, emeta)
                named.setdefault(info["name"], info["value"] if info["value"] is not None else e)
        gen_ids = [eid(e) for e in generated.get(qn, [])]
        used_ids = [eid(e) for e in used.get(qn, [])]
        value = next((entity_meta[e]["value"] for e in gen_ids if "value" in entity_meta[e]), None)
        deps = {tid(generator[e]) for e in used.get(qn, []) if e in generator}
        deps.update(tid(i) for i in informants.get(qn, []))
        deps.discard(tid(qn))

        task_meta: dict[str, Any] = {
            "sample": sample,
            "visit": visit,
            "used_ids": used_ids,
            "generated_ids": gen_ids,
            "entities": entity_meta,
        }
        if unobserved:
            task_meta["unobserved"] = True
        if value is not None:
            task_meta["value"] = value
            has_values = True
        if duration is not None:
            task_meta["duration"] = duration
        if not ours(qn):
            task_meta["prov_id"] = str(qn)
        if attrs:
            task_meta["attrs"] = attrs
        task = {
            "task_id": tid(qn),
            "workflow_id": run_id,
            "activity_id": node,
            "used": used_named,
            "generated": gen_named,
            "started_at": start.astimezone(UTC) if start else None,
            "ended_at": end.astimezone(UTC) if end else None,
            "registered_at": imported_at,
            "status": status,
            "dependencies": sorted(deps),
            "adapter_id": f"provcausal.{system}",
            "custom_metadata": {PC: task_meta},
        }
        tasks.append(task)
        samples.add(sample)
        nodes.add(node)
        if start is not None:
            starts.append(start.timestamp())
        if end is not None:
            ends.append(end.timestamp())

    warnings = list(warnings)
    wf_meta: dict[str, Any] = {
        "label": label,
        "system": system,
        "source": source,
        "state": "complete",
        "tasks": len(tasks),
        "entities": len(entities),
        "samples": len(samples),
        "nodes": sorted(nodes),
        "has_values": has_values,
        "warnings": warnings,
    }
    if labels:
        wf_meta["node_labels"] = {n: labels[n] for n in sorted(labels) if n in nodes}
    wf_meta.update(run_metadata or {})
    workflow_doc = {
        "workflow_id": run_id,
        "name": workflow,
        "type": "workflow",
        "status": "FINISHED",
        "adapter_id": f"provcausal.{system}",
        "utc_timestamp": imported_at.timestamp(),
        "started_at": min(starts) if starts else None,
        "ended_at": max(ends) if ends else None,
        "custom_metadata": {PC: wf_meta},
    }
    return RunRecords(
        workflow=workflow_doc,
        tasks=tasks,
        prov_json=str(document.serialize(format="json")),
        warnings=warnings,
    )


def flowcept_to_prov(
    workflow: Mapping[str, Any], tasks: Iterable[Mapping[str, Any]]
) -> pm.ProvDocument:
    """Write FlowCept task documents (captured by FlowCept itself, or ours) as PROV.

    Each task becomes an activity of its ``activity_id`` node; each named ``used``/``generated``
    value becomes an entity whose id is shared by a producer and a consumer when FlowCept's own
    lineage rule links them (see :func:`provcausal.lineage_rules.flowcept_links`); explicit
    ``dependencies`` become ``wasInformedBy``.
    """
    from provcausal.lineage_rules import flowcept_links

    run = str(workflow.get("workflow_id"))
    builder = RunDocumentBuilder(run, str(workflow.get("name") or run), "flowcept")
    task_list = list(tasks)
    links = flowcept_links(task_list)
    for task in task_list:
        meta = (task.get("custom_metadata") or {}).get(PC) or {}
        builder.task(
            str(task["task_id"]),
            str(task.get("activity_id") or task["task_id"]),
            start=to_datetime(task.get("started_at")),
            end=to_datetime(task.get("ended_at")),
            sample=str(meta.get("sample", run)),
            visit=int(meta.get("visit", 0) or 0),
            unobserved=bool(meta.get("unobserved", False)),
            status=str(task.get("status") or "UNKNOWN"),
        )
    for task in task_list:
        t = str(task["task_id"])
        for name, value in (task.get("generated") or {}).items():
            e = links.generated_entity(t, name)
            builder.entity(e, name=name, value=_numeric(value), attrs={"repr": _repr(value)})
            builder.generated(e, t)
        for name, value in (task.get("used") or {}).items():
            e = links.used_entity(t, name)
            builder.entity(e, name=name, value=_numeric(value), attrs={"repr": _repr(value)})
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
