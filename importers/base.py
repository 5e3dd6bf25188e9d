"""What every importer shares: the result type, the protocol, and reading files safely.

An importer is pure: it reads files and returns PROV documents with their FlowCept records;
it never talks to a store. It works in two steps so that the caller can show progress and
store each run as soon as it is read: ``plan`` lists the run sources (cheap), ``read`` turns
one source into an :class:`ImportedRun`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import prov.model as pm

from provcausal.errors import BadInputError
from provcausal.model import flowcept as fc
from provcausal.model.convert import prov_to_flowcept
from provcausal.model.flowcept import RunRecords
from provcausal.model.times import parse_rfc3339

__all__ = [
    "Importer",
    "RunSource",
    "ImportedRun",
    "ImportOptions",
    "read_bytes",
    "iter_files",
    "content_digest",
    "walk_files",
    "read_text",
    "parse_json",
    "parse_rfc3339",
    "MAX_INPUT_BYTES",
]

#: Larger inputs are refused with a clear error rather than read into memory.
MAX_INPUT_BYTES = 1 << 30


@dataclass
class ImportOptions:
    """Options that apply to every importer, plus each importer's own (``extra``)."""

    workflow: str
    label: str | None = None
    skip_bad: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunSource:
    """One run to read: where it is (``key``), its files, and how to show it. Its id comes
    from its content (:func:`content_digest`), never from where it lies."""

    key: str
    paths: list[Path]
    display: str


@dataclass
class ImportedRun:
    """One run read from its source: the PROV document, its FlowCept records, diagnostics."""

    document: pm.ProvDocument
    records: RunRecords
    tasks: int
    entities: int
    samples: int
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.records.run_id


class Importer(ABC):
    """A reader of one system's provenance records."""

    #: The name users type: ``provcausal import <name>``.
    name: str = ""
    #: Whether the PROV ids the importer writes are already unique per run.
    keeps_ids: bool = True

    @abstractmethod
    def sniff(self, head: bytes) -> bool:
        """Whether the first bytes of a file look like this system's records."""

    @abstractmethod
    def plan(self, paths: Sequence[Path], options: ImportOptions) -> list[RunSource]:
        """The runs that ``paths`` hold (raises :class:`BadInputError` if there are none)."""

    @abstractmethod
    def read(self, source: RunSource, options: ImportOptions) -> ImportedRun:
        """Read one run; :class:`BadInputError` names the file and line or key of bad input."""

    def finish(
        self,
        document: pm.ProvDocument,
        *,
        run_id: str,
        source: RunSource,
        options: ImportOptions,
        samples: int,
        warnings: list[str],
        skipped: list[str],
        run_metadata: dict[str, Any] | None = None,
    ) -> ImportedRun:
        """Map the finished PROV document to FlowCept records (shared by every importer);
        the task and entity counts are the mapping's."""
        try:
            records = prov_to_flowcept(
                document,
                run_id=run_id,
                workflow=options.workflow,
                system=self.name,
                label=options.label,
                source=source.display,
                warnings=warnings,
                run_metadata={**(run_metadata or {}), fc.SKIPPED: len(skipped)},
                keep_ids=self.keeps_ids,
            )
        except BadInputError as exc:  # the mapping names the record; the file is ours to add
            if exc.path is not None:
                raise
            raise BadInputError(
                exc.reason, path=source.display, line=exc.line, key=exc.key
            ) from None
        tasks = fc.run_count(records.workflow, fc.TASKS) or 0
        entities = fc.run_count(records.workflow, fc.ENTITIES) or 0
        return ImportedRun(document, records, tasks, entities, samples, warnings, skipped)

    def iter_files(self, paths: Sequence[Path]) -> Iterator[Path]:
        """Files named directly, and every file below named folders."""
        return iter_files(paths)


def content_digest(*parts: str | bytes) -> str:
    """A digest of a run's content: its id is derived from it, so the same data moved to
    another folder, or named another way, gets the same ids (and the same numbers)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part)
        h.update(b"\x1f")
    return h.hexdigest()


def walk_files(root: Path) -> Iterator[Path]:
    """Files below ``root`` in a stable order, streamed: ``os.walk``, because ``Path.rglob``
    (Python <= 3.12) keeps every path it has yielded."""
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            yield Path(folder) / name


def iter_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Files named directly, and every file below named folders; a missing path is an error."""
    for path in paths:
        if path.is_dir():
            yield from walk_files(path)
        elif path.exists():
            yield path
        else:
            raise BadInputError("no such file or folder", path=str(path))


def read_bytes(path: Path, limit: int = MAX_INPUT_BYTES) -> bytes:
    """A file's bytes, refusing files larger than ``limit`` (sparse giants included)."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise BadInputError(
                f"file is {size / 2**30:.1f} GiB, larger than the {limit / 2**30:.0f} GiB "
                "an import reads",
                path=str(path),
            )
        with path.open("rb") as handle:
            return handle.read(limit + 1)
    except OSError as exc:
        raise BadInputError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None


def read_text(path: Path, limit: int = MAX_INPUT_BYTES) -> str:
    """A file's text as UTF-8; names the line of the first byte that is not UTF-8."""
    data = read_bytes(path, limit)
    if not data.strip():
        raise BadInputError("file is empty", path=str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            path=str(path),
            line=line,
        ) from None


#: JSON nesting an import accepts (a SciPipe history 500 processes deep nests ~1,000 levels).
MAX_JSON_DEPTH = 20_000


def parse_json(text: str, path: Path, line_offset: int = 0) -> Any:
    """``json.loads`` whose error names the file and line; deep nesting is allowed."""
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(limit, MAX_JSON_DEPTH))
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"not valid JSON ({exc.msg}, column {exc.colno})",
            path=str(path),
            line=exc.lineno + line_offset,
        ) from None
    except RecursionError:
        raise BadInputError(
            f"JSON nested deeper than {MAX_JSON_DEPTH} levels",
            path=str(path),
            line=line_offset + 1 if line_offset else None,
        ) from None
    finally:
        sys.setrecursionlimit(limit)
