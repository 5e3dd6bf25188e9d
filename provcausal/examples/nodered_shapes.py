"""Node-RED flows of real shapes and the profiler logs they write (``../shared/formats.md`` §2).

Three flows, each ``inject → msg-time-profiler → … → trace writer → file``:

- ``fanout``: a step wired to two targets, one of them through ``link out`` / ``link in``;
  one message writes one line per branch (identical prefix up to the fan-out node's
  ``onSend``, the shorter branch written first).
- ``switch``: an ``rbe`` that blocks about a fifth of the messages (they write no line), a
  ``switch`` that sends 90 % of messages to one branch and 10 % to the other, and a ``join``
  (manual, groups of 2) whose line carries only the trace of the message that completed the
  group.
- ``sinks``: a fan-out into two branches, each with its own trace writer and file: two sinks.

A fault is a node (by name) that gains ``delay_s`` seconds of processing time; ``route``
changes the switch's split. The lines reuse :mod:`provcausal.examples.nodered_chain`'s writer.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcausal.examples.nodered_chain import TAB, _line, write_flow

__all__ = ["SHAPES", "shape_flow", "write_shape_log", "write_flow", "node_id"]

SHAPES = ("fanout", "switch", "sinks")


def node_id(name: str) -> str:
    """A Node-RED-looking id derived from the node's name (stable across logs)."""
    return f"{abs(hash_name(name)):016x}"[:16]


def hash_name(name: str) -> int:
    value = 1469598103934665603
    for ch in name.encode():
        value = ((value ^ ch) * 1099511628211) % (1 << 64)
    return value


def _node(name: str, kind: str, wires: list[list[str]] | None, **extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"id": node_id(name), "type": kind, "z": TAB, "name": name, **extra}
    if wires is not None:
        node["wires"] = [[node_id(t) for t in port] for port in wires]
    return node


def _function(name: str, *targets: str) -> dict[str, Any]:
    return _node(name, "function", [list(targets)], func="return msg;", outputs=1, noerr=0)


def _tail(writer: str, file: str) -> list[dict[str, Any]]:
    return [
        _node(
            writer,
            "function",
            [[file]],
            func="msg.payload = msg._msgtracing; return msg;",
            outputs=1,
        ),
        _node(file, "file", [[]], filename=f"/data/{file}.log", appendNewline=True),
    ]


def _head(first: str) -> list[dict[str, Any]]:
    return [
        {"id": TAB, "type": "tab", "label": "Shapes", "disabled": False, "info": ""},
        _node("Every second", "inject", [["profiler"]], repeat="1", payloadType="date"),
        _node(
            "profiler",
            "msg-time-profiler",
            [[first]],
            outputField="_msgtracing",
            profileMode="inline",
            outputs=1,
        ),
    ]


def shape_flow(shape: str) -> list[dict[str, Any]]:
    """The flow export (``flows.json``) of one shape (see the module docstring)."""
    head = _head("Parse")
    if shape == "fanout":
        body = [
            _function("Parse", "Enrich"),
            _function("Enrich", "Score", "To detector"),
            _function("Score", "Retrieve trace data"),
            {
                **_node("To detector", "link out", None, links=[node_id("From enricher")]),
                "wires": [],
            },
            _node("From enricher", "link in", [["Detect"]], links=[node_id("To detector")]),
            _function("Detect", "Retrieve trace data"),
            *_tail("Retrieve trace data", "file"),
        ]
    elif shape == "switch":
        body = [
            _function("Parse", "Dedupe"),
            _node("Dedupe", "rbe", [["Route"]], func="rbe", property="payload"),
            _node(
                "Route",
                "switch",
                [["Common"], ["Rare"]],
                property="payload.kind",
                rules=[{"t": "eq", "v": "common"}, {"t": "else"}],
                outputs=2,
            ),
            _function("Common", "Pair"),
            _function("Rare", "Pair"),
            _node("Pair", "join", [["Retrieve trace data"]], mode="custom", count="2"),
            *_tail("Retrieve trace data", "file"),
        ]
    elif shape == "sinks":
        body = [
            _function("Parse", "Split"),
            _function("Split", "Left", "Right"),
            _function("Left", "Write left"),
            _function("Right", "Write right"),
            *_tail("Write left", "left file"),
            *_tail("Write right", "right file"),
        ]
    else:
        raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
    return head + body


@dataclass
class _Walk:
    """Simulates messages through a flow and collects the lines the profiler writes."""

    flow: list[dict[str, Any]]
    rng: random.Random
    fault: str | None
    delay_s: tuple[float, float]
    rare_share: float
    block_share: float
    lines: list[tuple[int, str]] = field(default_factory=list)
    pending_join: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {n["id"]: n for n in self.flow if "type" in n}
        self.link_targets = {
            n["id"]: list(n.get("links") or []) for n in self.flow if n.get("type") == "link out"
        }
        # A node's typical processing time belongs to the flow: derived from its id.
        self.base = {n["id"]: random.Random(n["id"]).uniform(2, 15) for n in self.flow}
        self.profiler = next(n for n in self.flow if n.get("type") == "msg-time-profiler")

    def targets(self, node: dict[str, Any]) -> list[str]:
        kind = node["type"]
        if kind == "link out":
            return self.link_targets[node["id"]]
        ports = node.get("wires") or []
        if kind == "switch":
            rare = self.rng.random() < self.rare_share
            return list(ports[1 if rare else 0])
        return [t for port in ports for t in port]

    def work(self, node: dict[str, Any]) -> int:
        if node["type"] in ("link out", "link in", "join", "rbe", "switch"):
            ms = self.rng.uniform(0, 1.5)
        else:
            ms = self.base[node["id"]] * self.rng.uniform(0.5, 1.5)
        if self.fault is not None and node.get("name") == self.fault:
            ms += 1000 * self.rng.uniform(*self.delay_s)
        return int(round(ms))

    def run(self, node_id: str, now: int, path: list[dict[str, Any]], times: list) -> None:
        """Follow one copy of the message from ``node_id``; write a line at a file node."""
        node = self.by_id[node_id]
        now += self.rng.randint(5, 10)  # transit time: not in totalDuration
        if node["type"] == "file":
            record = _line([*path, node], [*times, (now, None)], self.profiler, self.profiler)
            self.lines.append((now, json.dumps(record)))
            return
        if node["type"] == "rbe" and self.rng.random() < self.block_share:
            return  # blocked: no onSend, no line
        if node["type"] == "join":
            key = node["id"]
            if not self.pending_join.get(key):
                self.pending_join[key] = True  # waits for the second message of its group
                return
            self.pending_join[key] = False  # the last message's _msgtracing wins
        received = now
        now += self.work(node)
        path, times = [*path, node], [*times, (received, now)]
        for target in self.targets(node):
            self.run(target, now, path, times)


def write_shape_log(
    path: str | Path,
    flow: list[dict[str, Any]],
    messages: int,
    *,
    seed: int = 0,
    fault: str | None = None,
    delay_s: tuple[float, float] = (0.3, 0.6),
    rare_share: float = 0.1,
    block_share: float = 0.2,
    start_ms: int = 1_678_674_000_000,
) -> Path:
    """Write the trace log of ``messages`` messages through ``flow`` (see :func:`shape_flow`),
    lines in completion order. ``fault``: the name of the node that gets slower."""
    walk = _Walk(flow, random.Random(seed), fault, delay_s, rare_share, block_share)
    first = walk.by_id[walk.profiler["wires"][0][0]]
    t = start_ms
    for _ in range(messages):
        t += walk.rng.randint(1000, 1500)
        walk.run(first["id"], t, [], [])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(text for _, text in sorted(walk.lines, key=lambda x: x[0])) + "\n")
    return path
