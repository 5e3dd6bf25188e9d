"""When nothing shifted, every output says so first and names no node (issue 18)."""

from __future__ import annotations

import json

import networkx as nx
import pandas as pd

from provcausal.analysis.engine import EngineResult
from provcausal.analysis.report import plain_summary, report_html
from provcausal.analysis.shift import Shift
from provcausal.analysis.verdict import verdict
from provcausal.cli.commands_analysis import _attribution_text
from tests.test_report_html import attribution

NO_SHIFT = Shift(False, 0.43, 0.7, "anderson-darling + energy permutation", 20, 20, 0.05)
SHIFT = Shift(True, 0.001, 12.0, "anderson-darling + energy permutation", 20, 20, 0.05)


def engine(rows, *, forced=False) -> EngineResult:
    table = pd.DataFrame(rows, columns=["node", "score", "top_frequency", "changed"])
    replicates = {n: [s] * 21 for n, s, _, _ in rows}
    return EngineResult(table, nx.DiGraph(), "t", {}, [], forced, 20, {}, replicates=replicates)


STRONG = [("a", 2.0, 1.0, True), ("b", 0.1, 0.0, False)]
FORCED = [("a", 1.0, 0.9, False), ("b", 0.5, 0.1, False)]


def test_no_shift_is_said_first_and_no_node_is_named() -> None:
    labels = {"t": "gcratio", "a": "count1", "b": "count2"}
    for rows, forced in ((STRONG, False), (FORCED, True)):
        text = verdict(engine(rows, forced=forced), labels, NO_SHIFT)
        assert text == (
            "no shift: gcratio's distribution did not change (p = 0.43, n = 20 vs 20); "
            "nothing to attribute"
        )
        assert "count1" not in text and "count2" not in text


def test_a_shift_without_a_changed_mechanism_is_weak_and_says_the_target_moved() -> None:
    text = verdict(engine(FORCED, forced=True), {"t": "out"}, SHIFT)
    assert text == (
        "weak evidence: out's distribution changed (p = 0.001), but no node's mechanism "
        "tested as changed; the likeliest candidates are a or b"
    )


def test_a_strong_verdict_needs_the_shift() -> None:
    assert verdict(engine(STRONG), {}, SHIFT).startswith("a explains the change")
    assert verdict(engine(STRONG), {}, NO_SHIFT).startswith("no shift: t's distribution")


def test_json_text_and_page_mark_the_scores_as_noise() -> None:
    result = attribution()
    result.shift, result.verdict = NO_SHIFT, "no shift: Gamma's distribution did not change"
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["shift"] == {
        "detected": False,
        "p_value": 0.43,
        "statistic": 0.7,
        "test": "anderson-darling + energy permutation",
        "n_before": 20,
        "n_after": 20,
        "alpha": 0.05,
    }
    assert doc["scores_are_noise"] is True
    text = _attribution_text(result, False, [])
    assert "shift: Gamma's distribution did not change (p = 0.43, n = 20 vs 20;" in text
    assert "scores: no shift: these scores split a change that is not there" in text
    assert plain_summary(result).startswith("Nothing to look at: Gamma (typical value")
    assert "The own behaviour of Alpha did test as changed" in plain_summary(result)
    page = report_html(result, "cmd")
    assert 'id="noise"' in page and 'id="shift"' in page
    assert "Look at Alpha" not in page and "<b>Gamma</b> differs between" not in page


def test_with_a_shift_nothing_is_marked_as_noise() -> None:
    result = attribution()
    result.shift = SHIFT
    assert result.to_dict()["scores_are_noise"] is False
    text = _attribution_text(result, False, [])
    assert "shift: Gamma's distribution changed (p = 0.001" in text and "noise" not in text
    page = report_html(result, "cmd")
    assert 'id="noise"' not in page and "Look at Alpha first" in page


def test_each_sink_has_its_own_shift() -> None:
    other = attribution(target="b")
    other.shift, other.verdict = NO_SHIFT, "no shift: Beta's distribution did not change"
    first = attribution(also=[other])
    first.shift = SHIFT
    doc = first.to_dict()
    assert doc["shift"]["detected"] and not doc["also"][0]["shift"]["detected"]
    assert doc["also"][0]["scores_are_noise"]
    page = report_html(first, "cmd")
    assert "Other outputs analysed" in page and "Beta&#x27;s distribution did not" in page


def test_a_changed_mechanism_that_did_not_move_the_target_is_noted() -> None:
    from provcausal.analysis.attribution import _unseen_changes

    result = engine(STRONG)
    result.flagged = ["a"]
    labels = {"a": "count1", "t": "gcratio"}
    assert _unseen_changes(result, NO_SHIFT, "t", labels) == [
        "no shift of gcratio, but the mechanism of count1 tested as changed: its change did "
        "not move gcratio detectably; name it as the target to analyse it"
    ]
    assert _unseen_changes(result, SHIFT, "t", labels) == []
    assert _unseen_changes(engine(FORCED, forced=True), NO_SHIFT, "t", labels) == []
