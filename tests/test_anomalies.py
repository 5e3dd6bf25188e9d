"""anomalies: one bad sample's target value explained by gcm.attribute_anomalies."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from provcausal.cli import cli
from provcausal.examples import nodered_chain

pytestmark = pytest.mark.slow


def test_one_slow_message_is_blamed_on_the_delayed_node(tmp_path, sqlite_uri):
    flow = nodered_chain.chain_flow(4)
    nodered_chain.write_trace_log(tmp_path / "normal.log", flow, 60, seed=41)
    nodered_chain.write_trace_log(tmp_path / "slow.log", flow, 3, seed=42, delay_step=3)
    runner = CliRunner()
    for label in ("normal", "slow"):
        result = runner.invoke(
            cli,
            [
                "--store",
                sqlite_uri,
                "-q",
                "import",
                "nodered",
                str(tmp_path / f"{label}.log"),
                "-w",
                "chain",
                "-l",
                label,
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
    slow_run = json.loads(result.stdout)["run_ids"][0]
    result = runner.invoke(
        cli,
        [
            "--store",
            sqlite_uri,
            "anomalies",
            "-w",
            "chain",
            "-s",
            f"{slow_run}/line-2",
            "-b",
            "normal",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    delayed = [n for n in flow if n.get("name") == "Step 3"][0]["id"]
    assert report["attributions"][0]["node"] == delayed
    assert report["metric"] == "latency" and report["baseline_samples"] == 60
    result = runner.invoke(
        cli, ["--store", sqlite_uri, "anomalies", "-w", "chain", "-s", "line-999"]
    )
    assert result.exit_code == 2 and "no sample 'line-999'" in result.stderr
