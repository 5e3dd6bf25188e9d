"""Selecting runs by FlowCept's own workflow fields, and labels given afterwards."""

from __future__ import annotations

import pytest
from provcausal.queries import label_runs

from provcausal.analysis.selection import select_runs
from provcausal.errors import AnalysisError, BadInputError, NotFoundError
from provcausal.model import flowcept as fc
from provcausal.stores import Store
from provcausal.stores.where import parse_where
from tests.helpers import chain_run, run_cli


def _captured(store: Store) -> dict[str, str]:
    """Four runs as FlowCept marks batches: campaign, workflow_args (``used``), user, tags."""
    ids = {}
    for i, (campaign, mode, user) in enumerate(
        [("c1", "normal", "alice"), ("c1", "normal", "bob"), ("c2", "faulty", "alice"),
         ("c2", "faulty", "alice")]
    ):  # fmt: skip
        run = chain_run(f"/r{i}", label=None)
        run.workflow.update(
            campaign_id=campaign, user=user, used={"mode": mode, "n": i}, tags=["t", f"x{i}"]
        )
        store.put_run(run)
        ids[f"r{i}"] = run.run_id
    return ids


def _ids(runs) -> list[str]:
    return sorted(str(r["workflow_id"]) for r in runs)


def test_conditions_select_on_every_store(store: Store) -> None:
    ids = _captured(store)
    assert _ids(select_runs(store, "wf", "campaign_id=c1")) == sorted([ids["r0"], ids["r1"]])
    assert _ids(select_runs(store, "wf", "used.mode=faulty & user=alice")) == sorted(
        [ids["r2"], ids["r3"]]
    )
    assert _ids(select_runs(store, "wf", "campaign_id=c1&user=bob")) == [ids["r1"]]
    assert _ids(select_runs(store, "wf", "used.n=3")) == [ids["r3"]]  # a number
    assert _ids(select_runs(store, "wf", "tags=x2")) == [ids["r2"]]  # a list element
    assert _ids(select_runs(store, "wf", "name=wf&campaign_id=c2")) == sorted(
        [ids["r2"], ids["r3"]]
    )
    with pytest.raises(AnalysisError, match="no runs of 'wf' where campaign_id=c9"):
        select_runs(store, "wf", "campaign_id=c9")
    with pytest.raises(NotFoundError):
        select_runs(store, "other", "campaign_id=c1")
    with pytest.raises(BadInputError, match="FIELD=VALUE"):
        parse_where("campaign_id=c1&=x")


def test_label_is_given_afterwards_without_touching_flowcept_fields(store: Store) -> None:
    ids = _captured(store)
    before = {r["workflow_id"]: r for r in store.find_runs()}
    assert sorted(label_runs(store, "wf", "campaign_id=c2", "broken")) == sorted(
        [ids["r2"], ids["r3"]]
    )
    assert sorted(label_runs(store, "wf", "campaign_id=c1", "normal")) == sorted(
        [ids["r0"], ids["r1"]]
    )
    assert _ids(select_runs(store, "wf", "broken")) == sorted([ids["r2"], ids["r3"]])
    assert _ids(store.find_runs(labels=["normal"])) == sorted([ids["r0"], ids["r1"]])
    assert _ids(store.find_runs(where=parse_where(f"{fc.meta_path(fc.LABEL)}=broken"))) == (
        sorted([ids["r2"], ids["r3"]])
    )
    # The workflow documents as stored are unchanged: the label lives apart from them.
    raw = {d["workflow_id"]: d for d in store._workflow_docs(None, None)}
    for run_id, doc in before.items():
        assert raw[run_id] == doc
    # A re-import with its own label is the newer statement.
    store.put_run(chain_run("/r2", label="rerun"))
    assert _ids(store.find_runs(labels=["rerun"])) == [ids["r2"]]


def test_import_campaign_and_cli_label(tmp_path, sqlite_uri) -> None:
    from provcausal.examples.scipipe_gcratio import write_run

    write_run(tmp_path / "a", seed=1)
    write_run(tmp_path / "b", seed=2)

    def run(*args: str):
        result = run_cli(*args, store=sqlite_uri).ok()
        return result.json() if "--json" in args else result.out

    run("import", "scipipe", str(tmp_path / "a"), "-w", "gc", "--campaign", "c1")
    run("import", "scipipe", str(tmp_path / "b"), "-w", "gc")
    rows = run("runs", "--where", "campaign_id=c1", "--json")
    assert len(rows) == 1
    other = run("runs", "--where", "campaign_id=gc", "--json")  # default: the workflow name
    assert len(other) == 1 and other[0]["run_id"] != rows[0]["run_id"]
    tasks = run("tasks", "--run", rows[0]["run_id"], "--json")
    assert tasks
    out = run("label", "-w", "gc", "--where", "campaign_id=c1", "--set", "normal", "--json")
    assert out == {"label": "normal", "runs": [rows[0]["run_id"]], "store": sqlite_uri}
    assert [r["label"] for r in run("runs", "--label", "normal", "--json")] == ["normal"]
    missing = run_cli(
        "label", "-w", "gc", "--where", "campaign_id=zz", "--set", "x", store=sqlite_uri
    )
    missing.error(2, "no runs of workflow 'gc' where campaign_id=zz")
