"""Store URIs: parsing, FlowCept settings, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from provcausal.errors import StoreError
from provcausal.stores.uri import flowcept_mongo_uri, redact_text, redact_uri, sqlite_path


def test_sqlite_uri_forms() -> None:
    assert sqlite_path("sqlite:///tmp/x.db") == Path("/tmp/x.db")
    assert sqlite_path("sqlite:rel/x.db") == Path("rel/x.db")
    with pytest.raises(StoreError):
        sqlite_path("sqlite://host/x.db")


def test_redaction_hides_password_in_every_form() -> None:
    uri = "mongodb://bob:p%40ss@h:1/db"
    assert redact_uri(uri) == "mongodb://bob:***@h:1/db"
    assert "p@ss" not in redact_text("auth failed for p@ss and p%40ss", uri)


def test_flowcept_settings_file_then_environment(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("databases:\n  mongodb:\n    host: db1\n    port: 27018\n    db: fc\n")
    env = {"FLOWCEPT_SETTINGS_PATH": str(settings)}
    assert flowcept_mongo_uri(env) == ("mongodb://db1:27018/fc", "fc")
    env["MONGO_PORT"] = "27020"
    assert flowcept_mongo_uri(env) == ("mongodb://db1:27020/fc", "fc")
    env["MONGO_URI"] = "mongodb://u:p@x/fc"
    assert flowcept_mongo_uri(env) == ("mongodb://u:p@x/fc", "fc")


def test_flowcept_store_reaches_the_configured_server(mongo_uri, tmp_path, monkeypatch) -> None:
    from provcausal.stores import open_store

    host_port = mongo_uri.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        f"databases:\n  mongodb:\n    enabled: true\n    host: {host}\n    port: {port}\n"
        f"    db: {mongo_uri.rsplit('/', 1)[1]}\n"
    )
    monkeypatch.setenv("FLOWCEPT_SETTINGS_PATH", str(settings))
    for var in ("MONGO_URI", "MONGO_HOST", "MONGO_PORT"):
        monkeypatch.delenv(var, raising=False)
    with open_store("flowcept") as store:
        assert store.find_runs() == []
        assert store.uri.startswith("flowcept (mongodb://")
