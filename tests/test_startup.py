"""Start-up: a command imports only what it needs (``provcausal attribute --help`` loads
neither the importers nor pandas; the command list still names every command)."""

from __future__ import annotations

import subprocess
import sys

import pytest
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


@pytest.fixture(scope="module")
def readme_uri(tmp_path_factory) -> str:
    """The README workflow, 200 runs per side, imported with the SciPipe importer."""
    from provcausal.examples import scipipe_gcratio

    tmp_path = tmp_path_factory.mktemp("readme")
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    for label, seed, extra in (("normal", 1, {}), ("broken", 2, {"count1_max": 10})):
        scipipe_gcratio.write_runs(tmp_path / label, 200, seed=seed, **extra)
        imported = CliRunner().invoke(
            cli,
            [
                "--store",
                uri,
                "import",
                "scipipe",
                str(tmp_path / label),
                "-w",
                "wf",
                "--label",
                label,
            ],
        )
        assert imported.exit_code == 0, imported.output
    return uri


def test_given_a_fast_attribution_then_neither_sklearn_nor_scipy_is_imported(
    readme_uri: str,
) -> None:
    """The ``fast`` engine is numpy and a k-d tree (pykdtree): scikit-learn (0.4 s to
    import) and scipy (scipy.special 0.085 s, scipy.spatial 0.12 s) stay unloaded, here on
    the README workflow whose ``gcratio`` needs the local model, whose roots need the KS
    test and whose local test needs Student's t."""
    loaded = _modules_after(
        "import contextlib, io, json\n"
        "from provcausal.cli import cli\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        f"        cli(['--store', {readme_uri!r}, 'attribute', '--workflow', 'wf', '--baseline',"
        " 'normal', '--comparison', 'broken', '--json'], prog_name='provcausal')\n"
        "    except SystemExit as stop:\n"
        "        assert not stop.code, out.getvalue()\n"
        "assert json.loads(out.getvalue())['attributions'][0]['node'] == 'count1'\n"
        "from provcausal.analysis import prepare\n"
        "from provcausal.analysis.engine import attribute_frames\n"
        "from provcausal.stores import open_store\n"
        f"with open_store({readme_uri!r}) as store:\n"
        "    prep = prepare(store, 'wf', 'normal', 'broken')\n"
        "models = attribute_frames(prep.graph, prep.baseline, prep.comparison, 'gcratio').models\n"
        "assert models['gcratio'] == 'trend_neighbours', models"
    )
    assert "provcausal.analysis.engine" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("sklearn", "scipy")}
    assert "pykdtree.kdtree" in loaded


#: Counts the collector's passes in the process and prints them with the frozen objects.
GC_REPORT = (
    "import atexit, gc, sys\n"
    "passes = []\n"
    "gc.callbacks.append(lambda phase, info: passes.append(1) if phase == 'start' else None)\n"
    "atexit.register(lambda: print(len(passes), gc.get_freeze_count(), gc.isenabled(),"
    " file=sys.stderr))\n"
)


def _gc_report(readme_uri: str, entry: str) -> tuple[int, int, bool]:
    args = ["--store", readme_uri, "attribute", "--workflow", "wf", "--baseline", "normal",
            "--comparison", "broken", "--json"]  # fmt: skip
    script = GC_REPORT + (
        f"sys.argv = ['provcausal', *{args!r}]\n"
        "from provcausal.cli import cli, main\n"
        + ("main()\n" if entry == "main" else
           "try:\n    cli(sys.argv[1:], prog_name='provcausal')\nexcept SystemExit:\n    pass\n")
    )  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    passes, frozen, enabled = done.stderr.split()[-3:]
    return int(passes), int(frozen), enabled == "True"


def test_given_the_console_script_then_the_analysis_imports_without_collections(
    readme_uri: str,
) -> None:
    """The console command imports pandas, networkx and the analysis with the collector
    paused and freezes what they made (``provcausal.cli.imports``): about 200 passes over
    their objects took 0.04 s of a 0.9 s attribution. ``cli()`` called from Python leaves
    its host's collector alone."""
    passes, frozen, enabled = _gc_report(readme_uri, "main")
    host_passes, host_frozen, host_enabled = _gc_report(readme_uri, "cli")
    assert enabled and host_enabled
    assert frozen > 50_000 and host_frozen == 0
    assert passes < host_passes / 3, (passes, host_passes)
