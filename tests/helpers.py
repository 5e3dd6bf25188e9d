"""Shared by tests: the one way to run the CLI (in process or as a real process), and small
record builders."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from provcausal.cli import cli
from provcausal.model import ids
from provcausal.model.convert import prov_to_flowcept
from provcausal.model.flowcept import RunRecords
from provcausal.model.prov import RunDocumentBuilder

T0 = dt.datetime(2023, 3, 13, 2, 25, 58, 834000, tzinfo=dt.timezone.utc)
ROOT = Path(__file__).resolve().parents[1]
SAMPLES_ENV = "PROVCAUSAL_TEST_SAMPLES"


def _find_samples() -> Path | None:
    """The real sample files: $PROVCAUSAL_TEST_SAMPLES, else ``shared/samples`` in a folder
    above the checkout. They are other projects' files and never copied into this repo."""
    named = os.environ.get(SAMPLES_ENV)
    if named:
        return Path(named)  # named but missing: the tests fail, they do not skip
    for folder in ROOT.parents:
        if (folder / "shared" / "samples").is_dir():
            return folder / "shared" / "samples"
    return None


SAMPLES = _find_samples()
#: Marks a test that reads the real sample files (see docs/testing.md for when it skips).
needs_samples = pytest.mark.skipif(
    SAMPLES is None, reason=f"no shared/samples above the checkout and {SAMPLES_ENV} unset"
)


def chain_run(
    source: str,
    workflow: str = "wf",
    label: str | None = "normal",
    nodes: tuple[str, ...] = ("a", "b", "c"),
    start: dt.datetime = T0,
    values: tuple[float, ...] | None = None,
    task_attrs: dict[str, Any] | None = None,
) -> RunRecords:
    """A run whose nodes form a chain a → b → c, each generating one valued entity."""
    run = ids.run_id("test", workflow, source)
    b = RunDocumentBuilder(run, workflow, "test")
    prev_entity = None
    for i, node in enumerate(nodes):
        t = ids.task_id(run, node)
        s = start + dt.timedelta(seconds=i)
        b.task(
            t,
            node,
            start=s,
            end=s + dt.timedelta(milliseconds=500),
            sample=run,
            attrs=task_attrs if i == 0 else None,
        )
        if prev_entity is not None:
            b.used(t, prev_entity)
        e = ids.entity_id(run, f"{node}.out")
        b.entity(e, name=f"{node}.out", value=(values[i] if values else float(i)))
        b.generated(e, t)
        prev_entity = e
    return prov_to_flowcept(
        b.document, run_id=run, workflow=workflow, system="test", label=label, source=source
    )


@dataclass(frozen=True)
class CliResult:
    """What one CLI call gave back: exit code, stdout and stderr (kept apart)."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout as the one JSON document ``--json`` promises."""
        return json.loads(self.out)

    def ok(self) -> CliResult:
        """Assert exit 0 (showing stderr if not) and return self, for chaining."""
        assert self.code == 0, f"exit {self.code}: {self.err or self.out}"
        return self

    def error(
        self, code: int, *fragments: str, traceback: bool = False, usage: bool = False
    ) -> str:
        """Assert the documented failure: exit ``code``, nothing on stdout, and stderr one
        ``Error: ...`` line containing every fragment. With ``traceback=True`` (``--debug``)
        a traceback comes first; with ``usage=True`` click's usage lines do (click rejected a
        parameter). Returns the ``Error:`` line."""
        assert self.code == code, f"exit {self.code}, wanted {code}: {self.err or self.out}"
        assert self.out == "", self.out
        lines = self.err.strip().splitlines()
        assert lines, "nothing on stderr"
        *before, last = lines
        if traceback:
            assert before and before[0].startswith("Traceback"), self.err
        elif usage:
            assert before and before[0].startswith("Usage: "), self.err
        else:
            assert before == [], self.err
        assert last.startswith("Error: "), self.err
        for fragment in fragments:
            assert fragment in last, f"{fragment!r} not in {last!r}"
        return last


def _argv(args: tuple[Any, ...], store: str | None) -> list[str]:
    return [*(["--store", store] if store is not None else []), *map(str, args)]


def run_cli(
    *args: Any,
    store: str | None = None,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> CliResult:
    """Run ``provcausal [--store STORE] ARGS`` in this process with click's CliRunner.

    Exceptions that escape the CLI's own error handling fail the test with their traceback
    instead of turning into an exit code.
    """
    result = CliRunner().invoke(
        cli, _argv(args, store), input=input, env=dict(env or {}), catch_exceptions=False
    )
    return CliResult(result.exit_code, result.stdout, result.stderr)


def start_cli(
    *args: Any, store: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start ``python -m provcausal.cli [--store STORE] ARGS`` as a real process (for tests
    that kill it, run several at once, or need a fresh interpreter); pipes are text."""
    return subprocess.Popen(
        [sys.executable, "-m", "provcausal.cli", *_argv(args, store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> CliResult:
    """Wait for a process from :func:`start_cli` and collect what it printed."""
    out, err = proc.communicate(timeout=timeout)
    return CliResult(proc.returncode, out, err)
