"""The console script ends the process without tearing the interpreter down (0.11 s of a
whole ``attribute``), and still does what a normal exit does for others."""

from __future__ import annotations

import os
import subprocess
import sys

#: Output buffered as it is for users (CI shells may set PYTHONUNBUFFERED, which would hide a
#: missing flush).
BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}

SCRIPT = """
import atexit, sys
atexit.register(lambda: print("atexit ran", file=sys.stderr))
sys.argv = ["provcausal", *{args!r}]
from provcausal.cli import main
main()
print("not reached")
"""


def _run(*args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(args=list(args))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=BUFFERED,
    )


def test_given_a_command_that_succeeds_then_its_output_is_whole_and_atexit_runs(tmp_path):
    done = _run("--help", tmp_path=tmp_path)
    assert done.returncode == 0
    assert "Commands:" in done.stdout and "not reached" not in done.stdout
    assert "atexit ran" in done.stderr


def test_given_bad_usage_then_the_status_is_clicks_and_atexit_runs(tmp_path):
    done = _run("attribute", "--no-such-option", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "No such option" in done.stderr and "atexit ran" in done.stderr


def test_given_no_store_then_the_error_and_its_status_come_through(tmp_path):
    done = _run(
        "attribute", "--workflow", "w", "--baseline", "a", "--comparison", "b", tmp_path=tmp_path
    )
    assert done.returncode not in (0, None)
    assert "no store" in done.stderr and "atexit ran" in done.stderr


def test_given_output_into_a_pipe_then_all_of_it_arrives(tmp_path):
    """os._exit skips the interpreter's own flush: a megabyte written through a pipe (block
    buffered, so most of it still in the buffer at the end) must arrive whole."""
    script = (
        "import click, sys\n"
        "from provcausal.cli import cli, main\n"
        "@cli.command('big')\n"
        "def big():\n"
        "    sys.stdout.write('x' * 1_000_000)\n"
        "    sys.stdout.write('END')\n"
        "sys.argv = ['provcausal', 'big']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=BUFFERED
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) == 1_000_003 and done.stdout.endswith("END")
