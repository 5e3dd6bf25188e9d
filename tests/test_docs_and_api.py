"""The README's Python example runs, the public names import, docstring examples hold."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path

import pytest

import provcausal

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_resolves():
    for name in provcausal.__all__:
        assert getattr(provcausal, name) is not None, name


def test_readme_python_example_runs(tmp_path, monkeypatch):
    from provcausal.examples.scipipe_gcratio import write_runs

    write_runs(tmp_path / "demo" / "normal", 12, seed=1)
    write_runs(tmp_path / "demo" / "broken", 12, seed=2, count1_max=10)
    monkeypatch.chdir(tmp_path)
    readme = (ROOT / "README.md").read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", readme, re.S))  # in order
    namespace: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "README", "exec"), namespace)
    assert namespace["result"].table.iloc[0]["node"] == "count1"
    assert sorted(namespace["graph"].edges)[0] == ("atcount1", "atsum")
    assert namespace["data"].shape == (24, 9)
    assert namespace["text"].startswith("document") and namespace["names"] == {}


def test_readme_starts_with_the_two_setup_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert "provcausal attribute" in block[0] and "pip install ." in block[0]
    assert block[1].endswith("pytest")


def _modules_with_examples() -> list[str]:
    """Every provcausal module whose source holds a ``>>>`` example (found, not listed by
    hand, so an example moved to another module is still run)."""
    import provcausal.importers
    import provcausal.queries

    found = []
    for package in (provcausal, provcausal.importers, provcausal.queries):
        modules = [package.__name__] + [
            info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        ]
        for name in modules:
            spec = importlib.util.find_spec(name)
            if spec and spec.origin and ">>>" in Path(spec.origin).read_text(encoding="utf-8"):
                found.append(name)
    return sorted(set(found))


EXAMPLES = _modules_with_examples()


def test_examples_are_found():
    assert {
        "provcausal",
        "provcausal.model.times",
        "provcausal.stores.uri",
        "provcausal.stores.codec",
        "provcausal.importers",
    } <= set(EXAMPLES)


@pytest.mark.parametrize("module", EXAMPLES)
def test_docstring_examples(module):
    failures, attempted = doctest.testmod(importlib.import_module(module))
    assert (failures, attempted > 0) == (0, True), (failures, attempted)  # no examples: no test
