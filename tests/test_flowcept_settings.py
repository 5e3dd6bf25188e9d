"""``--store flowcept``: FlowCept 1.0.3's settings resolved as FlowCept itself resolves them.

The reference is FlowCept's own loader (``flowcept.configs``, run in a subprocess because it
reads its settings once, at import): for each settings file and environment, provcausal must
reach the same database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provcausal.errors import BadInputError
from provcausal.stores.flowcept_settings import load_flowcept_settings
from tests.helpers import CliResult, run_cli

ENV_VARS = (
    "FLOWCEPT_SETTINGS_PATH",
    "FLOWCEPT_USE_DEFAULT",
    "MONGO_ENABLED",
    "MONGO_URI",
    "MONGO_HOST",
    "MONGO_PORT",
    "LMDB_ENABLED",
    "LMDB_PATH",
    "FC_MONGO_PORT",
    "FC_HOST",
)

_PROBE = (
    "import json, flowcept.configs as c; print(json.dumps([c.MONGO_ENABLED, c.MONGO_URI, "
    "c.MONGO_HOST, c.MONGO_PORT, c.MONGO_DB, c.LMDB_ENABLED, c.LMDB_SETTINGS.get('path')]))"
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def flowcept_reads(tmp_path: Path, env: dict[str, str]) -> list:
    """What FlowCept 1.0.3's own loader resolves under ``env``."""
    full = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    full.update(env)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=full,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = load_flowcept_settings()
    return [s.mongo_enabled, s.mongo_uri, s.mongo_host, s.mongo_port, s.mongo_db, s.lmdb_enabled,
            s.lmdb_path]  # fmt: skip


SETTINGS = {
    "interpolated": (
        "databases:\n  mongodb:\n    enabled: true\n    host: ${oc.env:FC_HOST,db.example}\n"
        "    port: ${oc.env:FC_MONGO_PORT,27017}\n    db: fc\n  lmdb:\n    enabled: false\n"
    ),
    "disabled_mongo": (
        "databases:\n  mongodb:\n    enabled: false\n    host: h\n  lmdb:\n    enabled: true\n"
        "    path: ${databases.mongodb.host}_lmdb\n"
    ),
    "no_databases": "log:\n  log_file_level: error\n",
}

CASES = [
    ("interpolated", {}),
    ("interpolated", {"FC_MONGO_PORT": "27999", "FC_HOST": "other"}),
    ("interpolated", {"MONGO_PORT": "1234", "MONGO_URI": "mongodb://u@x:1/fc"}),
    ("interpolated", {"FLOWCEPT_USE_DEFAULT": "yes", "MONGO_HOST": "ignored"}),
    ("disabled_mongo", {}),
    ("disabled_mongo", {"MONGO_ENABLED": "true", "LMDB_PATH": "/tmp/elsewhere"}),
    ("no_databases", {"MONGO_ENABLED": "1", "MONGO_HOST": "envhost", "LMDB_ENABLED": "t"}),
    (None, {"LMDB_ENABLED": "true"}),
]


@pytest.mark.parametrize(("name", "env"), CASES)
def test_settings_resolve_as_flowcept_resolves_them(name, env, tmp_path, clean_env) -> None:
    env = dict(env)
    path = tmp_path / "missing.yaml"
    if name is not None:
        path = tmp_path / f"{name}.yaml"
        path.write_text(SETTINGS[name])
    env["FLOWCEPT_SETTINGS_PATH"] = str(path)
    assert ours(env, clean_env) == flowcept_reads(tmp_path, env)


def test_interpolation_and_enabled_flags(tmp_path, clean_env) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SETTINGS["interpolated"])
    clean_env.setenv("FLOWCEPT_SETTINGS_PATH", str(path))
    clean_env.setenv("FC_MONGO_PORT", "27999")
    s = load_flowcept_settings()
    assert (s.mongo_port, s.database()) == (27999, "mongodb")
    assert s.mongo_connection_uri() == "mongodb://db.example:27999/fc"
    path.write_text(SETTINGS["disabled_mongo"])
    s = load_flowcept_settings()
    assert (s.mongo_enabled, s.database(), s.lmdb_path) == (False, "lmdb", "h_lmdb")


def _cli(*args: str) -> CliResult:
    return run_cli(*args, store="flowcept")


def test_bad_settings_are_one_line_errors_naming_file_and_key(tmp_path, clean_env) -> None:
    path = tmp_path / "s.yaml"
    clean_env.setenv("FLOWCEPT_SETTINGS_PATH", str(path))
    path.write_text("databases:\n  mongodb:\n    enabled: true\n    port: ${oc.env:NO_SUCH_VAR}\n")
    _cli("workflows").error(2, str(path), "'databases.mongodb.port'", "NO_SUCH_VAR")

    path.unlink()
    path.mkdir()  # exists, but cannot be read as a file
    _cli("runs").error(2, str(path))

    other = tmp_path / "t.yaml"
    clean_env.setenv("FLOWCEPT_SETTINGS_PATH", str(other))
    other.write_text("databases:\n  mongodb:\n    enabled: false\n  lmdb:\n    enabled: false\n")
    _cli("workflows").error(2, str(other), "enables no database")


def test_lmdb_path_that_is_not_lmdb_names_file_and_key(tmp_path, clean_env) -> None:
    not_lmdb = tmp_path / "not_lmdb"
    not_lmdb.mkdir()
    (not_lmdb / "data.mdb").write_bytes(b"this is not an LMDB file" * 200)
    path = tmp_path / "s.yaml"
    path.write_text(
        "databases:\n  mongodb:\n    enabled: false\n"
        f"  lmdb:\n    enabled: true\n    path: {not_lmdb}\n"
    )
    clean_env.setenv("FLOWCEPT_SETTINGS_PATH", str(path))
    _cli("workflows").error(2, str(path), "'databases.lmdb.path'", str(not_lmdb))
    assert not (not_lmdb / "lock.mdb").exists()  # nothing created in someone else's folder
    clean_env.setenv("LMDB_PATH", str(tmp_path / "absent"))
    with pytest.raises(BadInputError, match="not an LMDB environment"):
        from provcausal.stores import open_store

        open_store("flowcept")


def test_flowcept_store_reaches_the_enabled_mongodb(mongo_uri, tmp_path, clean_env) -> None:
    from provcausal.stores import open_store

    host, port = mongo_uri.split("//", 1)[1].split("/", 1)[0].split(":")
    path = tmp_path / "s.yaml"
    path.write_text(
        "databases:\n  mongodb:\n    enabled: true\n    host: ${oc.env:FC_HOST,nowhere}\n"
        f"    port: ${{oc.env:FC_MONGO_PORT,1}}\n    db: {mongo_uri.rsplit('/', 1)[1]}\n"
    )
    clean_env.setenv("FLOWCEPT_SETTINGS_PATH", str(path))
    clean_env.setenv("FC_HOST", host)
    clean_env.setenv("FC_MONGO_PORT", port)
    with open_store("flowcept") as store:
        assert store.find_runs() == []
        assert store.uri == f"flowcept (mongodb://{host}:{port}/{mongo_uri.rsplit('/', 1)[1]})"
