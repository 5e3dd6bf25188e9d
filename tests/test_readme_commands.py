"""The README as a new user meets it: its set-up command (without the install) and then every
command it shows in a console block, pasted as printed into one shell, in order."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def setup_steps() -> list[str]:
    """The first set-up command's steps after the install (venv, activate, pip are given)."""
    first = re.search(r"```bash\n(.+?)\n", README.read_text()).group(1)
    steps = [s.strip() for s in first.split("&&")]
    return [s for s in steps if s.startswith("provcausal ")]


def console_commands() -> list[str]:
    """Every ``$ command`` line of the README's console blocks."""
    blocks = re.findall(r"```console\n(.*?)```", README.read_text(), re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def printed_lines() -> list[str]:
    """Every output line the README's console blocks show (not the ``$`` lines)."""
    blocks = re.findall(r"```console\n(.*?)```", README.read_text(), re.S)
    lines = (line.rstrip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("$ ")]


def test_readme_has_two_setup_commands_and_shows_commands() -> None:
    bash = re.search(r"```bash\n(.*?)```", README.read_text(), re.S).group(1)
    assert len(bash.strip().splitlines()) == 2
    assert setup_steps()[0].startswith("provcausal example gcratio")
    assert any(c.startswith("provcausal report") for c in console_commands())


@pytest.mark.slow
def test_readme_commands_work_pasted_as_printed(tmp_path: Path) -> None:
    script = "\n".join(["set -euo pipefail", *setup_steps(), *console_commands()])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("PROVCAUSAL_STORE", None)
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"^verdict: count1 ", done.stdout, re.M)  # the verdict names count1
    assert "wrote report.html" in done.stdout and (tmp_path / "report.html").exists()
    assert "wrote run.provn (provn)" in done.stdout
    assert not (tmp_path / "gcratio.dot").exists()
    # What the README shows is what the commands print (same files, same ids, same numbers).
    missing = [line for line in printed_lines() if line not in done.stdout]
    assert missing == [], missing
    # Every id the README prints is one the user's store holds (ids derive from content).
    shown = set(re.findall(r"\b(?:scipipe|t|e)-[0-9a-f]{20,24}\b", README.read_text()))
    assert shown and shown <= set(re.findall(r"\b(?:scipipe|t|e)-[0-9a-f]{20,24}\b", done.stdout))
