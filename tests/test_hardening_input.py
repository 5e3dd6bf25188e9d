"""Untrusted input (issue 13): only regular files are read, folders that cannot be listed are
errors, and one huge record cannot make memory explode.

Every test that could hang on a FIFO runs under an alarm: a hang fails the test instead of
blocking the suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from provcausal.examples import nodered_chain, scipipe_gcratio
from provcausal.stores import open_store
from tests.helpers import CliResult, run_cli


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging) when the block runs longer than ``seconds``."""

    def expire(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: a FIFO was opened")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_within(store_uri: str, *args: str, timeout: int = 60) -> CliResult:
    """``run_cli``, failing instead of hanging if a FIFO gets opened."""
    with deadline(timeout):
        return run_cli(*args, store=store_uri)


def nodered_folder(root: Path) -> Path:
    folder = root / "logs"
    folder.mkdir()
    nodered_chain.write_trace_log(folder / "a.log", nodered_chain.chain_flow(3), 3, seed=1)
    return folder


def run_count(store_uri: str) -> int:
    with open_store(store_uri) as store:
        return len(store.find_runs())


@pytest.mark.parametrize("system", ["nodered", "prov", "auto"])
def test_fifo_in_a_folder_is_skipped_with_a_warning(tmp_path, store_uri, system):
    folder = nodered_folder(tmp_path)
    if system == "prov":
        (folder / "a.log").unlink()
        (folder / "a.json").write_text(
            json.dumps({"activity": {"ex:a": {}}, "prefix": {"ex": "http://example.org/"}})
        )
    os.mkfifo(folder / "b.fifo")
    result = run_within(store_uri, "import", system, str(folder), "-w", "wf").ok()
    assert f"{folder / 'b.fifo'}: skipped: a FIFO" in result.err
    assert run_count(store_uri) == 1


def test_fifo_named_explicitly_is_refused(tmp_path, store_uri):
    fifo = tmp_path / "trace.log"
    os.mkfifo(fifo)
    for system in ("nodered", "prov", "scipipe", "auto"):
        result = run_within(store_uri, "import", system, str(fifo), "-w", "wf")
        result.error(2, f"{fifo}: not a regular file (a FIFO)")
    flow = tmp_path / "flows.fifo"
    os.mkfifo(flow)
    log = nodered_chain.write_trace_log(tmp_path / "a.log", nodered_chain.chain_flow(3), 2)
    result = run_within(store_uri, "import", "nodered", str(log), "--flow", str(flow), "-w", "wf")
    result.error(2, "not a regular file (a FIFO)")
    assert run_count(store_uri) == 0


def test_scipipe_fifo_dot_and_audit_file_are_skipped(tmp_path, store_uri):
    run = tmp_path / "run"
    scipipe_gcratio.write_run(run, seed=1)
    for dot in run.glob("*.dot"):
        dot.unlink()
    os.mkfifo(run / "graph.dot")
    os.mkfifo(run / "zz.audit.json")
    result = run_within(store_uri, "import", "scipipe", str(run), "-w", "gc").ok()
    assert f"{run / 'graph.dot'}: ignored workflow graph: a FIFO" in result.err
    assert f"{run / 'zz.audit.json'}: skipped: a FIFO" in result.err
    assert run_count(store_uri) == 1


def test_fifo_output_file_is_not_read_for_a_value(tmp_path, sqlite_uri):
    run = tmp_path / "run"
    scipipe_gcratio.write_run(run, seed=1)
    outputs = [p for p in run.iterdir() if not p.name.endswith((".audit.json", ".dot"))]
    target = outputs[0]
    target.unlink()
    os.mkfifo(target)
    run_within(sqlite_uri, "import", "scipipe", str(run), "-w", "gc").ok()


def test_symlink_loop_is_a_warning_in_a_folder_and_an_error_when_named(tmp_path, store_uri):
    folder = nodered_folder(tmp_path)
    os.symlink(folder / "y.log", folder / "x.log")
    os.symlink(folder / "x.log", folder / "y.log")
    os.symlink(folder, folder / "cycle")  # a folder link back to itself is not followed
    for system in ("nodered", "prov", "auto"):
        result = run_within(store_uri, "import", system, str(folder), "-w", "wf")
        if system == "prov":  # no PROV document in the folder: a clean error
            result.error(2)
            continue
        result.ok()
        assert f"{folder / 'x.log'}: skipped: a symlink loop" in result.err
    result = run_within(store_uri, "import", "nodered", str(folder / "x.log"), "-w", "wf")
    result.error(2, f"{folder / 'x.log'}: not a regular file (a symlink loop)")


def _deny(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Make listing ``denied`` fail as mode 000 does for a normal user (tests run as root,
    which ignores the mode): the error is injected at the OS call os.walk makes."""
    real = os.scandir

    def scandir(path=".", *args, **kwargs):
        if Path(os.fsdecode(path)) == denied:
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)


def test_run_folder_that_cannot_be_listed(tmp_path, store_uri, monkeypatch):
    folders = scipipe_gcratio.write_runs(tmp_path / "corpus", 2, seed=2)
    _deny(monkeypatch, folders[1])
    corpus = str(tmp_path / "corpus")
    result = run_within(store_uri, "import", "scipipe", corpus, "-w", "gc")
    result.error(2, f"{folders[1]}: cannot list folder: Permission denied")
    assert run_count(store_uri) == 0
    result = run_within(store_uri, "import", "scipipe", corpus, "-w", "gc", "--skip-bad").ok()
    assert f"skipped: {folders[1]}: cannot list folder: Permission denied" in result.err
    assert run_count(store_uri) == 1


def test_nodered_folder_that_cannot_be_listed(tmp_path, sqlite_uri, monkeypatch):
    folder = nodered_folder(tmp_path)
    sub = folder / "more"
    sub.mkdir()
    _deny(monkeypatch, sub)
    result = run_within(sqlite_uri, "import", "nodered", str(folder), "-w", "wf")
    result.error(2, f"{sub}: cannot list folder")
    result = run_within(sqlite_uri, "import", "nodered", str(folder), "-w", "wf", "--skip-bad")
    assert f"{sub}: cannot list folder" in result.ok().err


def _as_nobody(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(home)},
    )


@pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(),
    reason="needs root and setpriv to run as user nobody (the injected test covers it)",
)
def test_unlistable_folder_as_an_unprivileged_user():
    """The real thing: a mode-000 run folder read by user nobody."""
    root = Path(tempfile.mkdtemp(prefix="pc-nobody-"))
    try:
        os.chmod(root, 0o777)
        folders = scipipe_gcratio.write_runs(root / "corpus", 2, seed=2)
        for path in [root / "corpus", *folders]:
            os.chmod(path, 0o755)
        os.chmod(folders[1], 0)
        store = f"sqlite://{root / 's.db'}"
        proc = _as_nobody(
            sys.executable, "-m", "provcausal.cli", "--store", store, "import", "scipipe",
            str(root / "corpus"), "-w", "gc", home=root,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert f"{folders[1]}: cannot list folder: Permission denied" in proc.stderr
    finally:
        os.chmod(folders[1], 0o755)
        shutil.rmtree(root)


_PEAK = """
import sys
from pathlib import Path
from provcausal.errors import BadInputError
from provcausal.ingest import read_runs

def kib(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])

system, path = sys.argv[1], sys.argv[2]
name, runs = read_runs(system, [path], "big")
base = kib("VmRSS:")
try:
    list(runs)
    outcome = "imported"
except BadInputError as exc:
    outcome = str(exc)
print(outcome)
print((kib("VmHWM:") - base) * 1024)
"""


def _peak(system: str, path: Path) -> tuple[str, int]:
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK, system, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    outcome, peak = proc.stdout.strip().splitlines()
    return outcome, int(peak)


@pytest.mark.slow
def test_memory_of_a_provn_file_with_one_50_mb_string(tmp_path):
    text = (
        "document\n  prefix ex <http://example.org/>\n"
        f'  entity(ex:e, [prov:label="{"a" * 50_000_000}"])\nendDocument\n'
    )
    path = tmp_path / "big.provn"
    path.write_text(text)
    outcome, peak = _peak("prov", path)
    assert outcome.startswith(f"{path}, line 3: a PROV-N string of 47.7 MiB; the limit is 1 MiB")
    assert peak <= 10 * len(text), peak


@pytest.mark.slow
def test_memory_of_a_nodered_line_of_200k_events(tmp_path):
    node = {"id": "n1", "name": "a node", "type": "function"}
    events = [
        {"eventName": name, "node": node, "timestamp": 1678674215000 + i}
        for i in range(100_000)
        for name in ("onReceive", "onSend")
    ]
    record = {"initiatorNode": {"id": "i", "name": "", "type": "inject"}, "trace": events}
    line = json.dumps(record)
    line = line.replace('"function"', '"function' + " " * 130 + '"')  # ~45 MB as in the issue
    path = tmp_path / "big.log"
    path.write_text(line + "\n")
    assert len(line) > 44_000_000
    outcome, peak = _peak("nodered", path)
    assert outcome == f"{path}, line 1: 200000 trace events in one line; the limit is 10000"
    assert peak <= 10 * len(line), peak
