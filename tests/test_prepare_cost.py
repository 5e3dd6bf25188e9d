"""What ``prepare`` reads does not grow with the runs of other workflows in the store.

Counted, not timed: the rows SQLite hands back to provcausal and the virtual-machine steps
SQLite runs for them (a scan of the ``workflows`` or ``analysis_runs`` table would grow with
every stored run; a search by an index does not), with and without many runs of another
workflow.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from provcausal.analysis.attribution import prepare
from provcausal.stores import open_store
from provcausal.stores import sqlite as sqlite_store
from tests.helpers import T0, chain_run


def _fill(uri: str, others: int) -> None:
    with open_store(uri) as store:
        runs = []
        for i in range(8):
            for label, scale in (("normal", 1.0), ("broken", 3.0)):
                values = (float(i), float(i) * scale + 1, float(i) * scale + 2)
                start = T0 + dt.timedelta(minutes=i)
                runs.append(chain_run(f"/{label}{i}", label=label, start=start, values=values))
        runs += [chain_run(f"/o{i}", workflow="other", label="normal") for i in range(others)]
        store.put_runs(runs)


def _reads(uri: str, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    counts: Counter[str] = Counter()
    plain_iter = sqlite_store._Cursor.__iter__

    def counted(self: sqlite_store._Cursor):  # type: ignore[no-untyped-def]
        for row in plain_iter(self):
            counts["rows"] += 1
            yield row

    monkeypatch.setattr(sqlite_store._Cursor, "__iter__", counted)
    with open_store(uri, create=False) as store:
        raw = store._db.raw  # type: ignore[attr-defined]

        def step() -> int:
            counts["steps"] += 1
            return 0

        raw.set_progress_handler(step, 1)
        prepared = prepare(store, "wf", "normal", "broken")
        raw.set_progress_handler(None, 1)
    assert len(prepared.baseline) == len(prepared.comparison) == 8
    monkeypatch.undo()
    return counts


def test_prepare_reads_the_same_whatever_other_workflows_hold(tmp_path, monkeypatch):
    alone, crowded = f"sqlite://{tmp_path / 'alone.db'}", f"sqlite://{tmp_path / 'crowded.db'}"
    _fill(alone, 0)
    _fill(crowded, 300)
    few, many = _reads(alone, monkeypatch), _reads(crowded, monkeypatch)
    assert many["rows"] == few["rows"]
    # A deeper B-tree costs SQLite a step or two more per search; a scan would cost at least
    # one per stored run (300 here).
    assert abs(many["steps"] - few["steps"]) <= 10, (few, many)
