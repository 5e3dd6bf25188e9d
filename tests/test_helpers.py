"""The test suite's own machinery: the CLI helper's assertions reject what they should, and
the derandomized Hypothesis profile is the one in force."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from provcausal.stores import open_store
from tests.helpers import CliResult, finish, run_cli, start_cli

ONE_LINE = CliResult(2, "", "Error: no run 'x' in sqlite:///s.db\n")


def test_error_accepts_the_documented_failure_and_returns_its_line():
    assert ONE_LINE.error(2, "no run 'x'", "sqlite:") == "Error: no run 'x' in sqlite:///s.db"


@pytest.mark.parametrize(
    "result, kwargs",
    [
        (ONE_LINE, {"code": 3}),  # another exit code
        (CliResult(2, "partial\n", ONE_LINE.err), {"code": 2}),  # something on stdout
        (CliResult(2, "", "warning: x\n" + ONE_LINE.err), {"code": 2}),  # two lines
        (CliResult(2, "", "Error: no run\n"), {"code": 2, "fragment": "no run 'x'"}),
        (CliResult(2, "", "Usage: cli x\n"), {"code": 2}),  # no Error: line
        (CliResult(2, "", ""), {"code": 2}),  # nothing at all
        (CliResult(2, "", "Usage: cli\n" + ONE_LINE.err), {"code": 2, "traceback": True}),
        (CliResult(2, "", "Traceback (...)\n" + ONE_LINE.err), {"code": 2, "usage": True}),
    ],
)
def test_error_rejects_every_other_outcome(result, kwargs):
    fragment = kwargs.pop("fragment", "no run")
    with pytest.raises(AssertionError):
        result.error(kwargs.pop("code"), fragment, **kwargs)


def test_ok_rejects_a_failure_and_shows_its_stderr():
    with pytest.raises(AssertionError, match="no run 'x'"):
        ONE_LINE.ok()


def test_in_process_and_subprocess_runs_agree(sqlite_uri):
    open_store(sqlite_uri).close()  # an existing, empty store: read commands never create one
    here = run_cli("runs", "delete", "nope", store=sqlite_uri)
    there = finish(start_cli("runs", "delete", "nope", store=sqlite_uri), timeout=120)
    assert here.error(2, "no run 'nope'") == there.error(2, "no run 'nope'")


def test_hypothesis_draws_the_same_examples_on_every_run():
    profile = settings.get_profile("provcausal")
    assert (profile.derandomize, profile.database, profile.deadline) == (True, None, None)
    assert profile.max_examples == 100
    if "HYPOTHESIS_PROFILE" not in os.environ:  # the default: what CI runs
        assert settings.default == profile
