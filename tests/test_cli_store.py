"""CLI contract of the foundation: workflows, runs, runs delete, errors and exit codes."""

from __future__ import annotations

from provcausal.cli import cli
from provcausal.stores import open_store
from tests.helpers import chain_run, run_cli


def test_given_empty_store_when_workflows_json_then_empty_array(store_uri: str) -> None:
    open_store(store_uri).close()  # created, empty: read commands never create one
    assert run_cli("workflows", "--json", store=store_uri).ok().json() == []
    assert run_cli("runs", "--json", store=store_uri).ok().json() == []


def test_given_runs_when_listed_then_json_and_table_agree(store_uri: str) -> None:
    with open_store(store_uri) as store:
        store.put_run(chain_run("/r1", label="normal"))
        store.put_run(chain_run("/r2", label="broken"))
    (row,) = (
        run_cli("runs", "--workflow", "wf", "--label", "broken", "--json", store=store_uri)
        .ok()
        .json()
    )
    assert row["label"] == "broken" and row["workflow"] == "wf" and row["tasks"] == 3
    assert row["started_at"].endswith("Z")
    (wf,) = run_cli("workflows", "--json", store=store_uri).ok().json()
    assert wf == {
        "workflow": "wf",
        "runs": 2,
        "labels": {"broken": 1, "normal": 1},
        "systems": ["test"],
        "tasks": 6,
        "samples": 2,
    }
    lines = run_cli("runs", store=store_uri).ok().out.splitlines()
    assert lines[0].split()[0] == "run_id" and len(lines) == 3
    assert sorted(line.split()[0] for line in lines[1:]) == sorted(
        chain_run(s).run_id for s in ("/r1", "/r2")
    )


def test_runs_delete_removes_one_run_and_unknown_run_is_exit_2(store_uri: str) -> None:
    run = chain_run("/r1")
    with open_store(store_uri) as store:
        store.put_run(run)
    result = run_cli("runs", "delete", run.run_id, "--json", store=store_uri)
    assert result.ok().json() == {"deleted": [run.run_id], "store": store_uri}
    with open_store(store_uri) as store:
        assert store.find_runs() == [] and store.count_tasks() == 0
    run_cli("runs", "delete", run.run_id, store=store_uri).error(2, f"no run {run.run_id!r}")


def test_runs_delete_without_a_selection_names_only_its_own_flags(store_uri: str) -> None:
    import re

    from provcausal.cli import cli

    with open_store(store_uri) as store:
        store.put_run(chain_run("/r1"))
    err = run_cli("runs", "delete", "--yes", store=store_uri).error(2, "name the runs")
    assert err.startswith("Error: name the runs")
    named = set(re.findall(r"--[a-z-]+", err))
    delete = cli.commands["runs"].commands["delete"]  # type: ignore[attr-defined]
    flags = {opt for p in delete.params for opt in p.opts}
    assert named == {"--workflow", "--label", "--where"} <= flags
    assert "RUN_ID" in err


def test_unreachable_mongodb_is_one_line_exit_3_without_password() -> None:
    from tests.server_process import free_port

    uri = f"mongodb://alice:TopSecret99@127.0.0.1:{free_port()}/flowcept"
    result = run_cli("--debug", "workflows", store=uri)
    line = result.error(3, "cannot reach MongoDB at 127.0.0.1", traceback=True)
    assert "TopSecret99" not in result.err
    assert len(line) < 300


def test_store_from_environment_variable(monkeypatch, tmp_path) -> None:
    from provcausal.stores import open_store
    from tests.helpers import chain_run

    monkeypatch.setenv("PROVCAUSAL_STORE", f"sqlite://{tmp_path / 'env.db'}")
    with open_store(f"sqlite://{tmp_path / 'env.db'}") as store:
        store.put_run(chain_run("/r1", workflow="from-env"))
    workflows = run_cli("workflows", "--json").ok().json()
    assert [w["workflow"] for w in workflows] == ["from-env"]


def test_every_command_has_help() -> None:
    import click

    def walk(group: click.Group, prefix: list[str]):
        for name, command in group.commands.items():
            yield [*prefix, name], command
            if isinstance(command, click.Group):
                yield from walk(command, [*prefix, name])

    for path, command in walk(cli, []):
        out = run_cli(*path, "--help").ok().out
        assert (command.help or "").strip(), f"{path} has no help"
        assert out.startswith(f"Usage: cli {' '.join(path)}"), out
