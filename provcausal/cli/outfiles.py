"""Files the CLI writes (``-o``, ``--report``, ``--plot``): never the store's own file, and
never half-written.

Every output goes to a temporary file beside its target and is renamed over it once whole
(:func:`provcausal.queries.export.atomic_path`): a full disk or an interrupt keeps the earlier
file unchanged and is one ``Error:`` line. Before anything is computed, an output that is the
store itself (the SQLite file, its ``-wal``/``-shm``/``-journal`` companions, FlowCept's LMDB
``data.mdb``), by any path, link or hard link, is refused: writing a report there used to
destroy every run and exit 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provcausal.errors import InvalidParameterError, ProvcausalError

__all__ = ["refuse_store_files", "write_report_file", "save_figure", "store_files"]

_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")
_LMDB_FILES = ("data.mdb", "lock.mdb")


def _lmdb_folder(uri: str) -> str | None:
    from provcausal.stores.uri import scheme_of

    scheme = scheme_of(uri)
    if scheme == "lmdb":
        from provcausal.stores.lmdb import lmdb_path

        return lmdb_path(uri)
    if scheme == "flowcept":
        from provcausal.stores.flowcept_settings import load_flowcept_settings

        settings = load_flowcept_settings()
        return settings.lmdb_path if settings.lmdb_enabled else None
    return None


def store_files(uri: str) -> Iterator[Path]:
    """The files that hold the store ``uri`` names (none for MongoDB)."""
    from provcausal.stores.uri import scheme_of, sqlite_path

    try:
        scheme = scheme_of(uri)
        if scheme == "sqlite":
            base: Path | None = sqlite_path(uri)
        elif "://" not in uri and uri.endswith((".db", ".sqlite", ".sqlite3")):
            base = Path(uri)
        else:
            base = None
        folder = _lmdb_folder(uri) if base is None else None
    except ProvcausalError:  # a bad URI: opening the store says so
        return
    if base is not None:
        yield from (Path(f"{base}{suffix}") for suffix in _SQLITE_COMPANIONS)
    if folder is not None:
        yield from (Path(folder) / name for name in _LMDB_FILES)


def _same_file(a: Path, b: Path) -> bool:
    """One file by both names: the same inode when both exist (links, hard links), else the
    same resolved path (a store file not created yet)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def refuse_store_files(store_uri: str, **outputs: str | None) -> None:
    """Refuse (exit 2) any output, by parameter name, that is a file of the store: the
    command would overwrite the store it reads."""
    files = list(store_files(store_uri))
    for parameter, output in outputs.items():
        if not output:
            continue
        for held in files:
            if _same_file(Path(output), held):
                raise InvalidParameterError(
                    f"{output} is the store's own file ({held}): writing there would destroy "
                    "the store; choose another file",
                    parameter,
                )


def write_report_file(result: Any, path: str | Path, command: str) -> Path:
    """The report page of ``result`` written to ``path`` whole, or not at all."""
    from provcausal.analysis.report import report_html
    from provcausal.queries import write_atomic

    return write_atomic(path, report_html(result, command))


def save_figure(figure: Any, path: str | Path, **options: Any) -> Path:
    """``figure.savefig`` into ``path`` whole, or not at all (the format comes from the
    target's extension, as matplotlib reads it, not from the temporary file's)."""
    import matplotlib

    from provcausal.queries.export import atomic_path

    fmt = Path(path).suffix[1:].lower() or matplotlib.rcParams["savefig.format"]
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=fmt, **options)
    return Path(path)
