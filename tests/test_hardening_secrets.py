"""Round three (issue 22): no password in any message however the URI is written, no
resolved ``${oc.env:…}`` secret in a settings error, and redaction in linear time."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from provcausal.stores.uri import redact_text, redact_uri
from tests.helpers import finish, run_cli, start_cli

SECRET = "hunter2-s3cr3t"
SLASHES = ["mongodb:/bob:{pw}@db.example/x", "mongodb:bob:{pw}@db.example/x",
           "mongodb+srv:/bob:{pw}@db.example/x"]  # fmt: skip


def _no_settings(tmp_path: Path) -> dict[str, str]:
    return {"FLOWCEPT_SETTINGS_PATH": str(tmp_path / "none.yaml"), "FLOWCEPT_USE_DEFAULT": ""}


@pytest.mark.parametrize("form", SLASHES)
def test_one_slash_or_none_is_redacted(form):
    uri = form.format(pw=SECRET)
    assert SECRET not in redact_uri(uri)
    assert SECRET not in redact_uri(f"error: {uri.upper()} refused")


@pytest.mark.parametrize("form", SLASHES)
def test_one_slash_uri_never_printed_with_its_password(tmp_path, form):
    uri = form.format(pw=SECRET)
    line = run_cli("runs", store=uri).error(2, "bob:***@")
    assert SECRET not in line
    env = {**_no_settings(tmp_path), "MONGO_ENABLED": "true", "MONGO_URI": uri}
    result = run_cli("runs", store="flowcept", env=env)
    assert result.code == 2 and SECRET not in result.err, result.err
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"databases:\n  mongodb:\n    enabled: true\n    uri: '{uri}'\n")
    env = {"FLOWCEPT_SETTINGS_PATH": str(settings), "FLOWCEPT_USE_DEFAULT": ""}
    result = run_cli("runs", store="flowcept", env=env)
    assert result.code == 2 and SECRET not in result.err, result.err


@pytest.mark.parametrize("key", ["port", "uri", "db", "host"])
def test_interpolated_secret_never_resolved_into_a_message(tmp_path, monkeypatch, key):
    values = {"uri": f"mongodb://u:{SECRET}@[::1", "db": f"{SECRET}/x y"}
    monkeypatch.setenv("SECRET_VALUE", values.get(key, SECRET))
    for var in ("MONGO_URI", "MONGO_HOST", "MONGO_PORT", "MONGO_ENABLED"):
        monkeypatch.delenv(var, raising=False)
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "databases:\n  mongodb:\n    enabled: true\n"
        + ("    port: 1\n" if key != "port" else "")
        + f"    {key}: ${{oc.env:SECRET_VALUE}}\n"
    )
    env = {"FLOWCEPT_SETTINGS_PATH": str(settings), "FLOWCEPT_USE_DEFAULT": ""}
    result = run_cli("--debug", "runs", store="flowcept", env=env)
    assert result.code in (2, 3), result.err
    assert SECRET not in result.err and "hunter2" not in result.err, result.err
    assert "${oc.env:SECRET_VALUE}" in result.err.splitlines()[-1]


@pytest.mark.parametrize(
    "uri",
    [
        "mongodb://u:pw1234@h/x?" + "a" * 40_000,
        "mongodb://u:pw1234@h/x?" + "password" * 5_000,
        "mongodb://u:pw1234@h/x?" + "&tokenx=abcd" * 4_000,
        "mongodb:/" + "a" * 40_000,
        "x" * 40_000,
    ],
)
def test_redaction_is_linear_and_echo_is_capped(uri):
    started = time.perf_counter()
    redact_text(f"failed: {uri} and {uri}", uri)
    assert time.perf_counter() - started < 1.0
    started = time.perf_counter()
    result = run_cli("runs", store=uri)
    assert time.perf_counter() - started < 5.0
    assert result.code == 2 and len(result.err) < 2_000 and "pw1234" not in result.err


def test_bracketed_host_without_its_bracket_is_a_usage_error():
    run_cli("runs", store="mongodb://[::1").error(2, "bad MongoDB URI")
    run_cli("runs", store="mongodb://u:pw1234@[::1/x").error(2, "u:***@")


def test_settings_path_naming_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "settings.yaml"
    os.mkfifo(fifo)
    env = {"FLOWCEPT_SETTINGS_PATH": str(fifo), "FLOWCEPT_USE_DEFAULT": ""}
    proc = start_cli("runs", store="flowcept", env=env)
    try:
        result = finish(proc, timeout=30)
    finally:
        proc.kill()
    result.error(2, str(fifo), "regular file", "FIFO")
