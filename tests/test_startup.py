"""Start-up: a command imports only what it needs (``provcausal attribute --help`` loads
neither the importers nor pandas; the command list still names every command)."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from provcausal.cli import COMMAND_MODULES, cli

HEAVY = ("pandas", "numpy", "networkx", "sklearn", "scipy", "dowhy", "provcausal.importers")


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_given_attribute_help_when_run_then_no_heavy_module_is_imported() -> None:
    loaded = _modules_after(
        "from provcausal.cli import cli\n"
        "try:\n    cli(['attribute', '--help'], prog_name='provcausal')\n"
        "except SystemExit:\n    pass"
    )
    assert "provcausal.cli.commands_analysis" in loaded
    assert not {m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY}
    assert "provcausal.cli.commands_import" not in loaded


def test_given_the_command_list_when_help_then_every_command_is_there() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = {
        line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()
    }
    assert listed == set(COMMAND_MODULES)
    assert set(cli.commands) == set(COMMAND_MODULES)  # every module registers what it says
