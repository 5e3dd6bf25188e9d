"""Model choice and fitting of each node's mechanism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from provcausal.analysis.mechanisms import (
    Mechanism,
    NodeSpec,
    choose_model,
    evaluate,
    fit_changed,
    inside,
    is_binary,
)


@pytest.mark.parametrize(
    "shape, expected",
    [
        (lambda x: 2 * x + 1, "linear"),
        (lambda x: x**2, "polynomial"),
        (lambda x: np.where(np.sin(3 * x) > 0, 5.0, 0.0), "trend_neighbours"),
    ],
)
def test_given_a_shape_then_fast_chooses_the_simplest_model_that_fits(shape, expected):
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 150)
    y = shape(x) + rng.normal(0, 0.05, 150)
    name, factory = choose_model(x[:, None], y, "fast", seed=0)
    assert name == expected
    assert hasattr(factory(), "fit")


def test_given_a_step_then_the_local_model_follows_it_and_its_trend_beyond_the_data():
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, 400)
    y = np.where(np.sin(3 * x) > 0, 5.0, 0.0) + 2 * x
    name, factory = choose_model(x[:, None], y, "fast", seed=0)
    assert name == "trend_neighbours"
    model = factory().fit(x[:, None], y)
    inner = np.array([[0.5], [1.5]])  # sin(1.5) > 0: step up; sin(4.5) < 0: down
    assert np.allclose(model.predict(inner), [6.0, 3.0], atol=0.6)
    # beyond the data the trend carries on (a tree ensemble stayed flat)
    assert model.predict(np.array([[10.0]]))[0] > model.predict(np.array([[3.0]]))[0] + 8


def test_given_binary_values_then_a_classifier_or_a_constant_is_used():
    x = np.linspace(-2, 2, 100)[:, None]
    y = (x[:, 0] + np.random.default_rng(2).normal(0, 0.5, 100) > 0).astype(float)
    assert is_binary(y) and not is_binary(y + 0.5)
    name, factory = choose_model(x, y, "fast", seed=0)
    assert name == "logistic"
    mech = Mechanism("binary", factory, x, y)
    p1 = mech.p_one(x)
    assert p1[0] < 0.2 < 0.8 < p1[-1]
    assert evaluate(mech, x, np.full(100, 0.5)).tolist() == (p1 > 0.5).astype(float).tolist()
    assert choose_model(x, np.zeros(100), "fast", seed=0)[0] == "constant"


def test_given_an_additive_noise_fit_then_residuals_reproduce_the_data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 1))
    y = 3 * x[:, 0] + rng.normal(size=200)
    _, factory = choose_model(x, y, "fast", seed=0)
    mech = Mechanism("anm", factory, x, y)
    assert mech.residuals is not None
    np.testing.assert_allclose(evaluate(mech, x, mech.residuals), y)


def test_given_changed_nodes_then_only_moved_nodes_are_fitted():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"a": rng.normal(size=50)})
    frame["b"] = frame["a"] + rng.normal(size=50)
    frame["c"] = frame["b"] + rng.normal(size=50)
    specs = {
        "a": NodeSpec("a", (), "root", "empirical", None),
        "b": NodeSpec("b", ("a",), "anm", "linear", LinearRegression),
        "c": NodeSpec("c", ("b",), "anm", "linear", LinearRegression),
    }
    old_mech, new_mech = fit_changed(specs, ["b", "c"], {"b"}, frame, frame)
    assert sorted(old_mech) == ["b", "c"] and sorted(new_mech) == ["b"]
    assert specs["b"].linear and not specs["a"].linear


def test_inside_pads_the_observed_range():
    ref = np.array([[0.0], [10.0]])
    assert inside(np.array([[-0.4], [5.0], [10.6]]), ref).tolist() == [True, True, False]


@pytest.mark.parametrize("shape", [lambda x: 2 * x, lambda x: np.where(np.sin(3 * x) > 0, 5.0, 0)])
def test_chosen_models_serve_as_dowhy_mechanisms_for_anomalies(shape):
    from dowhy import gcm

    from provcausal.analysis.anomaly import _prediction

    rng = np.random.default_rng(5)
    x = rng.uniform(-3, 3, (120, 1))
    y = shape(x[:, 0]) + rng.normal(0, 0.1, 120)
    mech = gcm.AdditiveNoiseModel(_prediction(*choose_model(x, y, "fast", seed=0)))
    mech.fit(X=x, Y=y)  # dowhy's keyword call
    assert np.mean((mech.prediction_model.predict(x).ravel() - y) ** 2) < 1.0
    assert mech.clone() is not None


def test_numpy_logistic_matches_scikit_learns_default_fit():
    from sklearn.linear_model import LogisticRegression

    from provcausal.analysis.mechanisms import Logistic

    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2)) * [1.0, 8.0]
    y = (rng.uniform(size=300) < 1 / (1 + np.exp(-(X[:, 0] - 0.1 * X[:, 1])))).astype(float)
    ours, theirs = Logistic().fit(X, y.astype(str)), LogisticRegression().fit(X, y.astype(str))
    assert list(ours.classes_) == list(theirs.classes_) == ["0.0", "1.0"]
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=2e-3)
    separable = np.r_[np.zeros(20), np.ones(20)]  # the penalty keeps the fit finite
    probs = Logistic().fit(separable[:, None] * 6 - 3, separable).predict_proba([[-3.0], [3.0]])
    assert np.all(np.isfinite(probs)) and probs[0, 0] > 0.9 and probs[1, 1] > 0.9
