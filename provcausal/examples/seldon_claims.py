"""An insurance-claims Seldon Core v2 pipeline, and the ``seldon pipeline inspect`` output it
produces, in the shape of the paper's Seldon experiments.

Steps: ``claim-complexity`` (amount, items → complexity), ``fraud-score`` (age, amount → fraud),
``triage`` (complexity → priority, and a ``manual_review`` trigger tensor that is *absent*
rather than false for simple claims), ``manual-review`` (triggered; complexity → review cost),
``payout`` (outer join of everything → payout). Faults: ``complexity_bug`` (the complexity step
computes the wrong thing) and ``input_scale`` (the request amounts are scaled, e.g. by 1.5).

Output follows ``../shared/formats.md`` §3: gRPC protojson values (lowerCamelCase keys,
64-bit integers as strings, FP64 in shortest form), raw ≤ 2.8 lines, raw ≥ 2.9 blocks or
``--format json``, with ``--verbose`` headers.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
from pathlib import Path
from typing import Any

__all__ = [
    "PIPELINE",
    "SPEC_YAML",
    "FORMATS",
    "write_spec",
    "simulate",
    "write_inspect",
    "make_xid",
    "renamed",
]

FORMATS = ("raw28", "raw29", "json28", "json29")

PIPELINE = "insurance-claims"

SPEC_YAML = f"""apiVersion: mlops.seldon.io/v1alpha1
kind: Pipeline
metadata:
  name: {PIPELINE}
spec:
  steps:
    - name: claim-complexity
      inputs:
        - {PIPELINE}.inputs.amount
        - {PIPELINE}.inputs.items
    - name: fraud-score
      inputs:
        - {PIPELINE}.inputs.age
        - {PIPELINE}.inputs.amount
    - name: triage
      inputs:
        - claim-complexity
    - name: manual-review
      inputs:
        - claim-complexity.outputs.complexity
      tensorMap:
        claim-complexity.outputs.complexity: complexity_in
      triggers:
        - triage.outputs.manual_review
    - name: payout
      inputs:
        - claim-complexity
        - fraud-score
        - manual-review
        - {PIPELINE}.inputs.amount
      inputsJoinType: outer
  output:
    steps:
      - payout
"""

_XID = "0123456789abcdefghijklmnopqrstuv"


def make_xid(seconds: int, counter: int) -> str:
    """An XID (rs/xid) whose first four bytes are ``seconds``."""
    raw = (
        seconds.to_bytes(4, "big")
        + b"\x9c\x4e\x01"
        + b"\x12\x34"
        + (counter % (1 << 24)).to_bytes(3, "big")
    )
    bits = int.from_bytes(raw, "big") << 4
    return "".join(_XID[(bits >> (5 * (19 - i))) & 31] for i in range(20))


def _rename_text(text: str, pipeline: str, steps: dict[str, str]) -> str:
    for old, new in sorted(steps.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new, text)
    return re.sub(rf"(?<![\w-]){re.escape(PIPELINE)}(?![\w-])", pipeline, text)


def write_spec(
    path: str | Path,
    pipeline: str = PIPELINE,
    steps: dict[str, str] | None = None,
    *,
    spec: str = SPEC_YAML,
) -> Path:
    """The pipeline spec (``spec``: this pipeline's, or another example's written the same
    way); ``pipeline``/``steps`` (OLD → NEW) deploy it as a renamed version."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_rename_text(spec, pipeline, steps or {}))
    return path


def renamed(
    requests: list[dict[str, Any]], pipeline: str, steps: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """``requests`` as a renamed deployment of the pipeline writes them: a fixed version is
    often deployed under another pipeline name, and its steps under other model names."""
    steps = steps or {}
    return [
        {
            "key": req["key"],
            "messages": {
                _rename_text(topic, pipeline, steps): {
                    **json.loads(_rename_text(json.dumps(msg), pipeline, steps)),
                    "pipeline": pipeline,
                }
                for topic, msg in req["messages"].items()
            },
        }
        for req in requests
    ]


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _tensor(name: str, datatype: str, values: list[Any]) -> dict[str, Any]:
    key = {
        "FP64": "fp64Contents",
        "FP32": "fp32Contents",
        "INT64": "int64Contents",
        "BOOL": "boolContents",
        "INT32": "intContents",
    }[datatype]
    contents: list[Any]
    if datatype == "INT64":
        contents = [str(int(v)) for v in values]
    elif datatype == "BOOL":
        contents = [bool(v) for v in values]
    else:
        contents = [_num(v) for v in values]
    return {
        "name": name,
        "datatype": datatype,
        "shape": ["1", str(len(values))],
        "contents": {key: contents},
    }


def _step(
    msgs: dict[str, dict[str, Any]],
    routes: dict[str, list[str]],
    rng: random.Random,
    name: str,
    sources: list[str],
    ins: list[dict[str, Any]],
    outs: list[dict[str, Any]],
) -> None:
    """Record one step's input and output messages with the routes Seldon puts on them."""
    # The route a message carries is the union of the routes it was joined from.
    route = list(dict.fromkeys(r for src in sources for r in routes[src]))
    msgs[f"model.{name}.inputs"] = {"value": {"inputs": ins}, "route": route}
    routes[name] = [*route, f":{name}_1:"]
    msgs[f"model.{name}.outputs"] = {
        "value": {"modelName": f"{name}_1", "modelVersion": "1", "outputs": outs},
        "route": routes[name],
        "service": rng.randint(1, 9),
    }


def simulate(
    n: int,
    *,
    seed: int = 0,
    complexity_bug: bool = False,
    input_scale: float = 1.0,
    start: int = 1_688_047_909,
) -> list[dict[str, Any]]:
    """``n`` requests through the pipeline: per request, the messages of every topic."""
    rng = random.Random(seed)
    requests = []
    for i in range(n):
        key = make_xid(start + i * 7 + seed * 100_000, i + seed * 1_000_000)
        amount = rng.lognormvariate(7.0, 0.6) * input_scale
        items = rng.randint(1, 12)
        age = rng.randint(18, 85)
        if complexity_bug:
            complexity = 0.9 * math.log(amount) + 0.05 * items + 1.5 + rng.gauss(0, 0.1)
        else:
            complexity = 0.3 * math.log(amount) + 0.25 * items + rng.gauss(0, 0.1)
        fraud = 1 / (1 + math.exp(-(0.0004 * amount - 0.03 * age))) + rng.gauss(0, 0.02)
        priority = 1 + 2 * complexity + rng.gauss(0, 0.1)
        review = complexity > 3.2
        cost = 40 + 25 * complexity + rng.gauss(0, 2) if review else None
        payout = (
            amount * (1 - min(max(fraud, 0), 1)) - 15 * complexity - (cost or 0) + rng.gauss(0, 5)
        )
        inputs = [
            _tensor("amount", "FP64", [amount]),
            _tensor("items", "INT64", [items]),
            _tensor("age", "INT64", [age]),
        ]
        msgs: dict[str, dict[str, Any]] = {}
        routes: dict[str, list[str]] = {PIPELINE: []}

        step = functools.partial(_step, msgs, routes, rng)
        msgs[f"pipeline.{PIPELINE}.inputs"] = {
            "value": {"modelName": PIPELINE, "inputs": inputs},
            "route": [],
        }
        step(
            "claim-complexity",
            [PIPELINE],
            inputs[:2],
            [_tensor("complexity", "FP64", [complexity])],
        )
        step("fraud-score", [PIPELINE], [inputs[2], inputs[0]], [_tensor("fraud", "FP64", [fraud])])
        triage_out = [_tensor("priority", "FP64", [priority])]
        if review:
            triage_out.append(_tensor("manual_review", "BOOL", [True]))
        step(
            "triage",
            ["claim-complexity"],
            [_tensor("complexity", "FP64", [complexity])],
            triage_out,
        )
        payout_in = [_tensor("complexity", "FP64", [complexity]), _tensor("fraud", "FP64", [fraud])]
        if review:
            step(
                "manual-review",
                ["claim-complexity", "triage"],
                [_tensor("complexity_in", "FP64", [complexity])],
                [_tensor("review_cost", "FP64", [cost])],
            )
            payout_in.append(_tensor("review_cost", "FP64", [cost]))
        payout_in.append(inputs[0])
        payout_sources = ["claim-complexity", "fraud-score", PIPELINE]
        if review:
            payout_sources.append("manual-review")
        step("payout", payout_sources, payout_in, [_tensor("payout", "FP64", [payout])])
        msgs[f"pipeline.{PIPELINE}.outputs"] = {
            "value": {"outputs": [_tensor("payout", "FP64", [payout])]},
            "route": routes["payout"],
            "service": rng.randint(10, 40),
        }
        requests.append({"key": key, "messages": msgs})
    return requests


def _headers(key: str, msg: dict[str, Any], rng: random.Random) -> dict[str, list[str]]:
    headers = {
        "pipeline": [msg.get("pipeline", PIPELINE)],
        "x-request-id": [key],
        "traceparent": [f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01"],
        "x-forwarded-proto": ["http"],
        "x-envoy-expected-rq-timeout-ms": ["60000"],
    }
    if msg.get("route"):
        headers["x-seldon-route"] = list(msg["route"])
    if "service" in msg:
        headers["x-envoy-upstream-service-time"] = [str(msg["service"])]
    return headers


def write_inspect(
    path: str | Path,
    requests: list[dict[str, Any]],
    *,
    fmt: str = "raw28",
    verbose: bool = False,
    namespace: str = "default",
    seed: int = 0,
) -> Path:
    """Write what ``seldon pipeline inspect insurance-claims [--verbose] [--format json]``
    prints for ``requests``. ``fmt``: ``raw28`` / ``raw29`` (raw output of CLI ≤ 2.8 / ≥ 2.9),
    ``json28`` / ``json29`` (``--format json``; 2.9 prints the consumer-config line first)."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}")
    rng = random.Random(seed)
    topics: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for req in requests:
        for suffix, msg in req["messages"].items():
            topics.setdefault(f"seldon.{namespace}.{suffix}", []).append((req["key"], msg))
    lines: list[str] = []
    if fmt.endswith("29"):
        lines.append(
            "Using consumer config map[auto.offset.reset:earliest "
            "bootstrap.servers:seldon-kafka-bootstrap.seldon-mesh:9092 "
            "group.id:seldon-cli-8827 security.protocol:plaintext]"
        )
    if fmt.startswith("json"):
        doc = {
            "topics": [
                {
                    "name": name,
                    "msgs": [
                        {
                            "headers": _headers(k, m, rng) if verbose else None,
                            "key": k,
                            "value": m["value"],
                        }
                        for k, m in msgs
                    ],
                }
                for name, msgs in sorted(topics.items())
            ]
        }
        lines.append(json.dumps(doc))
    for name, msgs in sorted(topics.items()) if fmt.startswith("raw") else []:
        if fmt == "raw29":
            lines.append(f"Topic: {name}")
        for key, msg in msgs:
            value = json.dumps(msg["value"], separators=(", ", ":"))
            head = ""
            if verbose:
                head = "\t" + "".join(
                    f"\t{h}=[{' '.join(v)}]" for h, v in _headers(key, msg, rng).items()
                )
            lines.append(
                (f"{key}\t{value}" if fmt == "raw29" else f"{name}\t{key}\t{value}") + head
            )
        if fmt == "raw29":
            lines.append("----------------")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
