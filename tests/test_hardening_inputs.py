"""Every input file is survivable (issue 22, round three): symlinked run folders, names and
strings that are not text, deep nesting, YAML alias bombs, odd PROV documents, formats told
by their content wherever it starts, and inputs built to make a parser slow. Each is read, or
refused in one line naming the file with exit 2 (skipped by ``--skip-bad``)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from provcausal.examples import nodered_chain, scipipe_gcratio
from provcausal.stores import open_store
from tests.helpers import CliResult, run_cli

PROV_DOC = {"prefix": {"ex": "http://example.org/"}, "activity": {"ex:a": {}}}


def store_of(tmp_path: Path) -> str:
    return f"sqlite://{tmp_path / 'store.db'}"


def imported(store: str, *args: object) -> CliResult:
    return run_cli("import", *args, "--workflow", "wf", store=store)


def runs(store: str) -> int:
    with open_store(store) as opened:
        return len(opened.find_runs())


# 6. symlinked run folders ---------------------------------------------------------------------


def test_symlinked_run_folders_are_followed_each_real_folder_once(tmp_path: Path) -> None:
    real, links = tmp_path / "real", tmp_path / "runs"
    links.mkdir()
    for seed in (1, 2):
        scipipe_gcratio.write_run(real / f"r{seed}", seed=seed)
        (links / f"r{seed}").symlink_to(real / f"r{seed}")
    (links / "r1-again").symlink_to(real / "r1")
    (real / "r1" / "up").symlink_to(links)  # a cycle through both folders
    (links / "self").symlink_to(links)  # a link back to the folder being walked
    store = store_of(tmp_path)
    result = imported(store, "scipipe", links).ok()
    assert runs(store) == 2
    assert f"{links / 'self'}: skipped: a symlink loop" in result.err
    assert f"{links / 'r1-again'}: skipped: the same folder as" in result.err
    imported(store, "auto", links).ok()
    assert runs(store) == 2


# 8. names and strings that are not text -------------------------------------------------------


def _bytes_name(folder: Path, name: bytes) -> Path:
    return Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))


def _bad_named_inputs(tmp_path: Path) -> dict[str, Path]:
    """Per importer, a folder holding one good input and one whose name is not UTF-8."""
    made: dict[str, Path] = {}
    sp = tmp_path / "sp"
    scipipe_gcratio.write_run(sp / "good", seed=1)
    scipipe_gcratio.write_run(_bytes_name(sp, b"r\xff"), seed=2)
    made["scipipe"] = sp
    nr = tmp_path / "nr"
    nr.mkdir()
    flow = nodered_chain.chain_flow(3)
    nodered_chain.write_trace_log(nr / "good.log", flow, 3, seed=1)
    nodered_chain.write_trace_log(_bytes_name(nr, b"b\xfe.log"), flow, 3, seed=2)
    made["nodered"] = nr
    pv = tmp_path / "pv"
    pv.mkdir()
    (pv / "good.json").write_text(json.dumps(PROV_DOC))
    _bytes_name(pv, b"b\xff.json").write_text(json.dumps(PROV_DOC).replace("ex:a", "ex:b"))
    made["prov"] = pv
    return made


@pytest.mark.parametrize("system", ["scipipe", "nodered", "prov"])
def test_a_name_that_is_not_utf8_is_exit_2_and_skipped_with_skip_bad(tmp_path, system) -> None:
    folder = _bad_named_inputs(tmp_path)[system]
    store = store_of(tmp_path)
    imported(store, system, folder).error(2, "the name is not UTF-8 (byte 0x")
    result = imported(store, system, folder, "--skip-bad").ok()
    assert "skipped: the name is not UTF-8" in result.err
    assert runs(store) == 1


def test_a_named_file_that_is_not_utf8_is_exit_2(tmp_path: Path) -> None:
    folder = _bad_named_inputs(tmp_path)["scipipe"]
    bad = _bytes_name(folder, b"r\xff") / "gcratio.txt.audit.json"
    imported(store_of(tmp_path), "scipipe", bad).error(2, "not UTF-8")


def _lone_surrogate_inputs(tmp_path: Path) -> dict[str, Path]:
    made: dict[str, Path] = {}
    run = tmp_path / "sp"
    scipipe_gcratio.write_run(run, seed=1)
    audit = run / "gcratio.txt.audit.json"
    audit.write_text(audit.read_text().replace('"gcratio"', '"gc\\ud800"', 1))
    made["scipipe"] = run
    log = tmp_path / "a.log"
    nodered_chain.write_trace_log(log, nodered_chain.chain_flow(3), 3, seed=1)
    log.write_text(log.read_text().replace('"Step 1"', '"Step \\udc00"', 1))
    made["nodered"] = log
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps(PROV_DOC).replace("{}", '{"prov:label": "\\ud800"}'))
    made["prov"] = doc
    seldon = tmp_path / "inspect.txt"
    seldon.write_text(
        "seldon.default.model.m1.outputs\tcifeiq8fh5ss738i5bqg\t"
        '{"modelName":"m\\ud800","outputs":[{"name":"o","datatype":"FP32","shape":["1"],'
        '"contents":{"fp32Contents":[1.0]}}]}\n'
    )
    made["seldon"] = seldon
    return made


@pytest.mark.parametrize("system", ["scipipe", "nodered", "prov", "seldon"])
def test_a_lone_surrogate_in_json_is_exit_2(tmp_path: Path, system: str) -> None:
    path = _lone_surrogate_inputs(tmp_path)[system]
    imported(store_of(tmp_path), system, path).error(2, "half of a UTF-16 pair")


def test_a_surrogate_pair_and_an_escaped_backslash_are_text(tmp_path: Path) -> None:
    doc = tmp_path / "doc.json"
    label = '{"prov:label": "\\ud83d\\ude00 and \\\\ud800"}'
    doc.write_text(json.dumps(PROV_DOC).replace("{}", label))
    imported(store_of(tmp_path), "prov", doc).ok()


# 9. nesting -----------------------------------------------------------------------------------


def test_deep_jsonld_and_seldon_values_are_exit_2(tmp_path: Path) -> None:
    jsonld = tmp_path / "deep.jsonld"
    nested = '{"ex:n": ' * 500 + "1" + "}" * 500
    jsonld.write_text(
        '{"@context": {"prov": "http://www.w3.org/ns/prov#"}, "@graph": '
        f'[{{"@id": "ex:a", "@type": "prov:Activity", "ex:v": {nested}}}]}}'
    )
    store = store_of(tmp_path)
    imported(store, "prov", jsonld).error(2, "JSON nested 503 levels deep; the limit is 100")
    deep = "[" * 1500 + "1" + "]" * 1500
    line = tmp_path / "inspect.txt"
    line.write_text(
        f'seldon.default.model.m1.outputs\tcifeiq8fh5ss738i5bqg\t{{"parameters": {deep}}}\n'
    )
    imported(store, "seldon", line).error(2, "line 1: JSON nested 1501 levels deep")
    body = tmp_path / "inspect.json"
    body.write_text(
        '{"topics":[{"name":"seldon.default.model.m1.outputs","msgs":[{"key":"k","value":'
        f"{deep}}}]}}]}}"
    )
    imported(store, "seldon", body).error(2, "JSON nested 1505 levels deep")


def test_nesting_is_measured_fast_and_strings_do_not_count() -> None:
    from provcausal.importers.base import json_nesting

    assert json_nesting('{"a": "[[[[{{{{", "b": [[1]]}') == 3
    started = time.perf_counter()
    assert json_nesting("[" + "1.5, " * 2_000_000 + "1]") == 1
    assert time.perf_counter() - started < 2


# 10. Seldon pipeline specs --------------------------------------------------------------------

SELDON_LINE = (
    "seldon.default.model.m1.outputs\tcifeiq8fh5ss738i5bqg\t"
    '{"modelName":"m1","outputs":[{"name":"o","datatype":"FP32","shape":["1"],'
    '"contents":{"fp32Contents":[1.0]}}]}\n'
)
_BOMB = "\n".join(
    [
        "kind: Pipeline",
        'metadata: {name: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]}',
        "spec:",
        "  steps:",
        *(
            f"    - name: &{b} [{', '.join([f'*{a}'] * 9)}]"
            for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        (_BOMB, "YAML aliases expand to more than 100,000 nodes"),
        ("kind: Pipeline\nmetadata: &m {name: p, x: *m}\n", "an alias refers to a node"),
        ("kind: Pipeline\nmetadata: {name: p}\nspec: [1]\n", "key 'spec': expected a mapping"),
        ("kind: Pipeline\nmetadata: [p]\n", "key 'metadata': expected a mapping"),
        (
            "kind: Pipeline\nmetadata: {name: p}\nspec:\n  steps: [{name: a}]\n"
            "  output: {steps: 5}\n",
            "key 'spec.output.steps': expected a list",
        ),
        (
            "kind: Pipeline\nmetadata: {name: p}\nspec:\n  steps: [{name: a, tensorMap: [1]}]\n",
            "key 'spec.steps[0].tensorMap': expected a mapping",
        ),
        (
            "kind: Pipeline\nmetadata: {name: p}\nspec:\n  steps: [{name: [a, b]}]\n",
            "key 'spec.steps[0].name': expected a name",
        ),
        ("kind: Pipeline\nmetadata: {name: p}\nspec: " + "[" * 5000, "YAML"),
    ],
)
def test_bad_pipeline_specs_are_exit_2_naming_the_key(tmp_path, yaml_text, message) -> None:
    assert len(_BOMB) < 700  # the bomb was 629 bytes
    spec = tmp_path / "pipeline.yaml"
    spec.write_text(yaml_text)
    inspect = tmp_path / "inspect.txt"
    inspect.write_text(SELDON_LINE)
    started = time.perf_counter()
    imported(store_of(tmp_path), "seldon", inspect, "--pipeline", spec).error(2, message)
    assert time.perf_counter() - started < 10
