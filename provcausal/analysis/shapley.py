"""The Shapley game over the changed mechanisms, and its solution.

A coalition's value is the distance between the baseline target and the target simulated with
the coalition's mechanisms swapped for their comparison-set fits. Unchanged mechanisms replay
each baseline row's own noise (abduction), so the empty coalition reproduces the baseline
exactly and every coalition is evaluated on the same random numbers. A new mechanism is used
only inside the parent range where it was observed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from provcausal.analysis.distance import Distance, binned_kl
from provcausal.analysis.mechanisms import Mechanism, NodeSpec, columns, evaluate, inside

__all__ = ["EXACT_MAX_PLAYERS", "Game", "abduct", "shapley_values"]

#: Up to this many players the Shapley values are exact; beyond, permutation sampling.
EXACT_MAX_PLAYERS = 8
PERMUTATIONS = 20


def abduct(
    specs: dict[str, NodeSpec],
    moved: list[str],
    old_mech: dict[str, Mechanism],
    base: pd.DataFrame,
    rng: np.random.Generator,
    known: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Each baseline row's noise under its baseline mechanism, for every moved non-root node
    (for a 0/1 node, a uniform draw consistent with the observed value). ``known`` gives
    the noise of additive-noise nodes that the caller has already computed."""
    noise: dict[str, np.ndarray] = {}
    for node in moved:
        if not specs[node].parents:
            continue
        mech = old_mech[node]
        if known is not None and node in known and mech.kind != "binary":
            noise[node] = known[node]
            continue
        y = base[node].to_numpy(float)
        X = columns(base, specs[node].parents)
        if mech.kind == "binary":
            p1 = mech.p_one(X)
            u = rng.uniform(size=len(y))
            noise[node] = np.where(y > 0.5, u * p1, p1 + u * (1 - p1))
        else:
            noise[node] = y - mech.predict(X)
    return noise


def _new_draws(
    specs: dict[str, NodeSpec],
    players: list[str],
    new: pd.DataFrame,
    new_mech: dict[str, Mechanism],
    n: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Noise for the comparison mechanisms: root values resampled from the comparison set,
    residuals of additive-noise fits, uniform draws for 0/1 nodes."""
    draws: dict[str, np.ndarray] = {}
    for node in players:
        if not specs[node].parents:
            draws[node] = new[node].to_numpy(float)[rng.integers(0, len(new), n)]
            continue
        residuals = new_mech[node].residuals
        if residuals is not None:
            draws[node] = residuals[rng.integers(0, len(residuals), n)]
        else:
            draws[node] = rng.uniform(size=n)
    return draws


@dataclass
class Game:
    """The coalition game: the value of a set of players (nodes whose mechanism is swapped)."""

    specs: dict[str, NodeSpec]
    moved: list[str]
    base: pd.DataFrame
    old_mech: dict[str, Mechanism]
    new_mech: dict[str, Mechanism]
    noise: dict[str, np.ndarray]
    draws: dict[str, np.ndarray]
    support: dict[str, np.ndarray]
    target: str
    distance: Distance = binned_kl

    def __post_init__(self) -> None:
        self.observed = {c: self.base[c].to_numpy(float) for c in self.base.columns}

    @classmethod
    def build(
        cls,
        specs: dict[str, NodeSpec],
        moved: list[str],
        players: list[str],
        base: pd.DataFrame,
        mechanisms: tuple[dict[str, Mechanism], dict[str, Mechanism]],
        new: pd.DataFrame,
        target: str,
        rng: np.random.Generator,
        distance: Distance = binned_kl,
        known: dict[str, np.ndarray] | None = None,
    ) -> Game:
        """Abduct the baseline noise (``known``: see :func:`abduct`) and draw the comparison
        noise, once for all coalitions."""
        old_mech, new_mech = mechanisms
        noise = abduct(specs, moved, old_mech, base, rng, known)
        draws = _new_draws(specs, players, new, new_mech, len(base), rng)
        support = {n: columns(new, specs[n].parents) for n in players if specs[n].parents}
        return cls(specs, moved, base, old_mech, new_mech, noise, draws, support, target, distance)

    def simulate(self, on: frozenset[str]) -> np.ndarray:
        """The target with the mechanisms of ``on`` swapped for their comparison fits.

        Only ``on`` and what lies downstream of it is evaluated: every other node replays its
        own baseline noise through its baseline mechanism, which gives back its baseline
        values (abduction), so they are taken as they are."""
        cur = dict(self.observed)
        touched = set(on)
        for node in self.moved:
            parents = self.specs[node].parents
            if node not in on and not touched.intersection(parents):
                continue
            touched.add(node)
            if not parents:
                if node in on:
                    cur[node] = self.draws[node]
                continue
            X = np.column_stack([cur[p] for p in parents])
            value = evaluate(self.old_mech[node], X, self.noise[node])
            if node in on:
                # The new mechanism is known only where the comparison data has parents;
                # elsewhere there is no evidence that it changed.
                fresh = evaluate(self.new_mech[node], X, self.draws[node])
                value = np.where(inside(X, self.support[node]), fresh, value)
            cur[node] = value
        return cur[self.target]

    def value(self, on: frozenset[str]) -> float:
        """Distance between the baseline target and the target simulated with ``on``."""
        return self.distance(self.observed[self.target], self.simulate(on))


def shapley_values(
    value: Callable[[frozenset[str]], float], players: list[str], seed: int = 0
) -> dict[str, float]:
    """Each player's Shapley value for the game ``value`` (cached per coalition): exact for
    up to :data:`EXACT_MAX_PLAYERS` players, else averaged over random permutations."""
    cache: dict[frozenset[str], float] = {}

    def v(coalition: frozenset[str]) -> float:
        if coalition not in cache:
            cache[coalition] = value(coalition)
        return cache[coalition]

    k = len(players)
    out = dict.fromkeys(players, 0.0)
    if k <= EXACT_MAX_PLAYERS:
        for player in players:
            others = [p for p in players if p != player]
            for size in range(k):
                weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
                for rest in itertools.combinations(others, size):
                    s = frozenset(rest)
                    out[player] += weight * (v(s | {player}) - v(s))
        return out
    rng = np.random.default_rng(seed)
    for _ in range(PERMUTATIONS):
        before: frozenset[str] = frozenset()
        for index in rng.permutation(k):
            player = players[int(index)]
            grown = before | {player}
            out[player] += (v(grown) - v(before)) / PERMUTATIONS
            before = grown
    return out
