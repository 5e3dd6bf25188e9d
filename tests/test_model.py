"""The record model (provcausal.model): ids, times, the PROV builder's names, the converter's
validation, FlowCept accessors and FlowCept's lineage rules."""

from __future__ import annotations

import datetime as dt
import json
import math

import prov.model as pm
import pytest

from provcausal.errors import BadInputError
from provcausal.model import flowcept as fc
from provcausal.model import ids, times
from provcausal.model import prov as P
from provcausal.model.convert import flowcept_to_prov, prov_to_flowcept
from provcausal.model.links import flowcept_links
from tests.helpers import run_cli

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def foreign(activity_attrs: dict, entity: dict | None = None) -> pm.ProvDocument:
    """A PROV-JSON document another tool could have written: one activity ``ex:a1``."""
    doc = {
        "prefix": {"ex": "http://example.org/", "provcausal": P.NS_ATTR},
        "activity": {"ex:a1": activity_attrs},
    }
    if entity is not None:
        doc["entity"] = {"ex:e1": entity}
        doc["wasGeneratedBy"] = {"_:g1": {"prov:entity": "ex:e1", "prov:activity": "ex:a1"}}
    return pm.ProvDocument.deserialize(content=json.dumps(doc), format="json")


def convert(document: pm.ProvDocument, keep_ids: bool = False) -> fc.RunRecords:
    return prov_to_flowcept(
        document, run_id="run-1", workflow="wf", system="prov", keep_ids=keep_ids
    )


# -- ids --------------------------------------------------------------------------------------


def test_given_the_same_source_when_deriving_ids_then_they_are_equal_and_kinds_differ():
    run = ids.run_id("scipipe", "wf", "/runs/1")
    assert run == ids.run_id("scipipe", "wf", "/runs/1") and run.startswith("scipipe-")
    assert run != ids.run_id("scipipe", "wf", "/runs/2")
    assert ids.task_id(run, "x").startswith("t-") and ids.entity_id(run, "x").startswith("e-")
    assert ids.task_id(run, "x")[2:] != ids.entity_id(run, "x")[2:]


# -- times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [times.GO_ZERO_TIME, "0001-01-01T00:00:00.000000000Z", dt.datetime(1, 1, 1, tzinfo=UTC)],
)
def test_given_go_zero_time_when_parsing_then_it_is_unknown(value):
    assert times.to_epoch(value) is None
    assert times.to_datetime(value) is None
    if isinstance(value, str):
        assert times.parse_iso(value) is None
        assert times.parse_rfc3339(value) is None


def test_given_times_in_every_source_form_then_they_agree():
    epoch = T0.timestamp()
    assert times.to_epoch(T0) == epoch
    assert times.to_epoch("2024-05-01T10:00:00Z") == epoch
    assert times.to_epoch("2024-05-01T12:00:00+02:00") == epoch
    assert times.to_epoch("2024-05-01T10:00:00") == epoch  # no offset: UTC
    assert times.to_epoch(epoch) == epoch
    assert times.to_datetime(epoch) == T0
    assert times.parse_time(str(epoch)) == T0
    assert times.parse_time("2024-05-01T10:00") == T0
    when, nanos = times.parse_rfc3339("2024-05-01T10:00:00.000000123Z")
    assert when == T0 and nanos == int(epoch) * 10**9 + 123
    assert times.parse_iso("2024-05-01T10:00:00.000000123Z") == T0  # Go's nanoseconds
    assert times.format_iso(T0) == "2024-05-01T10:00:00+00:00"
    assert times.format_iso(None) is None


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, 1e20, True, "yesterday", object(), "2024-13-01"]
)
def test_given_a_bad_time_when_converting_then_a_time_value_error_says_so(value):
    with pytest.raises(times.TimeValueError):
        times.to_epoch(value)


@pytest.mark.parametrize("text", ["nan", "inf", "1e30", "soon", "2024-02-30"])
def test_given_a_bad_user_time_when_parsing_then_value_error(text):
    with pytest.raises(ValueError):
        times.parse_time(text)


def test_given_a_malformed_rfc3339_time_then_value_error():
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        times.parse_rfc3339("2024-05-01 10:00")
    with pytest.raises(ValueError, match="not a valid time"):
        times.parse_rfc3339("2024-02-30T10:00:00Z")


# -- the builder's names, read back by the converter ------------------------------------------


def built_run() -> tuple[pm.ProvDocument, str, str]:
    run = ids.run_id("test", "wf", "src")
    b = P.RunDocumentBuilder(run, "wf", "test")
    t, e = ids.task_id(run, "a"), ids.entity_id(run, "a.out")
    b.node_agent("n-a", {P.NODE_NAME: "Node A"})
    b.task(
        t,
        "n-a",
        start=T0,
        end=T0 + dt.timedelta(seconds=2),
        sample="s-7",
        visit=3,
        unobserved=True,
        status="ERROR",
        duration=0.25,
        attrs={"params": {"k": 1}, "note": '{"looks": "like json"}'},
    )
    b.entity(e, name="a.out", value=4.5)
    b.generated(e, t)
    return b.document, run, t


def test_given_a_built_task_then_every_attribute_is_under_its_constant():
    doc, _, t = built_run()
    (activity,) = doc.get_records(pm.ProvActivity)
    names = {k.localpart for k, _ in activity.attributes if k.namespace.uri == P.NS_ATTR}
    assert {P.NODE, P.SAMPLE, P.VISIT, P.STATUS, P.UNOBSERVED, P.DURATION} <= names
    (agent,) = doc.get_records(pm.ProvAgent)
    assert P.NODE_NAME in {k.localpart for k, _ in agent.attributes}


def test_given_a_built_run_when_converted_through_prov_json_then_the_values_round_trip():
    doc, run, t = built_run()
    back = pm.ProvDocument.deserialize(content=doc.serialize(format="json"), format="json")
    records = prov_to_flowcept(back, run_id=run, workflow="wf", system="test", label="x")
    (task,) = records.tasks
    assert task["task_id"] == t and fc.task_node(task) == "n-a"
    assert fc.task_sample(task) == "s-7" and fc.task_visit(task) == 3
    assert fc.task_unobserved(task) is True and task["status"] == "ERROR"
    assert fc.task_duration(task) == 0.25 and fc.task_value(task) == 4.5
    attrs = fc.task_attrs(task)
    assert attrs["params"] == {"k": 1}  # provcausal's own JSON-encoded attribute
    assert attrs["note"] == '{"looks": "like json"}'  # text that looks like JSON stays text
    wf = records.workflow
    assert fc.node_labels(wf) == {"n-a": "Node A"} and fc.run_label(wf) == "x"
    assert fc.run_system(wf) == "test" and fc.run_state(wf) == fc.STATE_COMPLETE
    assert fc.run_count(wf, "tasks") == 1 and fc.run_count(wf, "entities") == 1


# -- the converter validates what it reads ----------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "attribute"),
    [
        ({"provcausal:visit": "x"}, "provcausal:visit"),
        ({"provcausal:visit": -1}, "provcausal:visit"),
        ({"provcausal:visit": 1.5}, "provcausal:visit"),
        ({"provcausal:unobserved": "maybe"}, "provcausal:unobserved"),
        ({"provcausal:duration": "slow"}, "provcausal:duration"),
        ({"provcausal:duration": "nan"}, "provcausal:duration"),
    ],
)
def test_given_a_bad_provcausal_attribute_then_bad_input_names_record_and_attribute(
    attrs, attribute
):
    with pytest.raises(BadInputError) as caught:
        convert(foreign(attrs))
    message = str(caught.value)
    assert "ex:a1" in message and attribute in message, message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("false", False), ("False", False), ("0", False), (False, False), ("true", True), (1, True)],
)
def test_given_unobserved_as_text_then_false_means_false(value, expected):
    (task,) = convert(foreign({"provcausal:unobserved": value})).tasks
    assert fc.task_unobserved(task) is expected


def test_given_visit_as_numeric_text_then_it_is_a_whole_number():
    (task,) = convert(foreign({"provcausal:visit": "2"})).tasks
    assert fc.task_visit(task) == 2


def test_given_foreign_text_that_looks_like_json_then_it_stays_text():
    records = convert(
        foreign({"provcausal:query": '{"a": 1}'}, entity={"provcausal:name": '{"n": 2}'})
    )
    (task,) = records.tasks
    assert fc.task_attrs(task)["query"] == '{"a": 1}'
    assert list(task["generated"]) == ['{"n": 2}']


def test_given_a_time_beyond_year_9999_in_utc_then_bad_input_names_it():
    with pytest.raises(BadInputError, match="ex:a1: prov:endTime .*9999-12-31T23:00:00-05:00"):
        convert(foreign({"prov:endTime": "9999-12-31T23:00:00-05:00"}))


def test_given_qualified_names_and_typed_literals_as_values_then_they_are_kept_as_text():
    attrs = {
        "provcausal:peer": {"$": "ex:x", "type": "prov:QUALIFIED_NAME"},
        "provcausal:n": {"$": "7", "type": "xsd:int"},
        "provcausal:odd": {"$": "abc", "type": "ex:custom"},
    }
    (task,) = convert(foreign(attrs)).tasks
    kept = fc.task_attrs(task)
    assert kept == {"peer": "ex:x", "n": 7, "odd": "abc"}
    assert json.dumps(kept)  # a store can hold them


def test_given_go_zero_time_on_an_activity_then_the_time_is_unknown():
    (task,) = convert(foreign({"prov:startTime": times.GO_ZERO_TIME})).tasks
    assert task["started_at"] is None


def test_given_visit_x_when_importing_prov_then_exit_2_with_a_clear_message(tmp_path):
    """Regression: ``provcausal:visit "x"`` made ``import prov`` exit 1 with an internal
    ValueError (found by the hypothesis fuzz test)."""
    path = tmp_path / "bad.json"
    path.write_text(foreign({"provcausal:visit": "x"}).serialize(format="json"))
    store = f"sqlite://{tmp_path / 'store.db'}"
    result = run_cli("import", "prov", path, "--workflow", "w", store=store)
    result.error(2, str(path), "ex:a1", "provcausal:visit", "'x'")


# -- FlowCept accessors -----------------------------------------------------------------------


def captured_task(task_id: str, used: dict, generated: dict, start: float, end: float) -> dict:
    """A task as FlowCept itself records it: no provcausal metadata."""
    return {
        "task_id": task_id,
        "workflow_id": "wf-run",
        "activity_id": task_id.split("-")[0],
        "used": used,
        "generated": generated,
        "started_at": start,
        "ended_at": end,
    }


def test_given_a_flowcept_captured_task_then_accessors_answer_with_defaults():
    task = captured_task("load-1", {}, {"x": "3.5", "y": "text"}, 1.0, 3.0)
    assert fc.is_captured(task) and fc.task_meta(task) == {}
    assert fc.task_sample(task) == "wf-run" and fc.task_sample(task, "s") == "s"
    assert fc.task_visit(task) == 0 and fc.task_unobserved(task) is False
    assert fc.task_value(task) == 3.5 and fc.task_duration(task) == 2.0
    assert fc.used_ids(task) == [] and fc.entities(task) == {}


def test_given_a_workflow_document_then_state_and_field_paths_come_from_the_model():
    wf = fc.workflow_document(
        run="r",
        workflow="w",
        system="s",
        meta={"label": "l"},
        created=0.0,
        started=None,
        ended=None,
    )
    assert fc.is_visible(wf) and fc.run_label(wf) == "l" and fc.run_id(wf) == "r"
    fc.set_run_state(wf, fc.STATE_WRITING)
    assert not fc.is_visible(wf)
    assert fc.meta_path("state").split(".")[1:] == [fc.PC, "state"]
    assert fc.is_visible({"workflow_id": "captured"})  # FlowCept's own runs are always visible


# -- FlowCept's lineage rules -----------------------------------------------------------------


def test_given_captured_tasks_then_the_closest_earlier_producer_of_a_value_is_upstream():
    early = captured_task("make-1", {}, {"x": 7}, 0.0, 1.0)
    late = captured_task("make-2", {}, {"x": 7}, 1.5, 2.0)
    after = captured_task("make-3", {}, {"x": 7}, 5.0, 6.0)  # ends after use: not a source
    use = captured_task("use-1", {"x": 7}, {}, 3.0, 4.0)
    links = flowcept_links([early, late, after, use])
    assert links.upstream["use-1"] == {"make-2"}
    assert links.used_entity("use-1", "x") == links.generated_entity("make-2", "x")
    assert links.used_entity("make-1", "x") != links.generated_entity("make-1", "x")
    assert links.has_task("use-1") and not links.has_task("nope")


def test_given_captured_tasks_when_written_as_prov_then_the_shared_value_is_one_entity():
    tasks = [
        captured_task("make-1", {}, {"x": 7}, 0.0, 1.0),
        captured_task("use-1", {"x": 7}, {"y": 1}, 2.0, 3.0),
    ]
    doc = flowcept_to_prov({"workflow_id": "wf-run", "name": "wf"}, tasks)
    assert len(list(doc.get_records(pm.ProvEntity))) == 2  # x (shared) and y
    records = prov_to_flowcept(doc, run_id="wf-run", workflow="wf", system="flowcept")
    by_node = {fc.task_node(t): t for t in records.tasks}
    assert by_node["use"]["dependencies"] == [by_node["make"]["task_id"]]
