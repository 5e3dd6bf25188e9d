"""Fixtures: a fresh store of each kind, and a real MongoDB-protocol server process; the
Hypothesis profile every run uses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from provcausal.stores import Store, open_store
from tests.mongo_server import ENV_URI, WireServer, fresh_database_uri

# CI's verdict must not depend on a random draw: the default profile draws the same examples
# on every run (derandomize, no example database) and never times one out on a busy machine.
# HYPOTHESIS_PROFILE=explore searches afresh with many more examples, for a fuzzing session.
_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile(
    "provcausal",
    derandomize=True,
    database=None,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=_QUIET,
)
settings.register_profile(
    "explore", max_examples=2000, deadline=None, print_blob=True, suppress_health_check=_QUIET
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "provcausal"))


@pytest.fixture(scope="session")
def mongo_base_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A MongoDB-wire-protocol server for the whole session (or $PROVCAUSAL_TEST_MONGO_URI)."""
    external = os.environ.get(ENV_URI)
    if external:
        yield external
        return
    server = WireServer(tmp_path_factory.mktemp("nx27017"))
    server.start()
    try:
        yield server.base_uri
    finally:
        server.stop()


@pytest.fixture
def mongo_uri(mongo_base_uri: str) -> str:
    """A URI naming a fresh, empty database on the test server."""
    return fresh_database_uri(mongo_base_uri)


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite://{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", "mongodb"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URI of a fresh store of each kind: every contract test runs on both."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("mongo_uri"))


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    with open_store(store_uri) as s:
        yield s
