"""The report page from a hand-made attribution (fast: no dowhy): what it says and shows."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from provcausal.analysis.attribution import Attribution
from provcausal.analysis.report import plain_summary, report_html


def attribution(target: str = "c", scores=(2.0, 0.0, 0.0), also=()) -> Attribution:
    graph = nx.DiGraph([("a", "b"), ("b", "c")])
    rng = np.random.default_rng(0)
    before = pd.DataFrame({n: rng.normal(10, 1, 20) for n in "abc"})
    after = before.assign(a=before["a"] - 8)
    table = pd.DataFrame(
        {
            "node": ["a", "b", "c"],
            "label": ["Alpha", "Beta", "Gamma"],
            "score": list(scores),
            "ci_low": [1.0, 0.0, 0.0],
            "ci_high": [3.0, 0.1, 0.2],
            "top_frequency": [1.0, 0.0, 0.0],
            "changed": [True, False, False],
            "p_value": [0.001, 0.5, 0.6],
        }
    )
    result = Attribution(
        workflow="wf",
        target=target,
        metric="value",
        quality="fast",
        seed=0,
        baseline_samples=20,
        comparison_samples=20,
        table=table,
        graph=graph,
        verdict="Alpha accounts for the change",
        notes=["contracted x9 (unobserved)"],
        seconds=1.0,
        baseline_selection="normal",
        comparison_selection="broken",
        baseline_data=before,
        comparison_data=after,
        node_labels={"a": "Alpha", "b": "Beta", "c": "Gamma", "x9": "inject"},
    )
    result.also = list(also)
    return result


def test_page_names_nodes_colours_the_top_one_and_reproduces() -> None:
    page = report_html(attribution(), "provcausal report --workflow wf -o r.html")
    assert "Alpha accounts for the change" in page
    assert page.count('<g class="node">') == 3
    assert 'fill="#e07b24"' in page  # the top node in the strongest colour
    assert "contracted inject (x9) (unobserved)" in page
    assert "provcausal report --workflow wf -o r.html" in page
    assert page.count('class="dist"') == 2  # Alpha and the target Gamma
    assert "Other outputs that changed" not in page


def test_plain_summary_says_where_to_look_or_that_nothing_stands_out() -> None:
    assert plain_summary(attribution()).startswith(
        "Look at Alpha first: its behaviour changed (typical value"
    )
    assert "the whole part" in plain_summary(attribution())
    assert plain_summary(attribution(scores=(0.0, 0.0, 0.0))).startswith("No step stands out")


def test_other_changed_outputs_are_listed() -> None:
    other = attribution()
    other.target, other.verdict = "b", "Beta's own change"
    page = report_html(attribution(also=[other]), "cmd")
    assert "Other outputs that changed" in page and "<b>Beta</b>: Beta&#x27;s own change" in page
