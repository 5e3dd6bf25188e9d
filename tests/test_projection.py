"""The analysis projection: written with each run, read column-wise, identical to the table
computed from the task documents, deleted with the run, migrated into older stores, and built
lazily (and refreshed) for tasks FlowCept wrote itself."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from provcausal import projection as pj
from provcausal.analysis import tasks as table_module
from provcausal.analysis.tasks import TABLE_COLUMNS, load_task_table
from provcausal.model.flowcept import RunRecords
from provcausal.stores import Store, open_store
from tests.helpers import chain_run
from tests.test_sample_rows import _captured_run, _ported_run

FIXTURE = Path(__file__).parent / "fixtures" / "stores" / "v1.db"


def _odd_run() -> RunRecords:
    """Names holding the projection's separators and an empty used name: packed as JSON."""
    run = chain_run("/data/odd", nodes=("a\x1fb", "c\x1ed", "e"))
    for task in run.tasks:
        task["used"] = {"": 1.0, "x\x1dy": 2.0, **(task.get("used") or {})}
    return run


def _runs() -> list[RunRecords]:
    chains = [chain_run(f"/data/run{i}", values=(i, 2 * i, 3 * i)) for i in range(3)]
    return [*chains, _captured_run(), _ported_run(), _odd_run()]


def _reference(store: Store, ids: list[str]) -> pd.DataFrame:
    """The table computed from the store's sample rows (the path before the projection)."""
    built = table_module._build(_NoCache(store), ids)
    return table_module._table([r for run in ids for r in built.get(run, ())])


class _NoCache:
    """A store seen through sample rows only."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def sample_rows(self, ids: list[str]) -> Any:
        return self._store.sample_rows(ids)

    def task_fingerprints(self, ids: list[str]) -> dict[str, str]:
        return {}

    def write_projection(self, records: Any) -> bool:
        return False


def _canonical(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values("task_id").reset_index(drop=True)[TABLE_COLUMNS]


def _no_sample_rows(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the analysis read task documents")

    monkeypatch.setattr(store, "sample_rows", refuse)


def test_given_imported_runs_when_loading_then_projection_only_and_same_table(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _runs()
    store.put_runs(runs)
    ids = [r.run_id for r in runs]
    expected = _reference(store, ids)
    assert {r.run_id for r in store.read_projection(ids)} == set(ids)
    _no_sample_rows(store, monkeypatch)
    table = load_task_table(store, ids)
    pd.testing.assert_frame_equal(_canonical(table), _canonical(expected))
    assert table.attrs["samples_formed"] == expected.attrs["samples_formed"] == {"run": 1}
    odd = table[table["run_id"] == runs[-1].run_id]
    assert set(odd["node"]) == {"a\x1fb", "c\x1ed", "e"}
    assert all("" in names for names in odd["used_names"])


def test_given_reimport_and_delete_when_loading_then_projection_follows_the_run(
    store: Store,
) -> None:
    first = chain_run("/data/r", values=(1, 2, 3))
    store.put_runs([first])
    again = chain_run("/data/r", values=(7, 8, 9), nodes=("a", "b"))
    store.put_runs([again])
    table = load_task_table(store, [again.run_id])
    assert sorted(table["value"]) == [7.0, 8.0]
    assert store.delete_run(again.run_id)
    assert list(store.read_projection([again.run_id])) == []
    assert store.leftovers() == []


def test_given_sqlite_projection_without_run_when_doctor_then_listed_and_repaired(
    sqlite_uri: str,
) -> None:
    with open_store(sqlite_uri) as store:
        run = chain_run("/data/x")
        store.put_runs([run])
        db = store._db  # type: ignore[attr-defined]
        with store.transaction():
            db.execute("DELETE FROM workflows WHERE workflow_id = ?", (run.run_id,))
        kinds = {item["kind"] for item in store.leftovers()}
        assert "analysis rows without a run" in kinds
        store.repair()
        assert list(store.read_projection([run.run_id])) == []


def test_given_sqlite_when_reading_projection_then_primary_key_search(sqlite_uri: str) -> None:
    from provcausal.stores.projection import sqlite_select

    with open_store(sqlite_uri) as store:
        store.put_runs([chain_run("/data/x")])
        sql = f"EXPLAIN QUERY PLAN {sqlite_select(2)}"
        plan = " ".join(str(r[3]) for r in store._db.execute(sql, ["a", "b"]))  # type: ignore[attr-defined]
    assert "SEARCH analysis_runs USING PRIMARY KEY (run_id=?)" in plan
    assert "SCAN" not in plan


def _v1_copy(tmp_path: Path) -> str:
    target = tmp_path / "store.db"
    shutil.copy(FIXTURE, target)
    return f"sqlite://{target}"


def _v1_reference(uri: str) -> pd.DataFrame:
    """The table the previous release computed: sample rows of the untouched v1 file."""
    with open_store(uri, create=False) as store:
        ids = [r["workflow_id"] for r in store.find_runs()]
        return _reference(store, ids)


def test_given_store_of_schema_1_when_opened_then_migrated_with_same_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v1.db was written by main before the projection (tests/fixtures/stores/make_v1_store.py)."""
    before = sqlite3.connect(FIXTURE)
    assert before.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("1",)
    tables = {r[0] for r in before.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    before.close()
    assert "analysis_runs" not in tables
    uri = _v1_copy(tmp_path)
    with open_store(uri, create=False) as store:
        ids = [r["workflow_id"] for r in store.find_runs()]
        expected = _reference(store, ids)
        assert len(ids) == 8 and len(expected) == 72
        assert {r.run_id for r in store.read_projection(ids)} == set(ids)
        _no_sample_rows(store, monkeypatch)
        table = load_task_table(store, ids)
    pd.testing.assert_frame_equal(_canonical(table), _canonical(expected))
    after = sqlite3.connect(tmp_path / "store.db")
    assert after.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("2",)
    after.close()


def test_given_read_only_store_of_schema_1_when_loading_then_computed_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provcausal.errors import StoreFileError
    from provcausal.stores.sqlite import SQLiteStore

    uri = _v1_copy(tmp_path)

    def read_only(self: SQLiteStore) -> None:
        raise StoreFileError("the store is read-only (file or folder): cannot write")

    monkeypatch.setattr(SQLiteStore, "_writable", read_only)
    with open_store(uri, create=False) as store:
        ids = [r["workflow_id"] for r in store.find_runs()]
        assert list(store.read_projection(ids)) == []
        table = load_task_table(store, ids)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(_canonical(table), _canonical(_v1_reference(uri)))


def _flowcept_writes(store: Store, run: RunRecords) -> None:
    """Documents written straight into FlowCept's collections, as FlowCept does."""
    store._tasks.insert_many([dict(t) for t in run.tasks])  # type: ignore[attr-defined]
    store._wfs.insert_one(dict(run.workflow))  # type: ignore[attr-defined]


def test_given_tasks_flowcept_wrote_when_loading_then_projection_kept_and_refreshed(
    mongo_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _captured_run()
    with open_store(mongo_uri) as store:
        _flowcept_writes(store, run)
        assert list(store.read_projection([run.run_id])) == []
        first = load_task_table(store, [run.run_id])
        kept = list(store.read_projection([run.run_id]))
        assert len(kept) == 1 and kept[0].fingerprint and kept[0].formed == "run"
        assert store._tasks.count_documents({}) == 2  # type: ignore[attr-defined]
        doc = store._tasks.find_one({"task_id": "cap-load"})  # type: ignore[attr-defined]
        assert set(doc) == {"_id", *run.tasks[0]}  # FlowCept's documents stay as written
        with monkeypatch.context() as patch:
            _no_sample_rows(store, patch)
            again = load_task_table(store, [run.run_id])
        pd.testing.assert_frame_equal(_canonical(first), _canonical(again))
        store._tasks.insert_one(  # type: ignore[attr-defined]
            {"task_id": "cap-more", "workflow_id": "cap-run", "activity_id": "fit",
             "used": {"x": 3.5}, "generated": {"score": 0.5}, "started_at": 5.0,
             "ended_at": 6.0}
        )  # fmt: skip
        grown = load_task_table(store, [run.run_id])
    assert len(grown) == 3 and "cap-more" in set(grown["task_id"])


# -- packing -----------------------------------------------------------------------------------
_TEXT = st.text(alphabet=st.sampled_from("ab.\x1d\x1e\x1f/"), max_size=4)
_ROW = st.fixed_dictionaries(
    {
        "task_id": _TEXT,
        "node": _TEXT,
        "sample": _TEXT,
        "visit": st.integers(0, 5),
        "value": st.none() | st.floats(allow_nan=False),
        "duration": st.none() | st.floats(0, 10),
        "start": st.none() | st.floats(0, 1e9),
        "end": st.none() | st.floats(0, 1e9),
        "unobserved": st.booleans(),
        "deps": st.lists(_TEXT, max_size=3),
        "ports": st.just({}) | st.just({"p": ("a.out", 1.5), "q": ("b", None)}),
        "used_names": st.lists(_TEXT, max_size=3),
    }
)


@given(st.lists(st.lists(_ROW, max_size=4), max_size=4))
def test_given_any_rows_when_packed_and_unpacked_then_unchanged(
    runs: list[list[dict[str, Any]]],
) -> None:
    records = [pj.run_columns(f"run{i}", rows) for i, rows in enumerate(runs)]
    columns = pj.unpack(records)
    flat = [(f"run{i}", row) for i, rows in enumerate(runs) for row in rows]
    assert list(columns["run_id"]) == [run for run, _ in flat]
    for name in pj.COLUMNS:
        got = list(columns[name])
        want = [row[name] for _, row in flat]
        if name in pj.FLOAT_COLUMNS:
            want = [float("nan") if v is None else v for v in want]
            assert pd.Series(got, dtype=float).equals(pd.Series(want, dtype=float))
        else:
            assert got == want, name


def test_given_imported_tasks_when_rowed_directly_then_same_as_sample_row(
    tmp_path: Path,
) -> None:
    from provcausal.model import flowcept as fc

    with open_store(_v1_copy(tmp_path), create=False) as store:
        ids = [r["workflow_id"] for r in store.find_runs()]
        tasks = list(store.find_tasks(ids)) + [t for r in _runs() for t in r.tasks]
    checked = 0
    for task in tasks:
        direct = fc.imported_sample_row(task)
        if direct is None:
            assert fc.is_captured(task)
            continue
        reference = fc.sample_row(task)
        for column in set(direct) - {"generated"}:
            assert direct[column] == reference[column], column
        if direct["out_ports"]:
            assert direct["generated"] == reference["generated"]
        checked += 1
    assert checked > 60


def test_given_large_run_on_mongodb_when_written_in_parts_then_read_whole_and_shrinks(
    mongo_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provcausal.stores import projection as stored

    monkeypatch.setattr(stored, "PART_TASKS", 2)
    run = chain_run("/data/big", nodes=("a", "b", "c", "d", "e"), values=(1, 2, 3, 4, 5))
    with open_store(mongo_uri) as store:
        store.put_runs([run])
        analysis = store._analysis  # type: ignore[attr-defined]
        assert analysis.count_documents({"run_id": run.run_id}) == 3
        expected = _reference(store, [run.run_id])
        table = load_task_table(store, [run.run_id])
        pd.testing.assert_frame_equal(_canonical(table), _canonical(expected))
        store.put_runs([chain_run("/data/big", nodes=("a", "b"), values=(7, 8))])
        assert analysis.count_documents({"run_id": run.run_id}) == 1
        assert sorted(load_task_table(store, [run.run_id])["value"]) == [7.0, 8.0]
        analysis.delete_one({"_id": run.run_id})  # a part missing: not used
        store.put_runs([run])
        analysis.delete_one({"_id": f"{run.run_id}:1"})
        assert list(store.read_projection([run.run_id])) == []


def _task_row(task: str, node: str, value: float | None, **extra: Any) -> dict[str, Any]:
    row = {"task_id": task, "node": node, "sample": "s", "visit": 0, "value": value,
           "duration": 1.0, "start": 2.0, "end": 3.0, "unobserved": False, "deps": [],
           "ports": {}, "used_names": []}  # fmt: skip
    return {**row, **extra}


def test_given_packed_runs_then_the_table_numbers_are_float64_with_and_without_split_ports():
    """The table's times and values are float64 whether or not a process's ports were split
    into variables: a split port that carried no value is NaN, and ports whose values were
    stored as JSON integers do not make an integer column when no other task is loaded."""
    plain = pj.run_columns("r1", [_task_row("t1", "a", 1.0), _task_row("t2", "b", None)])
    table = table_module._table([plain])
    assert {c: str(table[c].dtype) for c in pj.FLOAT_COLUMNS} == dict.fromkeys(
        pj.FLOAT_COLUMNS, "float64"
    )
    ports = {"x": ["out_x", 1.0], "y": ["out_y", None]}
    ported = pj.run_columns(
        "r2",
        [
            _task_row("p", "split", None, ports=ports),
            _task_row("c", "consumer", 2.0, deps=["p"], used_names=["out_y"]),
        ],
    )
    table = table_module._table([ported])
    assert set(table["node"]) == {"split.x", "split.y", "consumer"}
    assert {c: str(table[c].dtype) for c in pj.FLOAT_COLUMNS} == dict.fromkeys(
        pj.FLOAT_COLUMNS, "float64"
    )
    by_node = table.set_index("node")
    assert by_node.loc["split.x", "value"] == 1.0
    assert pd.isna(by_node.loc["split.y", "value"])
    assert by_node.loc["consumer", "deps"] == ["p#y"]
    only_ports = pj.run_columns(
        "r3", [_task_row("q", "split", None, ports={"x": ["o", 1], "y": ["p", 2]})]
    )
    table = table_module._table([only_ports])
    assert list(table["value"]) == [1.0, 2.0]
    assert str(table["value"].dtype) == "float64"


def _page_size(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA page_size").fetchone()[0])


def test_given_a_new_store_then_a_readme_run_projection_fits_its_leaf_page(
    tmp_path: Path,
) -> None:
    """New store files get 16 kB pages, in which a README run's projection row (about 2 kB)
    stays in its b-tree page: in 4 kB pages each one spilled to an overflow page, one more
    page to find per run when the analysis loads it."""
    from provcausal.examples import scipipe_gcratio
    from tests.helpers import run_cli

    scipipe_gcratio.write_runs(tmp_path / "runs", 3, seed=1)
    path = tmp_path / "new.db"
    run_cli(
        "-q", "import", "scipipe", str(tmp_path / "runs"), "-w", "wf", store=f"sqlite://{path}"
    ).ok()
    assert _page_size(path) == 16384
    with sqlite3.connect(path) as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(analysis_runs)")]
        row_bytes = " + ".join(f"ifnull(length(CAST({c} AS BLOB)), 0)" for c in columns)
        sizes = [r[0] for r in db.execute(f"SELECT {row_bytes} FROM analysis_runs")]
        pages = dict(
            db.execute(
                "SELECT pagetype, count(*) FROM dbstat WHERE name = 'analysis_runs'"
                " GROUP BY pagetype"
            ).fetchall()
        )
    assert len(sizes) == 3 and min(sizes) > 1100  # over what a 4 kB page keeps of a row
    assert "overflow" not in pages and pages["leaf"] >= 1


def test_given_a_store_of_the_previous_release_then_it_keeps_its_page_size_and_loads(
    tmp_path: Path,
) -> None:
    """The page size of an existing file cannot change without rewriting it: an older store
    keeps its 4 kB pages through the migration and a later write, and still loads every run."""
    path = tmp_path / "v1.db"
    shutil.copy(FIXTURE, path)
    assert _page_size(path) == 4096
    with open_store(f"sqlite://{path}") as store:
        store.put_runs([chain_run("/data/late", values=(1, 2, 3))])
        ids = [r["workflow_id"] for r in store.find_runs()]
        table = load_task_table(store, ids)
    assert _page_size(path) == 4096
    assert set(table["run_id"]) == set(ids) and len(ids) >= 2
