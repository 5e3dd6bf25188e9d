"""What the tests' own server processes share: a free port, waiting until one answers, and
stopping it (terminate, then kill)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], log: Path, name: str, timeout: float
) -> bool:
    """Poll ``ready`` until it answers True (True) or ``timeout`` passes (False); a process
    that exits meanwhile raises with the end of its ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {proc.returncode}: " + log.read_text(errors="replace")[-2000:]
            )
        if ready():
            return True
        time.sleep(0.05)
    return False


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate ``proc`` (it may already have been signalled), and kill it after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
