"""CLI contract of the foundation: workflows, runs, runs delete, errors and exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from provcausal.cli import cli
from provcausal.stores import open_store
from tests.helpers import chain_run


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_given_empty_store_when_workflows_json_then_empty_array(store_uri: str) -> None:
    open_store(store_uri).close()  # created, empty: read commands never create one
    code, out, _ = run_cli("--store", store_uri, "workflows", "--json")
    assert code == 0
    assert json.loads(out) == []
    code, out, _ = run_cli("--store", store_uri, "runs", "--json")
    assert (code, json.loads(out)) == (0, [])


def test_given_runs_when_listed_then_json_and_table_agree(store_uri: str) -> None:
    with open_store(store_uri) as store:
        store.put_run(chain_run("/r1", label="normal"))
        store.put_run(chain_run("/r2", label="broken"))
    code, out, _ = run_cli(
        "--store", store_uri, "runs", "--workflow", "wf", "--label", "broken", "--json"
    )
    assert code == 0
    (row,) = json.loads(out)
    assert row["label"] == "broken" and row["workflow"] == "wf" and row["tasks"] == 3
    assert row["started_at"].endswith("Z")
    code, out, _ = run_cli("--store", store_uri, "workflows", "--json")
    (wf,) = json.loads(out)
    assert wf == {
        "workflow": "wf",
        "runs": 2,
        "labels": {"broken": 1, "normal": 1},
        "systems": ["test"],
        "tasks": 6,
        "samples": 2,
    }
    code, out, _ = run_cli("--store", store_uri, "runs")
    assert code == 0 and "run_id" in out.splitlines()[0] and len(out.splitlines()) == 3


def test_runs_delete_removes_one_run_and_unknown_run_is_exit_2(store_uri: str) -> None:
    run = chain_run("/r1")
    with open_store(store_uri) as store:
        store.put_run(run)
    code, out, _ = run_cli("--store", store_uri, "runs", "delete", run.run_id, "--json")
    assert code == 0 and json.loads(out) == {"deleted": [run.run_id], "store": store_uri}
    code, out, err = run_cli("--store", store_uri, "runs", "delete", run.run_id)
    assert code == 2 and err.startswith("Error: no run") and out == ""


def test_runs_delete_without_a_selection_names_only_its_own_flags(store_uri: str) -> None:
    import re

    from provcausal.cli import cli

    with open_store(store_uri) as store:
        store.put_run(chain_run("/r1"))
    code, out, err = run_cli("--store", store_uri, "runs", "delete", "--yes")
    assert code == 2 and out == "" and err.startswith("Error: name the runs")
    named = set(re.findall(r"--[a-z-]+", err))
    delete = cli.commands["runs"].commands["delete"]  # type: ignore[attr-defined]
    flags = {opt for p in delete.params for opt in p.opts}
    assert named == {"--workflow", "--label", "--where"} <= flags
    assert "RUN_ID" in err


def test_unreachable_mongodb_is_one_line_exit_3_without_password() -> None:
    from tests.server_process import free_port

    uri = f"mongodb://alice:TopSecret99@127.0.0.1:{free_port()}/flowcept"
    code, out, err = run_cli("--store", uri, "--debug", "workflows")
    assert code == 3
    assert out == ""
    assert "127.0.0.1" in err and "cannot reach MongoDB" in err
    assert "TopSecret99" not in err
    assert err.strip().splitlines()[-1].startswith("Error: ")


def test_store_from_environment_variable(monkeypatch, tmp_path) -> None:
    from provcausal.stores import open_store
    from tests.helpers import chain_run

    monkeypatch.setenv("PROVCAUSAL_STORE", f"sqlite://{tmp_path / 'env.db'}")
    with open_store(f"sqlite://{tmp_path / 'env.db'}") as store:
        store.put_run(chain_run("/r1", workflow="from-env"))
    code, out, _ = run_cli("workflows", "--json")
    assert code == 0 and [w["workflow"] for w in json.loads(out)] == ["from-env"]


def test_every_command_has_help() -> None:
    import click

    def walk(group: click.Group, prefix: list[str]):
        for name, command in group.commands.items():
            yield [*prefix, name], command
            if isinstance(command, click.Group):
                yield from walk(command, [*prefix, name])

    for path, command in walk(cli, []):
        code, out, _ = run_cli(*path, "--help")
        assert code == 0, path
        assert (command.help or "").strip(), f"{path} has no help"
        assert "Usage:" in out
