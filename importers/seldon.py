"""Seldon Core v2 ``seldon pipeline inspect`` output (+ pipeline spec) → PROV, one run per import.

Every request id (Kafka key) is one **sample**. Per request: an activity for the pipeline's
inputs (node ``<pipe>.inputs``, generating the request tensors), one per step that has messages
(node = step name, using its sources' tensors, generating its output tensors), and one for the
pipeline's outputs (node ``<pipe>.outputs``). Tensors are entities whose ``prov:value`` is
their first element (the whole tensor is kept as ``provcausal:data``). A step that returns one
of several tensors per request records them as out-ports, each a variable ``step.tensor``
(:mod:`provcausal.importers.seldon_ports`).

Edges come from the spec (inputs, triggers, tensorMap, bare-name rules); without a spec from
the ``x-seldon-route`` header (``--verbose``); otherwise from tensors whose contents match,
with a warning. An XID request id gives the request time; ``x-envoy-upstream-service-time`` on
a step's output message gives its duration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from provcausal.importers.base import (
    ImportedRun,
    Importer,
    ImportOptions,
    RunSource,
    read_text,
)
from provcausal.importers.seldon_inspect import (
    Message,
    Topic,
    looks_like_inspect,
    parse_inspect,
    tensor_values,
    xid_time,
)
from provcausal.importers.seldon_ports import StepPorts, step_ports
from provcausal.importers.seldon_spec import PipelineSpec, Ref, parse_spec

from provcausal.errors import BadInputError, InvalidParameterError
from provcausal.model import flowcept as fc
from provcausal.model import ids, times
from provcausal.model.prov import RunDocumentBuilder

__all__ = ["SeldonImporter", "parse_renames"]

_VERSIONED = re.compile(r"^(?P<name>.+)_(?P<version>\d+)$")
_MAX_KEPT_ELEMENTS = 10_000


def parse_renames(items: Any) -> dict[str, str]:
    """``["old=new", …]`` (or a dict) → ``{old: new}``."""
    if not items:
        return {}
    if isinstance(items, dict):
        return {str(k): str(v) for k, v in items.items()}
    out = {}
    for item in items:
        old, sep, new = str(item).partition("=")
        if not sep or not old or not new:
            raise InvalidParameterError(f"rename takes OLD=NEW, got {item!r}", "rename")
        out[old] = new
    return out


class _BadMessage(Exception):
    """A message whose value cannot be read; carries the message for the error's location."""

    def __init__(self, message: Message, reason: str) -> None:
        super().__init__(reason)
        self.message = message


def _values(message: Message, tensor: dict[str, Any], raw: str | None) -> list[Any]:
    try:
        return tensor_values(tensor, raw)
    except (ValueError, TypeError) as exc:
        raise _BadMessage(message, f"tensor {str(tensor.get('name'))[:40]!r}: {exc}") from None


def _tensors(message: Message | None, direction: str) -> list[tuple[dict[str, Any], str | None]]:
    """The tensors of a message with their raw contents (if any)."""
    if message is None:
        return []
    value = message.value
    if not isinstance(value, dict):
        raise _BadMessage(message, "the message value must be a JSON object")
    if "datatype" in value and "name" in value:  # inspect … .<tensor>: a single tensor
        return [(value, None)]
    tensors = value.get(direction) or []
    raws = value.get("rawInputContents" if direction == "inputs" else "rawOutputContents") or []
    if not isinstance(tensors, list) or not all(isinstance(t, dict) for t in tensors):
        raise _BadMessage(message, f"'{direction}' must be a list of tensor objects")
    if not isinstance(raws, list):
        raise _BadMessage(message, "raw contents must be a list")
    return [(t, raws[i] if i < len(raws) else None) for i, t in enumerate(tensors)]


def _route(message: Message | None, renames: dict[str, str]) -> list[str] | None:
    """The models a message passed through; ``[]`` when it came straight from the pipeline's
    inputs (``--verbose`` headers but no route), ``None`` when headers were not printed."""
    if message is None or not message.headers:
        return None
    if "x-seldon-route" not in message.headers:
        return []
    out = []
    for item in message.headers["x-seldon-route"]:
        name = item.strip(":")
        m = _VERSIONED.match(name)
        name = m.group("name") if m else name
        if name:
            out.append(renames.get(name, name))
    return out


def _emitted(requests: Iterable[_Request]) -> list[tuple[str, list[tuple[str, Any]]]]:
    """(step, [(tensor, datatype), …]) for every step output message of ``requests``; a
    message that cannot be read is left out here (its request reports it)."""
    out = []
    for req in requests:
        for (kind, name, direction), message in req.messages.items():
            if kind != "model" or direction != "outputs":
                continue
            try:
                tensors = _tensors(message, "outputs")
            except _BadMessage:
                continue
            out.append((name, [(str(t.get("name", "")), t.get("datatype")) for t, _ in tensors]))
    return out


class _Request:
    """The messages of one request id, by (kind, name, direction)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.messages: dict[tuple[str, str, str], Message] = {}
        self.errors: list[str] = []

    def get(self, kind: str, name: str, direction: str) -> Message | None:
        return self.messages.get((kind, name, direction))


class SeldonImporter(Importer):
    """``provcausal import seldon``: saved inspect output (+ ``--pipeline spec.yaml``)."""

    name = "seldon"

    def sniff(self, head: bytes) -> bool:
        return looks_like_inspect(head.decode("utf-8", "replace"))

    def plan(self, paths: Sequence[Path], options: ImportOptions) -> list[RunSource]:
        files = list(self.iter_files(paths, options))
        if not files:
            raise BadInputError("no inspect output files found", path=", ".join(map(str, paths)))
        return [
            RunSource(
                key="|".join(map(str, files)), paths=files, display=", ".join(map(str, files))
            )
        ]

    def read(self, source: RunSource, options: ImportOptions) -> ImportedRun:
        renames = parse_renames(options.extra.get("rename"))
        spec_path = options.extra.get("pipeline")
        spec = parse_spec(Path(spec_path), renames) if spec_path else None
        warnings: list[str] = []
        skipped: list[str] = []
        requests: dict[str, _Request] = {}
        for path in source.paths:
            try:
                messages = parse_inspect(read_text(path), path)
            except BadInputError as exc:
                if not options.skip_bad:
                    raise
                skipped.append(str(exc))
                continue
            for msg in messages:
                topic = msg.topic
                if topic.kind in ("model", "pipeline"):  # steps and pipelines alike
                    topic = Topic(
                        topic.raw,
                        topic.kind,
                        renames.get(topic.name, topic.name),
                        topic.direction,
                        topic.namespace,
                    )
                req = requests.setdefault(msg.key, _Request(msg.key))
                if topic.kind == "errors":
                    req.errors.append(str(msg.value)[:2000])
                    continue
                req.messages[(topic.kind, topic.name, topic.direction)] = Message(
                    topic, msg.key, msg.value, msg.headers, msg.line, msg.path
                )
        if not requests:
            raise BadInputError("no messages", path=source.display)
        # Identity from the records: the request ids (Kafka keys), not the file names, so the
        # same requests imported from other files, or from files grouped otherwise, are the
        # same run and the same samples.
        run = ids.run_id(self.name, options.workflow, "requests:" + ",".join(sorted(requests)))
        b = RunDocumentBuilder(run, options.workflow, self.name)
        how: set[str] = set()
        pipelines = sorted(
            {n for r in requests.values() for (k, n, _) in r.messages if k == "pipeline"}
            | ({spec.name} if spec else set())
        )
        ports = step_ports(_emitted(requests.values()), spec)
        for req in requests.values():
            try:
                how.add(self._request(b, run, req, spec, pipelines, renames, ports))
            except _BadMessage as exc:
                err = BadInputError(
                    f"request {req.key}: {exc}", path=exc.message.path, line=exc.message.line
                )
                if not options.skip_bad:
                    raise err from None
                skipped.append(str(err))
            except (ValueError, TypeError) as exc:
                err = BadInputError(f"request {req.key}: {exc}", path=source.display)
                if not options.skip_bad:
                    raise err from None
                skipped.append(str(err))
        if "values" in how:
            warnings.append(
                f"{source.display}: no pipeline spec and no x-seldon-route headers for some "
                "requests: edges were inferred from matching tensor contents; give the spec "
                "with --pipeline for an exact graph"
            )
        if "none" in how:
            warnings.append(
                f"{source.display}: some steps have no known source: give the "
                "pipeline spec with --pipeline"
            )
        gated = sorted(spec.gated_steps()) if spec else []
        outputs = (
            [f"{spec.name}.outputs"]
            if spec
            else sorted(
                {
                    f"{n}.outputs"
                    for r in requests.values()
                    for (k, n, d) in r.messages
                    if k == "pipeline" and d == "outputs"
                }
            )
        )
        return self.finish(
            b,
            run_id=run,
            source=source,
            options=options,
            samples=len(requests),
            warnings=warnings,
            skipped=skipped,
            run_metadata={
                fc.GATED_NODES: gated,
                fc.PRESENCE_NODES: ports.presence_nodes(),
                "pipelines": pipelines,
                fc.OUTPUT_NODES: outputs,
            },
        )

    def _entities(
        self,
        b: RunDocumentBuilder,
        run: str,
        req: _Request,
        message: Message | None,
        direction: str,
    ) -> dict[str, str]:
        """Entities for the tensors of one message, by tensor name."""
        out: dict[str, str] = {}
        if message is None:
            return out
        for tensor, raw in _tensors(message, direction):
            name = str(tensor.get("name", ""))
            values = _values(message, tensor, raw)
            numeric = [v for v in values if isinstance(v, (int, float))]
            e = ids.entity_id(run, f"{req.key}:{message.topic.raw}:{name}")
            b.entity(
                e,
                name=name,
                value=float(numeric[0]) if numeric else None,
                attrs={
                    "datatype": tensor.get("datatype"),
                    "shape": json.dumps([int(s) for s in tensor.get("shape") or []]),
                    "data": json.dumps(values[:_MAX_KEPT_ELEMENTS]) if len(values) > 1 else None,
                    "topic": message.topic.raw,
                    "request": req.key,
                },
            )
            out[name] = e
        return out

    def _request(
        self,
        b: RunDocumentBuilder,
        run: str,
        req: _Request,
        spec: PipelineSpec | None,
        pipelines: list[str],
        renames: dict[str, str],
        ports: StepPorts | None = None,
    ) -> str:
        """Add one request (one sample); returns how its edges were found: ``spec``,
        ``route`` (x-seldon-route headers), ``values`` (matched tensor contents) or ``none``."""
        return _RequestDocument(
            self, b, run, req, spec, pipelines, renames, ports or StepPorts()
        ).build()

    def _candidates(
        self,
        req: _Request,
        node: str,
        outputs: dict[str, dict[str, str]],
        pipe_in: dict[str, dict[str, str]],
        route: list[str] | None,
        renames: dict[str, str],
    ) -> list[tuple[int, str, list[Any]]]:
        """(depth, entity, values) of every tensor ``node`` may have read: step outputs (on
        its route, when known) and pipeline inputs (depth -1)."""
        allowed = set(route) if route is not None else None
        depth: dict[str, int] = {}
        for order, step in enumerate(outputs):
            own = _route(req.get("model", step, "inputs"), renames)
            depth[step] = len(own) if own is not None else order
        candidates: list[tuple[int, str, list[Any]]] = []
        for step, pool in outputs.items():
            if step == node or (allowed is not None and step not in allowed):
                continue
            out_msg = req.get("model", step, "outputs")
            for t, raw in _tensors(out_msg, "outputs"):
                if str(t.get("name")) in pool and out_msg is not None:
                    candidates.append(
                        (depth[step], pool[str(t.get("name"))], _values(out_msg, t, raw))
                    )
        for pool_pipe, pool in pipe_in.items():
            in_pipe = req.get("pipeline", pool_pipe, "inputs")
            for t, raw in _tensors(in_pipe, "inputs"):
                if str(t.get("name")) in pool and in_pipe is not None:
                    candidates.append((-1, pool[str(t.get("name"))], _values(in_pipe, t, raw)))
        return candidates

    def _match(
        self,
        req: _Request,
        node: str,
        in_msg: Message | None,
        outputs: dict[str, dict[str, str]],
        pipe_in: dict[str, dict[str, str]],
        route: list[str] | None,
        renames: dict[str, str],
    ) -> list[str]:
        """Sources of a consumer without a spec: each of its input tensors is matched by
        content to a step output or pipeline input; with a route header only the models on
        the route (and the pipeline inputs) are candidates, the most downstream one wins."""
        if in_msg is None:
            return []
        direction = (
            "outputs"
            if in_msg.topic.kind == "pipeline" and in_msg.topic.direction == "outputs"
            else "inputs"
        )
        candidates = self._candidates(req, node, outputs, pipe_in, route, renames)
        found: list[str] = []
        for t, raw in _tensors(in_msg, direction):
            values = _values(in_msg, t, raw)
            matches = [(d, e) for d, e, v in candidates if v == values]
            if matches:
                found.append(max(matches)[1])
        if route:
            # Route models that are neither matched nor upstream of a matched source joined
            # without passing data: triggers. They are parents too.
            owner = {e: step for step, pool in outputs.items() for e in pool.values()}
            matched = {owner[e] for e in found if e in owner}
            covered = set(matched)
            for step in matched:
                covered.update(_route(req.get("model", step, "inputs"), renames) or [])
            for step in route:
                if step not in covered and step != node:
                    found.extend(outputs.get(step, {}).values())
                    covered.update(_route(req.get("model", step, "inputs"), renames) or [])
        return found


class _RequestDocument:
    """The activities, entities and edges of one request (``SeldonImporter._request``)."""

    def __init__(
        self,
        importer: SeldonImporter,
        b: RunDocumentBuilder,
        run: str,
        req: _Request,
        spec: PipelineSpec | None,
        pipelines: list[str],
        renames: dict[str, str],
        ports: StepPorts,
    ) -> None:
        self.importer, self.b, self.run, self.req = importer, b, run, req
        self.spec, self.pipelines, self.renames, self.ports = spec, pipelines, renames, ports
        when_s = xid_time(req.key)
        self.when = times.from_epoch(when_s) if when_s else None
        self.steps = self._steps()
        self.outputs = {
            s: self._entities(req.get("model", s, "outputs"), "outputs") for s in self.steps
        }
        self.pipe_in: dict[str, dict[str, str]] = {}
        self.task_of: dict[str, str] = {}
        self.method = "spec" if spec is not None else "route"

    def _entities(self, message: Message | None, direction: str) -> dict[str, str]:
        return self.importer._entities(self.b, self.run, self.req, message, direction)

    def _steps(self) -> list[str]:
        steps = [n for (k, n, _) in self.req.messages if k == "model"]
        if self.spec is not None:
            known = self.spec.steps
            steps = [s for s in known if s in steps] + [s for s in steps if s not in known]
        return list(dict.fromkeys(steps))

    def task(self, node: str, message: Message | None, **extra: Any) -> str:
        """The activity of ``node`` for this request, with the message's headers."""
        req = self.req
        t = ids.task_id(self.run, f"{req.key}:{node}")
        headers = message.headers if message else {}
        service = headers.get("x-envoy-upstream-service-time")
        attrs: dict[str, Any] = {
            "request": req.key,
            "headers": headers or None,
            "traceparent": (headers.get("traceparent") or [None])[0],
            "route": " ".join(headers.get("x-seldon-route", [])) or None,
        }
        if message is not None and isinstance(message.value, dict):
            attrs["modelName"] = message.value.get("modelName")
            attrs["modelVersion"] = message.value.get("modelVersion")
        attrs.update(extra)
        status = "ERROR" if req.errors and node.endswith(".outputs") else "FINISHED"
        self.b.task(
            t,
            node,
            start=self.when,
            end=None,
            sample=req.key,
            status=status,
            duration=float(service[0]) / 1000 if service else None,
            attrs=attrs,
        )
        self.task_of[node] = t
        return t

    def _producers(self) -> list[tuple[str, Message | None, str]]:
        """Pipeline inputs and steps generate their tensors; returns the consumers (steps
        and pipeline outputs) with their input message and activity."""
        req, b = self.req, self.b
        for pipe in self.pipelines:
            msg = req.get("pipeline", pipe, "inputs")
            if msg is not None:
                self.pipe_in[pipe] = self._entities(msg, "inputs")
                t = self.task(f"{pipe}.inputs", msg)
                for e in self.pipe_in[pipe].values():
                    b.generated(e, t)
        for step in self.steps:
            out_ports = self.ports.out_ports(step)
            t = self.task(
                step,
                req.get("model", step, "outputs") or req.get("model", step, "inputs"),
                # tensors that vary per request: which output is which port (each a variable)
                outPorts=json.dumps(out_ports) if out_ports else None,
            )
            for e in self.outputs[step].values():
                b.generated(e, t)
        consumers = [(s, req.get("model", s, "inputs"), self.task_of[s]) for s in self.steps]
        for pipe in self.pipelines:
            out_msg = req.get("pipeline", pipe, "outputs")
            if out_msg is not None:
                error = "; ".join(req.errors) if req.errors else None
                t = self.task(f"{pipe}.outputs", out_msg, error=error)
                for e in self._entities(out_msg, "outputs").values():
                    b.generated(e, t)
                consumers.append((f"{pipe}.outputs", out_msg, t))
        return consumers

    def resolve(self, ref: Ref) -> list[str]:
        """The entities a spec reference names."""
        pool = (
            self.pipe_in.get(ref.source, {})
            if ref.kind == "pipeline"
            else self.outputs.get(ref.source, {})
        )
        if ref.tensor is not None:
            return [pool[ref.tensor]] if ref.tensor in pool else []
        return list(pool.values())

    def _spec_sources(self, node: str) -> list[str]:
        spec = self.spec
        assert spec is not None
        if node == f"{spec.name}.outputs":
            refs = spec.outputs
        elif node in spec.steps:
            refs = spec.steps[node].inputs + spec.steps[node].triggers
        else:
            refs = []
        return [e for ref in refs for e in self.resolve(ref)]

    def _sources(self, node: str, in_msg: Message | None) -> list[str]:
        """What ``node`` used: from the spec, else from routes and tensor contents, else its
        own input tensors."""
        if self.spec is not None:
            sources = self._spec_sources(node)
        else:
            route = _route(in_msg, self.renames)
            if route is None:
                self.method = "values"
            sources = self.importer._match(
                self.req, node, in_msg, self.outputs, self.pipe_in, route, self.renames
            )
        if sources or in_msg is None:
            return sources
        pipeline_out = node.endswith(".outputs") and in_msg.topic.kind == "pipeline"
        own = {} if pipeline_out else self._entities(in_msg, "inputs")
        if not own and not node.endswith(".inputs") and self.method != "values":
            self.method = "none"
        return list(own.values())

    def build(self) -> str:
        for node, in_msg, t in self._producers():
            for e in dict.fromkeys(self._sources(node, in_msg)):
                self.b.used(t, e)
        return self.method
