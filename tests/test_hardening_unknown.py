"""Round three (issue 22): a node is found by its id or by the name its source gives it
(Node-RED), and a typo in ``--workflow``, ``--label`` or ``--node`` is exit 2 naming the
unknown name (with the closest known one), never an empty answer with exit 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli


@pytest.fixture
def nodered_store(store_uri: str, tmp_path: Path) -> str:
    folder = tmp_path / "nr"
    run_cli("example", "nodered", str(folder), "--runs", "5").ok()
    for label in ("normal", "broken"):
        run_cli("import", "nodered", str(folder / f"{label}.log"), "--flow",
                str(folder / "flows.json"), "-w", "chain", "-l", label,
                store=store_uri).ok()  # fmt: skip
    return store_uri


def test_node_name_works_where_the_id_does(nodered_store):
    nodes = run_cli("nodes", "-w", "chain", "--json", store=nodered_store).ok().json()
    step = next(n for n in nodes if n["label"] == "Step 2")
    by_id = run_cli("tasks", "-w", "chain", "--node", step["node"], "--json", store=nodered_store)
    by_name = run_cli("tasks", "-w", "chain", "--node", "Step 2", "--json", store=nodered_store)
    assert by_name.ok().json() == by_id.ok().json()
    assert len(by_name.json()) == step["tasks"] > 0
    run_id = by_id.json()[0]["run_id"]
    one_run = run_cli("tasks", "--run", run_id, "--node", "Step 2", "--json", store=nodered_store)
    assert {t["node"] for t in one_run.ok().json()} == {step["node"]}


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["tasks", "-w", "chain", "--node", "Step 22"], ["unknown node 'Step 22'", "'Step 2'"]),
        (["tasks", "-w", "chian", "--node", "Step 2"], ["unknown workflow 'chian'", "'chain'"]),
        (["runs", "-w", "chian"], ["unknown workflow 'chian'", "did you mean 'chain'?"]),
        (["runs", "-l", "brokne"], ["unknown label 'brokne'", "did you mean 'broken'?"]),
        (["runs", "-w", "chain", "-l", "normal,brokne"], ["unknown label 'brokne'"]),
        (["nodes", "-w", "chian"], ["unknown workflow 'chian'"]),
        (["runs", "delete", "-w", "chian", "-y"], ["unknown workflow 'chian'"]),
        (["runs", "delete", "-w", "chain", "-l", "x", "-y"], ["unknown label 'x'"]),
        (["label", "-w", "chian", "--where", "name=chain", "--set", "a"], ["unknown workflow"]),
        (["graph", "-w", "chian", "-o", "{tmp}/g.dot"], ["unknown workflow 'chian'"]),
    ],
)
def test_typos_are_exit_2_with_the_closest_name(nodered_store, tmp_path, args, fragments):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    run_cli(*args, store=nodered_store).error(2, *fragments)
    assert not (tmp_path / "g.dot").exists()


def test_known_names_with_nothing_selected_stay_empty_answers(nodered_store):
    result = run_cli("runs", "-w", "chain", "-l", "normal", "--since", "2999-01-01",
                     store=nodered_store)  # fmt: skip
    assert result.ok().out.strip() == "(none)"
    result = run_cli("runs", "delete", "-w", "chain", "--where", "name=other", store=nodered_store)
    assert "no runs match" in result.ok().out
