"""Target resolution, shared by ``attribute`` and ``anomalies``."""

from __future__ import annotations

import networkx as nx
import pytest

from provcausal.analysis.targets import resolve_target
from provcausal.cli import cli_message
from provcausal.errors import AnalysisError, UnknownNodeError


def test_given_one_sink_then_it_is_the_default_target():
    assert resolve_target(nx.DiGraph([("a", "b"), ("b", "c")]), None) == "c"


def test_given_a_label_that_one_node_has_then_it_names_that_node():
    g = nx.DiGraph([("n1", "n2")])
    assert resolve_target(g, "Step 2", {"n1": "Step 1", "n2": "Step 2"}) == "n2"
    assert resolve_target(g, "n1", {"n1": "Step 1"}) == "n1"


def test_given_several_sinks_then_the_error_names_the_parameter_and_the_cli_the_option():
    with pytest.raises(AnalysisError) as caught:
        resolve_target(nx.DiGraph([("a", "b"), ("a", "c")]), None)
    message = str(caught.value)
    assert message == "the workflow has 2 sinks: b, c; choose one with the `target` parameter"
    assert "--" not in str(caught.value)
    assert cli_message(caught.value).endswith("choose one with --target")


def test_given_an_unknown_or_ambiguous_name_then_unknown_node_lists_the_nodes():
    g = nx.DiGraph([("n1", "n2")])
    for name, labels in (("zz", {}), ("Step", {"n1": "Step", "n2": "Step"})):
        with pytest.raises(UnknownNodeError, match=r"nodes: n1, n2") as caught:
            resolve_target(g, name, labels, "wf", "value")
        assert caught.value.parameter == "target"
        assert "(--target) is not a node of 'wf' with value data" in cli_message(caught.value)
