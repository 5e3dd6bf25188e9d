"""Importing into a store: read runs with an importer, write them as they are read.

This is where importers (pure) meet a store. Runs are streamed and written in bounded batches
(each run still all-or-nothing for readers), so memory stays flat however many runs a corpus
holds. Without ``skip_bad`` the first bad input stops the import with a
:class:`BadInputError` naming the file and line or key, before the batch it belongs to is
written: nothing of a bad run is stored, and runs written earlier are complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcausal.errors import BadInputError, InvalidParameterError
from provcausal.importers import ImportedRun, ImportOptions, detect_system, get_importer
from provcausal.model.names import check_name
from provcausal.stores import Store

__all__ = ["ImportSummary", "import_paths", "read_runs", "BATCH_RUNS"]

#: Runs are written in batches (one transaction / bulk write each) of at most this many runs
#: or tasks: throughput of a bulk insert, memory bounded by the batch.
BATCH_RUNS = 200
BATCH_TASKS = 20_000


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


def import_paths(
    store: Store,
    system: str,
    paths: Sequence[str | Path],
    workflow: str,
    *,
    label: str | None = None,
    skip_bad: bool = False,
    progress: Callable[[Iterator[Any], int], Iterator[Any]] | None = None,
    **options: Any,
) -> ImportSummary:
    """Import ``paths`` with the importer ``system`` (or ``"auto"``) into ``store``.

    Importer options: ``graph`` (scipipe), ``flow`` (nodered), ``pipeline`` and ``rename``
    (seldon). Returns a summary; re-importing the same files replaces the same runs.
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
    batch: list[ImportedRun] = []

    def flush() -> None:
        store.put_runs([run.records for run in batch])
        for run in batch:
            summary.runs.append(run.run_id)
            summary.tasks += run.tasks
            summary.entities += run.entities
            summary.samples += run.samples
            summary.warnings.extend(run.warnings)
            summary.skipped.extend(run.skipped)
        batch.clear()

    for run in runs:
        if isinstance(run, str):
            summary.skipped.append(run)
            continue
        batch.append(run)
        if len(batch) >= BATCH_RUNS or sum(r.tasks for r in batch) >= BATCH_TASKS:
            flush()
    if batch:
        flush()
    if not summary.runs and not summary.skipped:
        raise BadInputError("no runs found", path=", ".join(str(p) for p in paths))
    return summary
