"""Importing into a store: read runs with an importer, write them as they are read.

This is where importers (pure) meet a store. Runs are streamed and written in bounded batches,
so memory stays flat however many runs a corpus holds, and one import is all-or-nothing: on
a store with transactions (SQLite) every batch is written inside one transaction; on one
without (MongoDB) the runs written so far are deleted again when the import fails. So a bad
input without ``skip_bad`` (a :class:`BadInputError` naming the file and line or key) or a
Ctrl-C (:class:`Interrupted`) leaves none of the command's runs visible, and the message says
so. A run already stored under another label is only relabelled with ``relabel=True``.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcausal.errors import BadInputError, Interrupted, InvalidParameterError, ProvcausalError
from provcausal.importers import ImportedRun, ImportOptions, detect_system, get_importer
from provcausal.model.flowcept import RunRecords
from provcausal.model.names import check_name
from provcausal.stores import Store, run_label

__all__ = [
    "ImportSummary",
    "import_paths",
    "read_runs",
    "set_campaign",
    "BATCH_RUNS",
    "RelabelError",
]

#: Runs are written in batches (one transaction / bulk write each) of at most this many runs
#: or tasks: throughput of a bulk insert, memory bounded by the batch.
BATCH_RUNS = 200
BATCH_TASKS = 20_000


class RelabelError(InvalidParameterError):
    """Runs being imported are already stored under another label (``relabel`` moves them)."""


@dataclass
class ImportSummary:
    """What an import did."""

    system: str
    workflow: str
    label: str | None
    runs: list[str] = field(default_factory=list)
    tasks: int = 0
    entities: int = 0
    samples: int = 0
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    detected: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "detected": self.detected,
            "workflow": self.workflow,
            "label": self.label,
            "runs": len(self.runs),
            "run_ids": self.runs,
            "tasks": self.tasks,
            "entities": self.entities,
            "samples": self.samples,
            "warnings": self.warnings,
            "skipped": len(self.skipped),
            "skipped_where": self.skipped,
        }


def read_runs(
    system: str,
    paths: Sequence[str | Path],
    workflow: str,
    *,
    label: str | None = None,
    skip_bad: bool = False,
    progress: Callable[[Iterator[Any], int], Iterator[Any]] | None = None,
    notes: list[str] | None = None,
    **options: Any,
) -> tuple[str, Iterator[ImportedRun | str]]:
    """The importer's name and an iterator over the runs in ``paths`` (no store involved).

    With ``skip_bad``, a run that cannot be read at all is yielded as the error text instead.
    Files skipped while planning (FIFOs, devices, symlink loops) are appended to ``notes``.
    """
    path_list = [Path(p) for p in paths]
    if not path_list:
        raise BadInputError("no input paths given")
    for value, parameter in ((workflow, "workflow"), (label, "label")):
        if value is not None:
            try:
                check_name(value, f"the {parameter}")
            except ValueError as exc:
                raise InvalidParameterError(str(exc), parameter) from None
    name = detect_system(path_list) if system == "auto" else system
    importer = get_importer(name)
    opts = ImportOptions(
        workflow=workflow,
        label=label,
        skip_bad=skip_bad,
        extra={k: v for k, v in options.items() if v is not None},
        notes=notes if notes is not None else [],
    )
    sources = importer.plan(path_list, opts)

    def runs() -> Iterator[ImportedRun | str]:
        items: Iterator[Any] = iter(sources)
        if progress is not None:
            items = progress(items, len(sources))
        for source in items:
            try:
                yield importer.read(source, opts)
            except BadInputError as exc:
                if not skip_bad:
                    raise
                yield str(exc)

    return name, runs()


def _check_labels(store: Store, batch: Sequence[ImportedRun], label: str | None) -> None:
    """Refuse to move already stored runs to another label silently (a typo would)."""
    stored = store.find_runs(run_ids=[run.run_id for run in batch])
    moved = [(str(doc["workflow_id"]), run_label(doc)) for doc in stored if run_label(doc) != label]
    if moved:
        shown = ", ".join(f"{rid} (label {old!r})" for rid, old in moved[:5])
        more = f" and {len(moved) - 5} more" if len(moved) > 5 else ""
        raise RelabelError(
            f"{len(moved)} run(s) of this input are already stored with another label: "
            f"{shown}{more}; relabel them to change their label to {label!r}",
            "relabel",
        )


def _undo(store: Store, written: list[str], transactional: bool) -> str:
    """Remove what a failed import wrote; the sentence that says what is left."""
    if transactional:
        return "nothing of this import was stored"
    removed = 0
    try:
        for run_id in written:
            store.delete_run(run_id)
            removed += 1
    except BaseException:
        return (
            f"{len(written) - removed} of the {len(written)} run(s) written so far may remain: "
            "run the same import again to complete it"
        )
    return f"removed the {removed} run(s) written so far: nothing of this import is stored"


@contextlib.contextmanager
def _interrupt_after() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) until the block is done, then raise it.

    A store write cut by ``KeyboardInterrupt`` may still be running on a database server
    (the command was sent; only the client stopped waiting), and would land after the undo
    that follows. Holding the interrupt for the length of one batch's write makes the undo
    see every write of the batch. Only the main thread receives signals; elsewhere this is
    a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous in (signal.SIG_IGN, None):  # ignored, or not Python's to hold
        yield
        return
    caught: list[Any] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and callable(previous):  # Python's own handler raises KeyboardInterrupt
        previous(*caught[0])
    elif caught:  # SIG_DFL: the process would have stopped
        raise KeyboardInterrupt


def set_campaign(records: RunRecords, campaign: str) -> None:
    """Put FlowCept's ``campaign_id`` on a run's workflow document and its tasks."""
    records.workflow["campaign_id"] = campaign
    for task in records.tasks:
        task["campaign_id"] = campaign


def import_paths(
    store: Store,
    system: str,
    paths: Sequence[str | Path],
    workflow: str,
    *,
    label: str | None = None,
    campaign: str | None = None,
    skip_bad: bool = False,
    relabel: bool = False,
    progress: Callable[[Iterator[Any], int], Iterator[Any]] | None = None,
    **options: Any,
) -> ImportSummary:
    """Import ``paths`` with the importer ``system`` (or ``"auto"``) into ``store``, all or
    nothing (see the module docstring).

    Importer options: ``graph`` (scipipe), ``flow`` (nodered), ``pipeline`` and ``rename``
    (seldon). ``campaign`` becomes FlowCept's ``campaign_id`` on the runs and their tasks
    (default: the workflow name, so FlowCept's campaign view lists every imported run).
    Returns a summary; re-importing the same files replaces the same runs.
    """
    notes: list[str] = []
    name, runs = read_runs(
        system,
        paths,
        workflow,
        label=label,
        skip_bad=skip_bad,
        progress=progress,
        notes=notes,
        **options,
    )
    summary = ImportSummary(system=name, workflow=workflow, label=label, detected=system == "auto")
    summary.warnings.extend(notes)
    written: list[str] = []
    transactional = False
    try:
        with store.transaction() as transactional:
            _write_all(store, runs, summary, written, label, relabel, campaign or workflow)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted after reading {len(written)} run(s); "
            + _undo(store, written, transactional)
        ) from None
    except ProvcausalError as exc:
        if written:  # say what became of the runs already written
            exc.args = (f"{exc}; {_undo(store, written, transactional)}",)
        raise
    if not summary.runs and not summary.skipped:
        raise BadInputError("no runs found", path=", ".join(str(p) for p in paths))
    return summary


def _write_all(
    store: Store,
    runs: Iterator[ImportedRun | str],
    summary: ImportSummary,
    written: list[str],
    label: str | None,
    relabel: bool,
    campaign: str,
) -> None:
    """Write the runs in batches, recording every run id as soon as it is written."""
    batch: list[ImportedRun] = []

    def flush() -> None:
        for run in batch:
            set_campaign(run.records, campaign)
        if not relabel:
            _check_labels(store, batch, label)
        written.extend(run.run_id for run in batch)
        with _interrupt_after():
            store.put_runs([run.records for run in batch])
        for run in batch:
            summary.runs.append(run.run_id)
            summary.tasks += run.tasks
            summary.entities += run.entities
            summary.samples += run.samples
            summary.warnings.extend(run.warnings)
            summary.skipped.extend(run.skipped)
        batch.clear()

    tasks = 0  # in the batch
    for run in runs:
        if isinstance(run, str):
            summary.skipped.append(run)
            continue
        batch.append(run)
        tasks += run.tasks
        if len(batch) >= BATCH_RUNS or tasks >= BATCH_TASKS:
            flush()
            tasks = 0
    if batch:
        flush()
