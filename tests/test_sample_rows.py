"""Sample rows: every store computes the analysis's slice of its tasks like the Python
reference (:func:`provcausal.model.flowcept.sample_row`), in batches of runs."""

from __future__ import annotations

import json

import pandas as pd

from provcausal.analysis.tasks import load_task_table
from provcausal.model import flowcept as fc
from provcausal.model.flowcept import RunRecords
from provcausal.stores import Store, open_store
from tests.helpers import chain_run


def _captured_run() -> RunRecords:
    """Two tasks as FlowCept captures them: no provcausal metadata, a value-rule link, a
    field name MongoDB must escape, epoch times."""
    tasks = [
        {
            "task_id": "cap-load",
            "workflow_id": "cap-run",
            "activity_id": "load",
            "used": {},
            "generated": {"x": 3.5, "a.b": "text"},
            "started_at": 1.0,
            "ended_at": 2.0,
        },
        {
            "task_id": "cap-fit",
            "workflow_id": "cap-run",
            "activity_id": "fit",
            "used": {"x": 3.5},
            "generated": {"score": "0.25"},
            "dependencies": [],
            "started_at": 2.5,
            "ended_at": 4.0,
        },
    ]
    return RunRecords({"workflow_id": "cap-run", "name": "wf"}, tasks, "{}")


def _ported_run() -> RunRecords:
    """A chain whose first task declares two out-ports (SciPipe's several outputs)."""
    run = chain_run("/data/ports", task_attrs={"outPorts": json.dumps({"p": "a.out", "q": "z"})})
    return run


def _runs() -> list[RunRecords]:
    return [chain_run(f"/data/run{i}", values=(i, 2 * i, 3 * i)) for i in range(3)] + [
        _captured_run(),
        _ported_run(),
    ]


def test_given_runs_when_reading_sample_rows_then_equal_to_the_reference(store: Store) -> None:
    runs = _runs()
    store.put_runs(runs)
    ids = [r.run_id for r in runs]
    expected = {t["task_id"]: fc.sample_row(t) for t in store.find_tasks(ids)}
    rows = list(store.sample_rows(ids, batch=2))
    assert {r["task_id"]: r for r in rows} == expected
    assert len(rows) == len(expected) == 14
    by_id = {r["task_id"]: r for r in rows}
    assert by_id["cap-load"]["captured"] and by_id["cap-load"]["value"] == 3.5
    assert by_id["cap-load"]["generated"] == {"x": 3.5, "a.b": "text"}
    assert by_id["cap-fit"]["used"] == {"x": 3.5} and by_id["cap-fit"]["value"] == 0.25
    assert by_id["cap-fit"]["duration"] == 1.5 and by_id["cap-fit"]["sample"] == "cap-run"
    ours = [r for r in rows if not r["captured"]]
    assert all(r["used"] == {} for r in ours)  # values of used entities are not read back
    assert sorted({r["value"] for r in ours if r["workflow_id"] == runs[2].run_id}) == [2, 4, 6]


def test_given_batches_when_reading_then_rows_of_a_run_are_consecutive(store: Store) -> None:
    runs = _runs()
    store.put_runs(runs)
    order = [r["workflow_id"] for r in store.sample_rows([r.run_id for r in runs], batch=2)]
    runs_seen = [run for i, run in enumerate(order) if i == 0 or order[i - 1] != run]
    assert sorted(runs_seen) == sorted({r.run_id for r in runs})


def test_given_store_when_loading_table_then_same_as_from_whole_documents(store: Store) -> None:
    runs = _runs()
    store.put_runs(runs)
    ids = [r.run_id for r in runs]
    table = load_task_table(store, ids)
    assert set(table["node"]) == {"a", "b", "c", "a.p", "a.q", "load", "fit"}
    fit = table[table["node"] == "fit"].iloc[0]
    assert fit["deps"] == ["cap-load"]  # FlowCept's value rule
    assert fit["sample"] == "cap-run/cap-run"
    ported = table[table["run_id"] == runs[-1].run_id].set_index("node")
    assert ported.loc["a.p", "value"] == 0.0 and pd.isna(ported.loc["a.q", "value"])
    assert ported.loc["b", "deps"] == [ported.loc["a.p", "task_id"]]


def test_given_sqlite_when_reading_sample_rows_then_the_run_index_is_searched(
    sqlite_uri: str,
) -> None:
    from provcausal.stores.sqlite import _SAMPLE_SELECT

    with open_store(sqlite_uri) as store:
        sql = f"EXPLAIN QUERY PLAN {_SAMPLE_SELECT} WHERE workflow_id IN (?, ?)"
        plan = " ".join(str(r[3]) for r in store._db.execute(sql, ["a", "b"]))  # type: ignore[attr-defined]
    assert "SEARCH tasks USING INDEX tasks_workflow_node (workflow_id=?)" in plan
    assert "SCAN" not in plan
