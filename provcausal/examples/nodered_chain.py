"""Node-RED flows with the message profiler, and the trace logs they write.

The flow is ``inject → msg-time-profiler (inline) → step 1 → … → step N → trace writer
(function) → file``, as in the paper's Node-RED experiment: every message's ``_msgtracing`` is
written as one JSON line. A fault is a step that gains an extra 0.5–1 s delay. Options add a
fan-out (two branches after a step, one line per branch, shared prefix, shorter branch written
first) and loops (the message passes the chain several times; one line holds every pass).
The lines follow ``../shared/formats.md`` §2, Node-RED 5 quirks included.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

__all__ = ["chain_flow", "write_trace_log"]

TAB = "a1b2c3d4e5f60708"


def _nid(i: int) -> str:
    return f"{0x5000 + i:04x}{i:012x}"


def chain_flow(
    steps: int = 4,
    *,
    fanout_after: int | None = None,
    unnamed: tuple[int, ...] = (),
    duplicate_names: bool = False,
) -> list[dict[str, Any]]:
    """A flow export: a tab, the inject and profiler nodes, the steps, the trace writer, a file."""
    nodes: list[dict[str, Any]] = [
        {"id": TAB, "type": "tab", "label": "Profiled chain", "disabled": False, "info": ""}
    ]
    inject, profiler, writer, file = _nid(900), _nid(901), _nid(902), _nid(903)
    step_ids = [_nid(i) for i in range(1, steps + 1)]
    branch_ids = [_nid(100 + i) for i in range(1, 3)] if fanout_after else []
    nodes.append(
        {
            "id": inject,
            "type": "inject",
            "z": TAB,
            "name": "Every second",
            "props": [{"p": "payload"}],
            "repeat": "1",
            "payloadType": "date",
            "wires": [[profiler]],
        }
    )
    nodes.append(
        {
            "id": profiler,
            "type": "msg-time-profiler",
            "z": TAB,
            "inputField": "topic",
            "outputField": "_msgtracing",
            "profileMode": "inline",
            "autoStart": True,
            "outputs": 1,
            "name": "",
            "wires": [[step_ids[0]]],
        }
    )
    for i, sid in enumerate(step_ids, start=1):
        targets = [step_ids[i]] if i < steps else [writer]
        if fanout_after == i:
            targets = [branch_ids[0], branch_ids[1]]
        name = "" if i in unnamed else ("Step" if duplicate_names else f"Step {i}")
        nodes.append(
            {
                "id": sid,
                "type": "function",
                "z": TAB,
                "name": name,
                "func": "return msg;",
                "outputs": 1,
                "noerr": 0,
                "wires": [targets],
            }
        )
    for j, bid in enumerate(branch_ids, start=1):
        nodes.append(
            {
                "id": bid,
                "type": "function",
                "z": TAB,
                "name": f"Branch {j}",
                "func": "return msg;",
                "outputs": 1,
                "wires": [[writer]],
            }
        )
    nodes.append(
        {
            "id": writer,
            "type": "function",
            "z": TAB,
            "name": "Retrieve trace data",
            "func": "msg.payload = msg._msgtracing; return msg;",
            "outputs": 1,
            "wires": [[file]],
        }
    )
    nodes.append(
        {
            "id": file,
            "type": "file",
            "z": TAB,
            "name": "",
            "filename": "/data/trace.log",
            "appendNewline": True,
            "wires": [[]],
        }
    )
    return nodes


def _by_type(flow: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in flow}


def _ref(node: dict[str, Any]) -> dict[str, Any]:
    """A node as the profiler copies it: id, name (empty when unnamed), type."""
    return {"id": node["id"], "name": node.get("name", ""), "type": node["type"]}


def _line(
    path_nodes: list[dict[str, Any]],
    times: list[tuple[int, int | None]],
    initiator: dict[str, Any],
    tracker: dict[str, Any],
) -> dict[str, Any]:
    trace: list[dict[str, Any]] = []
    profile: list[dict[str, Any]] = []
    for node, (received, sent) in zip(path_nodes, times, strict=True):
        trace.append({"eventName": "onReceive", "node": _ref(node), "timestamp": received})
        if sent is not None:
            trace.append({"eventName": "onSend", "node": _ref(node), "timestamp": sent})
            profile.append({"node": _ref(node), "duration": sent - received})
    total = sum(p["duration"] for p in profile)
    maximum = max((p["duration"] for p in profile), default=0)
    for p in profile:
        p["percentage"] = round(100 * p["duration"] / total) if total else None
    return {
        "initiatorNode": _ref(initiator),
        "trackingNode": {"id": tracker["id"], "name": tracker.get("name", "")},
        "trace": trace,
        "profile": profile,
        "totalDuration": total,
        "maximumDuration": maximum,
        "maximumPercentage": round(100 * maximum / total) if total else None,
    }


def write_trace_log(
    path: str | Path,
    flow: list[dict[str, Any]],
    messages: int,
    *,
    seed: int = 0,
    delay_step: int | None = None,
    delay_s: tuple[float, float] = (0.5, 1.0),
    passes: int = 1,
    start_ms: int = 1_678_674_000_000,
) -> Path:
    """Append-free write of ``messages`` trace lines for ``flow`` (see :func:`chain_flow`)."""
    rng = random.Random(seed)
    nodes = _by_type(flow)
    by_kind = {n["type"]: n for n in flow if "wires" in n}
    profiler = by_kind["msg-time-profiler"]
    steps = [
        n
        for n in flow
        if n["type"] == "function"
        and n["name"] != "Retrieve trace data"
        and not n["name"].startswith("Branch")
    ]
    writer = next(n for n in flow if n.get("name") == "Retrieve trace data")
    file = by_kind["file"]
    # A node's typical processing time belongs to the flow, not to one log: derive it from
    # the node id so that every log of the same flow shares it.
    base = {n["id"]: random.Random(n["id"]).uniform(2, 15) for n in flow}
    lines: list[str] = []
    t = start_ms
    for _ in range(messages):
        t += rng.randint(1000, 1500)
        now = t

        def visit(node: dict[str, Any], last: bool = False) -> tuple[int, int | None]:
            nonlocal now
            now += rng.randint(5, 10)  # transit time: not in totalDuration
            received = now
            if last:
                return received, None
            work = base[node["id"]] * rng.uniform(0.5, 1.5)
            if delay_step is not None and steps and node["id"] == steps[delay_step - 1]["id"]:
                work += 1000 * rng.uniform(*delay_s)
            now += int(round(work))
            return received, now

        main_path: list[dict[str, Any]] = []
        times: list[tuple[int, int | None]] = []
        fan = None
        for _p in range(passes):
            for step in steps:
                main_path.append(step)
                times.append(visit(step))
                targets = step["wires"][0]
                if len(targets) > 1:
                    fan = (len(main_path), [nodes[x] for x in targets])
                    break
        if fan is None:
            path_nodes = [*main_path, writer, file]
            times += [visit(writer), visit(file, last=True)]
            lines.append(json.dumps(_line(path_nodes, times, profiler, profiler)))
            continue
        prefix_len, branches = fan
        saved = now
        branch_lines = []
        for branch in branches:
            now = saved
            b_times = [*times, visit(branch), visit(writer), visit(file, last=True)]
            branch_lines.append(
                (
                    now,
                    json.dumps(
                        _line([*main_path, branch, writer, file], b_times, profiler, profiler)
                    ),
                )
            )
        lines.extend(text for _, text in sorted(branch_lines))  # completion order
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_flow(path: str | Path, flow: list[dict[str, Any]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(flow, indent=4))
    return path
