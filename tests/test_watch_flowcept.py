"""``provcausal watch`` on FlowCept's own database, written by FlowCept's real write path
(a decorated pipeline through Redis and FlowCept's DocumentInserter, as
``tests/test_flowcept_capture.py`` runs it): normal executions, then a fault in
``featurize``; watch names ``featurize``."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import threading
import time

import pytest

from tests.helpers import run_cli, start_cli
from tests.test_flowcept_capture import capture, redis_port  # noqa: F401 - the fixture

SHIFT_EXIT = 4
SPEC = {
    "name": "fcpipe",
    "mode": "workflows",
    "batches": [
        {"campaign": "c-normal", "faulty": False, "n": 60, "seed": 1},
        {"campaign": "c-faulty", "faulty": True, "n": 40, "seed": 2},
    ],
}


def _use_flowcept_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in [k for k in os.environ if k.startswith(("MONGO_", "LMDB_", "FLOWCEPT_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("FLOWCEPT_SETTINGS_PATH", env["FLOWCEPT_SETTINGS_PATH"])


@pytest.mark.slow
def test_watch_once_names_the_faulty_function_in_flowcepts_lmdb(
    tmp_path,
    redis_port,  # noqa: F811
    monkeypatch,
):
    _, env = capture(tmp_path, redis_port, "lmdb", SPEC)
    _use_flowcept_settings(env, monkeypatch)
    state = tmp_path / "watch-state"
    args = ("watch", "-w", "fcpipe", "--once", "--json", "--window", "30", "--settle", "0",
            "--state-dir", state)  # fmt: skip
    found = run_cli(*args, store="flowcept")
    assert found.code == SHIFT_EXIT, found.err
    (shift,) = [e for e in map(json.loads, found.out.splitlines()) if e["event"] == "shift"]
    assert shift["attributions"][0]["node"] == "featurize", shift["verdict"]
    assert shift["run"].startswith("c-faulty-")
    assert run_cli(*args, store="flowcept").ok().out.count('"shift"') == 0  # not twice
    listed = run_cli("alerts", "--state-dir", state, "--json", store="flowcept").ok().json()
    assert [a["id"] for a in listed] == [shift["id"]]


@pytest.mark.slow
def test_watch_follows_flowcept_on_mongodb_while_it_captures(
    tmp_path,
    redis_port,  # noqa: F811
    mongo_uri,
    monkeypatch,
):
    """watch starts as FlowCept starts (its database may not exist yet: said once), then
    follows the executions as FlowCept's inserter writes them, and names featurize."""
    from tests.test_flowcept_capture import _flowcept_env, _settings

    env = _flowcept_env(_settings(tmp_path, redis_port, "mongodb", mongo_uri))
    proc = start_cli(
        "watch", "-w", "fcpipe", "--json", "--window", "30", "--poll", "0.5", "--settle", "1",
        store="flowcept", env={**env, "PYTHONPATH": ""},
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    events = []
    try:
        capture(tmp_path, redis_port, "mongodb", SPEC, mongo_uri)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(e["event"] == "shift" for e in events):
            with contextlib.suppress(queue.Empty):
                events.append(json.loads(lines.get(timeout=1)))
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        reader.join(timeout=10)
        err = proc.stderr.read() if proc.stderr else ""
    assert code == 130, err
    kinds = [e["event"] for e in events]
    # FlowCept may create its database before watch first looks: then nothing went away
    assert kinds.count("unreachable") == kinds.count("recovered") <= 1, (kinds, err)
    (shift,) = [e for e in events if e["event"] == "shift"]
    assert shift["attributions"][0]["node"] == "featurize", shift["verdict"]
    assert shift["run"].startswith("c-faulty-")
