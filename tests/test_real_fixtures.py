"""Records made by the real systems (tests/fixtures/real, see its README) import through the CLI.

Each fixture was written by real Node-RED 5 + msg-profiler or by a real SciPipe 0.12 workflow.
The counts below were verified by hand against the files; the trait tests read the files
themselves and check the facts ../shared/formats.md states about real output, so a
re-recording that loses a shape fails here.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli

REAL = Path(__file__).resolve().parent / "fixtures" / "real"
NODERED = REAL / "nodered"

# shape -> (profiler lines normal, faulty; tasks normal, faulty; named nodes of the workflow)
# The importer makes one sample per message and one task per node visit, the initiator
# included: a line of the fan-out visits source, link out, link in, function, to-trace, file
# (6 tasks); a loop line visits step and "more?" once per round (5 + 2 * rounds tasks).
# A fan-out message gives two lines but one sample (FANOUT_BRANCHES).
NODERED_COUNTS: dict[str, tuple[int, int, int, int, set[str]]] = {
    # Fan-out: the two lines of a message share the prefix up to the fan-out node's onSend;
    # those shared tasks are one task of the message, not one per line (2 per message).
    "fanout": (
        100,
        100,
        500,
        500,
        {"source", "to branches", "in A", "in B", "fastA", "slowB", "to-trace"},
    ),
    "fanout_wires": (100, 100, 400, 400, {"source", "prep", "quick", "slow", "to-trace"}),
    "switch": (140, 140, 700, 700, {"source", "route", "common", "rare", "to-trace"}),
    "join_rbe": (
        40,
        36,
        280,
        252,
        {"source", "quantize", "only changes", "batch of 3", "aggregate", "to-trace"},
    ),
    "chain": (90, 90, 630, 630, {"source", "parse", "wait", "compute", "post", "to-trace"}),
    "loop": (60, 60, 538, 530, {"source", "init", "step", "more?", "finish", "to-trace"}),
    "instant": (60, 60, 300, 300, {"source", "label", "tag", "to-trace"}),
}
#: Branches per message where a node fans out: the lines of one message are one sample.
FANOUT_BRANCHES = {"fanout": 2, "fanout_wires": 2}
# shape -> (faulty node, least growth of its median duration in ms: the waits it was given)
NODERED_FAULT = {
    "fanout": ("slowB", 5),
    "fanout_wires": ("quick", 5),
    "switch": ("rare", 5),
    "join_rbe": ("aggregate", 5),
    "chain": ("compute", 5),
    "loop": ("step", 5),
    "instant": ("label", 1),
}


def cli_json(*args: str) -> Any:
    """Run the provcausal CLI; fail with its output unless it exits 0; return its JSON."""
    return run_cli(*args).ok().json()


def import_cli(uri: str, system: str, path: Path, workflow: str, label: str, *extra: str) -> Any:
    """``provcausal import SYSTEM PATH`` into ``uri`` with a workflow and label; its JSON."""
    args = ["--store", uri, "import", system, str(path), *extra]
    return cli_json(*args, "--workflow", workflow, "--label", label, "--json")


def trace_lines(shape: str, variant: str) -> list[dict[str, Any]]:
    path = NODERED / shape / f"{variant}.trace.log"
    return [json.loads(text) for text in path.read_text().splitlines()]


def flow_nodes(shape: str, variant: str) -> list[dict[str, Any]]:
    return json.loads((NODERED / shape / f"{variant}.flows.json").read_text())


def visited(line: dict[str, Any]) -> tuple[str, ...]:
    """The names (type when unnamed) of the nodes a line received, in order."""
    return tuple(
        e["node"]["name"] or e["node"]["type"]
        for e in line["trace"]
        if e["eventName"] == "onReceive"
    )


def durations(lines: list[dict[str, Any]], name: str) -> list[int]:
    return [p["duration"] for line in lines for p in line["profile"] if p["node"]["name"] == name]


def source_count(shape: str) -> int:
    """How many messages the flow's source function emits (written in its body)."""
    (source,) = [n for n in flow_nodes(shape, "normal") if n.get("name") == "source"]
    match = re.search(r"if \(i >= (\d+)\)", source["func"])
    assert match, source["func"]
    return int(match.group(1))


# --- Node-RED: every fixture imports through the CLI -------------------------------------


@pytest.mark.parametrize("shape", sorted(NODERED_COUNTS))
def test_nodered_fixture_imports_through_cli(shape: str, sqlite_uri: str) -> None:
    n_normal, n_faulty, t_normal, t_faulty, names = NODERED_COUNTS[shape]
    for variant, lines, tasks in (("normal", n_normal, t_normal), ("faulty", n_faulty, t_faulty)):
        trace, flow = (
            NODERED / shape / f"{variant}.{kind}" for kind in ("trace.log", "flows.json")
        )
        summary = import_cli(sqlite_uri, "nodered", trace, shape, variant, "--flow", str(flow))
        messages = lines // FANOUT_BRANCHES.get(shape, 1)
        assert (summary["runs"], summary["samples"]) == (1, messages)
        assert summary["tasks"] == tasks
        assert summary["warnings"] == []
    nodes = cli_json("--store", sqlite_uri, "nodes", "--workflow", shape, "--json")
    flow = {n["id"]: n for n in flow_nodes(shape, "normal")}
    # every node a message visits, the initiator and the unnamed file node included; the
    # inject, the profiler and the tab are no nodes of the dataflow
    assert {n["node"] for n in nodes} == {
        i for i, n in flow.items() if n["type"] not in ("tab", "inject", "msg-time-profiler")
    }
    assert {n["label"] for n in nodes if flow[n["node"]]["name"]} == names
    # An unnamed node shows its type, as Node-RED's editor does (issue 12, item 14).
    unnamed = [n for n in nodes if not flow[n["node"]]["name"]]
    assert unnamed and all(n["label"] == flow[n["node"]]["type"] for n in unnamed)
    assert all(n["runs"] == 2 for n in nodes)


# --- Node-RED: the traits formats.md describes, as the real profiler wrote them ---------


@pytest.mark.parametrize("shape", sorted(NODERED_COUNTS))
def test_nodered_line_frame(shape: str) -> None:
    """Initiator never traced; a line ends at the file node's onReceive; unnamed = ""."""
    for variant in ("normal", "faulty"):
        for line in trace_lines(shape, variant):
            assert line["initiatorNode"]["name"] == "source"
            assert line["trackingNode"]["name"] == ""
            traced = {e["node"]["id"] for e in line["trace"]}
            assert line["initiatorNode"]["id"] not in traced
            last = line["trace"][-1]
            assert (last["eventName"], last["node"]["type"], last["node"]["name"]) == (
                "onReceive",
                "file",
                "",
            )
            assert line["profile"][-1]["node"]["name"] == "to-trace"
            assert line["totalDuration"] == sum(p["duration"] for p in line["profile"])


def test_nodered_fanout_lines_share_prefix_up_to_link_out() -> None:
    flow = flow_nodes("fanout", "normal")
    (link_out,) = [n for n in flow if n["type"] == "link out"]
    assert len(link_out["links"]) == 2  # link out/in connect through links, not wires
    for variant in ("normal", "faulty"):
        lines = trace_lines("fanout", variant)
        assert len(lines) == 2 * source_count("fanout")
        for a, b in zip(lines[0::2], lines[1::2], strict=True):
            cut = next(
                i
                for i, e in enumerate(a["trace"])
                if e["eventName"] == "onSend" and e["node"]["id"] == link_out["id"]
            )
            assert a["trace"][: cut + 1] == b["trace"][: cut + 1]  # same events and times
            assert a["trace"][cut + 1] != b["trace"][cut + 1]
            assert visited(a)[2] == "fastA" and visited(b)[2] == "slowB"
        assert Counter(visited(line)[1] for line in lines) == {"in A": 50, "in B": 50}


def test_nodered_fanout_by_wires_lines_come_in_completion_order() -> None:
    """One port wired to two nodes: the lines of a message share the prep prefix but are
    written when each branch ends, so they are never next to each other here."""
    for variant in ("normal", "faulty"):
        lines = trace_lines("fanout_wires", variant)
        by_prefix: dict[str, list[str]] = {}
        for line in lines:
            prefix = json.dumps(line["trace"][:2])  # prep's onReceive and (one) onSend
            by_prefix.setdefault(prefix, []).append(visited(line)[1])
        assert len(by_prefix) == source_count("fanout_wires")
        assert all(sorted(branches) == ["quick", "slow"] for branches in by_prefix.values())
        starts = [line["trace"][0]["timestamp"] for line in lines]
        assert starts != sorted(starts)
        pairs = zip(lines[:-1], lines[1:], strict=True)
        assert not any(a["trace"][:2] == b["trace"][:2] for a, b in pairs)


def test_nodered_switch_lines_hold_different_node_sets() -> None:
    for variant, rare in (("normal", 20), ("faulty", 18)):
        lines = trace_lines("switch", variant)
        paths = Counter(visited(line) for line in lines)
        assert paths == {
            ("route", "common", "to-trace", "file"): len(lines) - rare,
            ("route", "rare", "to-trace", "file"): rare,
        }
    (route,) = [n for n in flow_nodes("switch", "normal") if n["type"] == "switch"]
    assert len(route["wires"]) == 2  # the port is visible only from the next node


def test_nodered_join_and_rbe_leave_fewer_lines_than_messages() -> None:
    messages = source_count("join_rbe")
    (join,) = [n for n in flow_nodes("join_rbe", "normal") if n["type"] == "join"]
    size = int(join["count"])
    for variant in ("normal", "faulty"):
        lines = trace_lines("join_rbe", variant)
        # one line per completed group, and the rbe blocked some messages before the join
        assert len(lines) < messages // size
        for line in lines:
            assert visited(line).count("batch of 3") == 1  # one member's path only
        assert statistics.median(durations(lines, "batch of 3")) == 0  # usually 0 ms


def test_nodered_chain_delay_node_holds_the_message() -> None:
    lines = trace_lines("chain", "normal")
    assert {visited(line) for line in lines} == {
        ("parse", "wait", "compute", "post", "to-trace", "file")
    }
    (delay,) = [n for n in flow_nodes("chain", "normal") if n["type"] == "delay"]
    assert (delay["randomFirst"], delay["randomLast"]) == ("5", "15")
    waits = durations(lines, "wait")
    assert min(waits) >= 4 and statistics.median(waits) >= 8


def test_nodered_loop_repeats_nodes_within_one_line() -> None:
    for variant, rounds in (("normal", {1: 22, 2: 17, 3: 21}), ("faulty", {1: 24, 2: 17, 3: 19})):
        lines = trace_lines("loop", variant)
        seen = Counter(visited(line).count("step") for line in lines)
        assert seen == rounds
        for line in lines:
            path = visited(line)
            k = path.count("step")
            assert path == ("init",) + ("step", "more?") * k + ("finish", "to-trace", "file")
            assert len(line["profile"]) == 3 + 2 * k  # one entry per visit


def test_nodered_all_zero_durations_give_null_percentages() -> None:
    """0 ms everywhere: the profiler divides 0 by 0 and JSON writes NaN as null."""
    lines = trace_lines("instant", "normal")
    zero = [line for line in lines if line["totalDuration"] == 0]
    assert len(zero) == 54
    for line in lines:
        nulls = line in zero
        assert (line["maximumPercentage"] is None) == nulls
        assert all((p["percentage"] is None) == nulls for p in line["profile"])
    faulty = trace_lines("instant", "faulty")
    assert all(line["maximumPercentage"] is not None for line in faulty)


@pytest.mark.parametrize("shape", sorted(NODERED_FAULT))
def test_nodered_fault_shows_in_the_named_node_only(shape: str) -> None:
    """The faulty node's median duration grows; the flows differ in it alone."""
    fault, least = NODERED_FAULT[shape]
    normal, faulty = trace_lines(shape, "normal"), trace_lines(shape, "faulty")
    grew = statistics.median(durations(faulty, fault)) - statistics.median(durations(normal, fault))
    assert grew >= least
    changed = {
        a.get("name")
        for a, b in zip(flow_nodes(shape, "normal"), flow_nodes(shape, "faulty"), strict=True)
        if a != b
    }
    assert changed == {fault, "source"}  # the faulty node and the source's seed


# --- SciPipe: one workflow, a normal and a faulty set of runs, one folder per run ---------

SCIPIPE = REAL / "scipipe" / "multiport"  # 20 + 20 runs
TWO_SINKS = REAL / "scipipe" / "two_sinks"  # 10 + 10 runs of the workflow without score
STATS_PORTS = {"sum", "count", "min", "max"}
SCIPIPE_NODES = {"gen1", "gen2", "stats1", "stats2", "sumcat", "total", "mean", "spread", "score"}


def run_dirs(variant: str, base: Path = SCIPIPE) -> list[Path]:
    return sorted((base / variant).glob("run-*"))


def audits(run: Path) -> dict[str, dict[str, Any]]:
    """Audit file name (without .audit.json) -> its JSON."""
    return {
        p.name.removesuffix(".audit.json"): json.loads(p.read_text())
        for p in sorted(run.glob("*.audit.json"))
    }


def upstream(audit: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every (input path, upstream audit) in the tree, repeats included."""
    found = []
    for path, up in audit["Upstream"].items():
        found.append((path, up))
        found.extend(upstream(up))
    return found


def number(run: Path, name: str) -> float:
    return float((run / name).read_text().split()[0])


@pytest.mark.parametrize("variant", ["normal", "faulty"])
def test_scipipe_fixture_imports_through_cli(variant: str, sqlite_uri: str) -> None:
    summary = import_cli(sqlite_uri, "scipipe", SCIPIPE / variant, "stats", variant)
    # 9 tasks a run: 8 processes with audit files + the Concatenator restored from the DOT;
    # 15 entities: the 15 files of a run that a task used or generated (sums.txt included)
    assert (summary["runs"], summary["samples"]) == (20, 20)
    assert (summary["tasks"], summary["entities"]) == (180, 300)
    assert summary["warnings"] == []
    nodes = {
        n["node"]: n for n in cli_json("--store", sqlite_uri, "nodes", "-w", "stats", "--json")
    }
    assert set(nodes) == SCIPIPE_NODES  # the ParamSource is no task
    assert [k for k, n in nodes.items() if n["unobserved"]] == ["sumcat"]
    assert all(n["runs"] == 20 for n in nodes.values())


@pytest.mark.parametrize("variant", ["normal", "faulty"])
def test_scipipe_several_out_ports_are_several_audit_files_with_one_id(variant: str) -> None:
    for run in run_dirs(variant):
        found = audits(run)
        assert len(found) == 14
        for proc in ("stats1", "stats2"):
            files = {k: v for k, v in found.items() if v["ProcessName"] == proc}
            assert set(files) == {f"{proc}.{port}.txt" for port in STATS_PORTS}
            assert len({json.dumps(v, sort_keys=True) for v in files.values()}) == 1
            assert set(next(iter(files.values()))["OutFiles"]) == STATS_PORTS
            values = {number(run, f"{proc}.{port}.txt") for port in STATS_PORTS}
            assert len(values) == 4  # the ports hold different values


def test_scipipe_concatenator_is_a_stub_with_one_id_per_run() -> None:
    stub_ids = set()
    for run in run_dirs("normal") + run_dirs("faulty"):
        assert not (run / "sums.txt.audit.json").exists()
        stubs = {
            (path, up["ID"])
            for audit in audits(run).values()
            for path, up in upstream(audit)
            if up["ProcessName"] == ""
        }
        ((path, stub_id),) = stubs  # one stub, one ID in every file of the run
        assert path == "sums.txt"
        stub_ids.add(stub_id)
        stub = dict(upstream(audits(run)["total.txt"]))["sums.txt"]
        assert (stub["Command"], stub["ExecTimeNS"], stub["StartTime"]) == (
            "",
            -1,
            "0001-01-01T00:00:00Z",
        )
        text = (run / "sums.txt").read_text()
        assert text.endswith("\n\n") and text.count("\n\n") == 2  # blank line after each input
    assert len(stub_ids) == 40  # random across runs


def test_scipipe_dot_names_the_concatenator_and_the_param_source() -> None:
    for run in run_dirs("normal") + run_dirs("faulty"):
        dot = (run / "workflow_graph.dot").read_text()
        names = set(re.findall(r'^\s*"([^"]+)" \[shape=box\];', dot, re.M))
        assert names == SCIPIPE_NODES | {"seedsrc"}
        assert '"seedsrc" -> "gen1" [style="dashed", taillabel="out", headlabel="seed"]' in dot
        ports = set(re.findall(r'"stats1" -> "\w+" \[taillabel="(\w+)"', dot))
        assert ports == STATS_PORTS


def test_scipipe_params_and_upstream_tree() -> None:
    run = run_dirs("normal")[0]
    found = audits(run)
    assert found["gen1.data.txt"]["Params"] == {"seed": "1001"}  # from the ParamSource
    assert found["gen2.data.txt"]["Params"] == {"scale": "6", "seed": "1008"}  # FromStr
    assert found["score.txt"]["Params"] == {"weight": "0.5"}
    assert all(a["Tags"] == {} for a in found.values())
    seen = Counter(up["ProcessName"] for _, up in upstream(found["score.txt"]))
    assert seen["stats1"] == 3 and seen["stats2"] == 3  # a tree: repeated, not shared


def test_scipipe_fault_moves_only_the_max_port_of_stats2() -> None:
    def values(variant: str, name: str) -> list[float]:
        return [number(run, name) for run in run_dirs(variant)]

    assert min(values("faulty", "stats2.max.txt")) > max(values("normal", "stats2.max.txt"))
    assert min(values("faulty", "spread.txt")) > max(values("normal", "spread.txt"))
    for port in ("sum", "min", "count"):  # same code, other seeds: overlapping ranges
        normal, faulty = (
            values("normal", f"stats2.{port}.txt"),
            values("faulty", f"stats2.{port}.txt"),
        )
        assert min(faulty) <= max(normal) and min(normal) <= max(faulty)


@pytest.mark.parametrize("variant", ["normal", "faulty"])
def test_scipipe_two_sinks_imports_through_cli(variant: str, sqlite_uri: str) -> None:
    summary = import_cli(sqlite_uri, "scipipe", TWO_SINKS / variant, "stats2sinks", variant)
    # 8 tasks (no score) and 14 entities a run
    assert (summary["runs"], summary["samples"]) == (10, 10)
    assert (summary["tasks"], summary["entities"]) == (80, 140)
    assert summary["warnings"] == []
    nodes = cli_json("--store", sqlite_uri, "nodes", "-w", "stats2sinks", "--json")
    assert {n["node"] for n in nodes} == SCIPIPE_NODES - {"score"}


def test_scipipe_two_sinks_fault_moves_one_sink() -> None:
    def values(variant: str, name: str) -> list[float]:
        return [number(run, name) for run in run_dirs(variant, TWO_SINKS)]

    for run in run_dirs("normal", TWO_SINKS) + run_dirs("faulty", TWO_SINKS):
        assert len(audits(run)) == 13
        dot = (run / "workflow_graph.dot").read_text()
        tails = set(re.findall(r'^\s*"(\w+)" ->', dot, re.M))
        heads = set(re.findall(r'-> "(\w+)"', dot))
        assert heads - tails == {"mean", "spread"}  # the two sinks
    assert min(values("faulty", "spread.txt")) > max(values("normal", "spread.txt"))
    normal, faulty = values("normal", "mean.txt"), values("faulty", "mean.txt")
    assert min(faulty) <= max(normal) and min(normal) <= max(faulty)
