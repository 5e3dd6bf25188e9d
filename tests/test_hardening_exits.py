"""Round three (issue 22): clean exits where the input is at fault. A truncated FlowCept
LMDB is exit 3 (it used to kill every read with SIGBUS), a missing ``lmdb`` extra names the
install command, and bad seeds or empty labels are usage errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import chain_run, finish, run_cli, start_cli

pytest.importorskip("lmdb")


@pytest.fixture
def flowcept_lmdb(tmp_path: Path) -> Path:
    from tests.lmdb_layout import write_runs

    folder = tmp_path / "lmdb"
    write_runs(folder, [chain_run(f"/r{i}", nodes=tuple("abcdefgh")) for i in range(200)])
    return folder


@pytest.mark.parametrize("keep", [0.5, 0.99, "one page short"])
def test_truncated_lmdb_is_exit_3_not_sigbus(tmp_path, flowcept_lmdb, keep):
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(flowcept_lmdb / "data.mdb", copy / "data.mdb")
    size = (copy / "data.mdb").stat().st_size
    os.truncate(copy / "data.mdb", size - 4096 if keep == "one page short" else int(size * keep))
    for args in (["runs"], ["workflows"], ["tasks", "--workflow", "wf", "--node", "a"]):
        # a real process: a SIGBUS would kill the test runner itself
        result = finish(start_cli(*args, store=f"lmdb://{copy}"), timeout=60)
        result.error(3, str(copy / "data.mdb"), "truncated")
    run_cli("runs", store=f"lmdb://{flowcept_lmdb}").ok()  # the whole file still reads


def test_missing_lmdb_extra_names_the_install_command(flowcept_lmdb):
    code = (
        "import sys; sys.modules['lmdb'] = None\n"
        "from provcausal.cli import main\n"
        f"sys.argv = ['provcausal', '--store', 'lmdb://{flowcept_lmdb}', 'runs']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "Error: reading FlowCept's LMDB needs the lmdb package: pip install 'provcausal[lmdb]'"
    )


@pytest.mark.parametrize("command", ["attribute", "report", "anomalies", "example"])
def test_negative_seed_is_a_usage_error(tmp_path, command):
    args = {
        "attribute": ["-w", "wf", "-b", "normal", "-c", "broken"],
        "report": ["-w", "wf", "-b", "normal", "-c", "broken", "-o", str(tmp_path / "r.html")],
        "anomalies": ["-w", "wf", "-s", "x"],
        "example": ["gcratio", str(tmp_path / "ex")],
    }[command]
    result = run_cli(command, *args, "--seed", "-1", store=f"sqlite://{tmp_path}/s.db")
    result.error(2, "--seed", usage=True)
    assert not (tmp_path / "ex").exists()


def test_empty_label_is_refused(store_uri):
    from provcausal.stores import open_store

    with open_store(store_uri) as store:
        store.put_run(chain_run("/r1"))
    run_cli("label", "-w", "wf", "--where", "name=wf", "--set", "", store=store_uri).error(
        2, "--set", usage=True
    )
    with open_store(store_uri) as store:
        assert [r.get("workflow_id") for r in store.find_runs(labels=[""])] == []
