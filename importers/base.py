"""What every importer shares: the result type, the protocol, and reading files safely.

An importer is pure: it reads files and returns PROV documents with their FlowCept records;
it never talks to a store. It works in two steps so that the caller can show progress and
store each run as soon as it is read: ``plan`` lists the run sources (cheap), ``read`` turns
one source into an :class:`ImportedRun`.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import math
import os
import re
import stat
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import prov.model as pm

from provcausal.errors import BadInputError
from provcausal.model import flowcept as fc
from provcausal.model.convert import prov_to_flowcept
from provcausal.model.flowcept import RunRecords
from provcausal.model.prov import RunDocumentBuilder
from provcausal.model.times import MAX_YEAR, MIN_YEAR, parse_rfc3339

__all__ = [
    "Importer",
    "RunSource",
    "ImportedRun",
    "ImportOptions",
    "read_bytes",
    "iter_files",
    "content_digest",
    "walk_files",
    "walk_folders",
    "name_problem",
    "storable",
    "check_regular",
    "open_regular",
    "read_text",
    "parse_json",
    "lone_surrogate_line",
    "refuse_lone_surrogates",
    "check_nesting",
    "json_nesting",
    "MAX_NESTING",
    "parse_rfc3339",
    "MAX_INPUT_BYTES",
    "epoch_in_range",
    "MIN_YEAR",
    "MAX_YEAR",
    "finite_number",
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
    #: Warnings found while planning (files skipped in folders); the import reports them.
    notes: list[str] = field(default_factory=list)


@dataclass
class RunSource:
    """One run to read: where it is (``key``), its files, and how to show it. Its id comes
    from its content (:func:`content_digest`), never from where it lies."""

    key: str
    paths: list[Path]
    display: str


@dataclass
class ImportedRun:
    """One run read from its source: its PROV (a ``prov`` document read from a file, or the
    builder an importer wrote), its FlowCept records, diagnostics."""

    prov: pm.ProvDocument | RunDocumentBuilder
    records: RunRecords
    tasks: int
    entities: int
    samples: int
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.records.run_id

    @property
    def document(self) -> pm.ProvDocument:
        """The run's PROV as a ``prov`` document (built on first use for a builder's run)."""
        return self.prov if isinstance(self.prov, pm.ProvDocument) else self.prov.document


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
        document: pm.ProvDocument | RunDocumentBuilder,
        *,
        run_id: str,
        source: RunSource,
        options: ImportOptions,
        samples: int,
        warnings: list[str],
        skipped: list[str],
        run_metadata: dict[str, Any] | None = None,
    ) -> ImportedRun:
        """Map the finished PROV (a document, or the builder's records) to FlowCept records
        (shared by every importer); the task and entity counts are the mapping's."""
        how: dict[str, Any] = {
            "run_id": run_id,
            "workflow": options.workflow,
            "system": self.name,
            "label": options.label,
            "source": storable(source.display),
            "warnings": [storable(w) for w in warnings],
            "run_metadata": {**(run_metadata or {}), fc.SKIPPED: len(skipped)},
            "keep_ids": self.keeps_ids,
        }
        try:
            records = prov_to_flowcept(document, **how)
        except BadInputError as exc:  # the mapping names the record; the file is ours to add
            if exc.path is not None:
                raise
            raise BadInputError(
                exc.reason, path=source.display, line=exc.line, key=exc.key
            ) from None
        tasks = fc.run_count(records.workflow, fc.TASKS) or 0
        entities = fc.run_count(records.workflow, fc.ENTITIES) or 0
        return ImportedRun(document, records, tasks, entities, samples, warnings, skipped)

    def iter_files(
        self, paths: Sequence[Path], options: ImportOptions | None = None
    ) -> Iterator[Path]:
        """Files named directly, and every regular file below named folders (what is
        skipped is noted in ``options.notes``)."""
        if options is None:
            return iter_files(paths)
        return iter_files(paths, options.notes, options.skip_bad)


def content_digest(*parts: str | bytes) -> str:
    """A digest of a run's content: its id is derived from it, so the same data moved to
    another folder, or named another way, gets the same ids (and the same numbers)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part)
        h.update(b"\x1f")
    return h.hexdigest()


def _kind(mode: int) -> str:
    """What a non-regular file is, for messages."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_regular(path: Path) -> str | None:
    """Why ``path`` is not a regular file we may read (``None`` if it is one).

    Symlinks are followed; a symlink loop, a dangling link, a FIFO, socket or device is
    refused, because opening a FIFO or device blocks or never ends.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        if exc.errno == errno.ENOENT and path.is_symlink():
            return "a dangling symlink"
        return f"cannot read: {exc.strerror or exc}"
    return None if stat.S_ISREG(mode) else _kind(mode)


def _listing_error(exc: OSError) -> BadInputError:
    return BadInputError(
        f"cannot list folder: {exc.strerror or exc}", path=str(exc.filename or "?")
    )


def name_problem(path: Path | str) -> str | None:
    """Why a file or folder name cannot be imported (``None`` if it can): a name that is
    not UTF-8 (Python holds its bytes as lone surrogates) cannot be stored or shown."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        byte = f" (byte 0x{code - 0xDC00:02x})" if 0xDC80 <= code <= 0xDCFF else ""
        return f"the name is not UTF-8{byte}"
    return None


def storable(text: str) -> str:
    """``text`` with anything UTF-8 cannot hold (lone surrogates) written as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _inside(folder: Path, other: Path) -> bool:
    """Whether ``folder`` is ``other`` or lies below it, links resolved."""
    real, top = os.path.realpath(folder), os.path.realpath(other)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _usable_name(path: Path, warnings: list[str] | None, skip_bad: bool) -> bool:
    """Whether ``path``'s name can be imported; if not, an error, or a note under
    ``skip_bad``."""
    why = name_problem(path)
    if why is None:
        return True
    if not skip_bad:
        raise BadInputError(why, path=storable(str(path)))
    if warnings is not None:
        warnings.append(f"{storable(str(path))}: skipped: {why}")
    return False


def walk_folders(
    root: Path, warnings: list[str] | None = None, skip_bad: bool = False
) -> Iterator[tuple[Path, list[str]]]:
    """``(folder, file names)`` for ``root`` and every folder below it, in a stable order,
    streamed (``os.walk``: ``Path.rglob``, Python <= 3.12, keeps every path it yielded).

    Symlinked folders are followed (``runs/`` may hold links to run folders), each real
    folder once: a link back to a folder the walk is inside is a symlink loop, skipped with
    a note in ``warnings``, and a second link to a folder already read is skipped with a
    note naming the first. A folder that cannot be listed raises :class:`BadInputError` (a
    note under ``skip_bad``).
    """

    def fail(exc: OSError) -> None:
        if not skip_bad:
            raise _listing_error(exc)
        if warnings is not None:
            warnings.append(f"skipped: {_listing_error(exc)}")

    def note(text: str) -> None:
        if warnings is not None:
            warnings.append(text)

    seen: dict[tuple[int, int], Path] = {}
    try:
        status = root.stat()
        seen[(status.st_dev, status.st_ino)] = root
    except OSError:
        pass  # os.walk reports it through fail()
    for folder, dirs, names in os.walk(root, onerror=fail, followlinks=True):
        here = Path(folder)
        kept = []
        for name in sorted(dirs):
            path = here / name
            if not _usable_name(path, warnings, skip_bad):
                continue
            try:
                status = path.stat()
            except OSError as exc:  # vanished, or a link turned into a loop meanwhile
                note(f"{path}: skipped: {exc.strerror or exc}")
                continue
            identity = (status.st_dev, status.st_ino)
            first = seen.get(identity)
            if first is None:
                seen[identity] = path
                kept.append(name)
            elif _inside(here, path):
                note(f"{path}: skipped: a symlink loop (back to {first})")
            else:
                note(f"{path}: skipped: the same folder as {first}")
        dirs[:] = kept
        yield here, [n for n in sorted(names) if _usable_name(here / n, warnings, skip_bad)]


def walk_files(
    root: Path, warnings: list[str] | None = None, skip_bad: bool = False
) -> Iterator[Path]:
    """Regular files below ``root`` in a stable order, streamed (folders as
    :func:`walk_folders` walks them: symlinked folders followed, each real folder once).

    Anything else (FIFO, socket, device, symlink loop) is skipped with a note in
    ``warnings``; a folder that cannot be listed raises :class:`BadInputError` (a note under
    ``skip_bad``).
    """
    for folder, names in walk_folders(root, warnings, skip_bad):
        for name in names:
            path = folder / name
            why = check_regular(path)
            if why is None:
                yield path
            elif warnings is not None:
                warnings.append(f"{path}: skipped: {why}")


def iter_files(
    paths: Sequence[Path], warnings: list[str] | None = None, skip_bad: bool = False
) -> Iterator[Path]:
    """Files named directly, and every regular file below named folders; a missing path, or
    a named path that is not a regular file or folder, is an error."""
    for path in paths:
        if not _usable_name(path, warnings, skip_bad):
            continue
        if path.is_dir():
            yield from walk_files(path, warnings, skip_bad)
            continue
        why = check_regular(path)
        if why is None:
            yield path
        elif not path.exists() and not path.is_symlink():
            raise BadInputError("no such file or folder", path=str(path))
        else:
            raise BadInputError(f"not a regular file ({why})", path=str(path))


def _open_fd(path: Path) -> tuple[int, os.stat_result]:
    """A descriptor of ``path`` open for reading, and its status, only if it is a regular
    file: opened without blocking and checked on the open descriptor, so a FIFO swapped in
    after a check cannot hang us."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise BadInputError(f"not a regular file ({_kind(status.st_mode)})", path=str(path))
        os.set_blocking(fd, True)
        return fd, status
    except BaseException:
        os.close(fd)
        raise


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file (see :func:`_open_fd`)."""
    fd, _ = _open_fd(path)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_fd(fd: int, size: int, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of an open file whose size was ``size``: one read of what
    is there (a read of ``limit + 1`` bytes would allocate that much, a GiB, for every
    file), then more while the file is still growing."""
    chunks = [os.read(fd, min(size, limit) + 1)]
    total = len(chunks[0])
    while chunks[-1] and total <= limit:
        chunks.append(os.read(fd, min(1 << 20, limit + 1 - total)))
        total += len(chunks[-1])
    return b"".join(chunks)


def read_bytes(path: Path, limit: int = MAX_INPUT_BYTES) -> bytes:
    """A regular file's bytes, refusing files larger than ``limit`` (sparse giants
    included) and anything that is not a regular file."""
    try:
        fd, status = _open_fd(path)
        try:
            size = status.st_size
            if size > limit:
                raise BadInputError(
                    f"file is {size / 2**30:.1f} GiB, larger than the {limit / 2**30:.0f} GiB "
                    "an import reads",
                    path=str(path),
                )
            return _read_fd(fd, size, limit)
        finally:
            os.close(fd)
    except OSError as exc:
        why = "a symlink loop" if exc.errno == errno.ELOOP else exc.strerror or exc
        raise BadInputError(f"cannot read: {why}", path=str(path)) from None


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


_LONG_NUMBER = re.compile(r"\d{4000,}")

#: JSON nesting an import accepts (a SciPipe history 500 processes deep nests ~1,000 levels).
MAX_JSON_DEPTH = 20_000


#: A JSON escape of half a UTF-16 pair: ``"\\ud800"`` alone decodes to a lone surrogate,
#: which is not text (no UTF-8 can hold it, so no store can).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def lone_surrogate_line(text: str) -> int | None:
    """The line of the first ``\\uD800``-style escape of ``text`` that is not half of a
    pair (``None`` if there is none)."""
    pairs = {m.start() for m in _PAIR.finditer(text)}
    pairs |= {p + 6 for p in pairs}
    for match in _SURROGATE_ESCAPE.finditer(text):
        if match.start() not in pairs:
            return text.count("\n", 0, match.start()) + 1
    return None


def refuse_lone_surrogates(data: Any, text: str, path: Path, line_offset: int = 0) -> None:
    """Raise :class:`BadInputError` if ``data``, decoded from the JSON ``text``, holds a lone
    surrogate (checked only when ``text`` has such an escape: the check encodes ``data``)."""
    if not _SURROGATE_ESCAPE.search(text):
        return
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        line = lone_surrogate_line(text)
        raise BadInputError(
            f"a JSON string holds {exc.object[exc.start]!r}, half of a UTF-16 pair, which is "
            "not text",
            path=str(path),
            line=line + line_offset if line else None,
        ) from None


#: How deep a JSON value other than a SciPipe audit file may nest (JSON-LD, Seldon message
#: values: real ones nest under 20 levels). Deeper values are refused before parsing:
#: Python's parsers, rdflib's JSON-LD reader and the store's encoder recurse per level.
MAX_NESTING = 100
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_nesting(text: str) -> int:
    """How deep the arrays and objects of JSON ``text`` nest, without parsing it (strings
    skipped; linear, no recursion)."""
    if text.count("[") + text.count("{") <= 1:
        return text.count("[") + text.count("{")
    depth = deepest = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def check_nesting(
    text: str, path: Path | str, line: int | None = None, limit: int = MAX_NESTING
) -> None:
    """Refuse JSON ``text`` nested deeper than ``limit`` levels, naming the file and line."""
    if text.count("[") + text.count("{") > limit and (depth := json_nesting(text)) > limit:
        raise BadInputError(
            f"JSON nested {depth} levels deep; the limit is {limit}", path=str(path), line=line
        )


def parse_json(text: str, path: Path, line_offset: int = 0) -> Any:
    """``json.loads`` whose error names the file and line; deep nesting is allowed."""
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(limit, MAX_JSON_DEPTH))
        data = json.loads(text)
        refuse_lone_surrogates(data, text, path, line_offset)
        return data
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
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        digits = _LONG_NUMBER.search(text)
        line = text.count("\n", 0, digits.start()) + 1 if digits else 1
        raise BadInputError(
            f"not a usable JSON number ({str(exc).split(';')[0]})",
            path=str(path),
            line=line + line_offset,
        ) from None
    finally:
        sys.setrecursionlimit(limit)


_MIN_EPOCH = dt.datetime(MIN_YEAR, 1, 1, tzinfo=dt.timezone.utc).timestamp()
_MAX_EPOCH = dt.datetime(MAX_YEAR, 1, 1, tzinfo=dt.timezone.utc).timestamp()


def epoch_in_range(seconds: float) -> bool:
    """Whether epoch ``seconds`` is a finite time between :data:`MIN_YEAR` and
    :data:`MAX_YEAR` (``NaN``, infinities and far-off times are not)."""
    return _MIN_EPOCH <= seconds < _MAX_EPOCH


def finite_number(value: Any) -> float | int | None:
    """``value`` if it is a finite JSON number (not a bool), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return value if math.isfinite(value) else None
    except OverflowError:  # an integer beyond float's range
        return None
