"""The package as users install it: a built wheel and the editable install both provide
provcausal.importers and provcausal.queries (mapped from the top-level folders)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_and_imports_the_mapped_packages(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("provcausal-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (
        "provcausal/importers/scipipe.py",
        "provcausal/importers/seldon.py",
        "provcausal/queries/lineage.py",
        "provcausal/model/convert.py",
        "provcausal/analysis/engine.py",
        "provcausal/cli/__init__.py",
        "provcausal/py.typed",
    ):
        assert module in names, module
    assert not any(n.startswith(("importers/", "queries/", "tests/")) for n in names)
    target = tmp_path / "site"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import provcausal.importers.scipipe, provcausal.queries.lineage;"
            "import provcausal.importers as i; print(i.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().startswith(str(target))


def test_editable_install_maps_the_folders():
    import provcausal.importers
    import provcausal.queries

    assert Path(provcausal.importers.__file__).parent == ROOT / "importers"
    assert Path(provcausal.queries.__file__).parent == ROOT / "queries"
