"""The false-alarm benchmark at test size: two normal sets of every ``provcausal example``,
compared with ``attribute``, give no strong verdict and (almost) never a shift."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import false_alarms


@pytest.mark.slow
def test_null_comparisons_of_every_example_give_no_strong_verdict(tmp_path: Path) -> None:
    names = false_alarms.examples()
    assert {"gcratio", "claims", "nodered", "fanout", "switch", "sinks", "ports"} <= set(names)
    rows = false_alarms.run(names, [20], 1, lambda _: None, tmp_path)
    assert [r["example"] for r in rows] == names
    assert sum(r["strong"] for r in rows) == 0, [r["strong_verdicts"] for r in rows]
    assert sum(r["shifts"] for r in rows) <= 1, rows
    lines = false_alarms.render(rows)
    assert lines[-1].startswith(f"false alarms: {sum(r['shifts'] for r in rows)} of {len(names)}")


def test_render_totals_the_rows() -> None:
    rows = [
        {
            "example": "ports",
            "size": 20,
            "comparisons": 10,
            "shifts": 1,
            "strong": 0,
            "strong_verdicts": [],
            "min_p": 0.004,
            "median_seconds": 0.5,
        }
    ] * 2
    assert false_alarms.render(rows)[-1] == (
        "false alarms: 2 of 20 null comparisons report a shift (10.0%; goal <= 5 %), "
        "0 strong verdicts (goal 0)"
    )
