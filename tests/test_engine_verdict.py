"""The verdict: plain words, strong only when the evidence is, candidates named otherwise."""

from __future__ import annotations

import networkx as nx
import pandas as pd

from provcausal.analysis.engine import EngineResult
from provcausal.analysis.verdict import verdict


def result(rows, replicates, *, forced=False, repeats=20):
    table = pd.DataFrame(rows, columns=["node", "score", "top_frequency", "changed"])
    return EngineResult(
        table, nx.DiGraph(), "t", {}, [], forced, repeats, {}, replicates=replicates
    )


def test_strong_verdict_names_the_runner_up_in_plain_words():
    r = result(
        [("c1", 2.0, 0.95, True), ("c2", 0.5, 0.05, True)],
        {"c1": [2.0] * 21, "c2": [0.5] * 21},
    )
    text = verdict(r, {"c1": "count1", "c2": "count2"})
    assert text == (
        "count1 explains the change: it ranked first in 95% of 20 resamples, "
        "clearly ahead of count2"
    )


def test_when_all_others_score_zero_the_runner_up_is_no_other_node():
    r = result(
        [("c1", 2.0, 1.0, True), ("x", 0.0, 0.0, False)], {"c1": [2.0] * 21, "x": [0.0] * 21}
    )
    assert verdict(r, {}) == (
        "c1 explains the change: it ranked first in 100% of 20 resamples, "
        "and no other node explains any of it"
    )


def test_a_top_node_that_did_not_test_as_changed_never_gets_a_strong_verdict():
    r = result([("a", 1.0, 1.0, False), ("b", 0.2, 0.0, True)], {"a": [1.0] * 21, "b": [0.2] * 21})
    text = verdict(r, {})
    assert text.startswith("weak evidence: a ranks first, but its mechanism did not test")
    assert text.endswith("candidates: a or b")


def test_forced_and_uncertain_answers_are_weak_and_name_the_candidates():
    reps = {"a": [1.0] * 21, "b": [0.5] * 21, "c": [0.2] * 21}
    rows = [("a", 1.0, 0.9, False), ("b", 0.5, 0.1, False), ("c", 0.2, 0.0, False)]
    assert verdict(result(rows, reps, forced=True), {}) == (
        "weak evidence: no node's mechanism tested as changed; "
        "the likeliest candidates are a, b or c"
    )
    rows = [("a", 1.0, 0.6, True), ("b", 0.5, 0.4, True)]
    text = verdict(result(rows, reps), {})
    assert text.startswith("weak evidence: a may explain the change, but it ranked first in 60%")
    assert text.endswith("candidates: a or b")
    mixed = {"a": [1.0] * 20 + [-1.0], "b": [0.5] * 10 + [2.0] * 11}
    text = verdict(result([("a", 1.0, 0.9, True), ("b", 0.5, 0.1, True)], mixed), {})
    assert text.endswith("but not clearly ahead of b")


def test_no_change_and_no_repeats():
    assert verdict(result([("a", 0.0, 0.0, False)], {"a": [0.0]}), {}).startswith("no node")
    r = result([("a", 1.0, float("nan"), True), ("b", 0.0, 0.0, False)], {}, repeats=0)
    assert "without resamples" in verdict(r, {})
