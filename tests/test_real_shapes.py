"""attribute on records made by the real systems (tests/fixtures/real, see its README).

Node-RED 5 + msg-profiler: fan-out through link out/in and by wires, a switch with a ~10 %
branch, join + rbe, a delay chain, a loop, all-zero durations; the faulty node (a longer wait)
must rank first on ``latency``. SciPipe 0.12: a process with four out-ports and a fan-in, and
the same workflow with two sinks; the fault is in one port (``stats2.max``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli

REAL = Path(__file__).resolve().parent / "fixtures" / "real"

pytestmark = pytest.mark.slow

NODERED_FAULT = {
    "fanout": "slowB",
    "fanout_wires": "quick",
    "switch": "rare",
    "join_rbe": "aggregate",
    "chain": "compute",
    "loop": "step",
    "instant": "label",
}


def cli_json(store: str, *args: str) -> Any:
    return run_cli(*args, "--json", store=store).ok().json()


def attribute(store: str, workflow: str) -> dict[str, Any]:
    # --repeats 0: the ranking on the data as given (the fixtures are small; speed)
    args = ["attribute", "-w", workflow, "-b", "normal", "-c", "faulty", "--repeats", "0"]
    return cli_json(store, *args)


@pytest.mark.parametrize("shape", sorted(NODERED_FAULT))
def test_real_nodered_faulty_node_ranks_first(shape: str, sqlite_uri: str) -> None:
    folder = REAL / "nodered" / shape
    for variant in ("normal", "faulty"):
        cli_json(
            sqlite_uri,
            "import",
            "nodered",
            str(folder / f"{variant}.trace.log"),
            "--flow",
            str(folder / f"{variant}.flows.json"),
            "-w",
            shape,
            "--label",
            variant,
        )
    doc = attribute(sqlite_uri, shape)
    top = doc["attributions"][0]
    assert top["label"] == NODERED_FAULT[shape], doc["attributions"][:3]
    assert top["changed"] and top["score"] > 0
    assert not any(n.startswith("dropped") for n in doc["notes"])
    if shape == "switch":  # the ~14 % branch is gated, not contracted; no sample dropped
        assert doc["baseline"]["samples"] == 140 and doc["comparison"]["samples"] == 140
        assert any(n.startswith("gated rare: reached by 20 of 140") for n in doc["notes"])
    if shape in ("fanout", "fanout_wires"):  # one sample per message, not per line
        assert doc["baseline"]["samples"] == 50


def _import_scipipe(store: str, name: str) -> None:
    for variant in ("normal", "faulty"):
        folder = REAL / "scipipe" / name / variant
        cli_json(store, "import", "scipipe", str(folder), "-w", name, "--label", variant)


def test_real_scipipe_ports_are_variables_and_the_faulty_port_changed(sqlite_uri: str) -> None:
    _import_scipipe(sqlite_uri, "multiport")
    doc = attribute(sqlite_uri, "multiport")
    edges = {tuple(e) for e in doc["graph"]["edges"]}
    # the graph is drawn at the port grain: each consumer depends on the port it read
    assert {("stats2.max", "spread"), ("stats2.min", "spread"), ("stats1.max", "spread")} <= edges
    assert ("stats2.max", "mean") not in edges
    rows = {a["node"]: a for a in doc["attributions"]}
    assert rows["stats2.max"]["changed"]
    assert doc["attributions"][0]["node"] == "stats2.max" and rows["stats2.max"]["score"] > 0
    assert not rows["stats2.min"]["changed"] and not rows["stats1.max"]["changed"]
    assert [a["node"] for a in doc["attributions"] if a["changed"]] == ["stats2.max"]


def test_real_scipipe_two_sinks_analyses_the_changed_one(sqlite_uri: str) -> None:
    _import_scipipe(sqlite_uri, "two_sinks")
    doc = attribute(sqlite_uri, "two_sinks")
    assert doc["target"] == "spread" and "also" not in doc
    assert any(
        "the workflow has 2 sinks (mean, spread)" in n and "unchanged: mean" in n
        for n in doc["notes"]
    )
    rows = {a["node"]: a for a in doc["attributions"]}
    assert rows["stats2.max"]["changed"]
    assert doc["attributions"][0]["node"] == "stats2.max" and rows["stats2.max"]["score"] > 0
