"""SciPipe audit files (``<output>.audit.json``) → PROV, one run per folder.

Every format generation in the wild is read (``../shared/formats.md`` §1): ``ExecTimeNS`` /
``ExecTimeMS`` / ``ExecutionTimeMilliSeconds``, ``Tags`` / ``Keys``, with or without
``OutFiles``, ``Upstream`` / ``UpstreamAuditInfos``. Nested upstream histories are flattened
without recursion and deduplicated by ``ID``; stub entries (inputs with no audit file, whose
random ``ID`` changes on every read) are keyed by path. A SciPipe workflow graph (``.dot``) in
the run folder, or given with ``--graph``, restores the processes that wrote no audit file
(e.g. a Concatenator) as unobserved activities so that lineage has no gaps.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcausal.importers.base import (
    ImportedRun,
    Importer,
    ImportOptions,
    RunSource,
    check_regular,
    finite_number,
    iter_files,
    name_problem,
    parse_json,
    read_bytes,
    read_text,
    storable,
    walk_folders,
)
from provcausal.importers.scipipe_dot import ProcessGraph, looks_like_dot, parse_dot

from provcausal.errors import BadInputError
from provcausal.model import ids
from provcausal.model import prov as P
from provcausal.model.prov import RunDocumentBuilder
from provcausal.model.times import MAX_YEAR, MIN_YEAR, parse_rfc3339, plausible

__all__ = ["SciPipeImporter", "read_output_value", "MAX_VALUE_FILE_BYTES"]

#: Output files larger than this are never read for a value.
MAX_VALUE_FILE_BYTES = 64 * 1024
_NUMBER = re.compile(rb"^\s*~?\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_SUFFIX = ".audit.json"


def read_output_value(path: Path) -> float | None:
    """The number on the first line of a small text output file, else ``None``.

    ``calc`` writes ``\\t~0.3794…``: the ``~`` is accepted. Large, binary or missing files
    are not read.
    """
    try:
        head = read_bytes(path, MAX_VALUE_FILE_BYTES)
    except (OSError, BadInputError):  # missing, not a regular file, or too large
        return None
    if b"\0" in head:
        return None
    match = _NUMBER.match(head.split(b"\n", 1)[0])
    if not match:
        return None
    value = float(match.group(1))
    return value if value == value and abs(value) != float("inf") else None


#: Execution times at or beyond this many nanoseconds (292 years) are refused: they do not
#: fit the 64-bit integers MongoDB stores.
MAX_EXEC_NS = 2**63


def _exec_ns(raw: float, factor: int, file: Path, where: str) -> int | None:
    """An execution time in nanoseconds; negative means unknown (SciPipe writes -1)."""
    if finite_number(raw) is None or abs(raw) * factor >= MAX_EXEC_NS:
        raise BadInputError(
            f"execution time {str(raw)[:30]} is not a finite number below 2^63 ns",
            path=str(file),
            key=where,
        )
    return int(raw * factor) if raw >= 0 else None


@dataclass
class _Task:
    sid: str
    process: str
    command: str
    params: dict[str, str]
    tags: dict[str, str]
    start: Any
    finish: Any
    start_text: str
    finish_text: str
    exec_ns: int | None
    out_files: dict[str, str]
    audit_file: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=4096)  # the same paths recur in every file of a run
def _norm(path: str) -> str:
    path = path.strip()
    if not path:
        return path
    norm = posixpath.normpath(path)
    return norm[2:] if norm.startswith("./") else norm


def _where(keys: list[str]) -> str:
    return "".join(f"[{k!r}]" if i else k for i, k in enumerate(keys)) or "(top level)"


class _AuditReader:
    """Flattens the audit files of one run folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tasks: dict[str, _Task] = {}
        self.stub_paths: set[str] = set()
        self.walked: set[str] = set()
        self.digest = hashlib.blake2b(digest_size=16)

    def _field(
        self,
        node: dict[str, Any],
        names: Sequence[str],
        kind: type | tuple[type, ...],
        keys: list[str],
        file: Path,
        required: bool = False,
    ) -> Any:
        for name in names:
            if name in node:
                value = node[name]
                if value is None and not required:
                    return None
                if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
                    raise BadInputError(
                        f"expected {getattr(kind, '__name__', 'a value')}, got "
                        f"{type(value).__name__}",
                        path=str(file),
                        key=_where([*keys, name]),
                    )
                return value
        if required:
            raise BadInputError("missing key", path=str(file), key=_where([*keys, names[0]]))
        return None

    def _strings(self, value: Any, keys: list[str], file: Path) -> dict[str, str]:
        if value is None:
            return {}
        out = {}
        for k, v in value.items():
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                raise BadInputError(
                    "expected a string value", path=str(file), key=_where([*keys, k])
                )
            out[str(k)] = str(v)
        return out

    def _time(
        self, node: dict[str, Any], name: str, keys: list[str], file: Path
    ) -> tuple[Any, str]:
        text = self._field(node, [name], str, keys, file)
        if text is None:
            return None, ""
        out_of_range = f"time out of range ({MIN_YEAR} to {MAX_YEAR - 1}): {text[:40]!r}"
        try:
            parsed = parse_rfc3339(text)
        except OverflowError:  # a time zone pushes it beyond year 9999
            parsed, error = None, out_of_range
        except ValueError as exc:
            parsed, error = None, str(exc)
        else:
            error = "" if parsed is None or plausible(parsed[0]) else out_of_range
        if error:
            raise BadInputError(error, path=str(file), key=_where([*keys, name]))
        return parsed, text

    def add_file(self, file: Path) -> None:
        text = read_text(file)
        root = parse_json(text, file)
        self.digest.update(f"{file.name}\x1f{text}\x1f".encode("utf-8", "surrogatepass"))
        if not isinstance(root, dict):
            raise BadInputError("expected a JSON object (a SciPipe audit record)", path=str(file))
        own_output = file.name[: -len(_SUFFIX)] if file.name.endswith(_SUFFIX) else None
        stack: list[tuple[Any, str | None, list[str]]] = [(root, own_output, [])]
        while stack:
            node, produced, keys = stack.pop()
            if not isinstance(node, dict):
                raise BadInputError("expected an audit object", path=str(file), key=_where(keys))
            sid = self._field(node, ["ID"], str, keys, file, required=True)
            process = self._field(node, ["ProcessName"], str, keys, file, required=True)
            upstream = self._field(node, ["Upstream", "UpstreamAuditInfos"], dict, keys, file)
            up_key = "Upstream" if "Upstream" in node else "UpstreamAuditInfos"
            if process == "":
                if produced:
                    self.stub_paths.add(_norm(produced))
                continue
            task = self.tasks.get(sid)
            if task is None:
                task = self._task(node, sid, process, keys, file)
                self.tasks[sid] = task
            if produced and _norm(produced) not in task.outputs:
                task.outputs.append(_norm(produced))
            if sid in self.walked:
                # Every audit file repeats its whole upstream history: an ID already
                # walked holds the same subtree, so it is neither re-read nor re-walked.
                continue
            self.walked.add(sid)
            for in_path, sub in (upstream or {}).items():
                if _norm(in_path) not in task.inputs:
                    task.inputs.append(_norm(in_path))
                stack.append((sub, in_path, [*keys, up_key, in_path]))

    def _task(
        self, node: dict[str, Any], sid: str, process: str, keys: list[str], file: Path
    ) -> _Task:
        command = self._field(node, ["Command"], str, keys, file) or ""
        params = self._strings(
            self._field(node, ["Params"], dict, keys, file), [*keys, "Params"], file
        )
        tags = self._strings(
            self._field(node, ["Tags", "Keys"], dict, keys, file), [*keys, "Tags"], file
        )
        start, start_text = self._time(node, "StartTime", keys, file)
        finish, finish_text = self._time(node, "FinishTime", keys, file)
        exec_ns = None
        for name, factor in (
            ("ExecTimeNS", 1),
            ("ExecTimeMS", 1_000_000),
            ("ExecutionTimeMilliSeconds", 1_000_000),
        ):
            raw = self._field(node, [name], (int, float), keys, file)
            if raw is not None:
                exec_ns = _exec_ns(raw, factor, file, _where([*keys, name]))
                break
        out_files = self._strings(
            self._field(node, ["OutFiles"], dict, keys, file), [*keys, "OutFiles"], file
        )
        task = _Task(
            sid,
            process,
            command,
            params,
            tags,
            start,
            finish,
            start_text,
            finish_text,
            exec_ns,
            out_files,
            str(file),
        )
        task.outputs.extend(_norm(p) for p in out_files.values() if _norm(p))
        return task


def _run_folders(root: Path, skip_bad: bool, notes: list[str]) -> Iterator[Path]:
    """Folders below ``root`` holding audit files, symlinked run folders included, each real
    folder once (see :func:`walk_folders`)."""
    for folder, names in walk_folders(root, notes, skip_bad):
        if any(name.endswith(_SUFFIX) for name in names):
            yield folder


_DOT_CACHE: dict[str, ProcessGraph] = {}


def _parse_dot_once(text: str, path: Path) -> ProcessGraph:
    """Every run folder of a workflow holds the same graph: parse each distinct text once
    (a few graphs kept; a bad graph raises naming its own file and is never kept)."""
    graph = _DOT_CACHE.get(text)
    if graph is None:
        graph = parse_dot(text, path)
        if len(_DOT_CACHE) >= 8:
            _DOT_CACHE.clear()
        _DOT_CACHE[text] = graph
    return graph


class SciPipeImporter(Importer):
    """``provcausal import scipipe``: audit files or folders searched for ``*.audit.json``."""

    name = "scipipe"

    def sniff(self, head: bytes) -> bool:
        text = head.lstrip()[:8192]
        return text.startswith(b"{") and b'"ProcessName"' in text and b'"ID"' in text

    def plan(self, paths: Sequence[Path], options: ImportOptions) -> list[RunSource]:
        # Run folders are remembered, not their files: 100,000 runs hold 900,000 audit files,
        # and a list of them all would make memory grow with the corpus. A folder named
        # through a parent folder imports all its audit files (paths=[]); files named one by
        # one import only those.
        folders: dict[Path, list[Path] | None] = {}
        for path in paths:
            if path.is_dir():
                folders.update(dict.fromkeys(_run_folders(path, options.skip_bad, options.notes)))
                continue
            # refuses a missing path, a FIFO, a device; a name that is not UTF-8 too (a note
            # under --skip-bad)
            named = list(iter_files([path], options.notes, options.skip_bad))
            if not named:
                continue
            (file,) = named
            chosen = folders.get(file.parent, [])
            if chosen is not None:
                folders[file.parent] = [*chosen, file]
        if not folders:
            raise BadInputError(
                f"no SciPipe audit files (*{_SUFFIX}) found", path=", ".join(str(p) for p in paths)
            )
        return [
            RunSource(key=str(folder), paths=sorted(files or []), display=str(folder))
            for folder, files in sorted(folders.items())
        ]

    @staticmethod
    def _audit_files(folder: Path, warnings: list[str], skip_bad: bool) -> list[Path]:
        """The regular ``*.audit.json`` files of a run folder; others are skipped, noted (a
        name that is not UTF-8 is an error, skipped under ``skip_bad``)."""
        files = []
        with os.scandir(folder) as entries:  # file types from the listing: no stat per file
            names = sorted(
                (e.name, e.is_file() and not e.is_symlink())
                for e in entries
                if e.name.endswith(_SUFFIX)
            )
        for name, regular in names:
            path = folder / name
            bad_name = name_problem(path)
            if bad_name is not None:
                if not skip_bad:
                    raise BadInputError(bad_name, path=storable(str(path)))
                warnings.append(f"{storable(str(path))}: skipped: {bad_name}")
                continue
            why = None if regular else check_regular(path)
            if why is None:
                files.append(path)
            elif why != "a folder":
                warnings.append(f"{path}: skipped: {why}")
        return files

    def _graph(
        self, folder: Path, options: ImportOptions, warnings: list[str]
    ) -> ProcessGraph | None:
        given = options.extra.get("graph")
        if given:
            path = Path(given)
            return parse_dot(read_text(path), path)
        for candidate in sorted(folder.glob("*.dot")):
            why = check_regular(candidate)
            if why is not None:
                warnings.append(f"{candidate}: ignored workflow graph: {why}")
                continue
            try:
                text = read_text(candidate, limit=16 * 1024 * 1024)
                if looks_like_dot(text):
                    return _parse_dot_once(text, candidate)
            except BadInputError as exc:
                warnings.append(f"ignored workflow graph: {exc}")
        return None

    def read(self, source: RunSource, options: ImportOptions) -> ImportedRun:
        folder = Path(source.key)
        reader = _AuditReader(folder)
        warnings: list[str] = []
        skipped: list[str] = []
        files = source.paths or self._audit_files(folder, warnings, options.skip_bad)
        for file in files:
            if not options.skip_bad:
                reader.add_file(file)
                continue
            before = (dict(reader.tasks), set(reader.stub_paths), set(reader.walked))
            try:
                reader.add_file(file)
            except BadInputError as exc:
                reader.tasks, reader.stub_paths, reader.walked = before
                skipped.append(str(exc))
        if not reader.tasks:
            raise BadInputError("no audited tasks in this run", path=source.display)
        # Identity from the records: the audit IDs of the run's tasks, not the folder, so the
        # same run copied or moved elsewhere is the same run (stub IDs, random, are not used).
        run = ids.run_id(self.name, options.workflow, "audit-ids:" + ",".join(sorted(reader.tasks)))
        graph = self._graph(folder, options, warnings)
        return self._build(run, source, options, reader, graph, warnings, skipped)

    def _build(
        self,
        run: str,
        source: RunSource,
        options: ImportOptions,
        reader: _AuditReader,
        graph: ProcessGraph | None,
        warnings: list[str],
        skipped: list[str],
    ) -> ImportedRun:
        b = RunDocumentBuilder(run, options.workflow, self.name)
        folder = Path(source.key)
        tasks = sorted(
            reader.tasks.values(),
            key=lambda t: (t.start is None, t.start[1] if t.start else 0, t.sid),
        )  # unknown (zero) start times last
        producer: dict[str, _Task] = {}
        for task in tasks:
            for out in task.outputs:
                producer.setdefault(out, task)

        def ent(path: str, value: float | None = None, **attrs: Any) -> str:
            e = ids.entity_id(run, f"path:{path}")
            b.entity(e, name=path, value=value, attrs={"path": path, **attrs})
            return e

        tid = {t.sid: ids.task_id(run, t.sid) for t in tasks}
        for task in tasks:
            duration = task.exec_ns / 1e9 if task.exec_ns is not None else None
            b.task(
                tid[task.sid],
                task.process,
                start=task.start[0] if task.start else None,
                end=task.finish[0] if task.finish else None,
                sample=run,
                duration=duration,
                attrs={
                    "scipipeId": task.sid,
                    "command": task.command,
                    "params": task.params or None,
                    "tags": task.tags or None,
                    "execTimeNS": task.exec_ns,
                    "startTime": task.start_text or None,
                    "finishTime": task.finish_text or None,
                    "auditFile": task.audit_file,
                    # several out-ports: which output is which port (each is a variable)
                    "outPorts": json.dumps(
                        {port: _norm(path) for port, path in sorted(task.out_files.items())}
                    )
                    if len(task.out_files) > 1
                    else None,
                },
            )
        # Every output (with its value) first: an entity is created once, so a consumer
        # listed before its producer (e.g. a task with Go's zero time) must not create it
        # without the value.
        outs: dict[str, list[str]] = {}
        for task in tasks:
            outs[task.sid] = []
            for out in task.outputs:
                value = (
                    read_output_value(folder / out)
                    if out in task.out_files.values() or (not task.out_files)
                    else None
                )
                e = ent(out, value)
                b.generated(e, tid[task.sid], task.finish[0] if task.finish else None)
                outs[task.sid].append(e)
        for task in tasks:
            for inp in task.inputs:
                e = ent(inp, raw=True if inp not in producer else None)
                b.used(tid[task.sid], e, task.start[0] if task.start else None)
                for o in outs[task.sid]:
                    b.derived(o, e)
                if inp in producer and producer[inp].sid != task.sid:
                    b.informed(tid[task.sid], tid[producer[inp].sid])

        gaps = {inp: t for t in tasks for inp in t.inputs if inp not in producer}
        if graph is not None:
            unclaimed = _GraphRepair(b, run, graph, tasks, gaps, ent).repair()
            if unclaimed:
                warnings.append(
                    "inputs with no producer even after graph repair (raw inputs): "
                    + ", ".join(unclaimed)
                )
        elif gaps and any(t.process for t in gaps.values()):
            missing = ", ".join(f"{t.process} used {p}" for p, t in sorted(gaps.items()))
            warnings.append(
                f"{source.display}: lineage has gaps: {missing}, which no audited task produced "
                "(a raw input, or a component that writes no audit file such as a Concatenator); "
                "give the workflow graph SciPipe writes with --graph to repair it"
            )
        return self.finish(
            b,
            run_id=run,
            source=source,
            options=options,
            samples=1,
            warnings=warnings,
            skipped=skipped,
            run_metadata={"folder": source.display},
        )


class _GraphRepair:
    """Adds the workflow graph's processes that wrote no audit file (a Concatenator) as
    unobserved activities, so that lineage has no gaps."""

    def __init__(
        self,
        b: RunDocumentBuilder,
        run: str,
        graph: ProcessGraph,
        tasks: list[_Task],
        gaps: dict[str, _Task],
        ent: Callable[..., str],
    ) -> None:
        self.b, self.run, self.graph, self.gaps, self.ent = b, run, graph, gaps, ent
        self.by_process: dict[str, list[_Task]] = defaultdict(list)
        for task in tasks:
            self.by_process[task.process].append(task)
        self.claimed: set[str] = set()
        self.virtual: dict[str, str] = {}

    def repair(self) -> list[str]:
        """Repair every unaudited process; returns the inputs still without a producer."""
        for process in self.graph.processes:
            if process not in self.by_process:
                self._add(process)
        return sorted(p for p in self.gaps if p not in self.claimed)

    def _inputs(self, process: str) -> tuple[list[str], list[Any]]:
        """The entities the process read (its parents' outputs on the wired port), and
        when its parents finished."""
        inputs: list[str] = []
        ends = []
        for parent, port in self.graph.parents(process):
            if parent in self.by_process:
                for t in self.by_process[parent]:
                    outs = [t.out_files[port]] if port in t.out_files else t.outputs
                    inputs.extend(self.ent(_norm(o)) for o in outs)
                    if t.finish:
                        ends.append(t.finish[0])
            elif parent in self.virtual:
                inputs.append(self.virtual[parent])
        return inputs, ends

    def _outputs(self, process: str) -> tuple[list[str], list[Any]]:
        """The entities the process wrote: its audited children's inputs that nobody
        produced (or a virtual output for an unaudited child), and when the children started."""
        outputs: list[str] = []
        starts = []
        for child, _port in self.graph.children(process):
            if child not in self.by_process:
                outputs.append(self._virtual(process))
                continue
            for t in self.by_process[child]:
                for inp in t.inputs:
                    if inp in self.gaps and inp not in self.claimed:
                        self.claimed.add(inp)
                        outputs.append(self.ent(inp))
                        if t.start:
                            starts.append(t.start[0])
        return outputs, starts

    def _virtual(self, process: str) -> str:
        if process not in self.virtual:
            self.virtual[process] = ids.entity_id(self.run, f"virtual:{process}")
            self.b.entity(
                self.virtual[process], name=f"{process} output", attrs={P.UNOBSERVED: True}
            )
        return self.virtual[process]

    def _add(self, process: str) -> None:
        inputs, ends = self._inputs(process)
        outputs, starts = self._outputs(process)
        if not inputs and not outputs:
            return
        b = self.b
        t_id = ids.task_id(self.run, f"unobserved:{process}")
        b.task(
            t_id,
            process,
            start=max(ends) if ends else None,
            end=min(starts) if starts else None,
            sample=self.run,
            unobserved=True,
            attrs={"repairedFrom": "workflow graph"},
        )
        for e in inputs:
            b.used(t_id, e)
        for o in outputs:
            b.generated(o, t_id)
            for e in inputs:
                b.derived(o, e)
