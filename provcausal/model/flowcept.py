"""FlowCept ``workflows``/``tasks`` documents: the record types and every accessor.

A run is one FlowCept ``workflows`` document plus its ``tasks`` documents (FlowCept's own
fields: ``task_id``, ``workflow_id``, ``activity_id``, ``used``, ``generated``, ``started_at``
...). What FlowCept has no field for, provcausal keeps under one key of ``custom_metadata``
(:data:`PC`). Only this module reads or writes that key: everything else asks the accessors
below, so a change of layout is a change here. Tasks FlowCept captured itself have no such key
(:func:`is_captured`); the accessors answer for them too (a captured task's sample is its run).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provcausal.model.times import TimeValueError, to_epoch

__all__ = [
    "RunRecords",
    "PC",
    "META",
    "meta_path",
    "STATE_WRITING",
    "STATE_COMPLETE",
    "SAMPLE",
    "VISIT",
    "USED_IDS",
    "GENERATED_IDS",
    "ENTITIES",
    "VALUE",
    "DURATION",
    "UNOBSERVED",
    "ATTRS",
    "PROV_ID",
    "LABEL",
    "SYSTEM",
    "SOURCE",
    "STATE",
    "TASKS",
    "SAMPLES",
    "NODES",
    "HAS_VALUES",
    "WARNINGS",
    "NODE_LABELS",
    "GATED_NODES",
    "OUTPUT_NODES",
    "SKIPPED",
    # workflow (run) documents
    "run_id",
    "run_meta",
    "run_label",
    "run_system",
    "run_source",
    "run_state",
    "is_visible",
    "run_count",
    "node_labels",
    "gated_nodes",
    "presence_nodes",
    "output_nodes",
    "workflow_document",
    "set_run_state",
    "run_prov_token",
    "set_run_prov_token",
    # task documents
    "task_meta",
    "is_captured",
    "task_node",
    "task_sample",
    "task_visit",
    "task_unobserved",
    "task_value",
    "task_duration",
    "used_ids",
    "generated_ids",
    "entity_ids",
    "entities",
    "entity_info",
    "task_attrs",
    "task_document",
    "numeric",
    # sample rows
    "SAMPLE_COLUMNS",
    "SAMPLE_PATHS",
    "CAPTURED_FIELDS",
    "needs_values",
    "sample_row",
    "imported_sample_row",
    "sample_row_raw",
    "finish_sample_row",
]

#: Key under ``custom_metadata`` where provcausal keeps what FlowCept has no field for.
PC = "provcausal"
#: The FlowCept field that holds it.
META = "custom_metadata"

# provcausal's metadata keys. On tasks:
SAMPLE = "sample"  #: the sample the task belongs to
VISIT = "visit"  #: how many times the node ran before in the sample
USED_IDS = "used_ids"  #: PROV ids of the entities used (indexed)
GENERATED_IDS = "generated_ids"  #: PROV ids of the entities generated (indexed)
ENTITIES = "entities"  #: entity id -> {name, role, value}; on runs: how many entities
VALUE = "value"  #: the numeric value of the first valued output
DURATION = "duration"  #: the node's own processing time, seconds
UNOBSERVED = "unobserved"  #: inferred, not observed
ATTRS = "attrs"  #: source-specific attributes
PROV_ID = "prov_id"  #: the PROV id of a record whose id was re-derived
# On runs:
LABEL = "label"  #: the user's label
SYSTEM = "system"  #: the importer
SOURCE = "source"  #: the file or folder imported
STATE = "state"  #: writing / complete
TASKS = "tasks"  #: how many tasks
SAMPLES = "samples"  #: how many samples
NODES = "nodes"  #: the node ids
HAS_VALUES = "has_values"  #: whether any task has a value
WARNINGS = "warnings"  #: the import's warnings
NODE_LABELS = "node_labels"  #: node id -> human-readable name
GATED_NODES = "gated_nodes"  #: nodes that run only for some samples
PRESENCE_NODES = "presence_nodes"  #: out-port variables: 1 when emitted, 0 when not
OUTPUT_NODES = "output_nodes"  #: nodes the run declares as the workflow's output
SKIPPED = "skipped"  #: how many bad inputs were skipped

#: A run whose documents are being written (readers must not see it yet).
STATE_WRITING = "writing"
#: A run written completely.
STATE_COMPLETE = "complete"


def meta_path(key: str) -> str:
    """The dotted MongoDB field path of one of provcausal's metadata keys (indexes, updates).

    >>> meta_path("used_ids")
    'custom_metadata.provcausal.used_ids'
    """
    return f"{META}.{PC}.{key}"


@dataclass
class RunRecords:
    """One run: its FlowCept ``workflows`` document, its ``tasks`` documents, and PROV-JSON."""

    workflow: dict[str, Any]
    tasks: list[dict[str, Any]]
    prov_json: str
    warnings: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.workflow["workflow_id"])


def _meta(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    custom = doc.get(META)
    if not isinstance(custom, Mapping):
        return {}
    meta = custom.get(PC)
    return meta if isinstance(meta, Mapping) else {}


def numeric(value: Any) -> float | None:
    """``value`` as a float when it is a number or numeric text, else ``None``."""
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


# -- workflow (run) documents -----------------------------------------------------------------


def run_id(workflow: Mapping[str, Any]) -> str:
    """The run id (FlowCept's ``workflow_id``)."""
    return str(workflow["workflow_id"])


def run_meta(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of everything provcausal keeps about a run (empty for FlowCept-captured runs)."""
    return dict(_meta(workflow))


def run_label(workflow: Mapping[str, Any]) -> str | None:
    """The user's label of the run (``--label``), or ``None``."""
    label = _meta(workflow).get(LABEL)
    return None if label is None else str(label)


def run_system(workflow: Mapping[str, Any]) -> str:
    """The importer that wrote the run (``scipipe``, ``nodered`` ...); ``flowcept`` when
    FlowCept captured it."""
    return str(_meta(workflow).get(SYSTEM) or "flowcept")


def run_source(workflow: Mapping[str, Any]) -> str | None:
    """The file or folder the run was imported from."""
    source = _meta(workflow).get(SOURCE)
    return None if source is None else str(source)


def run_state(workflow: Mapping[str, Any]) -> str | None:
    """``writing`` while a store writes the run, ``complete`` after; ``None`` for FlowCept's."""
    state = _meta(workflow).get(STATE)
    return None if state is None else str(state)


def is_visible(workflow: Mapping[str, Any]) -> bool:
    """Whether a workflow document describes a completely written run."""
    return run_state(workflow) != STATE_WRITING


def run_count(workflow: Mapping[str, Any], what: str) -> int | None:
    """How many ``tasks``, ``entities``, ``samples`` or ``skipped`` files the import counted."""
    value = _meta(workflow).get(what)
    return None if value is None else int(value)


def node_labels(workflow: Mapping[str, Any]) -> dict[str, str]:
    """Node id → human-readable name, where the source has one (Node-RED node names)."""
    labels = _meta(workflow).get(NODE_LABELS) or {}
    return {str(k): str(v) for k, v in labels.items()}


def gated_nodes(workflow: Mapping[str, Any]) -> list[str]:
    """Nodes that run only for some samples (Seldon steps behind a trigger)."""
    return [str(n) for n in _meta(workflow).get(GATED_NODES) or []]


def presence_nodes(workflow: Mapping[str, Any]) -> list[str]:
    """Out-port variables (``step.tensor``) that are 1 when the task emitted the output and 0
    when it ran without it (a Seldon step returning one of several flag tensors)."""
    return [str(n) for n in _meta(workflow).get(PRESENCE_NODES) or []]


def output_nodes(workflow: Mapping[str, Any]) -> list[str]:
    """Nodes the run declares as the workflow's output (a Seldon pipeline's outputs)."""
    return [str(n) for n in _meta(workflow).get(OUTPUT_NODES) or []]


def workflow_document(
    *,
    run: str,
    workflow: str,
    system: str,
    meta: Mapping[str, Any],
    created: float,
    started: float | None,
    ended: float | None,
) -> dict[str, Any]:
    """A FlowCept ``workflows`` document for one run, with provcausal's ``meta``."""
    return {
        "workflow_id": run,
        "name": workflow,
        "type": "workflow",
        "status": "FINISHED",
        "adapter_id": f"provcausal.{system}",
        "utc_timestamp": created,
        "started_at": started,
        "ended_at": ended,
        META: {PC: dict(meta)},
    }


def run_prov_token(workflow: Mapping[str, Any]) -> str | None:
    """Which version of the run's stored PROV chunks is current (MongoDB store), if any."""
    token = _meta(workflow).get("prov_token")
    return None if token is None else str(token)


def set_run_prov_token(workflow: dict[str, Any], token: str | None) -> None:
    """Name the current PROV chunks of a run (in place); ``None`` removes the key."""
    meta = workflow.setdefault(META, {}).setdefault(PC, {})
    if token is None:
        meta.pop("prov_token", None)
    else:
        meta["prov_token"] = token


def set_run_state(workflow: dict[str, Any], state: str) -> None:
    """Mark a workflow document ``writing`` or ``complete`` (in place)."""
    custom = workflow.setdefault(META, {})
    custom.setdefault(PC, {})[STATE] = state


# -- task documents ---------------------------------------------------------------------------


def task_meta(task: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of everything provcausal keeps about a task (empty for FlowCept-captured tasks)."""
    return dict(_meta(task))


#: provcausal's keys that can appear on a run FlowCept captured (given after the capture).
_AFTER_THE_FACT = frozenset({LABEL})


def is_captured(doc: Mapping[str, Any]) -> bool:
    """Whether FlowCept captured the task (or run) itself: provcausal's key is absent, so its
    lineage comes from ``dependencies`` and FlowCept's value rule (:mod:`~.links`)."""
    custom = doc.get(META)
    if not isinstance(custom, Mapping) or not isinstance(custom.get(PC), Mapping):
        return True
    # A label given afterwards (``provcausal label``) shows under provcausal's key too, but
    # does not make a captured run an imported one.
    return set(custom[PC]) <= _AFTER_THE_FACT


def task_node(task: Mapping[str, Any]) -> str:
    """The workflow node the task ran (FlowCept's ``activity_id``; the task id if absent)."""
    return str(task.get("activity_id") or task["task_id"])


def task_sample(task: Mapping[str, Any], default: str | None = None) -> str:
    """The sample the task belongs to; FlowCept-captured tasks: ``default``, else the run."""
    sample = _meta(task).get(SAMPLE)
    if sample is None:
        return str(default if default is not None else task.get("workflow_id"))
    return str(sample)


def task_visit(task: Mapping[str, Any]) -> int:
    """How many times the node ran before in the same sample (0 for the first visit)."""
    return int(_meta(task).get(VISIT, 0) or 0)


def task_unobserved(task: Mapping[str, Any]) -> bool:
    """Whether the task was inferred rather than observed (e.g. no SciPipe audit file)."""
    return bool(_meta(task).get(UNOBSERVED, False))


def task_value(task: Mapping[str, Any]) -> float | None:
    """The numeric value of a task's (first) output, from either provenance source.

    Tasks provcausal wrote carry it in their metadata; tasks FlowCept captured have named
    ``generated`` values: the first numeric one is used.
    """
    meta = _meta(task)
    if VALUE in meta:
        return numeric(meta[VALUE])
    for value in (task.get("generated") or {}).values():
        number = numeric(value)
        if number is not None:
            return number
    return None


def task_duration(task: Mapping[str, Any]) -> float | None:
    """A task's own processing time in seconds: the importer's figure (SciPipe's
    ``ExecTimeNS``, Node-RED's onReceive→onSend, Seldon's service time), else end − start."""
    duration = numeric(_meta(task).get(DURATION))
    if duration is None:
        try:
            start, end = to_epoch(task.get("started_at")), to_epoch(task.get("ended_at"))
        except TimeValueError:
            return None
        if start is not None and end is not None:
            duration = end - start
    return duration if duration is None or math.isfinite(duration) else None


def used_ids(task: Mapping[str, Any]) -> list[str]:
    """PROV ids of the entities the task used, in order, without repeats."""
    return [str(e) for e in dict.fromkeys(_meta(task).get(USED_IDS) or [])]


def generated_ids(task: Mapping[str, Any]) -> list[str]:
    """PROV ids of the entities the task generated, in order, without repeats."""
    return [str(e) for e in dict.fromkeys(_meta(task).get(GENERATED_IDS) or [])]


def entity_ids(task: Mapping[str, Any], role: str) -> list[str]:
    """:func:`used_ids` (``role="used"``) or :func:`generated_ids` (``"generated"``)."""
    if role == "used":
        return used_ids(task)
    if role == "generated":
        return generated_ids(task)
    raise ValueError(f"role is used or generated, not {role!r}")


def entities(task: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Entity id → ``{name, role, value}`` for every entity the task used or generated."""
    return {str(k): dict(v) for k, v in (_meta(task).get(ENTITIES) or {}).items()}


def entity_info(task: Mapping[str, Any], entity_id: str) -> dict[str, Any]:
    """``{name, role, value}`` of one entity the task used or generated (empty if unknown)."""
    return dict((_meta(task).get(ENTITIES) or {}).get(entity_id) or {})


def task_attrs(task: Mapping[str, Any]) -> dict[str, Any]:
    """Source-specific attributes (SciPipe command, params; Seldon headers ...)."""
    return dict(_meta(task).get(ATTRS) or {})


def task_document(
    *,
    task: str,
    run: str,
    node: str,
    system: str,
    fields: Mapping[str, Any],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """A FlowCept ``tasks`` document: the ids, FlowCept ``fields`` (``used``, ``generated``,
    times, ``status``, ``dependencies`` ...) and provcausal's ``meta``."""
    doc: dict[str, Any] = {"task_id": task, "workflow_id": run, "activity_id": node}
    doc.update(fields)
    doc["adapter_id"] = f"provcausal.{system}"
    doc[META] = {PC: dict(meta)}
    return doc


# -- sample rows: the few fields of a task the analysis reads -----------------------------------

#: The columns of a sample row (:func:`sample_row`), the slice of a task document the analysis
#: reads. Stores may compute the raw columns in the backend (MongoDB: an aggregation
#: pipeline; SQLite: ``json_extract``) and finish them with :func:`finish_sample_row`.
SAMPLE_COLUMNS = (
    "task_id",
    "workflow_id",
    "node",
    "sample",
    "visit",
    "value",
    "duration",
    "started_at",
    "ended_at",
    "unobserved",
    "dependencies",
    "used_names",
    "used",
    "generated",
    "out_ports",
    "captured",
    "parent_task_id",
    "subtype",
    "group_id",
)

#: Raw column → the document path it is read from (provcausal's metadata paths via
#: :func:`meta_path`). ``used_names``, ``used``, ``generated`` and ``captured`` are derived.
SAMPLE_PATHS = {
    "task_id": "task_id",
    "workflow_id": "workflow_id",
    "node": "activity_id",
    "sample": meta_path(SAMPLE),
    "visit": meta_path(VISIT),
    "value": meta_path(VALUE),
    "duration": meta_path(DURATION),
    "started_at": "started_at",
    "ended_at": "ended_at",
    "unobserved": meta_path(UNOBSERVED),
    "dependencies": "dependencies",
    "out_ports": f"{meta_path(ATTRS)}.outPorts",
    "parent_task_id": "parent_task_id",
    "subtype": "subtype",
    "group_id": "group_id",
}

#: The sample-row columns :mod:`provcausal.captured` reads of a FlowCept-captured task
#: (under FlowCept's own names; ``activity_id`` is the row's ``node``).
CAPTURED_FIELDS = (
    "task_id",
    "workflow_id",
    "started_at",
    "ended_at",
    "dependencies",
    "used",
    "generated",
    "parent_task_id",
    "subtype",
    "group_id",
)


def needs_values(captured: bool, has_value: bool, has_ports: bool) -> tuple[bool, bool]:
    """Whether a sample row must carry the task's ``used`` and ``generated`` values.

    ``used`` values only feed FlowCept's lineage rule (captured tasks); ``generated`` values
    give a captured or unvalued task its value and a several-port task its port values.
    """
    return captured, captured or not has_value or has_ports


def sample_row_raw(task: Mapping[str, Any]) -> dict[str, Any]:
    """The raw sample columns of a task document, computed in Python (the reference for what
    stores compute in their backend)."""
    meta = _meta(task)
    captured = is_captured(task)
    ports = (
        (meta.get(ATTRS) or {}).get("outPorts") if isinstance(meta.get(ATTRS), Mapping) else None
    )
    want_used, want_generated = needs_values(captured, VALUE in meta, bool(ports))
    used = task.get("used") or {}
    return {
        "task_id": task.get("task_id"),
        "workflow_id": task.get("workflow_id"),
        "node": task.get("activity_id"),
        "sample": meta.get(SAMPLE),
        "visit": meta.get(VISIT),
        "value": meta.get(VALUE),
        "duration": meta.get(DURATION),
        "started_at": task.get("started_at"),
        "ended_at": task.get("ended_at"),
        "unobserved": meta.get(UNOBSERVED),
        "dependencies": task.get("dependencies"),
        "used_names": list(used),
        "used": used if want_used else None,
        "generated": task.get("generated") if want_generated else None,
        "out_ports": ports,
        "captured": captured,
        "parent_task_id": task.get("parent_task_id"),
        "subtype": task.get("subtype"),
        "group_id": task.get("group_id"),
    }


def _epoch_or_none(value: Any) -> float | None:
    try:
        return to_epoch(value)
    except TimeValueError:
        return None


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def finish_sample_row(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Typed sample columns from raw ones, with the accessors' rules: the node falls back to
    the task id, the sample to the run, the value to the first numeric generated value, the
    duration to end − start; times become epoch seconds."""
    task_id = str(raw["task_id"])
    run = str(raw["workflow_id"])
    generated = raw.get("generated") or {}
    value = numeric(raw["value"]) if raw.get("value") is not None else None
    if raw.get("value") is None:
        value = next((n for n in map(numeric, generated.values()) if n is not None), None)
    start, end = _epoch_or_none(raw.get("started_at")), _epoch_or_none(raw.get("ended_at"))
    duration = numeric(raw.get("duration"))
    if duration is None and start is not None and end is not None:
        duration = end - start
    if duration is not None and not math.isfinite(duration):
        duration = None
    return {
        "task_id": task_id,
        "workflow_id": run,
        "node": str(raw.get("node") or task_id),
        "sample": run if raw.get("sample") is None else str(raw["sample"]),
        "visit": int(raw.get("visit") or 0),
        "value": value,
        "duration": duration,
        "started_at": start,
        "ended_at": end,
        "unobserved": bool(raw.get("unobserved") or False),
        "dependencies": [str(d) for d in raw.get("dependencies") or []],
        "used_names": [str(n) for n in raw.get("used_names") or []],
        "used": dict(raw.get("used") or {}),
        "generated": dict(generated),
        "out_ports": raw.get("out_ports"),
        "captured": bool(raw.get("captured")),
        "parent_task_id": _text_or_none(raw.get("parent_task_id")),
        "subtype": _text_or_none(raw.get("subtype")),
        "group_id": _text_or_none(raw.get("group_id")),
    }


def sample_row(task: Mapping[str, Any]) -> dict[str, Any]:
    """A task document's sample row (columns :data:`SAMPLE_COLUMNS`)."""
    return finish_sample_row(sample_row_raw(task))


def imported_sample_row(task: Mapping[str, Any]) -> dict[str, Any] | None:
    """The sample row of a task provcausal imported, with the columns the analysis
    projection reads (the captured-only ones left out); ``None`` for a task FlowCept
    captured. The same values as :func:`sample_row`, without its intermediate raw row: an
    import computes this for every task it writes."""
    if is_captured(task):
        return None
    meta = _meta(task)
    task_id = str(task.get("task_id"))
    run = str(task.get("workflow_id"))
    attrs = meta.get(ATTRS)
    ports = attrs.get("outPorts") if isinstance(attrs, Mapping) else None
    generated = task.get("generated") or {}
    value = meta.get(VALUE)
    if value is not None:
        value = numeric(value)
    else:
        value = next((n for n in map(numeric, generated.values()) if n is not None), None)
    start, end = _epoch_or_none(task.get("started_at")), _epoch_or_none(task.get("ended_at"))
    duration = numeric(meta.get(DURATION))
    if duration is None and start is not None and end is not None:
        duration = end - start
    if duration is not None and not math.isfinite(duration):
        duration = None
    sample = meta.get(SAMPLE)
    return {
        "task_id": task_id,
        "workflow_id": run,
        "node": str(task.get("activity_id") or task_id),
        "sample": run if sample is None else str(sample),
        "visit": int(meta.get(VISIT) or 0),
        "value": value,
        "duration": duration,
        "started_at": start,
        "ended_at": end,
        "unobserved": bool(meta.get(UNOBSERVED) or False),
        "dependencies": [str(d) for d in task.get("dependencies") or []],
        "used_names": [str(n) for n in task.get("used") or {}],
        "out_ports": ports,
        "generated": dict(generated) if ports else {},
        "captured": False,
    }
