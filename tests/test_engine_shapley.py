"""The Shapley solution and the coalition game over changed mechanisms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from provcausal.analysis.mechanisms import NodeSpec, fit_changed
from provcausal.analysis.shapley import Game, shapley_values


def test_given_an_additive_game_then_each_player_gets_its_own_part():
    parts = {"a": 1.0, "b": 2.0, "c": 0.5}
    values = shapley_values(lambda s: sum(parts[p] for p in s), list(parts))
    assert values == pytest.approx(parts)


def test_given_a_game_with_interaction_then_it_is_split_equally_and_sums_to_the_total():
    def v(s: frozenset[str]) -> float:
        return 3.0 if {"a", "b"} <= s else 0.0

    values = shapley_values(v, ["a", "b", "c"])
    assert values == pytest.approx({"a": 1.5, "b": 1.5, "c": 0.0})


def test_given_many_players_then_permutation_sampling_is_efficient_and_seeded():
    players = [f"p{i}" for i in range(10)]
    weight = {p: float(i) for i, p in enumerate(players)}
    values = shapley_values(lambda s: sum(weight[p] for p in s), players, seed=3)
    assert values == pytest.approx(weight)  # additive: every permutation gives the exact part
    again = shapley_values(lambda s: sum(weight[p] for p in s) ** 2, players, seed=3)
    assert again == shapley_values(lambda s: sum(weight[p] for p in s) ** 2, players, seed=3)
    assert sum(again.values()) == pytest.approx(sum(weight.values()) ** 2)


def _linear_specs():
    from sklearn.linear_model import LinearRegression

    return {
        "a": NodeSpec("a", (), "root", "empirical", None),
        "b": NodeSpec("b", ("a",), "anm", "linear", LinearRegression),
    }


def test_given_no_player_switched_on_then_the_game_reproduces_the_baseline():
    rng = np.random.default_rng(0)
    old = pd.DataFrame({"a": rng.normal(size=300)})
    old["b"] = 2 * old["a"] + rng.normal(size=300)
    new = old.assign(b=old["b"] + 3)
    specs = _linear_specs()
    mechs = fit_changed(specs, ["b"], {"b"}, old, new)
    game = Game.build(specs, ["b"], ["b"], old, mechs, new, "b", rng)
    np.testing.assert_allclose(game.simulate(frozenset()), old["b"].to_numpy())
    assert game.value(frozenset()) == 0.0
    assert game.simulate(frozenset({"b"})).mean() == pytest.approx(old["b"].mean() + 3, abs=0.3)


def test_given_known_noise_then_abduction_uses_it_and_matches_its_own_prediction():
    rng = np.random.default_rng(1)
    old = pd.DataFrame({"a": rng.normal(size=300)})
    old["b"] = 2 * old["a"] + rng.normal(size=300)
    old["c"] = old["b"] - old["a"] + rng.normal(size=300)
    new = old.assign(a=old["a"] + 1)
    specs = {**_linear_specs(), "c": NodeSpec("c", ("a", "b"), "anm", "linear", None)}
    specs["c"] = NodeSpec("c", ("a", "b"), "anm", "linear", specs["b"].factory)
    mechs = fit_changed(specs, ["a", "b", "c"], {"a"}, old, new)
    own = Game.build(specs, ["a", "b", "c"], ["a"], old, mechs, new, "c", np.random.default_rng(2))
    known = {n: own.noise[n].copy() for n in ("b", "c")}
    looked_up = Game.build(
        specs, ["a", "b", "c"], ["a"], old, mechs, new, "c", np.random.default_rng(2), known=known
    )
    assert looked_up.value(frozenset({"a"})) == own.value(frozenset({"a"}))
    known["c"] = known["c"] + 5.0  # a different noise must change the simulation
    shifted = Game.build(
        specs, ["a", "b", "c"], ["a"], old, mechs, new, "c", np.random.default_rng(2), known=known
    )
    assert shifted.simulate(frozenset({"a"})).mean() == pytest.approx(
        own.simulate(frozenset({"a"})).mean() + 5.0
    )


def test_given_a_coalition_then_only_its_descendants_are_simulated():
    rng = np.random.default_rng(3)
    old = pd.DataFrame({"a": rng.normal(size=300)})
    old["b"] = 2 * old["a"] + rng.normal(size=300)
    new = old.assign(b=old["b"] + 3)
    specs = _linear_specs()
    mechs = fit_changed(specs, ["a", "b"], {"b"}, old, new)
    game = Game.build(specs, ["a", "b"], ["b"], old, mechs, new, "b", rng)
    calls: list[int] = []
    predict = game.old_mech["b"].predict
    game.old_mech["b"].predict = lambda X: calls.append(len(X)) or predict(X)  # type: ignore[method-assign]
    assert np.array_equal(game.simulate(frozenset()), old["b"].to_numpy())
    assert calls == []  # nothing switched on: the baseline is replayed without evaluation
    game.simulate(frozenset({"b"}))
    assert calls == [300]
