"""A name is data (issue 22, round three): whatever characters a node, workflow or file name
holds, every output shows it as itself and none reads it as regex replacement, TeX, DOT,
XML, HTML or a terminal escape sequence."""

from __future__ import annotations

import json
import os
import re
import subprocess
import warnings
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree
from lxml import html as lxml_html
from provcausal.queries.export import serialize
from provcausal.queries.pictures import nodes_dot

from provcausal.analysis.report import readable_note, report_html
from provcausal.cli.commands_analysis import _attribution_text, _plot
from provcausal.cli.output import shown, terminal_text, to_jsonable
from provcausal.errors import InvalidParameterError
from provcausal.model import ids
from provcausal.model.prov import FORMATS, RunDocumentBuilder, deserialize
from tests.helpers import T0, run_cli
from tests.test_report_html import attribution

#: Every class of character that has broken an output: regex replacement escapes, TeX,
#: printf and format braces, quotes, markup, line breaks and terminal controls, NUL, DEL and
#: C1 (CSI), a character outside the BMP, bidirectional marks and overrides.
NASTY = [
    "C:\\logs\\l",
    "C:\\data\\run",
    "$x^2$ costs $5",
    "100% {node} %s",
    "'single' \"double\"",
    "<b>&amp; &#1; &foo;</b>",
    "two\nverdict: forged",
    "cr\rback",
    "\x1b[31mred\x1b[0m",
    "nul\x00byte",
    "del\x7f csi\x9b2J",
    "grin \U0001f600",
    "rtl \u200f\u202eevil\u202c",
    "\\x1b",
    "sep\u2028line",
]
_CHARS = "".join(sorted(set("".join(NASTY)))) + "ab_-. 0"
NAMES = st.one_of(st.sampled_from(NASTY), st.text(alphabet=_CHARS, min_size=1, max_size=10))
_TERMINAL_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def named(labels: list[str]):
    """The hand-made attribution of the report tests, its three nodes named ``labels``."""
    result = attribution()
    mapping = dict(zip("abc", labels, strict=True))
    result.table["label"] = [mapping[n] for n in result.table["node"]]
    result.node_labels = {**mapping, "x9": labels[0]}
    result.verdict = f"{labels[0]} accounts for the change"
    result.workflow = labels[1]
    return result


# 1. regex replacement ------------------------------------------------------------------------


def test_a_backslash_in_a_name_is_not_a_regex_escape() -> None:
    labels = {"n1": "C:\\logs\\l", "n2": "C:\\data\\run"}
    note = readable_note("contracted n1 (unobserved); cut n2 -> n1", labels)
    assert note == (
        "contracted C:\\logs\\l (n1) (unobserved); cut C:\\data\\run (n2) -> C:\\logs\\l (n1)"
    )


def test_a_name_holding_another_id_is_not_rewritten_twice() -> None:
    assert readable_note("n1 changed", {"n1": "step n2", "n2": "other"}) == "step n2 (n1) changed"


# 4. the terminal -----------------------------------------------------------------------------


def test_a_name_cannot_forge_a_verdict_line_or_send_escapes() -> None:
    result = named(["two\nverdict: forged", "\x1b]0;title\x07wf", "\x1b[2Jc"])
    result.notes = ["contracted x9 (unobserved)"]
    text = terminal_text(_attribution_text(result, True, []))
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("verdict:")] == [
        "verdict: two\\nverdict: forged accounts for the change"
    ]
    assert not any(line.startswith("note:") and "\n" in line for line in lines)
    assert "note: contracted two\\nverdict: forged (x9) (unobserved)" in lines
    assert not _TERMINAL_CONTROL.search(text), repr(text)


def test_shown_escapes_every_control_and_keeps_the_rest() -> None:
    assert shown("a\nb\x1b\x9b\u202e\u2028 $\\ \U0001f600") == (
        "a\\nb\\x1b\\x9b\\u202e\\u2028 $\\ \U0001f600"
    )


def test_import_warnings_and_errors_name_files_escaped(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path / 's.db'}"
    folder = tmp_path / "in"
    folder.mkdir()
    doc = {"prefix": {"ex": "http://example.org/"}, "activity": {"ex:a": {}}}
    (folder / "good.json").write_text(json.dumps(doc))
    os.mkfifo(folder / "e\x1b[31m\nWarning: forged.json")  # skipped with a warning
    result = run_cli("import", "prov", folder, "--workflow", "wf", store=store).ok()
    warned = [line for line in result.err.splitlines() if line.startswith("Warning:")]
    assert len(warned) == 1 and "e\\x1b[31m\\nWarning: forged.json" in warned[0], result.err
    assert "\x1b" not in result.err + result.out
    bad = tmp_path / "bad\x1b[2J\nError: forged.json"
    bad.write_text("{")
    line = run_cli("import", "prov", bad, "--workflow", "wf", store=store).error(2)
    assert "bad\\x1b[2J\\nError: forged.json" in line


# 2. plots ------------------------------------------------------------------------------------


def test_dollars_in_a_name_are_text_not_tex(tmp_path: Path) -> None:
    result = named(["$\\frac{1}{$", "cost $5 and $", "a_b^c$"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _plot(result, str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").stat().st_size > 1000


# 3. DOT, SVG and PROV-XML --------------------------------------------------------------------


def _svg(dot: str) -> etree._Element:
    done = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True)
    return etree.fromstring(done.stdout.encode())


def test_graph_svg_is_valid_xml_and_shows_names_as_written() -> None:
    names = ["a\x1bb", "&#1; &foo;", "C:\\logs\\l", "\\x1b", "\x1b"]
    graph = nx.DiGraph(list(zip(names, names[1:], strict=False)))
    svg = _svg(nodes_dot(graph, "wf\x07", {n: n for n in names}))
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "&#1; &foo;" in texts and "C:\\logs\\l" in texts and "a\\x1bb" in texts
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}g[@class='node']")) == len(names)


def _document(names: list[str]):
    run = ids.run_id("test", "wf", "names")
    builder = RunDocumentBuilder(run, "wf", "test")
    for i, name in enumerate(names):
        builder.task(ids.task_id(run, f"t{i}"), name, start=T0, end=T0, sample=run)
    return builder.document


def test_prov_xml_refuses_a_control_character_naming_it() -> None:
    with pytest.raises(InvalidParameterError, match="U\\+001B of 'a\\\\x1bb'"):
        serialize(_document(["a\x1bb"]), "xml")
    etree.fromstring(serialize(_document(["a\nb\rc <&>"]), "xml").encode())


# 5. every name through every output ----------------------------------------------------------


def _tags(page: str) -> list[str]:
    return sorted(str(e.tag) for e in lxml_html.fromstring(page).iter())


def _check_every_output(labels: list[str], folder: Path) -> None:
    result = named(labels)
    result.notes = ["contracted x9 (unobserved)"]
    # the terminal: one verdict line, no control character but line breaks
    text = terminal_text(_attribution_text(result, True, []))
    assert sum(line.startswith("verdict:") for line in text.splitlines()) == 1
    assert not _TERMINAL_CONTROL.search(text), repr(text)
    # --json: the names exactly
    doc = json.loads(json.dumps(to_jsonable(result.to_dict()), ensure_ascii=False))
    assert {a["label"] for a in doc["attributions"]} == set(labels)
    # the report page: names escaped, the inline SVG well-formed
    page = report_html(result, "provcausal report -o r.html")
    plain = report_html(named(["p0", "p1", "p2"]), "provcausal report -o r.html")
    assert _tags(page) == _tags(plain), "a name was read as markup"
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        etree.fromstring(_NOT_XML.sub("", svg).encode())
    # DOT and the SVG Graphviz draws from it
    svg = _svg(nodes_dot(result.graph, result.workflow, result.node_labels))
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}g[@class='node']")) == 3
    # PROV in every format: written, and read back (XML refuses what it cannot hold)
    document = _document(labels)
    for fmt in FORMATS:
        if fmt == "xml" and any(_NOT_XML.search(n) for n in labels):
            with pytest.raises(InvalidParameterError):
                serialize(document, fmt)
            continue
        written = serialize(document, fmt)
        if fmt == "xml":
            etree.fromstring(written.encode())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            deserialize(written, fmt)
    # the plot
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _plot(result, str(folder / "plot.png"))


@settings(max_examples=6)
@example(labels=NASTY[:3])
@example(labels=NASTY[5:8])
@example(labels=NASTY[8:11])
@example(labels=NASTY[11:14])
@given(labels=st.lists(NAMES, min_size=3, max_size=3, unique=True))
def test_every_name_through_every_output(labels: list[str], tmp_path_factory) -> None:
    _check_every_output(labels, tmp_path_factory.mktemp("plot"))


def test_skipped_records_are_listed_one_line_each(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    doc = {"prefix": {"ex": "http://example.org/"}, "activity": {"ex:a": {}}}
    (folder / "good.json").write_text(json.dumps(doc))
    (folder / "bad\nimported 9 run(s)\x1b[2J.json").write_text("{")
    store = f"sqlite://{tmp_path / 's.db'}"
    result = run_cli("import", "prov", folder, "-w", "wf", "--skip-bad", store=store).ok()
    assert [line for line in result.out.splitlines() if line.startswith("imported")] == [
        "imported 1 run(s) of workflow 'wf' from prov: 1 tasks, 0 entities, 1 samples"
    ]
    assert "bad\\nimported 9 run(s)\\x1b[2J.json" in result.out
