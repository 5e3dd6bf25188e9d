"""Secrets and text (issue 13): passwords are redacted however the URI is written, names that
would break tables are refused, and prov's warnings obey -q."""

from __future__ import annotations

import json

import pymongo
import pytest

from provcausal.examples import scipipe_gcratio
from provcausal.stores.uri import redact_text, redact_uri
from tests.helpers import run_cli
from tests.mongo_server import free_port

SECRETS = ("p@ss", "2Secret", "KeyPw9", "Tok3n", "S3cr%40t", "S3cr@t", "proxyPw7")


@pytest.mark.parametrize(
    "uri, shown",
    [
        (
            "mongodb://alice:p@ss@2Secret@db.example:27017/flowcept",
            "mongodb://alice:***@db.example:27017/flowcept",
        ),
        (
            "mongodb+srv://bob:2Secret@cluster0.example.net/db?retryWrites=true"
            "&tlsCertificateKeyFilePassword=KeyPw9&appName=x",
            "mongodb+srv://bob:***@cluster0.example.net/db?retryWrites=true"
            "&tlsCertificateKeyFilePassword=***&appName=x",
        ),
        (
            "mongodb://h1,h2/?authMechanism=MONGODB-AWS"
            "&authMechanismProperties=AWS_SESSION_TOKEN:Tok3n&proxyPassword=proxyPw7",
            "mongodb://h1,h2/?authMechanism=MONGODB-AWS&authMechanismProperties=***"
            "&proxyPassword=***",
        ),
        ("mongodb://carol:S3cr%40t@h/db", "mongodb://carol:***@h/db"),
        ("mongodb://only-user@h/db", "mongodb://only-user@h/db"),
    ],
)
def test_redact_every_form(uri, shown):
    assert redact_uri(uri) == shown
    text = f"could not connect with {uri} (user alice, password {uri.split('@')[0][-6:]})"
    redacted = redact_text(text, uri)
    for secret in SECRETS:
        if secret in uri or secret.replace("%40", "@") in uri:
            assert secret not in redacted, redacted


def test_decoded_password_in_a_message_is_redacted():
    uri = "mongodb://carol:S3cr%40t@h/db"
    assert redact_text("auth failed for password S3cr@t", uri) == "auth failed for password ***"


@pytest.mark.parametrize(
    "query",
    [
        "authMechanism=GSSAPI&authMechanismProperties=CANONICALIZE_HOST_NAME:maybe",
        "tlsCertificateKeyFilePassword=KeyPw9&authMechanism=MONGODB-OIDC",
    ],
)
def test_client_errors_outside_pymongo_hierarchy_are_clean_and_redacted(query):
    uri = f"mongodb://alice:p@ss@2Secret@127.0.0.1:{free_port()}/db?{query}"
    result = run_cli("--debug", "runs", store=uri)
    code, err = result.code, result.err
    assert code in (2, 3), err
    assert "internal error" not in err
    for secret in SECRETS:
        assert secret not in err, err
    assert err.strip().splitlines()[-1].startswith("Error: ")


def test_port_out_of_range_is_a_clean_error():
    result = run_cli("runs", store="mongodb://alice:2Secret@127.0.0.1:99999/db")
    line = result.error(2)
    assert "2Secret" not in line and "internal error" not in line


def test_keyerror_from_the_driver_is_clean_and_redacted(monkeypatch, mongo_base_uri):
    uri = mongo_base_uri.replace("mongodb://", "mongodb://alice:2Secret@") + "/pc_keyerror"

    def broken(*args, **kwargs):
        raise KeyError(f"no option for {uri}")

    monkeypatch.setattr(pymongo, "MongoClient", broken)
    result = run_cli("--debug", "runs", store=uri)
    err = result.err
    assert result.code == 2, err
    assert "2Secret" not in err and "internal error" not in err
    assert "alice:***@" in err


def test_keyerror_while_reading_is_clean_and_redacted(monkeypatch, mongo_uri):
    uri = mongo_uri.replace("mongodb://", "mongodb://alice:2Secret@")
    from pymongo.collection import Collection

    from provcausal.stores import open_store
    from tests.helpers import chain_run

    with open_store(mongo_uri) as store:  # a store to read (reading never creates one)
        store.put_run(chain_run("/r1"))

    def broken(self, *args, **kwargs):
        raise KeyError(f"cursor lost for {uri}")

    monkeypatch.setattr(Collection, "find", broken)
    line = run_cli("runs", store=mongo_uri).error(1)
    assert "internal error" not in line
    assert line.startswith("Error: MongoDB client failed while reading workflows")
    assert "2Secret" not in line


@pytest.mark.parametrize("bad", ["", "  ", "two\nlines", "tab\there", "nul\x00"])
def test_names_that_break_tables_are_refused(tmp_path, store_uri, bad):
    scipipe_gcratio.write_run(tmp_path / "run", seed=1)
    run = str(tmp_path / "run")
    run_cli("import", "scipipe", run, "--workflow", "gc", store=store_uri).ok()
    for args in (
        ["import", "scipipe", run, "--workflow", bad],
        ["import", "scipipe", run, "--workflow", "gc", "--label", bad],
        ["runs", "--workflow", bad],
        ["nodes", "--workflow", bad],
    ):
        line = run_cli(*args, store=store_uri).error(2, "Invalid value for", usage=True)
        assert "internal error" not in line
    assert len(run_cli("runs", "--json", store=store_uri).ok().json()) == 1  # nothing else stored


def test_names_stored_by_others_are_escaped_in_tables(store_uri):
    from provcausal.stores import open_store
    from tests.helpers import chain_run

    with open_store(store_uri) as store:  # e.g. captured by FlowCept, not through provcausal
        store.put_run(chain_run("/r1", workflow="evil\nname", label="x\ry"))
    result = run_cli("workflows", store=store_uri).ok()
    assert "evil\\nname" in result.out
    assert len(result.out.strip().splitlines()) == 2  # header and one row
    result = run_cli("runs", "--json", store=store_uri).ok()
    assert result.json()[0]["workflow"] == "evil\nname"  # JSON keeps the value


def test_prov_warnings_are_silent_with_quiet(tmp_path, sqlite_uri, monkeypatch):
    import warnings

    from prov.model import ProvFutureRejectionWarning
    from provcausal.importers import provfile

    real = provfile.read_prov

    def warned(text, path):  # what prov does for records a future prov will reject
        warnings.warn(
            "prov 3.3.0 will reject this (#472)", ProvFutureRejectionWarning, stacklevel=1
        )
        return real(text, path)

    monkeypatch.setattr(provfile, "read_prov", warned)
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"prefix": {"ex": "http://example.org/"}, "activity": {"ex:a": {}}}))
    loud = run_cli("import", "prov", path, "-w", "p", store=sqlite_uri).ok()
    assert "Warning: ProvFutureRejectionWarning: prov 3.3.0 will reject this" in loud.err
    for args in (["-q", "import", "prov", path, "-w", "p"],
                 ["import", "prov", path, "-w", "p", "-q"]):  # fmt: skip
        quiet = run_cli(*args, store=sqlite_uri).ok()
        assert quiet.err == "", quiet.err
