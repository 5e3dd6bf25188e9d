"""Tasks FlowCept captured: plain-decorator lineage, samples inside one run, and what
attribution says when the lineage gives it nothing to work with."""

from __future__ import annotations

import pytest

from provcausal.analysis import attribute
from provcausal.captured import captured_samples
from provcausal.errors import AnalysisError
from provcausal.model.links import flowcept_links
from tests.lmdb_layout import write_flowcept_lmdb


def task(tid, node, t0, used=None, generated=None, **extra):
    """A task as the plain ``@flowcept_task`` records it (epoch seconds)."""
    return {
        "task_id": tid,
        "workflow_id": extra.pop("workflow_id", "w"),
        "activity_id": node,
        "used": used or {},
        "generated": generated or {},
        "started_at": t0,
        "ended_at": t0 + 0.001,
        **extra,
    }


def execution(prefix, t0, x, **extra):
    """load → square → report, positional outputs, inputs under parameter names."""
    v, sq = x + 0.5, (x + 0.5) ** 2
    return [
        task(f"{prefix}a", "load", t0, {"seed": 1000 + x}, {"arg_0": v}, **extra),
        task(f"{prefix}b", "square", t0 + 0.01, {"v": v}, {"arg_0": sq}, **extra),
        task(f"{prefix}c", "report", t0 + 0.02, {"sq": sq}, {"arg_0": 7.5 + x}, **extra),
    ]


def test_positional_outputs_link_by_flowcepts_value_rule() -> None:
    tasks = execution("1", 10.0, 2.0)
    tasks.append(task("late", "late", 9.0, {"v": 2.5}))  # started before the producer ended
    tasks.append(task("triv", "trivial", 20.0, {"flag": 1}))  # 1 is trivial
    tasks.append(task("one", "one", 5.0, {}, {"arg_0": 1}))
    links = flowcept_links(tasks)
    assert links.upstream["1b"] == {"1a"} and links.upstream["1c"] == {"1b"}
    assert "late" not in links.upstream and "triv" not in links.upstream
    assert links.used_entity("1b", "v") == links.generated_entity("1a", "arg_0")


def test_loop_with_parent_ids_gives_one_sample_per_iteration() -> None:
    tasks = []
    for i in range(3):
        it = f"g{i}"
        tasks.append(task(it, "loop_iteration", i, {"i": i}, subtype="iteration", group_id="g"))
        tasks += execution(f"{i}-", i + 0.1, float(i), parent_task_id=it)
    formed = captured_samples(tasks, "w")
    assert formed.how == "iterations" and formed.count == 3
    assert formed.sample["2-c"] == formed.sample["g2"] == "iteration-2"


def test_loop_without_parents_splits_by_lineage_and_numbers_visits() -> None:
    tasks = []
    for i in range(3):
        tasks.append(task(f"g{i}", "loop_iteration", i, {"i": i}, subtype="iteration"))
        tasks += execution(f"{i}-", i + 0.0001, float(i) + 3)
    tasks.append(task("2-d", "square", 2.5, {"v": 30.25}, {"arg_0": 900.0}))  # a 2nd visit
    formed = captured_samples(tasks, "w")
    assert formed.how == "components" and formed.count == 3
    assert formed.sample["0-a"] == formed.sample["0-c"] != formed.sample["1-a"]
    assert formed.bookkeeping == {"g0", "g1", "g2"}
    assert (formed.visit["2-b"], formed.visit["2-d"]) == (0, 1)


def test_loop_without_any_lineage_uses_iteration_windows() -> None:
    tasks = []
    for i in range(3):
        tasks.append(task(f"g{i}", "loop_iteration", i, {"i": i}, subtype="iteration"))
        tasks.append(task(f"x{i}", "work", i + 0.5, {"k": "ab"}))
    formed = captured_samples(tasks, "w")
    assert formed.how == "iteration-windows"
    assert [formed.sample[f"x{i}"] for i in range(3)] == [f"iteration-{i}" for i in range(3)]


def test_one_execution_is_one_sample_even_with_partial_lineage() -> None:
    formed = captured_samples(execution("", 1.0, 2.0), "w")
    assert (formed.how, formed.count, set(formed.sample.values())) == ("run", 1, {"w"})
    partial = execution("", 1.0, 2.0) + [task("z", "side", 1.5, {"k": "ab"}, {"arg_0": 9.25})]
    assert captured_samples(partial, "w").how == "run"  # two components, no node repeats


def _store(tmp_path, tasks, runs):
    write_flowcept_lmdb(tmp_path / "db", runs, tasks)
    from provcausal.stores import open_store

    return open_store(f"lmdb://{tmp_path / 'db'}")


def test_no_lineage_is_said_clearly_and_a_target_is_never_its_own_cause(tmp_path) -> None:
    runs, tasks = [], []
    for r in range(12):
        wid = f"run{r}"
        runs.append({"workflow_id": wid, "name": "p", "campaign_id": "a" if r < 6 else "b"})
        t0 = 100.0 * r
        tasks += [  # named outputs that no input repeats: FlowCept's rules find no edge
            task(f"{wid}-x", "x", t0, {"p": f"in{r}"}, {"out": 3.5 + r}, workflow_id=wid),
            task(f"{wid}-y", "y", t0 + 1, {"q": f"other{r}"}, {"res": 8.5 + r}, workflow_id=wid),
        ]
    with _store(tmp_path, tasks, runs) as store:
        for target in (None, "y"):
            with pytest.raises(AnalysisError, match="links none of its 2 nodes"):
                attribute(store, "p", "campaign_id=a", "campaign_id=b", target=target)


def test_target_without_upstream_node_is_refused(tmp_path) -> None:
    runs, tasks = [], []
    for r in range(12):
        wid = f"run{r}"
        runs.append({"workflow_id": wid, "name": "p", "campaign_id": "a" if r < 6 else "b"})
        for t in execution(f"{wid}-", 100.0 * r, float(r) + 2):
            t["workflow_id"] = wid
            tasks.append(t)
    with (
        _store(tmp_path, tasks, runs) as store,
        pytest.raises(AnalysisError, match="'load' has no upstream node"),
    ):
        attribute(store, "p", "campaign_id=a", "campaign_id=b", target="load", repeats=0)
