"""A Node-RED flow export (``flows.json``): nodes, tabs, and the wires between nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcausal.importers.base import parse_json, read_text

from provcausal.errors import BadInputError

__all__ = ["Flow", "FlowNode", "parse_flow"]

_SPECIAL = {"tab", "group", "subflow"}


@dataclass
class FlowNode:
    id: str
    type: str
    name: str
    tab: str | None


@dataclass
class Flow:
    """The flow's nodes by id and its dataflow edges (wires, and link out → link in)."""

    nodes: dict[str, FlowNode] = field(default_factory=dict)
    tabs: dict[str, str] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)

    def has_edge(self, source: str, target: str) -> bool:
        return (source, target) in self.edges

    def label(self, node_id: str) -> str | None:
        node = self.nodes.get(node_id)
        if node is None:
            return None
        return node.name or node.type


def parse_flow(path: Path) -> Flow:
    """Read a flow export; errors name the file and the index of the offending object."""
    data: Any = parse_json(read_text(path), path)
    if not isinstance(data, list):
        raise BadInputError("a flow export is a JSON array of node objects", path=str(path))
    flow = Flow()
    links: list[tuple[str, str, list[Any]]] = []
    for index, obj in enumerate(data):
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            raise BadInputError(
                "expected an object with a string 'id'", path=str(path), key=f"[{index}]"
            )
        kind = str(obj.get("type", ""))
        if kind == "tab":
            flow.tabs[obj["id"]] = str(obj.get("label") or obj["id"])
            continue
        if kind in _SPECIAL or kind.startswith("subflow:") and "wires" not in obj:
            continue
        if "wires" not in obj and kind not in ("link in", "link out"):
            continue  # a config node
        flow.nodes[obj["id"]] = FlowNode(obj["id"], kind, str(obj.get("name") or ""), obj.get("z"))
        wires = obj.get("wires") or []
        if not isinstance(wires, list):
            raise BadInputError(
                "'wires' must be a list of lists", path=str(path), key=f"[{index}].wires"
            )
        for port in wires:
            if not isinstance(port, list):
                raise BadInputError(
                    "'wires' must be a list of lists", path=str(path), key=f"[{index}].wires"
                )
            for target in port:
                flow.edges.add((obj["id"], str(target)))
        if kind in ("link out", "link in", "link call"):
            links.append((obj["id"], kind, list(obj.get("links") or [])))
    for node_id, kind, targets in links:
        for target in targets:
            if kind == "link in":
                flow.edges.add((str(target), node_id))
            else:
                flow.edges.add((node_id, str(target)))
    return flow
