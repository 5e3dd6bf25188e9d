"""Parsing saved ``seldon pipeline inspect`` output, every generation (formats.md §3).

- raw ≤ 2.8: ``<topic>\\t<key>\\t<value-json>`` per line, ``--verbose`` headers appended as
  ``\\t<name>=[v1 v2]`` after an empty field;
- raw ≥ 2.9: a ``Using consumer config map[...]`` line, then per topic ``Topic: <topic>``,
  ``<key>\\t<value-json>[headers]`` lines and a ``----------------`` line;
- ``--format json`` (in ≥ 2.9 after the ``Using consumer config`` line):
  ``{"topics":[{"name":…, "msgs":[{"headers":…, "key":…, "value":…}]}]}``.

Values are gRPC protojson (Open Inference Protocol v2): parsed as JSON, never matched as text.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcausal.importers.base import check_nesting, refuse_lone_surrogates

from provcausal.errors import BadInputError

__all__ = [
    "Message",
    "Topic",
    "parse_inspect",
    "parse_topic",
    "tensor_values",
    "xid_time",
    "looks_like_inspect",
]

_DECODER = json.JSONDecoder()
_TOPIC = re.compile(
    r"^(?P<prefix>[^.\s]+)\.(?P<ns>[^.\s]+)\."
    r"(?:(?P<kind>model|pipeline)\.(?P<name>\S+)\.(?P<dir>inputs|outputs)|errors\.errors)$"
)
_HEADER = re.compile(r"^(?P<name>[^=\s]+)=\[(?P<values>.*)\]$")
_CONSUMER = "Using consumer config"
_SEPARATOR = re.compile(r"^-{8,}\s*$")


@dataclass(frozen=True)
class Topic:
    """A parsed topic name: a model (step) or pipeline, inputs or outputs, or errors."""

    raw: str
    kind: str  # "model" | "pipeline" | "errors"
    name: str
    direction: str  # "inputs" | "outputs" | ""
    namespace: str


@dataclass
class Message:
    topic: Topic
    key: str
    value: Any
    headers: dict[str, list[str]] = field(default_factory=dict)
    line: int = 0
    path: str = ""


def parse_topic(text: str, path: Path, line: int) -> Topic:
    m = _TOPIC.match(text.strip())
    if not m:
        raise BadInputError(
            f"not a Seldon topic name: {text.strip()[:80]!r}", path=str(path), line=line
        )
    if m.group("kind") is None:
        return Topic(text.strip(), "errors", "errors", "", m.group("ns"))
    return Topic(text.strip(), m.group("kind"), m.group("name"), m.group("dir"), m.group("ns"))


def _headers(fields: list[str], path: Path, line: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in fields:
        if not item.strip():
            continue
        m = _HEADER.match(item.strip())
        if not m:
            raise BadInputError(
                f"cannot read header {item.strip()[:60]!r}", path=str(path), line=line
            )
        out.setdefault(m.group("name"), []).extend(m.group("values").split())
    return out


def _value_and_headers(rest: str, path: Path, line: int, topic: Topic) -> tuple[Any, dict]:
    text = rest.lstrip()
    check_nesting(text, path, line)
    try:
        value, end = _DECODER.raw_decode(text)
        refuse_lone_surrogates(value, text, path, line - 1)
    except json.JSONDecodeError as exc:
        if topic.kind == "errors":  # error messages need not be JSON
            parts = rest.split("\t")
            return parts[0], _headers(parts[1:], path, line)
        raise BadInputError(
            f"message value is not valid JSON ({exc.msg}, column {exc.colno})",
            path=str(path),
            line=line,
        ) from None
    tail = text[end:]
    if tail.strip() and not tail.startswith("\t"):
        raise BadInputError("unexpected text after the message value", path=str(path), line=line)
    return value, _headers(tail.split("\t"), path, line)


def looks_like_inspect(head: str) -> bool:
    for line in head.splitlines()[:20]:
        s = line.strip()
        if not s or s.startswith("# "):
            continue
        if s.startswith(_CONSUMER) or s.startswith("Topic: ") or s.startswith('{"topics"'):
            return True
        first = s.split("\t", 1)[0]
        return bool(_TOPIC.match(first)) and "\t" in s
    return False


def _json_format(doc: Any, path: Path, line_offset: int) -> list[Message]:
    if not isinstance(doc, dict) or not isinstance(doc.get("topics"), list):
        raise BadInputError(
            'expected {"topics": [...]} (seldon pipeline inspect --format json)',
            path=str(path),
            line=line_offset + 1,
        )
    out: list[Message] = []
    for ti, entry in enumerate(doc["topics"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise BadInputError(
                "a topic needs a string 'name'", path=str(path), key=f"topics[{ti}].name"
            )
        topic = parse_topic(entry["name"], path, line_offset + 1)
        msgs = entry.get("msgs") or []
        if not isinstance(msgs, list):
            raise BadInputError("expected a list", path=str(path), key=f"topics[{ti}].msgs")
        for mi, msg in enumerate(msgs):
            where = f"topics[{ti}].msgs[{mi}]"
            if not isinstance(msg, dict) or not isinstance(msg.get("key"), str):
                raise BadInputError(
                    "a message needs a string 'key'", path=str(path), key=f"{where}.key"
                )
            raw_headers = msg.get("headers") or {}
            if not isinstance(raw_headers, dict):
                raise BadInputError(
                    "headers must be an object", path=str(path), key=f"{where}.headers"
                )
            headers = {
                str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
                for k, v in raw_headers.items()
            }
            out.append(
                Message(topic, msg["key"], msg.get("value"), headers, line_offset + 1, str(path))
            )
    return out


def parse_inspect(text: str, path: Path) -> list[Message]:
    """All messages in a saved inspect output, whatever its generation."""
    lines = text.splitlines()
    start = 0
    while start < len(lines) and (not lines[start].strip() or lines[start].startswith("# ")):
        start += 1
    if start < len(lines) and lines[start].startswith(_CONSUMER):
        start += 1
    body = "\n".join(lines[start:]).strip()
    if body.startswith("{"):
        check_nesting(body, path, start + 1)
        try:
            doc = json.loads(body)
            refuse_lone_surrogates(doc, body, path, start)
        except json.JSONDecodeError as exc:
            raise BadInputError(
                f"not valid JSON ({exc.msg})", path=str(path), line=start + exc.lineno
            ) from None
        if isinstance(doc, dict) and "topics" not in doc and ("inputs" in doc or "outputs" in doc):
            raise BadInputError(
                "a single message value without its topic and key (e.g. "
                "extracted with jq); save the whole inspect output",
                path=str(path),
            )
        return _json_format(doc, path, start)
    messages: list[Message] = []
    current: Topic | None = None
    for number in range(start + 1, len(lines) + 1):
        line = lines[number - 1]
        if not line.strip() or line.startswith("# ") or _SEPARATOR.match(line):
            if _SEPARATOR.match(line):
                current = None
            continue
        if line.startswith("Topic: "):
            current = parse_topic(line[len("Topic: ") :], path, number)
            continue
        parts = line.split("\t", 2)
        if current is not None:  # ≥ 2.9 block: <key>\t<value>[headers]
            if len(parts) < 2:
                raise BadInputError("expected <key><TAB><value>", path=str(path), line=number)
            key, rest = parts[0], line.split("\t", 1)[1]
            topic = current
        else:  # ≤ 2.8 line: <topic>\t<key>\t<value>[headers]
            if len(parts) < 3:
                raise BadInputError(
                    "expected <topic><TAB><key><TAB><value>", path=str(path), line=number
                )
            topic = parse_topic(parts[0], path, number)
            key, rest = parts[1], parts[2]
        if not key:
            raise BadInputError("empty request id (Kafka key)", path=str(path), line=number)
        value, headers = _value_and_headers(rest, path, number, topic)
        messages.append(Message(topic, key, value, headers, number, str(path)))
    return messages


_CONTENTS = {
    "boolContents": bool,
    "intContents": int,
    "int64Contents": int,
    "uintContents": int,
    "uint64Contents": int,
    "fp32Contents": float,
    "fp64Contents": float,
}
_RAW = {
    "BOOL": "?",
    "UINT8": "B",
    "UINT16": "H",
    "UINT32": "I",
    "UINT64": "Q",
    "INT8": "b",
    "INT16": "h",
    "INT32": "i",
    "INT64": "q",
    "FP32": "f",
    "FP64": "d",
}


def tensor_values(tensor: dict[str, Any], raw: str | None = None) -> list[Any]:
    """A tensor's elements: numbers (64-bit integers printed as strings are parsed), or text
    for BYTES. Raw contents (base64, little-endian) are decoded only when ``contents`` is
    absent. Raises ``ValueError`` on malformed contents."""
    contents = tensor.get("contents")
    if isinstance(contents, dict) and contents:
        for key, kind in _CONTENTS.items():
            if key in contents:
                values = contents[key]
                if not isinstance(values, list):
                    raise ValueError(f"contents.{key} must be a list")
                return [kind(v) if kind is not bool else bool(v) for v in values]
        if "bytesContents" in contents:
            return [
                base64.b64decode(v).decode("utf-8", "replace") for v in contents["bytesContents"]
            ]
        raise ValueError(f"unknown contents {sorted(contents)}")
    if raw is not None:
        data = base64.b64decode(raw)
        fmt = _RAW.get(str(tensor.get("datatype", "")).upper())
        if fmt is None:
            return [data.decode("utf-8", "replace")]
        size = struct.calcsize(fmt)
        return list(struct.unpack(f"<{len(data) // size}{fmt}", data[: len(data) // size * size]))
    return []


_XID = "0123456789abcdefghijklmnopqrstuv"
_XID_RE = re.compile(r"^[0-9a-v]{20}$")


def xid_time(key: str) -> int | None:
    """The creation second embedded in an XID request id, or ``None`` if it is not an XID."""
    if not _XID_RE.match(key):
        return None
    bits = 0
    for char in key:
        bits = (bits << 5) | _XID.index(char)
    seconds = (bits >> 4) >> 64
    return seconds if 1_262_304_000 <= seconds <= 4_102_444_800 else None  # 2010..2100
