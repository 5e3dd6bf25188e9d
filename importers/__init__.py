"""Importers: one module per source system, found by name like prov's serializers.

>>> from provcausal.importers import get_importer, available
>>> available()
['nodered', 'prov', 'scipipe', 'seldon']
>>> get_importer("scipipe").name
'scipipe'
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Sequence
from pathlib import Path

from provcausal.importers.base import (
    ImportedRun,
    Importer,
    ImportOptions,
    RunSource,
    iter_files,
    open_regular,
    walk_files,
)

from provcausal.errors import BadInputError, NotFoundError

__all__ = [
    "Importer",
    "ImportedRun",
    "ImportOptions",
    "RunSource",
    "available",
    "get_importer",
    "detect_system",
]

_REGISTRY = {
    "scipipe": ("provcausal.importers.scipipe", "SciPipeImporter"),
    "nodered": ("provcausal.importers.nodered", "NodeRedImporter"),
    "seldon": ("provcausal.importers.seldon", "SeldonImporter"),
    "prov": ("provcausal.importers.provfile", "ProvImporter"),
}
#: Order in which ``import auto`` asks importers whether a file is theirs.
_SNIFF_ORDER = ["scipipe", "nodered", "seldon", "prov"]
_SNIFF_BYTES = 64 * 1024


def available() -> list[str]:
    """The names of the importers."""
    return sorted(_REGISTRY)


def get_importer(name: str) -> Importer:
    """The importer called ``name``."""
    try:
        module, cls = _REGISTRY[name]
    except KeyError:
        raise NotFoundError(
            f"no importer {name!r}; choose one of {', '.join(available())} or auto"
        ) from None
    importer: Importer = getattr(importlib.import_module(module), cls)()
    return importer


def _candidate_files(paths: Sequence[Path]) -> list[Path]:
    """Per named path: itself, or in a folder the first SciPipe audit file, else its first
    20 files. Streamed: a corpus of 100,000 runs is not listed to find one file."""
    files: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.extend(iter_files([path]))
            continue
        # Unreadable entries are the importer's to report; detection only needs one file.
        audit = next(
            (f for f in walk_files(path, [], True) if f.name.endswith(".audit.json")), None
        )
        files.extend([audit] if audit else itertools.islice(walk_files(path, [], True), 20))
    return files


def detect_system(paths: Sequence[Path]) -> str:
    """Which importer reads ``paths``, judged from the content (never the file name)."""
    for file in _candidate_files(paths):
        try:
            with open_regular(file) as handle:
                head = handle.read(_SNIFF_BYTES)
        except (OSError, BadInputError):
            continue
        for name in _SNIFF_ORDER:
            if get_importer(name).sniff(head):
                return name
    shown = ", ".join(str(p) for p in paths[:3])
    raise BadInputError(
        "cannot tell which system wrote this: not a SciPipe audit file, Node-RED profiler "
        "log, Seldon inspect output or PROV document",
        path=shown,
    )
