"""Fixtures: a fresh store of each kind, and a real MongoDB-protocol server process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from provcausal.stores import Store, open_store
from tests.mongo_server import ENV_URI, WireServer, fresh_database_uri


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
