"""Robustness: fuzzed inputs, concurrent and interrupted imports, hostile content, secrets.

Property-based tests mutate valid inputs of every importer (truncations, byte flips, deleted
keys, changed types): the outcome is a correct import or the documented clean error naming
the file, never another exception and never a partially stored run.
"""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provcausal.errors import ProvcausalError
from provcausal.examples import nodered_chain, scipipe_gcratio, seldon_claims
from provcausal.ingest import BATCH_RUNS, import_paths
from provcausal.model import flowcept as fc
from provcausal.model.prov import ATTR_PREFIX, DURATION, NODE, SAMPLE, STATUS, UNOBSERVED, VISIT
from provcausal.stores import open_store
from tests.helpers import finish, run_cli, start_cli

# Examples, seeds and deadline come from the profile in conftest.py (derandomized in CI).
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _mutate_json(value, rng: random.Random):
    """Delete a random key or change a random value's type, somewhere in the document."""
    nodes = []

    def walk(v):
        if isinstance(v, dict):
            nodes.append(v)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(value)
    target = rng.choice(nodes)
    if not target:
        return value
    key = rng.choice(sorted(target))
    if rng.random() < 0.5:
        del target[key]
    else:
        target[key] = rng.choice([None, 7, "x", [], {}, True, -1.5])
    return value


def _mutate(data: bytes, how: str, seed: int) -> bytes:
    rng = random.Random(seed)
    if how == "truncate":
        return data[: rng.randrange(len(data))]
    if how == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)
    lines = data.decode().splitlines()
    parsed = {}
    for i, line in enumerate(lines):  # JSON lines (Node-RED logs, inspect --format json)
        try:
            parsed[i] = json.loads(line)
        except ValueError:
            continue
    if not parsed:  # one JSON document over many lines (SciPipe audit, PROV-JSON)
        return json.dumps(_mutate_json(json.loads(data), rng)).encode()
    i = rng.choice(sorted(parsed))
    lines[i] = json.dumps(_mutate_json(parsed[i], rng))
    return "\n".join(lines).encode()


def _check_outcome(
    store_uri: str, system: str, paths: list[Path], extra: dict, bad_file: Path
) -> None:
    with open_store(store_uri) as store:
        try:
            summary = import_paths(store, system, paths, "fuzz", **extra)
        except ProvcausalError as exc:
            assert exc.exit_code == 2, exc
            assert str(bad_file) in str(exc), str(exc)
            summary = None
        for run in store.find_runs():  # whatever is visible is complete
            meta = fc.run_meta(run)
            assert len(list(store.find_tasks([run["workflow_id"]]))) == meta["tasks"]
        visible = sorted(run["workflow_id"] for run in store.find_runs())
        assert visible == ([] if summary is None else sorted(summary.runs))


HOW = st.sampled_from(["truncate", "flip", "json"])


@FUZZ
@given(how=HOW, seed=st.integers(0, 10**6), which=st.integers(0, 8))
def test_fuzzed_scipipe_audit_files(tmp_path_factory, how, seed, which):
    root = tmp_path_factory.mktemp("fz")
    scipipe_gcratio.write_run(root / "run", seed=1)
    files = sorted((root / "run").glob("*.audit.json"))
    bad = files[which % len(files)]
    bad.write_bytes(_mutate(bad.read_bytes(), how, seed))
    _check_outcome(f"sqlite://{root / 's.db'}", "scipipe", [root / "run"], {}, bad)


@FUZZ
@given(how=HOW, seed=st.integers(0, 10**6))
def test_fuzzed_nodered_logs(tmp_path_factory, how, seed):
    root = tmp_path_factory.mktemp("fz")
    flow = nodered_chain.chain_flow(3)
    log = nodered_chain.write_trace_log(root / "t.log", flow, 5, seed=1)
    log.write_bytes(_mutate(log.read_bytes(), how, seed))
    _check_outcome(f"sqlite://{root / 's.db'}", "nodered", [log], {}, log)


@FUZZ
@given(how=HOW, seed=st.integers(0, 10**6), fmt=st.sampled_from(seldon_claims.FORMATS))
def test_fuzzed_seldon_inspect_output(tmp_path_factory, how, seed, fmt):
    root = tmp_path_factory.mktemp("fz")
    out = seldon_claims.write_inspect(
        root / "o.txt", seldon_claims.simulate(3, seed=1), fmt=fmt, verbose=True
    )
    data = out.read_bytes()
    if how == "json" and fmt.startswith("raw"):  # mutate one message value
        lines = data.decode().splitlines()
        rng = random.Random(seed)
        i = rng.choice([k for k, x in enumerate(lines) if "{" in x])
        head, brace, rest = lines[i].partition("{")
        value, end = json.JSONDecoder().raw_decode(brace + rest)
        lines[i] = head + json.dumps(_mutate_json(value, rng)) + (brace + rest)[end:]
        data = "\n".join(lines).encode()
    else:
        data = _mutate(data, "flip" if how == "json" and fmt.startswith("raw") else how, seed)
    out.write_bytes(data)
    _check_outcome(f"sqlite://{root / 's.db'}", "seldon", [out], {}, out)


@pytest.fixture(scope="module")
def gcratio_prov_json(tmp_path_factory) -> str:
    """One GC-ratio run as provcausal exports it (PROV-JSON), built once for every example."""
    root = tmp_path_factory.mktemp("src")
    scipipe_gcratio.write_run(root / "run", seed=1)
    with open_store(f"sqlite://{root / 'src.db'}") as store:
        (run,) = import_paths(store, "scipipe", [root / "run"], "src").runs
        text = store.get_prov_json(run)
    assert text is not None
    return text


@FUZZ
@given(how=HOW, seed=st.integers(0, 10**6))
def test_fuzzed_prov_documents(tmp_path_factory, gcratio_prov_json, how, seed):
    root = tmp_path_factory.mktemp("fz")
    doc = root / "doc.json"
    doc.write_bytes(_mutate(gcratio_prov_json.encode(), how, seed))
    _check_outcome(f"sqlite://{root / 's.db'}", "prov", [doc], {}, doc)


def _with_task_attr(prov_json: str, attr: str, value: object) -> tuple[str, str]:
    """The document with provcausal:``attr`` of its first activity set to ``value``."""
    doc = json.loads(prov_json)
    record = sorted(doc["activity"])[0]
    doc["activity"][record][f"{ATTR_PREFIX}:{attr}"] = value
    return json.dumps(doc), record


@pytest.mark.parametrize(
    "attr, value, says",
    [
        (
            VISIT,
            "x",
            "must be a whole number >= 0 below 2^63, not 'x'",
        ),  # was exit 1, internal ValueError
        (VISIT, {"$": "-3", "type": "xsd:int"}, "must be a whole number >= 0 below 2^63, not '-3'"),
        (UNOBSERVED, "x", "must be true or false"),
        (DURATION, "soon", "must be a number of seconds"),
        (NODE, True, "must be text"),
    ],
)
def test_wrong_typed_provcausal_attribute_is_exit_2_naming_file_record_and_key(
    tmp_path, sqlite_uri, gcratio_prov_json, attr, value, says
):
    text, record = _with_task_attr(gcratio_prov_json, attr, value)
    path = tmp_path / "doc.json"
    path.write_text(text)
    result = run_cli("import", "prov", path, "--workflow", "w", store=sqlite_uri)
    result.error(2, str(path), f"PROV record {record}", f"{ATTR_PREFIX}:{attr} {says}")
    with open_store(sqlite_uri) as store:
        assert store.find_runs() == [] and store.count_tasks() == 0


# The provcausal attributes a task's PROV activity carries and import prov reads back.
TASK_ATTRS = (NODE, SAMPLE, VISIT, STATUS, UNOBSERVED, DURATION)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=5)
)
PROV_LITERALS = st.builds(
    lambda v, t: {"$": str(v), "type": t},
    JSON_SCALARS,
    st.sampled_from(["xsd:int", "xsd:double", "xsd:boolean", "xsd:string", "xsd:dateTime"]),
)


@FUZZ
@given(
    attr=st.sampled_from(TASK_ATTRS),
    value=st.one_of(JSON_SCALARS, PROV_LITERALS, st.lists(JSON_SCALARS, max_size=2)),
)
def test_any_value_of_a_reserved_attribute_imports_or_is_a_clean_error(
    tmp_path_factory, gcratio_prov_json, attr, value
):
    root = tmp_path_factory.mktemp("fz")
    doc = root / "doc.json"
    doc.write_text(_with_task_attr(gcratio_prov_json, attr, value)[0])
    _check_outcome(f"sqlite://{root / 's.db'}", "prov", [doc], {}, doc)


@pytest.mark.slow  # four interpreters at once
def test_four_processes_import_overlapping_inputs(tmp_path, store_uri):
    folders = scipipe_gcratio.write_runs(tmp_path / "corpus", 12, seed=5)
    procs = [
        start_cli(
            "-q", "import", "scipipe", *folders[3 * i : 3 * i + 6], "-w", "gc", store=store_uri
        )
        for i in range(4)
    ]
    for proc in procs:
        finish(proc).ok()
    with open_store(store_uri) as store:
        runs = store.find_runs(workflow="gc")
        assert len(runs) == 12
        assert store.count_tasks() == 12 * 11
        assert sum(len(list(store.find_tasks([r["workflow_id"]]))) for r in runs) == 132


@pytest.mark.slow  # 600 runs imported, killed, imported again
def test_killed_import_leaves_no_half_visible_run_and_rerun_completes(tmp_path, store_uri):
    runs = 3 * BATCH_RUNS  # SQLite: enough to fill 2 MB of WAL before the commit
    scipipe_gcratio.write_runs(tmp_path / "corpus", runs, seed=9)
    args = ("-q", "import", "scipipe", tmp_path / "corpus", "--workflow", "gc")
    proc = start_cli(*args, store=store_uri)
    deadline = time.monotonic() + 120
    wal = tmp_path / "store.db-wal"
    with open_store(store_uri) as store:
        if store_uri.startswith("sqlite"):
            # One transaction per import: readers see nothing until it commits, so wait for
            # the uncommitted pages to reach the write-ahead log instead.
            while time.monotonic() < deadline and (not wal.exists() or wal.stat().st_size < 2e6):
                time.sleep(0.05)
        else:
            # MongoDB has no transaction: wait for the first batch to become visible.
            while time.monotonic() < deadline and not store.find_runs():
                time.sleep(0.05)
        assert proc.poll() is None, "the import ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        visible = store.find_runs()
        if store_uri.startswith("sqlite"):
            assert visible == []  # all or nothing: the transaction never committed
        else:
            # A SIGKILL (no chance to undo) leaves the batches written so far, each complete.
            assert 0 < len(visible) < runs, len(visible)
        for run in visible:
            assert len(list(store.find_tasks([run["workflow_id"]]))) == 11
    finish(start_cli(*args, store=store_uri), timeout=600).ok()
    with open_store(store_uri) as store:
        assert len(store.find_runs()) == runs
        assert store.count_tasks() == runs * 11


def test_hostile_content(tmp_path, sqlite_uri):
    folder = tmp_path / "hostile"
    folder.mkdir()
    record = {
        "ID": "h" * 20,
        "ProcessName": "p",
        "Command": "x" * 1_000_000,
        "Params": {"$gt": "1", "a.b": "ü" * 1000},
        "Tags": {},
        "StartTime": "2023-03-13T02:23:35.989429427Z",
        "FinishTime": "2023-03-13T02:23:36Z",
        "ExecTimeNS": 10,
        "OutFiles": {},
        "Upstream": {},
    }
    (folder / "o.audit.json").write_text(json.dumps(record))
    with open_store(sqlite_uri) as store:
        (run,) = import_paths(store, "scipipe", [folder], "h").runs
        (task,) = store.find_tasks([run])
        assert len(fc.task_meta(task)["attrs"]["command"]) == 1_000_000
    sparse = tmp_path / "giant" / "big.audit.json"
    sparse.parent.mkdir()
    with open(sparse, "wb") as handle:
        handle.truncate(2 * 1024**3)
    result = run_cli("import", "scipipe", sparse.parent, "--workflow", "g", store=sqlite_uri)
    result.error(2, "2.0 GiB", str(sparse))
    deep = tmp_path / "deep"
    deep.mkdir()
    text = None
    for i in range(500):
        up = f'{{"f{i - 1}": {text}}}' if text else "{}"
        text = (
            f'{{"ID": "d{i:018d}", "ProcessName": "p{i}", "Command": "", '
            '"StartTime": "2023-03-13T02:23:35Z", "FinishTime": "2023-03-13T02:23:36Z", '
            f'"ExecTimeNS": 1, "OutFiles": {{"o": "f{i}"}}, "Upstream": {up}}}'
        )
    (deep / "f499.audit.json").write_text(text)
    with open_store(sqlite_uri) as store:
        summary = import_paths(store, "scipipe", [deep], "deep")
        assert summary.tasks == 500


def test_password_never_printed_even_with_debug(mongo_base_uri):
    # nx-27017 takes PLAIN credentials without checking them, so each command gets as far as
    # its own error, which names the store: in the message and in the --debug traceback.
    host = mongo_base_uri.split("//", 1)[1].split("/", 1)[0]
    uri = f"mongodb://alice:S3cretPw@{host}/pc_secret_test?authMechanism=PLAIN"
    open_store(uri).close()  # an existing, empty store: read commands never create one
    for args, message in (
        (["runs", "delete", "nope"], "no run 'nope'"),
        (["attribute", "-w", "x", "-b", "a", "-c", "b"], "no runs of workflow 'x'"),
        (["export", "--run", "nope"], "no run 'nope'"),
    ):
        result = run_cli("--debug", *args, store=uri)
        result.error(2, message, "mongodb://alice:***@", traceback=True)
        traceback = "\n".join(result.err.strip().splitlines()[:-1])
        assert traceback.startswith("Traceback") and "alice:***@" in traceback, args
        assert "S3cretPw" not in result.out + result.err, args
