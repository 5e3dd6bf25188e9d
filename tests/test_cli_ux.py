"""Issue 12, the first hour of a new user: one CLI test (exit code and output) per item.

The fast tests share a small GC-ratio example (6 normal and 6 faulty SciPipe runs); the ones
that run an attribution are marked slow.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from pathlib import Path

import pytest

from provcausal.examples import nodered_chain, scipipe_gcratio
from provcausal.stores import open_store
from tests.helpers import run_cli

RUNS = 6


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = run_cli(*args, input=input)
    return result.code, result.out, result.err


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    scipipe_gcratio.write_runs(folder / "normal", RUNS, seed=0)
    scipipe_gcratio.write_runs(folder / "broken", RUNS, seed=1, count1_max=10)
    return folder


@pytest.fixture
def store(tmp_path: Path, demo: Path) -> str:
    """A SQLite store holding the demo's normal and broken runs."""
    uri = f"sqlite://{tmp_path / 'store.db'}"
    for label in ("normal", "broken"):
        code, out, err = run(
            "--store", uri, "import", "scipipe", str(demo / label), "-w", "gcratio", "-l", label
        )
        assert code == 0, err
    return uri


def first_run(store: str, label: str = "broken") -> str:
    code, out, _ = run("runs", "--store", store, "-w", "gcratio", "-l", label, "--ids")
    assert code == 0
    return out.split()[0]


# 1. every advertised export format works after the README's install -------------------------
@pytest.mark.parametrize("fmt", ["json", "provn", "xml", "ttl", "jsonld"])
def test_item01_every_export_format_works(store: str, fmt: str) -> None:
    code, out, err = run("export", "--store", store, "--run", first_run(store), "-f", fmt)
    assert code == 0, err
    assert "prov" in out.lower() and "gcratio" in out


def test_item01_prov_extras_are_core_dependencies() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    deps = project["project"]["dependencies"]
    assert any(d.startswith("prov[") and "rdf" in d and "xml" in d for d in deps)


# 2. exported JSON-LD imports back, detected; never a remote context ---------------------------
@pytest.mark.parametrize("system", ["prov", "auto"])
def test_item02_jsonld_export_imports_back(store: str, tmp_path: Path, system: str) -> None:
    out_file = tmp_path / "run.jsonld"
    assert run("export", "--store", store, "-r", first_run(store), "-o", str(out_file))[0] == 0
    code, out, err = run("import", system, str(out_file), "--store", store, "-w", "back", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["system"] == "prov" and summary["tasks"] == 11
    code, out, _ = run("nodes", "--store", store, "-w", "back", "--json")
    assert {n["node"] for n in json.loads(out)} >= {"count1", "gcratio"}


class Listener:
    """A local TCP listener that counts connections (a remote @context must not be fetched)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def test_item02_jsonld_remote_context_is_refused_without_a_connection(
    tmp_path: Path, sqlite_uri: str
) -> None:
    listener = Listener()
    try:
        url = f"http://127.0.0.1:{listener.port}/context.jsonld"
        doc = {"@context": url, "@id": "ex:a", "@type": "Entity"}
        path = tmp_path / "remote.jsonld"
        path.write_text(json.dumps(doc))
        code, _, err = run("--store", sqlite_uri, "import", "prov", str(path), "-w", "x")
    finally:
        listener.close()
    assert code == 2
    assert str(path) in err and url in err and "never fetches" in err
    assert listener.connections == 0


def test_item02_jsonld_file_context_is_not_read(tmp_path: Path, sqlite_uri: str) -> None:
    context = tmp_path / "ctx.jsonld"
    context.write_text(json.dumps({"@context": {"prov": "http://www.w3.org/ns/prov#"}}))
    doc = {"@context": "ctx.jsonld", "@id": "http://ex.org/a", "@type": "prov:Entity"}
    path = tmp_path / "local.jsonld"
    path.write_text(json.dumps(doc))
    code, _, err = run("--store", sqlite_uri, "import", "auto", str(path), "-w", "x")
    assert code == 2 and "ctx.jsonld" in err


def test_item02_standard_prov_context_is_known_locally(tmp_path: Path, sqlite_uri: str) -> None:
    doc = {
        "@context": "http://www.w3.org/ns/prov",
        "@graph": [
            {"@id": "http://ex.org/run", "@type": "Activity", "used": "http://ex.org/data"},
            {"@id": "http://ex.org/data", "@type": "Entity"},
        ],
    }
    path = tmp_path / "std.jsonld"
    path.write_text(json.dumps(doc))
    code, out, err = run("--store", sqlite_uri, "import", "auto", str(path), "-w", "x", "--json")
    assert code == 0, err
    assert json.loads(out)["tasks"] == 1


# 3. anomalies: a sensible default baseline, a verdict, explanations ----------------------------
@pytest.mark.slow
def test_item03_anomalies_default_baseline_is_the_normal_runs(tmp_path: Path) -> None:
    # 25 normal runs to learn from, 6 faulty ones that must not be part of the baseline.
    scipipe_gcratio.write_runs(tmp_path / "normal", 25, seed=0)
    scipipe_gcratio.write_runs(tmp_path / "broken", 6, seed=1, count1_max=10)
    store = f"sqlite://{tmp_path / 'store.db'}"
    for label in ("normal", "broken"):
        args = ["import", "scipipe", str(tmp_path / label), "-w", "gcratio", "-l", label]
        assert run("--store", store, *args)[0] == 0
    code, out, err = run("anomalies", "--store", store, "-w", "gcratio", "-s", first_run(store))
    assert code == 0, err
    assert "baseline: the runs labelled 'normal' (default)" in out
    assert re.search(r"^verdict: count1 contributes most", out, re.M), out
    assert "negative: the node made it look more normal" in out
    assert "the row of gcratio itself" in out


@pytest.mark.slow
def test_item03_one_normal_run_against_the_other_normal_runs(store: str) -> None:
    normal = first_run(store, "normal")
    code, out, err = run(
        "anomalies", "--store", store, "-w", "gcratio", "-s", normal, "-b", "normal", "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["baseline_runs"] == RUNS - 1 and "without the sample's own run" in doc["baseline"]
    assert doc["verdict"]


# 4. Ctrl-C during an import: all or nothing, says which, exit 130 -----------------------------
def _interrupt_at(monkeypatch: pytest.MonkeyPatch, n: int, exc: BaseException) -> None:
    from provcausal.importers.scipipe import SciPipeImporter

    real = SciPipeImporter.read
    calls = {"n": 0}

    def read(self, source, options):
        calls["n"] += 1
        if calls["n"] == n:
            raise exc
        return real(self, source, options)

    monkeypatch.setattr(SciPipeImporter, "read", read)
    monkeypatch.setattr("provcausal.ingest.BATCH_RUNS", 2)  # several batches are written first


@pytest.mark.parametrize("kind", ["sqlite", "mongodb"])
def test_item04_interrupted_import_stores_nothing_and_exits_130(
    kind: str, demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request
) -> None:
    uri = (
        f"sqlite://{tmp_path / 's.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("mongo_uri")
    )
    _interrupt_at(monkeypatch, RUNS, KeyboardInterrupt())
    code, out, err = run("--store", uri, "import", "scipipe", str(demo / "normal"), "-w", "g")
    assert code == 130
    assert "interrupted" in err and "nothing of this import" in err
    with open_store(uri) as s:
        assert s.find_runs(workflow="g") == []


def test_item04_bad_last_run_leaves_nothing_stored_and_says_so(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provcausal.errors import BadInputError

    uri = f"sqlite://{tmp_path / 's.db'}"
    _interrupt_at(monkeypatch, RUNS, BadInputError("broken audit file", path="run_0005"))
    code, _, err = run("--store", uri, "import", "scipipe", str(demo / "normal"), "-w", "g")
    assert code == 2
    assert "run_0005" in err and "nothing of this import was stored" in err
    with open_store(uri) as s:
        assert s.find_runs(workflow="g") == []


# 5. a label typo does not move runs ----------------------------------------------------------
def test_item05_relabel_needs_the_flag(store: str, demo: Path) -> None:
    args = ["--store", store, "import", "scipipe", str(demo / "normal"), "-w", "gcratio"]
    code, _, err = run(*args, "-l", "broken")
    assert code == 2
    assert "already stored with another label" in err and "(label 'normal')" in err
    assert "--relabel" in err
    code, out, _ = run("workflows", "--store", store, "--json")
    assert json.loads(out)[0]["labels"] == {"broken": RUNS, "normal": RUNS}
    code, out, err = run(*args, "-l", "broken", "--relabel")
    assert code == 0, err
    code, out, _ = run("workflows", "--store", store, "--json")
    assert json.loads(out)[0]["labels"] == {"broken": 2 * RUNS}


# 6. example into a non-empty folder ------------------------------------------------------------
def test_item06_example_refuses_a_non_empty_folder_and_force_cleans(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    assert run("example", "gcratio", str(folder), "--runs", "8")[0] == 0
    code, _, err = run("example", "gcratio", str(folder), "--runs", "5")
    assert code == 2 and "not empty" in err and "--force" in err
    code, out, _ = run("example", "gcratio", str(folder), "--runs", "5", "--force")
    assert code == 0
    assert f"removed {folder / 'normal'}" in out and f"wrote gcratio into {folder}" in out
    assert len(list((folder / "normal").iterdir())) == 5


# 7. read commands never create stores ----------------------------------------------------------
@pytest.mark.parametrize("command", [["workflows"], ["runs"], ["nodes", "-w", "x"]])
def test_item07_read_commands_do_not_create_a_store(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "typo.db"
    code, out, err = run("--store", f"sqlite://{path}", *command)
    assert code == 3
    assert "no store at" in err and str(path) in err
    assert not path.exists()


def test_item07_read_commands_do_not_create_a_mongodb_database(mongo_uri: str) -> None:
    import pymongo

    code, _, err = run("workflows", "--store", mongo_uri)
    assert code == 3 and "no store in database" in err
    name = mongo_uri.rsplit("/", 1)[1].split("?")[0]
    client = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=3000)
    try:  # no collection, no index: nothing was created (the test server lists empty dbs)
        assert client[name].list_collection_names() == []
    finally:
        client.close()


# 8. exit codes follow the README's table -------------------------------------------------------
def test_item08_exit_codes(tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    not_db = tmp_path / "notes.db"
    not_db.write_text("just text, not a database\n")
    code, _, err = run("workflows", "--store", f"sqlite://{not_db}")
    assert code == 3 and str(not_db) in err
    code, _, err = run("workflows", "--store", "postgres://db/x")
    assert code == 2 and "unknown store" in err
    monkeypatch.setattr("shutil.which", lambda name: None)  # Graphviz missing
    code, _, err = run("graph", "--store", store, "-w", "gcratio", "-o", str(tmp_path / "g.svg"))
    assert code == 2 and "graphviz" in err.lower()
    monkeypatch.undo()

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr("provcausal.queries.list_workflows", interrupted)
    code, _, err = run("workflows", "--store", store)
    assert code == 130 and "interrupted" in err


# 9. shared options after the subcommand --------------------------------------------------------
def test_item09_store_quiet_json_after_the_subcommand(store: str) -> None:
    code, out, err = run("workflows", "--store", store, "--quiet", "--json")
    assert code == 0 and err == ""
    assert json.loads(out)[0]["workflow"] == "gcratio"
    code, out, _ = run("runs", "-w", "gcratio", "--store", store, "-q")
    assert code == 0 and "gcratio" in out


# 10. ids can be taken from the listings and pasted; the same input gives the same ids ---------
def test_item10_ids_from_listings_are_pasteable_and_stable(
    store: str, demo: Path, tmp_path: Path
) -> None:
    run_id = first_run(store)
    code, out, _ = run("tasks", "--store", store, "--run", run_id, "--node", "gcratio", "--ids")
    assert code == 0
    (task_id,) = out.split()
    code, out, err = run("lineage", task_id, "--store", store, "--depth", "1")
    assert code == 0, err
    assert task_id in out and "atsum" in out
    other = f"sqlite://{tmp_path / 'other.db'}"
    run(
        "--store", other, "import", "scipipe", str(demo / "broken"), "-w", "gcratio", "-l", "broken"
    )
    assert first_run(other) == run_id


# 11. progress: a bar on a terminal, silent with --quiet or off a terminal ----------------------
def test_item11_example_progress_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run("example", "gcratio", str(tmp_path / "a"), "--runs", "5")
    assert code == 0 and err == ""  # CliRunner's stderr is not a terminal
    monkeypatch.setattr("provcausal.cli.output._interactive", lambda quiet: not quiet)
    code, _, err = run("example", "gcratio", str(tmp_path / "b"), "--runs", "5")
    assert code == 0 and "writing normal runs" in err and "writing broken runs" in err
    code, _, err = run("example", "gcratio", str(tmp_path / "c"), "--runs", "5", "-q")
    assert code == 0 and err == ""


def test_item11_bar_callback_draws_like_import(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from provcausal.cli.output import Bar

    monkeypatch.setattr("provcausal.cli.output._interactive", lambda quiet: not quiet)
    with Bar("attributing", quiet=False) as bar:
        for done in range(4):
            bar(done, 3)
    assert "attributing" in capsys.readouterr().err
    with Bar("attributing", quiet=True) as bar:
        bar(1, 3)
    assert capsys.readouterr().err == ""


# 12. every file written is named; no stray files; the format follows the extension ------------
def test_item12_graph_svg_leaves_no_dot_and_says_what_it_wrote(store: str, tmp_path: Path) -> None:
    target = tmp_path / "x.svg"
    code, out, err = run("graph", "--store", store, "-w", "gcratio", "-o", str(target))
    assert code == 0, err
    assert out.strip() == f"wrote {target}"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".db") == ["x.svg"]


def test_item12_export_format_from_the_extension(store: str, tmp_path: Path) -> None:
    target = tmp_path / "f.provn"
    code, out, _ = run("export", "--store", store, "-r", first_run(store), "-o", str(target))
    assert code == 0 and out.strip() == f"wrote {target} (provn)"
    assert target.read_text().startswith("document")
    code, _, err = run("export", "--store", store, "-r", first_run(store), "-o", "f.weird")
    assert code == 2 and "--format" in err


# 14. Node-RED nodes without a name show their type ---------------------------------------------
def test_item14_unnamed_nodered_node_is_shown_by_type(tmp_path: Path, sqlite_uri: str) -> None:
    flow = nodered_chain.chain_flow(3, unnamed=(2,))
    flows = nodered_chain.write_flow(tmp_path / "flows.json", flow)
    nodered_chain.write_trace_log(tmp_path / "n.log", flow, 5, seed=1)
    code, _, err = run(
        "--store",
        sqlite_uri,
        "import",
        "nodered",
        str(tmp_path / "n.log"),
        "-w",
        "c",
        "--flow",
        str(flows),
    )
    assert code == 0, err
    unnamed = next(
        n for n in flow if n.get("type") != "tab" and n["id"].endswith("2") and not n.get("name")
    )
    code, out, _ = run("nodes", "--store", sqlite_uri, "-w", "c", "--json")
    labels = {n["node"]: n["label"] for n in json.loads(out)}
    assert labels[unnamed["id"]] == unnamed["type"]


# 15. the PROV picture is readable; node-graph edge labels are explained -------------------------
def test_item15_prov_picture_is_compact_and_labelled_by_name(store: str, tmp_path: Path) -> None:
    target = tmp_path / "p.svg"
    code, _, err = run(
        "graph", "--store", store, "--kind", "prov", "-r", first_run(store), "-o", str(target)
    )
    assert code == 0, err
    svg = target.read_text()
    width = float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1))
    assert width <= 1200
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "count1" in texts and "gcratio" in texts
    assert not [t for t in texts if re.search(r"\b[te]-[0-9a-f]{12,}", t)]


def test_item15_node_graph_explains_edge_labels(store: str, tmp_path: Path) -> None:
    target = tmp_path / "g.dot"
    assert run("graph", "--store", store, "-w", "gcratio", "-o", str(target))[0] == 0
    assert "edge labels: samples in which data flowed along the edge" in target.read_text()


# 6 (what to build). --json keeps stdout pure JSON, --quiet keeps stderr silent ----------------
@pytest.mark.parametrize(
    "command",
    [
        ["workflows"],
        ["runs", "-w", "gcratio"],
        ["nodes", "-w", "gcratio"],
        ["graph", "-w", "gcratio", "-o", "{tmp}/g.dot"],
        ["export", "-w", "gcratio", "-o", "{tmp}/all.ttl"],
    ],
)
def test_json_is_pure_and_quiet_is_silent(store: str, tmp_path: Path, command: list[str]) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    code, out, err = run(*args, "--store", store, "--json", "-q")
    assert code == 0, err
    json.loads(out)
    assert err == ""


def test_runs_delete_by_selection_shows_and_asks(store: str) -> None:
    code, out, err = run(
        "runs", "delete", "--store", store, "-w", "gcratio", "-l", "broken", input="n\n"
    )
    assert code == 1 and "nothing deleted" in err
    assert err.count("scipipe-") == RUNS and "delete these 6 run(s)?" in err
    code, out, _ = run("runs", "--store", store, "-l", "broken", "--ids")
    two = out.split()[:2]
    where = "campaign_id=gcratio"
    code, out, err = run("runs", "delete", *two, "--store", store, "--where", where, "-y", "--json")
    assert code == 0 and sorted(json.loads(out)["deleted"]) == sorted(two)
    code, out, err = run("runs", "delete", "--store", store, "-w", "gcratio", "--where", "x=y")
    assert code == 0 and "no runs match" in out
    code, out, _ = run("workflows", "--store", store, "--json")
    assert json.loads(out)[0]["labels"] == {"broken": RUNS - 2, "normal": RUNS}


# attribute for a person (and item 12's --plot / --report) ---------------------------------------
@pytest.mark.slow
def test_attribute_shows_medians_legend_verdict_and_written_files(
    store: str, tmp_path: Path
) -> None:
    chart, page = tmp_path / "chart.png", tmp_path / "page.html"
    code, out, err = run(
        "attribute",
        "--store",
        store,
        "-w",
        "gcratio",
        "-b",
        "normal",
        "-c",
        "broken",
        "--repeats",
        "4",
        "--plot",
        str(chart),
        "--report",
        str(page),
    )
    assert code == 0, err
    header = next(line for line in out.splitlines() if line.startswith("node "))
    assert header.split() == [
        "node",
        "score",
        "ci_low",
        "ci_high",
        "median_before",
        "median_after",
        "changed",
    ]
    count1 = next(line for line in out.splitlines() if line.startswith("count1 "))
    before, after = (float(v) for v in count1.split()[4:6])
    assert after < before  # count1 draws from U{1..10} instead of U{1..100}
    assert "score: the node's share of the change of gcratio" in out
    assert re.search(r"^verdict: .+", out, re.M)
    assert f"wrote {chart}" in out and f"wrote {page}" in out
    assert chart.stat().st_size > 1000 and "<svg" in page.read_text()


def test_notes_name_nodes_as_people_know_them() -> None:
    from provcausal.analysis.report import readable_note

    labels = {"5385000000000385": "msg-time-profiler", "count1": "count1"}
    note = "contracted 5385000000000385 (unobserved); cut 53850000000003851 -> count1"
    assert readable_note(note, labels) == (
        "contracted msg-time-profiler (5385000000000385) (unobserved); "
        "cut 53850000000003851 -> count1"
    )


def test_a_store_busy_with_another_import_is_exit_3_and_says_so(
    store: str, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provcausal.stores.sqlite import SQLiteStore

    monkeypatch.setattr(SQLiteStore, "busy_timeout", 0.2)
    with open_store(store) as other, other.transaction():  # another import, mid-way
        code, _, err = run("--store", store, "import", "scipipe", str(demo / "normal"), "-w", "x")
        read, out, _ = run("--store", store, "workflows", "--json")  # readers are not blocked
    assert code == 3 and "busy" in err and "another import" in err
    assert read == 0 and json.loads(out)[0]["runs"] == 2 * RUNS
