"""The importers' fast path against the old one, byte for byte (issue 14, "Import").

The fast path: :class:`RunDocumentBuilder` keeps plain records, writes their PROV-JSON itself
and the converter reads them directly (:func:`prov_to_flowcept` of the builder). The old path,
kept here as the reference: the builder as it was (:class:`OldBuilder`, prov objects for every
record), then :func:`prov_to_flowcept` of its document. For every importer input the tests can find
(the example generators, the records made by the real systems, the shared samples) and for
random builder calls, both give the same PROV-JSON text and the same FlowCept records.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import sys
import warnings
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import prov.model as pm
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prov.constants import PROV_LABEL, PROV_TYPE, PROV_VALUE
from provcausal.importers import ImportedRun, get_importer
from provcausal.importers.base import Importer

from provcausal.examples import nodered_chain, scipipe_gcratio, scipipe_ports, seldon_claims
from provcausal.examples.shapes import SHAPES, write_example
from provcausal.ingest import read_runs
from provcausal.model.convert import prov_json_text, prov_to_flowcept
from provcausal.model.ids import stable_hash
from provcausal.model.prov import (
    DURATION,
    ID_PREFIX,
    NAME,
    NODE,
    NODE_TYPE,
    SAMPLE,
    STATUS,
    UNOBSERVED,
    VISIT,
    RunDocumentBuilder,
    new_document,
    plain_value,
    qualified,
)
from tests.helpers import SAMPLES, needs_samples

FIXED = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
REAL = Path(__file__).resolve().parent / "fixtures" / "real"


# -- the old path (reference) -----------------------------------------------------------------


def _old_attrs(attrs: Mapping[str, Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in attrs.items():
        v = plain_value(value)
        if v is None:
            continue
        out[key if ":" in key else qualified(key)] = v
    return out


class OldBuilder:
    """The builder as it was before the fast path: every call creates prov objects."""

    def __init__(self, run_id: str, workflow: str, system: str) -> None:
        self.run_id = run_id
        self.workflow = workflow
        self.system = system
        self.document = new_document()
        self._agents: dict[str, pm.QualifiedName] = {}
        self._activities: dict[str, pm.ProvActivity] = {}
        self._entities: dict[str, pm.ProvEntity] = {}
        self._edges: set[tuple[str, str, str]] = set()

    def _qn(self, local: str) -> pm.QualifiedName:
        qn = self.document.valid_qualified_name(f"{ID_PREFIX}:{local}")
        assert qn is not None  # the pcid namespace is always declared
        return qn

    def node_agent(self, node: str, attrs: Mapping[str, Any] | None = None) -> pm.QualifiedName:
        """The ``prov:Agent`` standing for a workflow node (created once per node)."""
        if node not in self._agents:
            qn = self._qn(f"node-{stable_hash(self.workflow, node, length=16)}")
            self.document.agent(
                qn,
                {
                    PROV_LABEL: node,
                    qualified(NODE): node,
                    PROV_TYPE: qualified(NODE_TYPE),
                    **_old_attrs(attrs or {}),
                },
            )
            self._agents[node] = qn
        return self._agents[node]

    def task(
        self,
        task_id: str,
        node: str,
        *,
        start: dt.datetime | None,
        end: dt.datetime | None,
        sample: str,
        visit: int = 0,
        unobserved: bool = False,
        status: str = "FINISHED",
        duration: float | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> str:
        """Add one execution of ``node`` as a ``prov:Activity`` associated with its node agent.

        ``duration`` is the node's own processing time in seconds when the source records it
        (else the converter uses end - start); ``attrs`` are kept as source attributes.
        """
        if task_id in self._activities:
            return task_id
        extra: dict[str, Any] = {
            NODE: node,
            SAMPLE: sample,
            VISIT: visit,
            STATUS: status,
            UNOBSERVED: True if unobserved else None,
        }
        extra.update(attrs or {})
        if duration is not None:
            extra[DURATION] = duration
        activity = self.document.activity(
            self._qn(task_id), plain_value(start), plain_value(end), _old_attrs(extra)
        )
        self._activities[task_id] = activity
        self.document.association(activity, self.node_agent(node))
        return task_id

    def entity(
        self,
        entity_id: str,
        *,
        name: str,
        value: float | int | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> str:
        """Add one data item as a ``prov:Entity`` (with ``prov:value`` when it is numeric)."""
        if entity_id in self._entities:
            return entity_id
        extra: dict[str, Any] = {NAME: name}
        extra.update(attrs or {})
        pattrs = _old_attrs(extra)
        v = plain_value(value)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            pattrs[PROV_VALUE] = v
        self._entities[entity_id] = self.document.entity(self._qn(entity_id), pattrs)
        return entity_id

    def has_entity(self, entity_id: str) -> bool:
        return entity_id in self._entities

    def has_task(self, task_id: str) -> bool:
        return task_id in self._activities

    def _once(self, kind: str, a: str, b: str) -> bool:
        key = (kind, a, b)
        if key in self._edges:
            return False
        self._edges.add(key)
        return True

    def used(self, task_id: str, entity_id: str, time: dt.datetime | None = None) -> None:
        if self._once("used", task_id, entity_id):
            self.document.usage(self._qn(task_id), self._qn(entity_id), plain_value(time))

    def generated(self, entity_id: str, task_id: str, time: dt.datetime | None = None) -> None:
        if self._once("gen", entity_id, task_id):
            self.document.generation(self._qn(entity_id), self._qn(task_id), plain_value(time))

    def informed(self, informed: str, informant: str) -> None:
        if informed != informant and self._once("inf", informed, informant):
            self.document.communication(self._qn(informed), self._qn(informant))

    def derived(self, generated: str, used: str) -> None:
        if generated != used and self._once("der", generated, used):
            self.document.derivation(self._qn(generated), self._qn(used))


def _read(
    system: str, paths: list[Path], monkeypatch: pytest.MonkeyPatch, old: bool, **options: Any
) -> list[ImportedRun]:
    """Every run of ``paths``, read by the fast path or (``old``) the old one; the import
    time is fixed so that the records can be compared."""
    base = sys.modules[Importer.__module__]
    module = sys.modules[type(get_importer(system)).__module__]
    with monkeypatch.context() as m:
        m.setattr(base, "prov_to_flowcept", partial(prov_to_flowcept, imported_at=FIXED))
        if old:
            m.setattr(module, "RunDocumentBuilder", OldBuilder)
            finish = Importer.finish
            m.setattr(Importer, "finish", lambda self, b, **kw: finish(self, b.document, **kw))
        _, runs = read_runs(system, paths, "wf", label="l", **options)
        out = [r for r in runs if not isinstance(r, str)]
    assert out, "no runs read"
    return out


def _canon(value: Any) -> str:
    """Type-sensitive text of records (``1`` and ``1.0`` and ``True`` differ, key order not)."""
    return json.dumps(value, sort_keys=True, default=repr)


def _assert_same(
    monkeypatch: pytest.MonkeyPatch, system: str, paths: list[Path], **opts: Any
) -> None:
    new = _read(system, paths, monkeypatch, False, **opts)
    old = _read(system, paths, monkeypatch, True, **opts)
    assert [r.run_id for r in new] == [r.run_id for r in old]
    for n, o in zip(new, old, strict=True):
        assert isinstance(n.prov, RunDocumentBuilder) and isinstance(o.prov, pm.ProvDocument)
        assert n.records.prov_json == o.records.prov_json
        assert _canon(n.records.workflow) == _canon(o.records.workflow)
        assert _canon(n.records.tasks) == _canon(o.records.tasks)
        assert (n.tasks, n.entities, n.samples, n.warnings, n.skipped) == (
            o.tasks,
            o.entities,
            o.samples,
            o.warnings,
            o.skipped,
        )
        # the lazily built document is the old builder's document
        assert n.document == o.document
        assert prov_json_text(n.document) == n.records.prov_json


# -- every importer input the tests have --------------------------------------------------------


def _gcratio(tmp: Path) -> tuple[str, list[Path], dict[str, Any]]:
    scipipe_gcratio.write_runs(tmp / "runs", 4, seed=3)
    return "scipipe", [tmp / "runs"], {}


def _gcratio_versions(tmp: Path) -> tuple[str, list[Path], dict[str, Any]]:
    for i, version in enumerate(scipipe_gcratio.FORMAT_VERSIONS):
        start = dt.datetime(2018, 6, 15, 19, 10, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        scipipe_gcratio.write_run(tmp / f"v{i}", seed=i, version=version, start=start)
    return "scipipe", [tmp / f"v{i}" for i in range(len(scipipe_gcratio.FORMAT_VERSIONS))], {}


def _gcratio_no_graph(tmp: Path) -> tuple[str, list[Path], dict[str, Any]]:
    scipipe_gcratio.write_run(tmp / "run", seed=5, write_graph=False)
    return "scipipe", [tmp / "run"], {}


def _ports(tmp: Path) -> tuple[str, list[Path], dict[str, Any]]:
    scipipe_ports.write_runs(tmp / "runs", 3, seed=2, fault=scipipe_ports.VARIABLES[0])
    return "scipipe", [tmp / "runs"], {}


def _chain(tmp: Path) -> tuple[str, list[Path], dict[str, Any]]:
    flow = nodered_chain.chain_flow(4, fanout_after=2, unnamed=(1,), duplicate_names=True)
    log = nodered_chain.write_trace_log(tmp / "trace.log", flow, 30, seed=1, passes=2)
    return "nodered", [log], {"flow": nodered_chain.write_flow(tmp / "flows.json", flow)}


def _chain_no_flow(tmp: Path) -> tuple[str, list[Path], dict[str, Any]]:
    flow = nodered_chain.chain_flow(3)
    return "nodered", [nodered_chain.write_trace_log(tmp / "t.log", flow, 20, seed=4)], {}


def _claims(fmt: str, verbose: bool, spec: bool) -> Callable[[Path], Any]:
    def write(tmp: Path) -> tuple[str, list[Path], dict[str, Any]]:
        requests = seldon_claims.simulate(12, seed=3, complexity_bug=True)
        path = seldon_claims.write_inspect(tmp / "i.txt", requests, fmt=fmt, verbose=verbose)
        opts = {"pipeline": seldon_claims.write_spec(tmp / "p.yaml")} if spec else {}
        return "seldon", [path], opts

    return write


GENERATED: dict[str, Callable[[Path], Any]] = {
    "gcratio": _gcratio,
    "gcratio-versions": _gcratio_versions,
    "gcratio-no-graph": _gcratio_no_graph,
    "ports": _ports,
    "nodered-chain": _chain,
    "nodered-chain-no-flow": _chain_no_flow,
    **{
        f"claims-{fmt}-{'v' if verbose else 'q'}-{'spec' if spec else 'nospec'}": _claims(
            fmt, verbose, spec
        )
        for fmt in seldon_claims.FORMATS
        for verbose in (False, True)
        for spec in (False, True)
    },
}


@pytest.mark.parametrize("case", sorted(GENERATED))
def test_generated_inputs_give_the_old_paths_prov_json_and_records(case, tmp_path, monkeypatch):
    system, paths, opts = GENERATED[case](tmp_path)
    _assert_same(monkeypatch, system, paths, **opts)


def _command_args(command: str) -> tuple[str, list[Path], dict[str, Any]]:
    """``provcausal import SYSTEM PATH --option value …`` as read_runs arguments."""
    words = shlex.split(command)
    system, path, rest = words[2], Path(words[3]), words[4:]
    opts: dict[str, Any] = {}
    for flag, value in zip(rest[::2], rest[1::2], strict=True):
        name = flag.lstrip("-")
        if name == "rename":
            opts.setdefault("rename", []).append(value)
        elif name not in ("workflow", "label"):
            opts[name] = Path(value)
    return system, [path], opts


@pytest.mark.parametrize("shape", SHAPES)
def test_example_shapes_give_the_old_paths_prov_json_and_records(shape, tmp_path, monkeypatch):
    example = write_example(shape, tmp_path, size=12, seed=1)
    imports = [c for c in example.commands if c.startswith("provcausal import")]
    assert imports
    for command in imports:
        system, paths, opts = _command_args(command)
        _assert_same(monkeypatch, system, paths, **opts)


REAL_SCIPIPE = sorted(p for p in (REAL / "scipipe").glob("*/*") if p.is_dir())
REAL_NODERED = sorted((REAL / "nodered").glob("*/*.trace.log"))


def test_real_fixtures_are_all_found():
    assert len(REAL_SCIPIPE) >= 4 and len(REAL_NODERED) >= 14


@pytest.mark.parametrize("folder", REAL_SCIPIPE, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_real_scipipe_records_give_the_old_paths_prov_json_and_records(folder, monkeypatch):
    _assert_same(monkeypatch, "scipipe", [folder])


@pytest.mark.parametrize("log", REAL_NODERED, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_real_nodered_records_give_the_old_paths_prov_json_and_records(log, monkeypatch):
    flow = log.with_name(log.name.replace(".trace.log", ".flows.json"))
    _assert_same(monkeypatch, "nodered", [log], flow=flow)
    _assert_same(monkeypatch, "nodered", [log])


@needs_samples
def test_shared_samples_give_the_old_paths_prov_json_and_records(tmp_path, monkeypatch):
    assert SAMPLES is not None
    _assert_same(monkeypatch, "scipipe", [SAMPLES / "scipipe" / "run-normal-1"])
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    shutil.copy(SAMPLES / "scipipe" / "legacy-0.7-no-OutFiles.audit.json", legacy)
    _assert_same(monkeypatch, "scipipe", [legacy])
    docs = sorted((SAMPLES / "seldon" / "docs").glob("*.txt"))
    assert len(docs) > 10
    for path in docs:
        if not path.name.endswith("__09.txt"):  # a jq-extracted value, not inspect output
            _assert_same(monkeypatch, "seldon", [path])


# -- random builder calls -----------------------------------------------------------------------

_ids = st.text(alphabet="ab:/ é∂#_-1\\", min_size=0, max_size=4)
_offsets = st.one_of(
    st.none(),
    st.sampled_from([dt.timedelta(0), dt.timedelta(hours=5, minutes=30)]).map(dt.timezone),
    st.timedeltas(min_value=dt.timedelta(hours=-23), max_value=dt.timedelta(hours=23)).map(
        dt.timezone
    ),
)
_times = st.one_of(
    st.none(),
    st.just(dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc)),  # Go's zero time: unknown
    st.builds(
        lambda d, tz: d.replace(tzinfo=tz),
        st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2100, 1, 1)),
        _offsets,
    ),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31 - 1, 2**31, -(2**31), 2**63 - 1, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["nan", "NaN", "inf", '{"a": 1}', "{bad}", "prov:x", "true", "0", ""]),
    _times,
)
_values = st.one_of(
    _scalars,
    st.lists(st.integers(-3, 3), max_size=2),
    st.dictionaries(st.sampled_from(["a", "$b"]), st.integers(-3, 3), max_size=2),
)
_attr_keys = st.sampled_from(
    [
        "params",
        "tags",
        "headers",
        "command",
        "x",
        "path",
        "line",
        "nodeType",
        "nodeName",
        NAME,
        NODE,
        VISIT,
        SAMPLE,
        STATUS,
        UNOBSERVED,
        DURATION,
        "prov:label",
        "prov:type",
        "prov:location",
        "provcausal:x",
    ]
)
_attrs = st.dictionaries(_attr_keys, _values, max_size=4)
_numbers = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**66), max_value=2**66),
    st.floats(allow_nan=True, allow_infinity=True),
)

_calls = st.one_of(
    st.tuples(
        st.just("task"),
        _ids,
        st.text(max_size=4),
        st.fixed_dictionaries(
            {
                "start": _times,
                "end": _times,
                "sample": st.text(max_size=3),
                "visit": st.one_of(st.integers(0, 3), st.integers(-2, 2**64)),
                "unobserved": st.booleans(),
                "status": st.sampled_from(["FINISHED", "ERROR", ""]),
                "duration": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
                "attrs": _attrs,
            }
        ),
    ),
    st.tuples(
        st.just("entity"),
        _ids,
        st.text(max_size=4),
        st.fixed_dictionaries({"value": _numbers, "attrs": _attrs}),
    ),
    st.tuples(st.just("node_agent"), st.text(max_size=4), _attrs),
    st.tuples(st.sampled_from(["used", "generated"]), _ids, _ids, _times),
    st.tuples(st.sampled_from(["informed", "derived"]), _ids, _ids),
)


def _apply(builder: Any, call: tuple[Any, ...]) -> None:
    kind = call[0]
    if kind == "task":
        builder.task(call[1], call[2], **call[3])
    elif kind == "entity":
        builder.entity(call[1], name=call[2], **call[3])
    elif kind == "node_agent":
        builder.node_agent(call[1], call[2])
    elif kind in ("used", "generated"):
        getattr(builder, kind)(call[1], call[2], call[3])
    else:
        getattr(builder, kind)(call[1], call[2])


def _outcome(make: Callable[[], Any]) -> Any:
    """What ``make`` returns, or the type and message of what it raises."""
    try:
        return make()
    except Exception as exc:  # noqa: BLE001 - the two paths must fail alike
        return (type(exc).__name__, str(exc))


@given(st.lists(_calls, max_size=12), st.booleans())
def test_random_builder_calls_give_the_old_paths_prov_json_and_records(calls, keep_ids):
    """Odd values (floats, big ints, unicode, None, NaN as text, times with and without a
    zone, JSON-looking text, ids with colons and spaces): the same PROV-JSON text, and the
    same FlowCept records or the same error, from both paths."""
    new = RunDocumentBuilder("run-x", "wf", "test")
    old = OldBuilder("run-x", "wf", "test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # prov warns about odd local parts and values
        for call in calls:
            _apply(new, call)
            _apply(old, call)
        text = prov_json_text(old.document)
        assert new.prov_json() == text
        assert prov_json_text(new.document) == text
        how = {"run_id": "run-x", "workflow": "wf", "system": "test", "imported_at": FIXED}
        got = _outcome(lambda: prov_to_flowcept(new, keep_ids=keep_ids, **how))
        want = _outcome(lambda: prov_to_flowcept(old.document, keep_ids=keep_ids, **how))
    if isinstance(want, tuple):
        assert got == want
    else:
        assert got.prov_json == want.prov_json
        assert _canon(got.workflow) == _canon(want.workflow)
        assert _canon(got.tasks) == _canon(want.tasks)


def test_an_importers_own_prov_label_is_kept_beside_the_builders_as_prov_does():
    """The rare multi-valued attribute: prov keeps both labels (a JSON list), the first one
    names the node."""
    new, old = RunDocumentBuilder("r", "wf", "t"), OldBuilder("r", "wf", "t")
    for b in (new, old):
        b.node_agent("n", {"prov:label": "shown", "prov:type": qualified(NODE_TYPE)})
        b.entity("e", name="", value=2, attrs={"prov:value": 2.0, "prov:label": "lab"})
        b.task("t", "n", start=None, end=None, sample="s")
        b.generated("e", "t")
    text = prov_json_text(old.document)
    assert new.prov_json() == text
    assert '"prov:label": ["n", "shown"]' in text
    double, whole = '{"$": "2.0", "type": "xsd:double"}', '{"$": "2", "type": "xsd:int"}'
    assert f'"prov:value": [{double}, {whole}]' in text
    how = {"run_id": "r", "workflow": "wf", "system": "t", "imported_at": FIXED}
    got, want = prov_to_flowcept(new, **how), prov_to_flowcept(old.document, **how)
    assert _canon(got.tasks) == _canon(want.tasks)
    assert got.tasks[0]["generated"] == {"lab": 2.0}


def test_the_document_is_built_on_first_use_and_again_after_more_records():
    b = RunDocumentBuilder("r", "wf", "t")
    b.task("t1", "n", start=None, end=None, sample="s")
    first = b.document
    assert b.document is first
    b.entity("e", name="x", value=1)
    assert b.document is not first
    assert len(list(b.document.get_records(pm.ProvEntity))) == 1


def test_an_undeclared_attribute_prefix_is_refused_as_prov_refuses_it():
    for b in (RunDocumentBuilder("r", "wf", "t"), OldBuilder("r", "wf", "t")):
        with pytest.raises(pm.ProvExceptionInvalidQualifiedName):
            b.entity("e", name="x", attrs={"foo:bar": 1})


# -- reading files ------------------------------------------------------------------------------


def test_reading_an_open_file_takes_what_is_there_and_what_it_grew_by_up_to_the_limit():
    from provcausal.importers.base import _read_fd

    for data, size, limit, want in (
        (b"0123456789", 10, 100, b"0123456789"),  # as large as its status said
        (b"0123456789", 3, 100, b"0123456789"),  # grew after its status was read
        (b"0123456789", 3, 5, b"012345"),  # grew beyond the limit: limit + 1 bytes
        (b"", 0, 5, b""),
    ):
        r, w = os.pipe()
        os.write(w, data)
        os.close(w)
        try:
            assert _read_fd(r, size, limit) == want
        finally:
            os.close(r)


def test_read_bytes_refuses_a_file_beyond_the_limit_and_reads_one_within_it(tmp_path):
    from provcausal.importers.base import read_bytes

    from provcausal.errors import BadInputError

    path = tmp_path / "f.txt"
    path.write_bytes(b"x" * 100)
    assert read_bytes(path, 100) == b"x" * 100
    with pytest.raises(BadInputError, match="larger than"):
        read_bytes(path, 99)


# -- writing the store --------------------------------------------------------------------------

_keys = st.text(alphabet="a.$%\x00b", max_size=3)
_json_trees = st.recursive(
    st.one_of(st.none(), st.integers(-5, 5), st.text(alphabet="a.$", max_size=2)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from(["used", "generated", "meta", "$x", "a.b"]), _json_trees))
def test_the_stores_text_escapes_keys_as_escape_record_does(document):
    """dumps shares subtrees whose keys are all safe instead of copying them: the text is
    the one escape_record's full copy gives, and the document is not changed."""
    from provcausal.stores.codec import _default, dumps, escape_record

    before = json.dumps(document, sort_keys=True)
    want = json.dumps(
        escape_record(document),
        default=_default,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )
    assert dumps(document) == want
    assert json.dumps(document, sort_keys=True) == before
