"""A real MongoDB-wire-protocol server for the tests, started as its own process.

No mongod can be installed on these machines, so the tests start ``nx-27017`` (pinned in the
test extra): a server that speaks the MongoDB wire protocol over SQLite, which real pymongo
talks to. With ``PROVCAUSAL_TEST_MONGO_URI`` set, that server (e.g. a real mongod) is used.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pymongo

from tests.server_process import free_port, stop_process, wait_ready

ENV_URI = "PROVCAUSAL_TEST_MONGO_URI"

__all__ = ["ENV_URI", "WireServer", "fresh_database_uri", "free_port"]


class WireServer:
    """One nx-27017 process with its own data folder, log and PID files."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.workdir / "stdout.log", "wb") as log:
            self.proc = self._spawn(log)
        self._wait_ready(timeout)

    def _spawn(self, log: Any) -> subprocess.Popen[bytes]:
        # The module of this interpreter's nx-27017, not a console script found on PATH: a
        # venv that sees its packages through another environment has no script of its own.
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nx_27017.nx_27017",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.workdir / "data"),
                "--log-file",
                str(self.workdir / "server.log"),
                "--pid-file",
                str(self.workdir / "server.pid"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        log = self.workdir / "stdout.log"
        if wait_ready(self.proc, self._ping, log, "nx-27017", timeout):
            return
        self.stop()
        raise RuntimeError(f"nx-27017 did not answer ping on port {self.port} in {timeout} s")

    def _ping(self) -> bool:
        c: pymongo.MongoClient[dict[str, Any]]
        try:
            with pymongo.MongoClient(self.base_uri, serverSelectionTimeoutMS=300) as c:
                c.admin.command("ping")
        except pymongo.errors.PyMongoError:
            return False
        return True

    def stop(self) -> None:
        if self.proc is None:
            return
        pid_file = self.workdir / "server.pid"
        pid = self.proc.pid
        if pid_file.exists():
            with contextlib.suppress(ValueError):
                pid = int(pid_file.read_text().strip() or pid)
        if pid != self.proc.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        stop_process(self.proc)
        self.proc = None


def fresh_database_uri(base_uri: str) -> str:
    """A URI naming a database no other test uses."""
    name = f"pc_test_{uuid.uuid4().hex[:12]}"
    base = base_uri.rstrip("/")
    if "?" in base:
        head, query = base.split("?", 1)
        head = head.rsplit("/", 1)[0] if head.count("/") > 2 else head
        return f"{head}/{name}?{query}"
    if base.count("/") > 2:
        base = base.rsplit("/", 1)[0]
    return f"{base}/{name}"
