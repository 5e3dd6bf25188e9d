"""What headless Chromium shows of an Attribution's rich display (its ``_repr_html_``).

Jupyter puts the fragment into its page as it is; here it goes into an empty page. Needs
Debian's ``chromium`` (installed by ``.ci/run``), like the report page's browser test.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

import provcausal
from provcausal.examples import scipipe_gcratio
from tests.test_report_page import console_messages, render

pytestmark = pytest.mark.slow


def test_rich_display_shows_verdict_scores_and_graph_with_an_empty_console(
    tmp_path: Path,
) -> None:
    scipipe_gcratio.write_runs(tmp_path / "normal", 15, seed=0)
    scipipe_gcratio.write_runs(tmp_path / "broken", 15, seed=1, count1_max=10)
    store = f"sqlite:///{tmp_path / 'store.db'}"
    for label in ("normal", "broken"):
        provcausal.import_paths(store, "scipipe", [tmp_path / label], "gcratio", label=label)
    result = provcausal.attribute(store, "gcratio", "normal", "broken", repeats=4)
    page = tmp_path / "display.html"
    page.write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>display</title>'
        f"</head><body>{result._repr_html_()}</body></html>",
        encoding="utf-8",
    )
    dom, log, shot = render(page, tmp_path)
    assert console_messages(log) == []
    verdict = re.search(r'<p class="verdict">([^<]+)</p>', dom)
    assert verdict and html.unescape(verdict.group(1)) == result.verdict
    assert result.verdict.startswith("count1 explains the change")
    assert re.search(r'<svg[^>]*class="graph"', dom) and dom.count('<g class="node">') == 9
    scores = re.search(r'<table class="scores">(.*?)</table>', dom, re.S)
    assert scores and scores.group(1).count("<tr><td>") == 9
    assert "<td>count1</td>" in scores.group(1)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
