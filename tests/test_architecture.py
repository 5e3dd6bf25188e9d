"""The layering, checked from the source (ast): who may import whom, and who may know the
record layout.

- nothing outside ``provcausal/cli`` imports ``provcausal.cli`` (the library never needs click);
- ``provcausal.model`` imports only ``prov``, ``provcausal.errors`` and the standard library;
- provcausal's modules import each other without cycles, counting imports inside functions;
- only ``provcausal/model/`` spells out FlowCept's ``custom_metadata`` field or provcausal's key
  in it: everything else goes through :mod:`provcausal.model.flowcept`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Source folder → the package it is installed as (see pyproject's package-dir).
PACKAGES = {
    ROOT / "provcausal": "provcausal",
    ROOT / "importers": "provcausal.importers",
    ROOT / "queries": "provcausal.queries",
}
#: Every other Python file users or CI run: tests, benchmarks.
OTHER_SOURCES = [ROOT / "tests", ROOT / "benchmarks"]


def module_files() -> dict[str, Path]:
    """provcausal's module names → their files."""
    out: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


MODULES = module_files()


def _under_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imported_names(module: str, path: Path) -> set[str]:
    """Every module ``module`` imports, at module level or inside functions (fully qualified;
    ``from a import b`` gives ``a.b`` when that is a module). ``TYPE_CHECKING`` blocks are
    skipped: they never run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if _under_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                names.add(full if full in MODULES else base)
    return names


def internal(name: str) -> str | None:
    """The provcausal module ``name`` refers to (itself, or the package it is in)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


IMPORTS = {module: imported_names(module, path) for module, path in MODULES.items()}


def test_the_walk_sees_the_package():
    assert {"provcausal.model.convert", "provcausal.importers.scipipe", "provcausal.cli"} <= set(
        MODULES
    )
    # a function-level import is seen: the CLI registers its commands inside a function
    assert "provcausal.cli.commands_query" in IMPORTS["provcausal.cli"]
    # relative and from-imports resolve to modules
    assert "provcausal.model.flowcept" in IMPORTS["provcausal.stores.sqlite"]


def test_nothing_outside_the_cli_imports_the_cli():
    offenders = {
        module: sorted(n for n in names if n == "provcausal.cli" or n.startswith("provcausal.cli."))
        for module, names in IMPORTS.items()
        if not (module == "provcausal.cli" or module.startswith("provcausal.cli."))
    }
    assert {m: n for m, n in offenders.items() if n} == {}


def test_the_model_imports_only_prov_errors_and_the_standard_library():
    allowed_roots = set(sys.stdlib_module_names) | {"prov", "__future__"}
    bad = {}
    for module, names in IMPORTS.items():
        if not module.startswith("provcausal.model"):
            continue
        for name in names:
            if name == "provcausal.errors" or name.startswith("provcausal.model"):
                continue
            if name.split(".")[0] in allowed_roots and not name.startswith("provcausal"):
                continue
            bad.setdefault(module, []).append(name)
    assert bad == {}


def test_provcausal_modules_import_each_other_without_cycles():
    graph = nx.DiGraph()
    for module, names in IMPORTS.items():
        graph.add_node(module)
        for name in names:
            target = internal(name)
            if target is not None and target != module:
                graph.add_edge(module, target)
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == []


def python_sources() -> list[Path]:
    files = [p for p in MODULES.values()]
    for folder in OTHER_SOURCES:
        files.extend(sorted(folder.rglob("*.py")))
    return files


#: Files allowed to spell out the record layout: the model itself.
LAYOUT_OWNERS = ROOT / "provcausal" / "model"
#: FlowCept's field name, split so that this file does not contain it.
FIELD = "custom" + "_metadata"


def _uses_pc_key(tree: ast.AST) -> list[int]:
    """Lines where the string ``"provcausal"`` is used as a key: ``x["provcausal"]``,
    ``x.get("provcausal")``, ``{"provcausal": …}`` inside a dict given to a document field."""
    lines = []
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Subscript):
            key = node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "setdefault", "pop")
            and node.args
        ):
            key = node.args[0]
        if isinstance(key, ast.Constant) and key.value == "provcausal":
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", python_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_model_spells_out_the_record_layout(path):
    if LAYOUT_OWNERS in path.parents or path == Path(__file__).resolve():
        return
    text = path.read_text(encoding="utf-8")
    lines = [i for i, line in enumerate(text.splitlines(), 1) if FIELD in line]
    assert lines == [], f"{path.relative_to(ROOT)} reads {FIELD} by hand; use model.flowcept"
    assert _uses_pc_key(ast.parse(text)) == [], "use provcausal.model.flowcept's accessors"


def test_the_layout_check_catches_both_spellings():
    assert _uses_pc_key(ast.parse('doc["x"].get("provcausal")')) == [1]
    assert _uses_pc_key(ast.parse('meta = doc["x"]["provcausal"]')) == [1]
    assert _uses_pc_key(ast.parse('d = {"provcausal": {"t": []}}')) == []  # a dict of results
