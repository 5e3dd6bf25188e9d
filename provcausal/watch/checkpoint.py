"""Where watch keeps its checkpoints and alerts: provcausal's own metadata in the store
(SQLite tables ``watch_state``/``watch_alerts``, MongoDB collections ``provcausal_watch``/
``provcausal_alerts``), never a FlowCept document; for a store that cannot be written
(FlowCept's LMDB), JSON files in a folder of provcausal's (``.provcausal/watch`` by default).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

from provcausal.errors import BadInputError
from provcausal.model.ids import stable_hash
from provcausal.stores import Store

__all__ = ["StateKeeper", "StoreState", "FileState", "state_keeper", "checkpoint_key"]

DEFAULT_STATE_DIR = ".provcausal/watch"


class StateKeeper(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...
    def put(self, key: str, state: dict[str, Any]) -> None: ...
    def add_alert(self, alert: dict[str, Any]) -> None: ...
    def alerts(self, workflow: str | None = None) -> list[dict[str, Any]]: ...


class StoreState:
    """Checkpoints and alerts in the store's own provcausal metadata."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, key: str) -> dict[str, Any] | None:
        return self.store.get_watch_state(key)

    def put(self, key: str, state: dict[str, Any]) -> None:
        self.store.put_watch_state(key, state)

    def add_alert(self, alert: dict[str, Any]) -> None:
        self.store.add_alert(alert)

    def alerts(self, workflow: str | None = None) -> list[dict[str, Any]]:
        return self.store.list_alerts(workflow)


class FileState:
    """Checkpoints as ``<folder>/<key>.json`` (replaced atomically) and alerts as lines of
    ``<folder>/alerts.jsonl`` (the last line of an alert id wins)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def _write(self, path: Path, text: str, append: bool = False) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if append:
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(text)
                return
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise BadInputError(f"cannot write watch state: {exc.strerror}", str(path)) from None

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.folder / f"{key}.json"
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BadInputError(f"unreadable watch checkpoint: {exc}", str(path)) from None

    def put(self, key: str, state: dict[str, Any]) -> None:
        self._write(self.folder / f"{key}.json", json.dumps(state))

    def add_alert(self, alert: dict[str, Any]) -> None:
        line = json.dumps(alert, ensure_ascii=False) + "\n"
        self._write(self.folder / "alerts.jsonl", line, append=True)

    def alerts(self, workflow: str | None = None) -> list[dict[str, Any]]:
        path = self.folder / "alerts.jsonl"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        by_id: dict[str, dict[str, Any]] = {}
        for line in lines:
            try:
                alert = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            by_id.pop(str(alert.get("id")), None)
            by_id[str(alert.get("id"))] = alert
        return [a for a in by_id.values() if workflow is None or a.get("workflow") == workflow]


def state_keeper(store: Store, state_dir: str | None = None) -> StateKeeper:
    """The store's own metadata where it can keep it, else files in ``state_dir``."""
    if store.keeps_watch_state and state_dir is None:
        return StoreState(store)
    return FileState(state_dir or DEFAULT_STATE_DIR)


def checkpoint_key(store_uri: str, options: dict[str, Any]) -> str:
    """One checkpoint per store, workflow and the options that change what is tested."""
    return "watch-" + stable_hash(store_uri, json.dumps(options, sort_keys=True), length=16)
