"""The notebooks in docs/notebooks: stored without outputs, and executed headless in CI.

Each notebook runs top to bottom in a Jupyter kernel of this interpreter (a kernel spec
written here, so a fresh virtual environment needs no ``ipykernel install``), through
nbclient, with no network: any error fails the test, and the verdict shown in the notebook
must name the node its example broke. They guard the Python API against breaking its users.
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "docs" / "notebooks"
#: Notebook → the faulty nodes its verdicts must name, in the order they are shown.
EXPECTED = {
    "scipipe_gcratio": ["count1"],
    "nodered_latency": ["Step 3", "Detect", "Rare"],
    "seldon_claims": ["claim-complexity", "claim-complexity"],
    "flowcept_campaign": ["featurize"],
}
KERNEL = "provcausal-test"


def load(name: str) -> dict:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))


def code_cells(book: dict) -> list[str]:
    return ["".join(c["source"]) for c in book["cells"] if c["cell_type"] == "code"]


def test_every_notebook_is_listed() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_stored_without_outputs_in_few_cells(name: str) -> None:
    book = load(name)
    cells = [c for c in book["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells)
    assert 0 < len(cells) <= 15
    typed = [s for s in code_cells(book) if "DiGraph(" in s or "typed_" in s]
    assert len(typed) == (1 if name == "scipipe_gcratio" else 0)  # the one comparison cell


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Jupyter data folder with a kernel spec that starts this interpreter's ipykernel."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "provcausal tests", "language": "python"})
    )
    return root


def execute(name: str, kernel_dir: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Run the notebook in a fresh kernel; the executed notebook (nbclient raises on errors)."""
    import nbformat
    from nbclient import NotebookClient

    for key in [k for k in os.environ if k.startswith(("MONGO_", "LMDB_", "MQ_", "FLOWCEPT_"))]:
        monkeypatch.delenv(key)  # FlowCept's settings come from the notebook's own file only
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("TMPDIR", str(work))  # the notebooks write into tempfile folders
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        book,
        kernel_name=KERNEL,
        timeout=900,
        resources={"metadata": {"path": str(work)}},
    )
    client.execute()
    return json.loads(nbformat.writes(book))


def verdicts(book: dict) -> list[str]:
    """The verdicts the notebook's rich displays show, in order."""
    found = []
    for cell in book["cells"]:
        for output in cell.get("outputs", []):
            page = "".join(output.get("data", {}).get("text/html", ""))
            found += [html.unescape(v) for v in re.findall(r'<p class="verdict">([^<]*)</p>', page)]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_and_names_the_faulty_node(
    name: str, kernel_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = execute(name, kernel_dir, tmp_path, monkeypatch)
    shown = verdicts(book)
    assert len(shown) == len(EXPECTED[name]), shown
    for verdict, node in zip(shown, EXPECTED[name], strict=True):
        assert verdict.startswith(f"{node} explains the change"), verdict
    outputs = [o for c in book["cells"] for o in c.get("outputs", [])]
    assert [o for o in outputs if o["output_type"] == "error"] == []
    # In Jupyter the verbs draw tqdm's notebook progress bar (a widget), not text on stderr.
    bars = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert any("attributing" in "".join(o["data"]["text/plain"]) for o in bars)
    assert any("image/png" in o.get("data", {}) for o in outputs)  # result.plot()
