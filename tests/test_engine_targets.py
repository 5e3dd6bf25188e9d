"""Target resolution, shared by ``attribute`` and ``anomalies``."""

from __future__ import annotations

import networkx as nx
import pytest

from provcausal.analysis.targets import resolve_target
from provcausal.cli import flag_hint
from provcausal.errors import InvalidParameterError, UnknownNodeError


def test_given_one_sink_then_it_is_the_default_target():
    assert resolve_target(nx.DiGraph([("a", "b"), ("b", "c")]), None) == "c"


def test_given_a_label_that_one_node_has_then_it_names_that_node():
    g = nx.DiGraph([("n1", "n2")])
    assert resolve_target(g, "Step 2", {"n1": "Step 1", "n2": "Step 2"}) == "n2"
    assert resolve_target(g, "n1", {"n1": "Step 1"}) == "n1"


def test_given_several_sinks_then_the_error_names_the_parameter_and_the_cli_the_option():
    with pytest.raises(InvalidParameterError) as caught:
        resolve_target(nx.DiGraph([("a", "b"), ("a", "c")]), None)
    assert str(caught.value) == "the workflow has 2 sinks: b, c; choose one target"
    assert caught.value.parameters == ("target",)
    assert flag_hint(caught.value).endswith("choose one target (--target)")


def test_given_an_unknown_or_ambiguous_name_then_unknown_node_lists_the_nodes():
    g = nx.DiGraph([("n1", "n2")])
    for name, labels in (("zz", {}), ("Step", {"n1": "Step", "n2": "Step"})):
        with pytest.raises(UnknownNodeError, match=r"nodes: n1, n2"):
            resolve_target(g, name, labels, "wf", "value")
