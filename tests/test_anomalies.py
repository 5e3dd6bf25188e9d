"""anomalies: one bad sample's target value explained by gcm.attribute_anomalies."""

from __future__ import annotations

import pytest

from provcausal.examples import nodered_chain
from tests.helpers import run_cli

pytestmark = pytest.mark.slow


def test_one_slow_message_is_blamed_on_the_delayed_node(tmp_path, sqlite_uri):
    flow = nodered_chain.chain_flow(4)
    nodered_chain.write_trace_log(tmp_path / "normal.log", flow, 60, seed=41)
    nodered_chain.write_trace_log(tmp_path / "slow.log", flow, 3, seed=42, delay_step=3)
    for label in ("normal", "slow"):
        log = tmp_path / f"{label}.log"
        result = run_cli(
            *("-q", "import", "nodered", log, "-w", "chain", "-l", label, "--json"),
            store=sqlite_uri,
        )
        (run_id,) = result.ok().json()["run_ids"]
    slow_run = run_id  # the last import's
    report = (
        run_cli(
            *("anomalies", "-w", "chain", "-s", f"{slow_run}/line-2", "-b", "normal", "--json"),
            store=sqlite_uri,
        )
        .ok()
        .json()
    )
    delayed = [n for n in flow if n.get("name") == "Step 3"][0]["id"]
    assert report["attributions"][0]["node"] == delayed
    assert report["metric"] == "latency" and report["baseline_samples"] == 60
    result = run_cli("anomalies", "-w", "chain", "-s", "line-999", store=sqlite_uri)
    result.error(2, "no sample 'line-999'")
