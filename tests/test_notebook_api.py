"""The Python API as a notebook uses it: store URIs, rich display, progress, errors, caching."""

from __future__ import annotations

import html
import inspect
import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

import provcausal
from provcausal.analysis import table_cache
from provcausal.errors import NotFoundError, ProvcausalError, StoreUnreachableError
from provcausal.examples import scipipe_gcratio

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """15 normal and 15 faulty GC-ratio runs, imported through the API with a URI."""
    root = tmp_path_factory.mktemp("nb")
    scipipe_gcratio.write_runs(root / "normal", 15, seed=0)
    scipipe_gcratio.write_runs(root / "broken", 15, seed=1, count1_max=10)
    uri = f"sqlite:///{root / 'store.db'}"
    for label in ("normal", "broken"):
        provcausal.import_paths(uri, "scipipe", [root / label], "gcratio", label=label)
    return uri


@pytest.fixture(scope="module")
def result(store_uri: str) -> provcausal.Attribution:
    return provcausal.attribute(store_uri, "gcratio", "normal", "broken", repeats=4)


def test_attribution_shows_verdict_scores_and_graph(result: provcausal.Attribution) -> None:
    page = result._repr_html_()
    verdict = re.search(r'<p class="verdict">([^<]+)</p>', page)
    assert verdict and verdict.group(1).startswith("count1 explains the change")
    assert re.search(r'<svg[^>]*class="graph"', page) and page.count('<g class="node">') == 9
    # One scores row per node, each with the report page's interval bar.
    assert page.count("<tr><td>") == len(result.table) == 9
    assert "contracted atcat (unobserved)" in page
    assert "<script" not in page


def test_repr_is_one_short_line(result: provcausal.Attribution) -> None:
    text = repr(result)
    assert "\n" not in text and len(text) < 250
    assert text.startswith(
        "<Attribution gcratio/gcratio (value): 15 vs 15 samples, 9 nodes; count1"
    )


def test_shift_is_shown_when_the_result_has_one(result: provcausal.Attribution) -> None:
    result.shift = {"median": "0.51 -> 0.66"}  # type: ignore[attr-defined]
    try:
        assert "shift: median: 0.51 -&gt; 0.66" in result._repr_html_()
    finally:
        del result.shift  # type: ignore[attr-defined]


def test_to_frame_plot_and_report(result: provcausal.Attribution, tmp_path: Path) -> None:
    frame = result.to_frame()
    assert list(frame["node"]) == list(result.table["node"])
    assert {"score", "ci_low", "ci_high", "baseline_median", "comparison_median"} <= set(frame)
    assert frame.set_index("node").loc["count1", "comparison_median"] <= 10
    ax = result.plot()
    assert isinstance(ax, matplotlib.axes.Axes)
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "count1"
    page = result.report(tmp_path / "page.html")
    text = page.read_text()
    assert html.escape(result.verdict) in text and "provcausal --store sqlite:///" in text
    assert f"-o {tmp_path / 'page.html'}" in text


def test_listing_lineage_and_graph_display(store_uri: str) -> None:
    runs = provcausal.list_runs(store_uri, "gcratio", labels=["broken"])
    assert isinstance(runs, pd.DataFrame) and "15 runs of gcratio" in runs._repr_html_()
    assert type(runs.head(2)) is pd.DataFrame  # derived frames are plain again
    run = runs.run_id.iloc[0]
    tasks = provcausal.list_tasks(store_uri, run=run)
    task = tasks[tasks.node == "gcratio"].task_id.iloc[0]
    walked = provcausal.lineage(store_uri, task, depth=1)
    assert repr(walked).startswith(f"<LineageGraph upstream of {task}: ")
    assert 'class="graph"' in walked._repr_html_() and "gcsum" in walked._repr_html_()
    assert list(walked.to_frame()["id"])[0] == task
    graph = provcausal.causal_graph(store_uri, "gcratio")
    assert ("count1", "gccount1") in graph.edges and "contracted atcat" in graph._repr_html_()


def test_anomaly_display() -> None:
    """The display of ``anomalies``' table, built as that function builds it (the real call
    fits dowhy models: the paper's notebooks need none, so it is not run here)."""
    from provcausal.analysis.anomaly import anomaly_verdict
    from provcausal.api import _anomaly
    from provcausal.results import AnomalyTable

    rows = [("count1", 2.9, 6.0, 36.5), ("gccount1", 0.3, 80.0, 700.0), ("count2", -4.3, 27, 21)]
    table = pd.DataFrame(rows, columns=["node", "score", "value", "baseline_median"])
    table.insert(1, "label", table["node"])
    table.attrs.update(
        workflow="gcratio", sample="run-1/run-1", target="gcratio", metric="value",
        baseline_samples=15, baseline="the runs labelled 'normal' (default)",
        verdict=anomaly_verdict(table, "gcratio"),
    )  # fmt: skip
    odd = _anomaly(table, None, None)  # what provcausal.anomalies returns
    assert isinstance(odd, AnomalyTable)
    page = odd._repr_html_()
    assert odd.verdict.startswith("count1 contributes most")
    assert html.escape(odd.verdict) in page and '<table class="scores">' in page
    assert page.count("<tr><td>") == 3 and "run-1/run-1" in page
    assert type(odd[odd.score > 0]) is pd.DataFrame


def test_verbs_accept_a_store_object_too(store_uri: str) -> None:
    with provcausal.open_store(store_uri) as store:
        assert list(provcausal.list_workflows(store)["workflow"]) == ["gcratio"]
        assert set(provcausal.node_labels(store, "gcratio")) <= set(
            provcausal.causal_graph(store, "gcratio").nodes
        )


def test_errors_are_one_line_library_errors(store_uri: str, tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    with pytest.raises(StoreUnreachableError) as caught:
        provcausal.list_runs(f"sqlite:///{missing}")
    assert "\n" not in str(caught.value) and not missing.exists()
    with pytest.raises(NotFoundError):
        provcausal.list_nodes(store_uri, "no-such-workflow")
    with pytest.raises(ProvcausalError) as bad:
        provcausal.attribute(store_uri, "gcratio", "normal", "no-such-label")
    assert "\n" not in str(bad.value)
    with pytest.raises(ProvcausalError, match="store is a Store or a store URI"):
        provcausal.list_runs(42)
    with pytest.raises(ProvcausalError, match="unknown quality 'best'; choose one of fast"):
        provcausal.attribute(store_uri, "gcratio", "normal", "broken", quality="best")
    with pytest.raises(NotFoundError, match="no runs of workflow 'gcratoi'"):
        provcausal.causal_graph(store_uri, "gcratoi")  # a typo is not an empty workflow


def test_silent_outside_a_notebook(store_uri: str, capfd: pytest.CaptureFixture[str]) -> None:
    provcausal.attribute(store_uri, "gcratio", "normal", "broken", repeats=2)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_a_callable_progress_is_called(store_uri: str) -> None:
    seen: list[tuple[int, int]] = []
    provcausal.attribute(
        store_uri,
        "gcratio",
        "normal",
        "broken",
        repeats=2,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen and seen[-1][0] == seen[-1][1]


def test_help_and_completion() -> None:
    assert {"attribute", "anomalies", "causal_graph", "Attribution", "open_store"} <= set(
        dir(provcausal)
    )
    sig = inspect.signature(provcausal.attribute)
    assert sig.parameters["store"].annotation == "Store | str"
    assert "baseline" in sig.parameters and "store URI" in (provcausal.attribute.__doc__ or "")


def test_task_tables_are_reused_until_a_run_is_imported_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provcausal.analysis import sample_data
    from provcausal.analysis import tasks as task_table

    loads: list[int] = []
    original = task_table._load_task_table

    def counting(store, run_ids):  # type: ignore[no-untyped-def]
        loads.append(len(run_ids))
        return original(store, run_ids)

    monkeypatch.setattr(task_table, "_load_task_table", counting)
    table_cache.clear()
    uri = f"sqlite:///{tmp_path / 'cache.db'}"
    scipipe_gcratio.write_runs(tmp_path / "runs", 5, seed=3)
    provcausal.import_paths(uri, "scipipe", [tmp_path / "runs"], "gcratio", label="a")
    first = provcausal.sample_data(uri, "gcratio")
    provcausal.causal_graph(uri, "gcratio")
    assert loads == [5]  # the second call reused the table
    # Outside the API's verbs (the CLI, library callers) nothing is cached.
    with provcausal.open_store(uri) as store:
        sample_data(store, "gcratio")
    assert loads == [5, 5]
    # The same runs imported again (same ids, a new import) are loaded again.
    provcausal.import_paths(uri, "scipipe", [tmp_path / "runs"], "gcratio", label="a")
    again = provcausal.sample_data(uri, "gcratio")
    assert loads == [5, 5, 5]
    pd.testing.assert_frame_equal(first, again)


def test_a_large_lineage_is_listed_not_drawn() -> None:
    import networkx as nx

    from provcausal.analysis.display import MAX_DRAWN
    from provcausal.results import LineageGraph

    def walked(n: int) -> LineageGraph:
        graph = LineageGraph(nx.path_graph([f"t-{i}" for i in range(n)], nx.DiGraph))
        nx.set_node_attributes(graph, "task", "kind")
        graph.graph.update(root="t-0", direction="downstream")
        return graph

    assert 'class="graph"' in walked(MAX_DRAWN)._repr_html_()
    big = walked(MAX_DRAWN + 1)._repr_html_()
    assert 'class="graph"' not in big and f"{MAX_DRAWN + 1} tasks and entities" in big
    assert big.count("<tr") < 70  # pandas' own row limit, not every row
