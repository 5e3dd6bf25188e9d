"""The mechanism-change test: calibrated, range-robust, Holm-corrected, swappable."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from provcausal.analysis.change_test import ALPHA, Changes, holm, predictive_test
from provcausal.analysis.engine import attribute_frames
from provcausal.analysis.mechanisms import NodeSpec, choose_model


def _spec(node, parents, frame):
    if not parents:
        return NodeSpec(node, (), "root", "empirical", None)
    X, y = frame[list(parents)].to_numpy(float), frame[node].to_numpy(float)
    name, factory = choose_model(X, y, "fast", seed=0)
    return NodeSpec(node, tuple(parents), "anm", name, factory)


def _pair(rows, rng, x_shift=0.0, y_shift=0.0, fn=lambda x: 2 * x):
    old = pd.DataFrame({"x": rng.normal(size=rows)})
    old["y"] = fn(old["x"]) + rng.normal(0, 0.5, rows)
    new = pd.DataFrame({"x": rng.normal(size=rows) + x_shift})
    new["y"] = fn(new["x"]) + rng.normal(0, 0.5, rows) + y_shift
    return old, new


def test_given_a_root_shift_then_ks_flags_it_and_an_equal_root_is_not_flagged():
    rng = np.random.default_rng(0)
    old, new = _pair(200, rng, x_shift=1.0)
    spec = _spec("x", (), old)
    assert predictive_test(spec, old, new, 0) < 1e-6
    old, new = _pair(200, rng)
    assert predictive_test(spec, old, new, 0) > ALPHA


def test_given_only_the_input_moved_then_the_child_is_not_flagged():
    rng = np.random.default_rng(1)
    old, new = _pair(200, rng, x_shift=1.5, fn=lambda x: x**2)
    pooled = pd.concat([old, new])
    assert predictive_test(_spec("y", ("x",), pooled), old, new, 0) > ALPHA


def test_given_the_mechanism_moved_then_the_child_is_flagged():
    rng = np.random.default_rng(2)
    old, new = _pair(200, rng, y_shift=0.5)
    pooled = pd.concat([old, new])
    assert predictive_test(_spec("y", ("x",), pooled), old, new, 0) < ALPHA / 10


def test_given_unchanged_data_then_the_test_is_calibrated():
    rng = np.random.default_rng(3)
    pvalues = []
    for i in range(40):
        old, new = _pair(80, rng)
        pooled = pd.concat([old, new])
        pvalues.append(predictive_test(_spec("y", ("x",), pooled), old, new, i))
    assert np.mean(np.array(pvalues) < 0.05) <= 0.15


def test_holm_is_monotone_step_down():
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adjusted == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06})


def test_given_nothing_changed_then_the_three_likeliest_play_and_it_is_forced():
    changes = Changes(["a", "b", "c", "d"], {"a": 0.5, "b": 0.2, "c": 0.9, "d": 0.3})
    assert changes.forced and changes.changed == [] and changes.players == ["b", "d", "a"]
    changes = Changes(["a", "b"], {"a": 1e-9, "b": 0.5})
    assert not changes.forced and changes.players == ["a"]


def test_given_a_custom_change_test_then_the_engine_uses_it():
    rng = np.random.default_rng(4)
    old, new = _pair(150, rng, y_shift=1.0)
    g = nx.DiGraph([("x", "y")])
    seen: list[str] = []

    def only_x(spec, old, new, seed):
        seen.append(spec.name)
        return 0.0 if spec.name == "x" else 1.0

    result = attribute_frames(g, old, new, "y", repeats=0, n_jobs=1, change_test=only_x)
    assert set(seen) == {"x", "y"}
    assert result.flagged == ["x"]
