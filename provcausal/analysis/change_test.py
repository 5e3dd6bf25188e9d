"""Did a node's mechanism change between the baseline and the comparison set?

Roots: a two-sample KS test. Other nodes: a predictive conditional-independence test of the
node and the set indicator given the parents. Both sets are pooled; in cross-validation each
held-out row is predicted by a model of the parents alone and by one that also knows the set
(with interactions for linear models); the per-row loss differences are tested one-sided.
Every row is compared with itself, so the test is calibrated and a shifted or narrowed parent
range does not make an unchanged (even deterministic) step look changed. Beside it, the
exactness test (:mod:`~provcausal.analysis.exactness`) looks for a relation that holds
exactly in one set only (a copy of a parent, a constant, a clip), which a smooth model can
miss; the two p-values are combined by Bonferroni before the Holm correction over nodes.

Any callable with the signature of :data:`ChangeTest` can replace :func:`predictive_test`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from provcausal.analysis.exactness import ExactRelations, exactness_test
from provcausal.analysis.kdtree import Tree
from provcausal.analysis.ks import ks_2samp
from provcausal.analysis.mechanisms import (
    LOCAL,
    LeastSquares,
    Mechanism,
    NearestNeighbours,
    NodeSpec,
    columns,
    is_binary,
    neighbours_for,
)
from provcausal.analysis.special import student_t_cdf

__all__ = [
    "ALPHA",
    "NeighbourCache",
    "Neighbours",
    "ChangeTest",
    "Changes",
    "holm",
    "predictive_test",
    "detect_changes",
    "with_exactness",
]

#: Holm-adjusted level at which a mechanism counts as changed. Faults in the paper's
#: experiments test at p < 1e-8; unchanged deterministic steps whose inputs moved to another
#: range reach p ~ 0.01-0.04 with small samples, so the level is strict.
ALPHA = 0.01

#: Mechanisms tested with the local model (:func:`_local_test`).
LOCAL_MODELS = (LOCAL,)

#: ``(node, baseline rows, comparison rows, seed) -> p-value`` of "the mechanism changed".
ChangeTest = Callable[[NodeSpec, pd.DataFrame, pd.DataFrame, int], float]


def predictive_test(
    spec: NodeSpec,
    old: pd.DataFrame,
    new: pd.DataFrame,
    seed: int,
    variance: bool = False,
    fold_repeats: int | None = None,
    neighbours: NeighbourCache | None = None,
    exact: ExactRelations | None = None,
) -> float:
    """p-value of "``spec``'s mechanism differs between ``old`` and ``new``".

    The folds are stratified by set and repeated (``fold_repeats``, default
    :data:`FOLD_REPEATS`), and each row's loss difference is averaged over the repeats, so
    the answer does not hinge on one fold draw.
    With ``variance``, the same test on residual magnitudes catches noise-level changes.
    ``neighbours``: the local test's neighbour look-ups, shared by the tests of one
    attribution on the data as given and its resamples (see :class:`NeighbourCache`).
    The exactness test is combined with it (:func:`with_exactness`; ``exact``: its
    relations found once on the data as given, see :class:`ExactRelations`).
    """
    p = _smooth_test(spec, old, new, seed, variance, fold_repeats, neighbours)
    return with_exactness(p, spec, old, new, exact)


def with_exactness(
    p: float,
    spec: NodeSpec,
    old: pd.DataFrame,
    new: pd.DataFrame,
    relations: ExactRelations | None = None,
) -> float:
    """``p`` combined with the exactness test's p-value (Bonferroni over the two tests).

    ``p`` is kept as it is when no relation holds in one set only (the exactness p-value is
    then 1): the two tests then reject at most at 1.5 times the level of one, and the
    predictive test's p-values stay what they were wherever nothing became exact."""
    exact = relations.pvalue(spec, old, new) if relations else exactness_test(spec, old, new)
    return p if exact >= 1.0 else min(1.0, 2 * min(p, exact))


def _smooth_test(
    spec: NodeSpec,
    old: pd.DataFrame,
    new: pd.DataFrame,
    seed: int,
    variance: bool,
    fold_repeats: int | None,
    neighbours: NeighbourCache | None,
) -> float:
    """The predictive test alone (see :func:`predictive_test`)."""
    node, parents = spec.name, list(spec.parents)
    y_old, y_new = old[node].to_numpy(float), new[node].to_numpy(float)
    if not parents:
        if len(np.unique(np.concatenate([y_old, y_new]))) == 1:
            return 1.0
        return ks_2samp(y_old, y_new)[1]
    X = np.vstack([columns(old, parents), columns(new, parents)])
    y = np.concatenate([y_old, y_new])
    t = np.concatenate([np.zeros(len(y_old)), np.ones(len(y_new))])
    folds = min(5 if len(y) < 400 else 3, len(y_old), len(y_new))
    if folds < 2:
        return 1.0
    splits = _splits(t, folds, seed, fold_repeats or FOLD_REPEATS)

    def local(trend: Callable[[], Any]) -> tuple[float, np.ndarray]:
        # The neighbour look-ups are built only for the nodes that need the local test.
        shared, ids = neighbours.lookup(spec, old, new, X) if neighbours else (None, None)
        return _local_test(X, y, t, splits, trend, shared, ids)

    if spec.kind == "anm" and spec.model in LOCAL_MODELS:
        # A local mechanism: tested with the local test, whose neighbours are looked up once
        # for all folds and resamples instead of refitting the mechanism in every fold.
        p, resid = local(LeastSquares)
        return _with_variance(p, X, resid, t, splits) if variance else p
    mode = "interact" if spec.linear else "feature"
    p, resid, _ = _cross_validated(X, y, t, spec.kind, spec.factory, mode, splits)
    if spec.linear and spec.kind == "anm" and p < ALPHA:
        # A step that is not exactly linear or quadratic (a count over the first N lines: a
        # random walk around a trend; a ratio) is misfit by a smooth model in a way that
        # depends on the input range, so a shifted input alone makes it look changed: a
        # model that knows the set fits each set's range better. A local model, which does
        # not extrapolate, must agree.
        p = max(p, local(spec.factory or LeastSquares)[0])
    if variance and spec.kind == "anm":
        p = _with_variance(p, X, resid, t, splits)
    return p


def _with_variance(
    p: float, X: np.ndarray, resid: np.ndarray, t: np.ndarray, splits: list[Split]
) -> float:
    """Combine ``p`` (Bonferroni) with the same test on residual magnitudes."""
    p_var, _, _ = _cross_validated(X, resid, t, "anm", LeastSquares, "interact", splits)
    return min(1.0, 2 * min(p, p_var))


#: Each change test averages every row's loss difference over this many fold draws.
FOLD_REPEATS = 10

Split = tuple[np.ndarray, np.ndarray]


def _splits(t: np.ndarray, folds: int, seed: int, repeats: int) -> list[Split]:
    """Repeated folds stratified by set: each fold holds both sets in their proportions.
    Rows are dealt to folds in a random order per set, ``repeats`` times."""
    rng = np.random.default_rng(seed)
    out: list[Split] = []
    rows = np.arange(len(t))
    for _ in range(repeats):
        fold = np.empty(len(t), dtype=int)
        for side in np.unique(t):
            members = rows[t == side]
            fold[rng.permutation(members)] = np.arange(len(members)) % folds
        out.extend((rows[fold != k], rows[fold == k]) for k in range(folds))
    return out


def _fitted_prediction(
    factory: Callable[[], Any], X: np.ndarray, y: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """A fresh model from ``factory`` fitted on ``X``, ``y`` and predicting at ``at``, as a
    flat array: a ``good``/``better`` mechanism is a dowhy prediction model, whose ``fit``
    returns nothing and whose ``predict`` returns a column."""
    model = factory()
    model.fit(X, y)
    return np.asarray(model.predict(at), dtype=float).reshape(len(at))


def _local_test(
    X: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    splits: list[Split],
    trend: Callable[[], Any] = LeastSquares,
    shared: Neighbours | None = None,
    ids: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """The change test with a local model: after a smooth ``trend`` fitted on both sets,
    nearest neighbours (on standardised parents) per set against one for both. The local
    model follows structure that smooth fits miss, and removing the trend first keeps its
    averaging window from blurring steep slopes. Returns the p-value and held-out residuals.

    ``shared``: neighbours looked up once for the rows (``ids``: which of its rows each row
    is); by default they are looked up here when the folds are drawn several times."""
    k = neighbours_for(len(y))
    repeats = sum(1 for _, test in splits if len(test) and test[0] == 0)
    if shared is None or ids is None or shared.k != k:
        if repeats >= SHARED_REPEATS:
            shared, ids = Neighbours(X, t, k), np.arange(len(y))
        else:
            shared, ids = None, None
    # Every neighbour model measures distance on one scale (all rows', not each model's
    # training rows'), so that the models with and without the set agree on what is near.
    Z = X / (shared.scale if shared is not None else _scale(X))
    local = partial(NearestNeighbours, k, standardise=False)
    gain, resid, held_out = np.zeros_like(y), np.zeros_like(y), np.zeros_like(y)
    for train, test in splits:
        r = y - _fitted_prediction(trend, X[train], y[train], X)
        if shared is not None and ids is not None:
            plain, aware = _shared_losses(shared, ids, (Z, r, t), train, test, local)
        else:
            plain = local().fit(Z[train], r[train]).predict(Z[test])
            aware = _aware_losses("anm", local, "separate", (Z, r, t), train, test)
        gain[test] += (r[test] - plain) ** 2 - aware
        resid[test] += np.abs(r[test] - plain)
        held_out[test] += 1
    held_out = np.maximum(held_out, 1)
    return _gain_pvalue(gain / held_out, y), resid / held_out


def _scale(X: np.ndarray) -> np.ndarray:
    """Each column's standard deviation (1 for a constant column)."""
    scale = X.std(axis=0)
    return np.where(scale > 0, scale, 1.0)


#: From this many fold draws on, the local test looks neighbours up once for all folds.
SHARED_REPEATS = 4


class Neighbours:
    """Each row's nearest rows, among all rows and among the rows of its own set, looked up
    once (a k-d tree query of ``4 k`` neighbours) for all the folds and resamples of a local
    test. A fold's k-nearest-neighbour model then averages, for each held-out row, its first
    ``k`` neighbours that are training rows, counted as often as the training rows repeat
    them (a bootstrap resample repeats rows): the same model as a k-d tree of the fold's
    training rows, up to the order of tied neighbours, at the cost of a few array
    operations. A row whose looked-up neighbours hold fewer than ``k`` training rows gets
    its own k-d tree query. ``X``: the rows' parents; ``t``: their set (0 or 1)."""

    def __init__(self, X: np.ndarray, t: np.ndarray, k: int) -> None:
        self.scale = _scale(X)
        Z = X / self.scale
        self.k, self.rows, self.t = k, len(Z), t
        self.pooled = self._lookup(Z, np.arange(len(Z)))
        #: Per set: its rows' neighbours within the set, and each row's line in that table.
        self.side: dict[float, np.ndarray] = {}
        self.line = np.zeros(len(Z), dtype=int)
        for side in np.unique(t):
            members = np.flatnonzero(t == side)
            self.side[float(side)] = self._lookup(Z[members], members)
            self.line[members] = np.arange(len(members))

    def _lookup(self, Z: np.ndarray, members: np.ndarray) -> np.ndarray:
        """Row numbers of each member's ``4 k`` nearest members (itself first, unless tied)."""
        return members[Tree(Z).nearest(Z, min(4 * self.k, len(members)))]

    def average(
        self, values: np.ndarray, weight: np.ndarray, rows: np.ndarray, side: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean of ``values`` over each of ``rows``' ``k`` nearest training rows (``weight``:
        how often each row is a training row), among all rows or those of ``side``; and
        which rows had too few training rows among their looked-up neighbours."""
        found = self.pooled[rows] if side is None else self.side[side][self.line[rows]]
        k = min(self.k, int(weight.sum()))
        copies = weight[found]
        before = np.cumsum(copies, axis=1) - copies
        used = np.clip(k - before, 0, copies)
        return (used * values[found]).sum(axis=1) / max(k, 1), used.sum(axis=1) < k


class NeighbourCache:
    """The :class:`Neighbours` of each parent set in the data as given (``old`` and ``new``,
    indexed 0..n-1), looked up on first use and shared by the local tests of every replicate
    of one attribution. A replicate's frames name in their index the rows of the data as
    given that they hold (a bootstrap resample repeats them); frames that do not are tested
    without the cache."""

    def __init__(self, old: pd.DataFrame, new: pd.DataFrame) -> None:
        self.old, self.new = old, new
        self.found: dict[tuple[str, ...], tuple[np.ndarray, Neighbours]] = {}

    def lookup(
        self, spec: NodeSpec, old: pd.DataFrame, new: pd.DataFrame, X: np.ndarray
    ) -> tuple[Neighbours | None, np.ndarray | None]:
        """The neighbours of ``spec``'s parents and the row there of each row of ``old`` and
        ``new`` (whose parents are ``X``), or ``(None, None)`` when the rows are not rows of
        the data as given."""
        first, second = old.index.to_numpy(), new.index.to_numpy()
        if first.dtype.kind not in "iu" or second.dtype.kind not in "iu":
            return None, None
        if len(first) and not (first.min() >= 0 and first.max() < len(self.old)):
            return None, None
        if len(second) and not (second.min() >= 0 and second.max() < len(self.new)):
            return None, None
        if spec.parents not in self.found:
            parents = list(spec.parents)
            given = np.vstack([columns(self.old, parents), columns(self.new, parents)])
            sides = np.concatenate([np.zeros(len(self.old)), np.ones(len(self.new))])
            self.found[spec.parents] = given, Neighbours(given, sides, neighbours_for(len(given)))
        given, shared = self.found[spec.parents]
        ids = np.concatenate([first, second + len(self.old)])
        if not np.array_equal(given[ids], X, equal_nan=True):
            return None, None
        return shared, ids


def _shared_losses(
    shared: Neighbours,
    ids: np.ndarray,
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
    train: np.ndarray,
    test: np.ndarray,
    local: Callable[[], NearestNeighbours],
) -> tuple[np.ndarray, np.ndarray]:
    """The local test's held-out predictions of the model for both sets and squared errors
    of the models per set, from ``shared`` neighbours (``ids``: each row's row there)."""
    Z, r, t = data
    values = np.zeros(shared.rows)
    values[ids] = r  # a repeated row has the same parents, value and residual
    weight = np.bincount(ids[train], minlength=shared.rows)
    plain, short = shared.average(values, weight, ids[test], None)
    if short.any():
        plain[short] = local().fit(Z[train], r[train]).predict(Z[test[short]])
    aware = np.empty(len(test))
    for side in (0.0, 1.0):
        rows = test[t[test] == side]
        if not len(rows):
            continue
        fit_rows = train[t[train] == side]
        weight = np.bincount(ids[fit_rows], minlength=shared.rows)
        predicted, short = shared.average(values, weight, ids[rows], side)
        if short.any():
            predicted[short] = local().fit(Z[fit_rows], r[fit_rows]).predict(Z[rows[short]])
        aware[t[test] == side] = (r[rows] - predicted) ** 2
    return plain, aware


def _aware_losses(
    kind: str,
    factory: Callable[[], object] | None,
    mode: str,
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
    train: np.ndarray,
    test: np.ndarray,
) -> np.ndarray:
    """Held-out losses of a model that knows each row's set: ``t`` as a feature
    (``feature``), with interactions (``interact``), or one model per set (``separate``)."""
    X, y, t = data
    if mode == "separate":
        losses = np.empty(len(test))
        for side in (0.0, 1.0):
            fit_rows, rows = train[t[train] == side], t[test] == side
            if rows.any():
                mech = Mechanism(kind, factory, X[fit_rows], y[fit_rows])
                losses[rows] = _loss(mech, X[test][rows], y[test][rows])
        return losses
    Xt = np.column_stack([X, t, X * t[:, None]] if mode == "interact" else [X, t])
    mech = Mechanism(kind, factory, Xt[train], y[train])
    return _loss(mech, Xt[test], y[test])


def _cross_validated(
    X: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    kind: str,
    factory: Callable[[], object] | None,
    mode: str,
    splits: list[Split],
) -> tuple[float, np.ndarray, float]:
    """One-sided p-value that knowing the set ``t`` improves held-out prediction of ``y``
    from ``X`` (per-row gains averaged over the repeated folds); the held-out absolute
    residuals and mean loss of the model without ``t``."""
    gain, loss0, resid = np.zeros_like(y), np.zeros_like(y), np.zeros_like(y)
    held_out = np.zeros_like(y)
    for train, test in splits:
        plain = Mechanism(kind, factory, X[train], y[train])
        plain_loss = _loss(plain, X[test], y[test])
        gain[test] += plain_loss - _aware_losses(kind, factory, mode, (X, y, t), train, test)
        loss0[test] += plain_loss
        resid[test] += np.abs(y[test] - plain.predict(X[test]))
        held_out[test] += 1
    held_out = np.maximum(held_out, 1)
    return _gain_pvalue(gain / held_out, y), resid / held_out, float(np.mean(loss0 / held_out))


def _loss(mech: Mechanism, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    if mech.kind == "binary" or (mech.kind == "constant" and is_binary(y)):
        p1 = np.clip(mech.p_one(X), 1e-6, 1 - 1e-6)
        return -np.log(np.where(y > 0.5, p1, 1 - p1))
    return (y - mech.predict(X)) ** 2


def _gain_pvalue(gain: np.ndarray, y: np.ndarray) -> float:
    """One-sided one-sample t-test that the mean gain is above zero."""
    tol = 1e-12 * (np.var(y) + 1e-12)
    gain = np.where(np.abs(gain) < tol, 0.0, gain)
    if not gain.any():
        return 1.0
    if np.allclose(gain, gain[0]):
        return 0.0 if gain[0] > 0 else 1.0
    n = len(gain)
    spread = gain.std(ddof=1)
    if not spread > 0:
        return 1.0
    statistic = gain.mean() / (spread / np.sqrt(n))
    p = student_t_cdf(n - 1, -statistic)
    return p if np.isfinite(p) else 1.0


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values (step-down, monotone), keyed like ``pvalues``."""
    order = sorted(pvalues, key=lambda n: pvalues[n])
    m = len(order)
    adjusted: dict[str, float] = {}
    running = 0.0
    for i, node in enumerate(order):
        running = max(running, min(1.0, (m - i) * pvalues[node]))
        adjusted[node] = running
    return adjusted


class Changes:
    """The outcome of testing every node: raw and Holm-adjusted p-values, the nodes that
    changed at :data:`ALPHA`, and the players of the Shapley game."""

    def __init__(self, order: list[str], raw: dict[str, float], alpha: float = ALPHA) -> None:
        self.raw = raw
        self.adjusted = holm(raw)
        self.changed = [n for n in order if self.adjusted[n] < alpha]
        self.forced = not self.changed
        # When nothing clearly changed, the three likeliest candidates play (weak evidence).
        self.players = (
            sorted(order, key=lambda n: (raw[n], order.index(n)))[:3]
            if self.forced
            else list(self.changed)
        )


def detect_changes(
    specs: dict[str, NodeSpec],
    order: list[str],
    old: pd.DataFrame,
    new: pd.DataFrame,
    seed: int,
    change_test: ChangeTest = predictive_test,
    tested: set[str] | None = None,
) -> Changes:
    """Run ``change_test`` on every node in ``order`` (or only on ``tested``: the others
    count as unchanged, p = 1) and Holm-correct over all of ``order``."""
    raw = {
        n: change_test(specs[n], old, new, seed) if tested is None or n in tested else 1.0
        for n in order
    }
    return Changes(order, raw)
