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
from provcausal.model import flowcept as fc
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
    assert json_nesting("[" + '[1.5, "]"], ' * 100_000 + "1]") == 2
    assert time.perf_counter() - started < 5


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


# 7. relation-only PROV documents --------------------------------------------------------------

#: Documents like prov's own test documents (``prov/tests/json/association9.json`` …): a
#: single relation with typed attributes, naming records it does not declare.
_ASSOCIATION = {
    "wasAssociatedWith": {
        "ex:assoc9": {
            "prov:activity": "ex:a1",
            "prov:agent": "ex:ag1",
            "prov:plan": "ex:plan1",
            "prov:type": [
                {"$": "a", "type": "xsd:string"},
                {"$": "1", "type": "xsd:int"},
                {"$": "1.0", "type": "xsd:float"},
                {"$": "ex:abc", "type": "prov:QUALIFIED_NAME"},
                {"$": "2014-06-23T12:28:53.012+01:00", "type": "xsd:dateTime"},
                {"$": "http://example.org/hello", "type": "xsd:anyURI"},
            ],
            "ex:tag1": [{"$": "hello\nover\nmore\nlines", "type": "xsd:string"}],
            "prov:label": [
                "hello",
                {"$": "bonjour", "type": "prov:InternationalizedString", "lang": "fr"},
            ],
        }
    },
    "prefix": {"ex": "http://example.org/", "ex2": "http://example2.org/"},
}
_DERIVATION = {
    "wasDerivedFrom": {"ex:d1": {"prov:generatedEntity": "ex:e2", "prov:usedEntity": "ex:e1"}},
    "prefix": {"ex": "http://example.org/"},
}
_USAGE = {
    "used": {"ex:u1": {"prov:activity": "ex:a1", "prov:entity": "ex:e1"}},
    "prefix": {"ex": "http://example.org/"},
}


@pytest.mark.parametrize(
    "doc, holds, names",
    [
        (_ASSOCIATION, "1 wasAssociatedWith", "ex:a1"),
        (_DERIVATION, "1 wasDerivedFrom", None),
        (_USAGE, "1 used", "ex:a1"),
    ],
)
def test_relation_only_documents_say_what_is_missing(tmp_path, doc, holds, names) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc, indent=2))
    line = imported(store_of(tmp_path), "prov", path).error(2, "no activity to make a run of")
    assert f"it holds {holds}" in line
    if names:
        assert f"its relations name {names} without declaring it an activity" in line


def test_a_relation_with_its_activity_imports(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({**_ASSOCIATION, "activity": {"ex:a1": {}}}))
    imported(store_of(tmp_path), "prov", path).ok()


# 11. PROV-XML: comments, entities, empty names ------------------------------------------------


def _xml_document() -> str:
    from provcausal.model import ids
    from provcausal.model.prov import RunDocumentBuilder, serialize
    from tests.helpers import T0

    run = ids.run_id("test", "wf", "xml")
    builder = RunDocumentBuilder(run, "wf", "test")
    builder.task(ids.task_id(run, "t"), "stepname", start=T0, end=T0, sample=run)
    return serialize(builder.document, "xml")


def test_prov_xml_with_comments_anywhere_imports(tmp_path: Path) -> None:
    text = _xml_document()
    decl_end = text.index("?>") + 2
    variants = {
        "first.xml": "<!-- written by hand -->\n" + text[decl_end:],
        "after-declaration.xml": text[:decl_end] + "\n<!-- c -->\n" + text[decl_end:],
        "inside-and-after.xml": text.replace("<prov:activity", "<!-- x --><prov:activity", 1)
        + "<!-- trailing -->\n",
    }
    store = store_of(tmp_path)
    for name, variant in variants.items():
        (tmp_path / name).write_text(variant)
        imported(store, "prov", tmp_path / name).ok()
    with open_store(store) as opened:
        run_ids = [str(r["workflow_id"]) for r in opened.find_runs()]
        assert len(run_ids) == 3
        assert {fc.task_node(t) for t in opened.find_tasks(run_ids)} == {"stepname"}


def test_prov_xml_entities_are_refused_never_an_empty_name(tmp_path: Path) -> None:
    text = _xml_document()
    decl_end = text.index("?>") + 2
    declared = (
        text[:decl_end]
        + '\n<!DOCTYPE d [<!ENTITY ent "evil">]>'
        + text[decl_end:].replace(">stepname<", ">&ent;<")
    )
    (tmp_path / "dtd.xml").write_text(declared)
    store = store_of(tmp_path)
    imported(store, "prov", tmp_path / "dtd.xml").error(2, "line 2: PROV-XML with a DOCTYPE")
    (tmp_path / "undeclared.xml").write_text(text.replace(">stepname<", ">&ent;<"))
    imported(store, "prov", tmp_path / "undeclared.xml").error(
        2, "line 6: not valid XML (Entity 'ent' not defined)"
    )
    (tmp_path / "empty.xml").write_text(text.replace(">stepname<", "> <"))
    imported(store, "prov", tmp_path / "empty.xml").error(2, "has an empty provcausal:node")
    assert runs(store) == 0


# 12. format detection -------------------------------------------------------------------------


def _many_namespaces(count: int):
    import prov.model as pm

    doc = pm.ProvDocument()
    for i in range(count):
        doc.add_namespace(f"p{i}", f"http://example.org/ns{i}/")
    doc.activity("p0:a", other_attributes={f"p{i}:x": "v" for i in range(count)})
    return doc


def test_turtle_export_with_300_namespaces_imports_back(tmp_path: Path) -> None:
    from provcausal.model.prov import serialize

    path = tmp_path / "doc.ttl"
    path.write_text(serialize(_many_namespaces(300), "ttl"))
    assert path.read_text().index("www.w3.org/ns/prov#") > 4096
    store = store_of(tmp_path)
    imported(store, "prov", path).ok()
    imported(store, "auto", path).ok()


@pytest.mark.parametrize(
    "name, text",
    [
        (
            "hash.ttl",
            "# exported by hand\n# second line\n@prefix prov: <http://www.w3.org/ns/prov#> .\n"
            "@prefix ex: <http://example.org/> .\nex:a a prov:Activity .\n",
        ),
        (
            "sparql.ttl",
            "PREFIX prov: <http://www.w3.org/ns/prov#>\nPREFIX ex: <http://example.org/>\n"
            "ex:a a prov:Activity .\n",
        ),
        (
            "comment.provn",
            "// written by hand\n/* a block\n   comment */\ndocument\n"
            "  prefix ex <http://example.org/>\n  activity(ex:a)\nendDocument\n",
        ),
    ],
)
def test_formats_are_told_past_comments_and_sparql_prefixes(tmp_path, name, text) -> None:
    (tmp_path / name).write_text(text)
    store = store_of(tmp_path)
    imported(store, "prov", tmp_path / name).ok()
    imported(store, "auto", tmp_path / name).ok()


# 13. bundles ----------------------------------------------------------------------------------


def test_one_activity_in_two_bundles_under_two_names_is_a_warning(tmp_path: Path) -> None:
    doc = {
        "prefix": {"ex": "http://example.org/", "provcausal": "https://provcausal.org/ns#"},
        "bundle": {
            "ex:b1": {"activity": {"ex:a": {"provcausal:node": "first"}}},
            "ex:b2": {"activity": {"ex:a": {"provcausal:node": "second"}}},
        },
    }
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    result = imported(store_of(tmp_path), "prov", path).ok()
    assert (
        "activity ex:a is defined in bundle ex:b1, bundle ex:b2 with different names "
        "(first, second): they are merged into one task"
    ) in result.err
    same = {**doc, "bundle": {b: {"activity": {"ex:a": {}}} for b in ("ex:b1", "ex:b2")}}
    path.write_text(json.dumps(same))
    assert "merged" not in imported(store_of(tmp_path), "prov", path).ok().err


# 14. prefixes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "provn", "xml", "ttl"])
def test_forty_thousand_prefixes_are_refused_at_once(tmp_path: Path, fmt: str) -> None:
    lines = [f"p{i}" for i in range(40_000)]
    text = {
        "json": json.dumps(
            {"prefix": {p: f"http://example.org/{p}/" for p in lines}, "activity": {"p0:a": {}}}
        ),
        "provn": "document\n"
        + "".join(f"  prefix {p} <http://example.org/{p}/>\n" for p in lines)
        + "  activity(p0:a)\nendDocument\n",
        "xml": '<prov:document xmlns:prov="http://www.w3.org/ns/prov#" '
        + " ".join(f'xmlns:{p}="http://example.org/{p}/"' for p in lines)
        + '><prov:activity prov:id="p0:a"/></prov:document>',
        "ttl": "@prefix prov: <http://www.w3.org/ns/prov#> .\n"
        + "".join(f"@prefix {p}: <http://example.org/{p}/> .\n" for p in lines)
        + "p0:a a prov:Activity .\n",
    }[fmt]
    path = tmp_path / f"doc.{fmt}"
    path.write_text(text)
    started = time.perf_counter()
    imported(store_of(tmp_path), "prov", path).error(2, "namespace prefixes; the limit is 1,000")
    assert time.perf_counter() - started < 10


# 15. SciPipe's DOT graph ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "attributes", ["a" * 40_000, "a" * 20_000 + " " * 20_000, 'x="' + '\\"' * 20_000 + '"']
)
def test_a_40_kb_dot_attribute_list_is_read_in_linear_time(attributes: str) -> None:
    from provcausal.importers.scipipe_dot import parse_dot

    text = f'digraph G {{\n  "a" -> "b" [{attributes}, taillabel="out", headlabel=in];\n}}\n'
    started = time.perf_counter()
    graph = parse_dot(text, Path("graph.dot"))
    assert time.perf_counter() - started < 1
    assert graph.edges == [("a", "b", "out", "in")]


def test_dot_attributes_keep_quoted_text_and_refuse_an_open_quote(tmp_path: Path) -> None:
    from provcausal.importers.scipipe_dot import parse_attributes, parse_dot

    from provcausal.errors import BadInputError

    assert parse_attributes('taillabel="a \\"b\\", c=d" headlabel = x ; k=v') == {
        "taillabel": 'a "b", c=d',
        "headlabel": "x",
        "k": "v",
    }
    with pytest.raises(BadInputError, match="line 2: a string without its closing quote"):
        parse_dot('digraph G {\n "a" -> "b" [taillabel="x];\n}\n', Path("g.dot"))
