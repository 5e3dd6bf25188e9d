"""Each node's mechanism: which model to use (chosen once per node), and fitting it.

A mechanism is an additive-noise regressor (``anm``), a classifier for 0/1 nodes (``binary``),
or, for a root, the empirical distribution. ``fast`` chooses between linear, quadratic and a
local model (a trend plus nearest neighbours) by cross-validation (the simplest within 5 % of
the best), in numpy and a k-d tree (:mod:`kdtree`); ``good``/``better`` use ``gcm.auto``'s
model selection, which imports scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import numpy as np
import pandas as pd

from provcausal.analysis.kdtree import Tree

__all__ = [
    "Factory",
    "Mechanism",
    "NodeSpec",
    "choose_model",
    "columns",
    "evaluate",
    "LeastSquares",
    "Logistic",
    "NearestNeighbours",
    "fit_changed",
    "inside",
    "is_binary",
    "LOCAL",
    "TrendNeighbours",
    "local_factory",
    "neighbours_for",
]

#: Builds a fresh, unfitted model (an object with ``fit`` and ``predict``).
Factory = Callable[[], Any]
#: ``fast`` model choice looks at no more rows than this.
SELECTION_ROWS = 600


@dataclass(frozen=True)
class NodeSpec:
    """What is fixed for one node during a whole attribution: its parents and its model."""

    name: str
    parents: tuple[str, ...]
    kind: str  # "root", "anm" or "binary"
    model: str
    factory: Factory | None

    @property
    def linear(self) -> bool:
        """Whether the chosen model is linear in its (expanded) inputs."""
        return self.model in ("linear", "polynomial")


def is_binary(values: np.ndarray) -> bool:
    """Whether the non-missing values are all 0 or 1."""
    distinct = np.unique(values[~np.isnan(values)])
    return len(distinct) <= 2 and set(distinct.tolist()) <= {0.0, 1.0}


@lru_cache(maxsize=64)
def _pairs(width: int) -> tuple[np.ndarray, np.ndarray]:
    """The index pairs (i <= j) of the products in a quadratic design of ``width`` inputs."""
    i, j = np.triu_indices(width)
    return i, j


class LeastSquares:
    """Ordinary least squares on the inputs (``degree=1``) or on them with their squares and
    pairwise products (``degree=2``), by ``numpy.linalg.lstsq``: the same fit as
    scikit-learn's ``LinearRegression`` (with ``PolynomialFeatures``), at a fraction of the
    cost per call, which matters because the change test fits thousands of them."""

    def __init__(self, degree: int = 1) -> None:
        self.degree = degree
        self.coef: np.ndarray | None = None

    def _design(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        width = X.shape[1]
        pairs = _pairs(width) if self.degree >= 2 else None
        D = np.empty((len(X), 1 + width + (len(pairs[0]) if pairs else 0)))
        D[:, 0] = 1.0
        D[:, 1 : 1 + width] = X
        if pairs:
            np.multiply(X[:, pairs[0]], X[:, pairs[1]], out=D[:, 1 + width :])
        return D

    def fit(self, X: np.ndarray, y: np.ndarray) -> LeastSquares:
        """Fit the coefficients (minimum-norm where the inputs are collinear)."""
        D = self._design(X)
        # Least squares through the small Gram matrix: the same minimum-norm solution as on
        # the full design (up to rounding), several times faster for tall designs.
        self.coef = np.linalg.lstsq(D.T @ D, D.T @ np.asarray(y, float), rcond=None)[0]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Fitted values for ``X``."""
        assert self.coef is not None, "fit first"
        return self._design(X) @ self.coef

    def clone(self) -> LeastSquares:
        """An unfitted copy (the interface of ``dowhy.gcm`` prediction models)."""
        return LeastSquares(self.degree)


class Logistic:
    """L2-penalised logistic regression (``C`` = 1, intercept not penalised): the objective of
    scikit-learn's ``LogisticRegression()``, solved by Newton's method in numpy, which the
    change tests' thousands of small fits need (scikit-learn's per-call validation and
    L-BFGS set-up cost 4-5 ms a fit, Newton on a few columns well under one). Labels may be
    strings, as for scikit-learn classifiers; ``classes_`` and ``predict_proba`` follow it."""

    def __init__(self, C: float = 1.0, max_iter: int = 100, tol: float = 1e-10) -> None:
        self.C, self.max_iter, self.tol = C, max_iter, tol
        self.coef: np.ndarray | None = None

    @staticmethod
    def _design(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        return np.hstack([np.ones((len(X), 1)), X])

    def fit(self, X: np.ndarray, y: np.ndarray) -> Logistic:
        """Fit on labels ``y`` of exactly two classes (the second sorted one is "1")."""
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError("Logistic needs two classes")
        target = (np.asarray(y) == self.classes_[1]).astype(float)
        D = self._design(X)
        penalty = np.full(D.shape[1], 1.0 / self.C)
        penalty[0] = 0.0
        w = np.zeros(D.shape[1])
        for _ in range(self.max_iter):
            p = _sigmoid(D @ w)
            gradient = D.T @ (p - target) + penalty * w
            hessian = (D * (p * (1 - p))[:, None]).T @ D + np.diag(penalty)
            step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
            w = w - step
            if np.max(np.abs(step)) < self.tol * (1 + np.max(np.abs(w))):
                break
        self.coef = w
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities of the two classes, in the order of ``classes_``."""
        assert self.coef is not None, "fit first"
        p = _sigmoid(self._design(X) @ self.coef)
        return np.column_stack([1 - p, p])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * z))


class NearestNeighbours:
    """k-nearest-neighbour regression on inputs standardised with the training rows' scale
    (a k-d tree, :mod:`kdtree`, built once per fit on first use): a local model that is cheap
    to fit and to pickle."""

    def __init__(self, neighbours: int = 5, standardise: bool = True) -> None:
        self.neighbours = neighbours
        self.standardise = standardise
        self._tree: Any = None

    def fit(self, X: np.ndarray, y: np.ndarray) -> NearestNeighbours:
        """Remember the rows (standardised unless the caller has put them on one scale)."""
        X = np.asarray(X, float).reshape(len(X), -1)
        self.center, scale = X.mean(axis=0), X.std(axis=0)
        if not self.standardise:
            self.center, scale = np.zeros_like(self.center), np.ones_like(scale)
        self.scale = np.where(scale > 0, scale, 1.0)
        self.X, self.y = (X - self.center) / self.scale, np.asarray(y, float)
        self._tree = None
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Mean of the ``neighbours`` nearest remembered rows' values (a k-d tree query)."""
        if self._tree is None:
            self._tree = Tree(self.X)
        X = (np.asarray(X, float).reshape(len(X), -1) - self.center) / self.scale
        return self.y[self._tree.nearest(X, min(self.neighbours, len(self.y)))].mean(axis=1)


class TrendNeighbours:
    """The local mechanism: a least-squares trend, plus the mean residual of the ``k``
    nearest training rows (parents standardised with the training rows' scale).

    It follows what a smooth fit misses (thresholds, maxima, ratios, switches) and is the
    same model the change test already uses for local mechanisms (:mod:`change_test`), so
    the mechanism that is tested is the one that is simulated. The trend keeps the
    neighbours' averaging window from flattening steep slopes, and extrapolates linearly
    instead of flat at the edges of the data. numpy and a k-d tree only: until December
    2026 this was scikit-learn's gradient boosting (random forest below 200 rows), whose
    import alone (0.4 s) was a fifth of a whole ``provcausal attribute`` on the README's
    1,000 runs per side, for the same top-1 in every accuracy experiment."""

    def __init__(self, neighbours: int) -> None:
        self.neighbours = neighbours

    def fit(self, X: np.ndarray, y: np.ndarray) -> TrendNeighbours:
        """Fit the trend and remember the rows' residuals."""
        X = np.asarray(X, float).reshape(len(X), -1)
        y = np.asarray(y, float)
        self.trend = LeastSquares().fit(X, y)
        self.local = NearestNeighbours(self.neighbours).fit(X, y - self.trend.predict(X))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The trend plus the neighbours' mean residual."""
        X = np.asarray(X, float).reshape(len(X), -1)
        return self.trend.predict(X) + self.local.predict(X)


def neighbours_for(rows: int) -> int:
    """How many neighbours a local model of ``rows`` rows averages: sqrt(rows / 4), 3..10."""
    return int(np.clip(round(np.sqrt(rows / 4)), 3, 10))


def local_factory(n: int) -> Factory:
    """The local mechanism for ``n`` rows per set (:class:`TrendNeighbours`)."""
    return partial(TrendNeighbours, neighbours_for(n))


#: The name of the local mechanism in ``models`` (and :data:`change_test.LOCAL_MODELS`).
LOCAL = "trend_neighbours"


#: Model choice averages the held-out error over this many draws of two folds.
SELECTION_REPEATS = 5
#: The folds of model choice are drawn with this fixed seed, not the caller's: the choice is
#: a function of the data alone, so it cannot change with ``seed``.
SELECTION_SEED = 0


def _cv_mse(factory: Factory, X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> float:
    """Held-out mean squared error, averaged over :data:`SELECTION_REPEATS` fold draws."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(y))
    errors = []
    for _ in range(SELECTION_REPEATS):
        fold = rng.permutation(len(y)) % folds
        for k in range(folds):
            train, test = rows[fold != k], rows[fold == k]
            model = factory()
            model.fit(X[train], y[train])
            errors.append(np.mean((y[test] - model.predict(X[test]).ravel()) ** 2))
    return float(np.mean(errors))


def choose_model(
    X: np.ndarray, y: np.ndarray, quality: str, seed: int, rows: int | None = None
) -> tuple[str, Factory]:
    """The mechanism model for one node: its name and a factory of unfitted copies.

    The choice is made once per node and then held fixed. ``rows`` (default: ``len(y)``) is
    the number of rows per set the model will be fitted on, which decides how many
    neighbours the local model averages. ``seed`` is kept for callers; the choice itself is a
    function of the data alone (:data:`SELECTION_SEED`).
    """
    if is_binary(y):
        if len(np.unique(y)) < 2:
            return "constant", lambda: None
        if quality == "fast":
            return "logistic", Logistic
        from dowhy import gcm

        model, _ = gcm.auto.select_model(X, y.astype(str), _assignment(quality))
        return type(model).__name__, model.clone
    if quality == "fast":
        return _choose_fast(X, y, rows or len(y))
    from dowhy import gcm

    model, _ = gcm.auto.select_model(X, y, _assignment(quality))
    if type(model.sklearn_model).__name__ == "LinearRegression":
        return "linear", model.clone
    return type(model).__name__, model.clone


def _choose_fast(X: np.ndarray, y: np.ndarray, n: int) -> tuple[str, Factory]:
    """Linear, quadratic or local: the simplest within 5 % of the best held-out error,
    averaged over repeated fold draws so that the choice does not hinge on one. The local
    family is scored with plain nearest neighbours and fitted as :class:`TrendNeighbours`."""
    if len(y) > SELECTION_ROWS:
        rng = np.random.default_rng(SELECTION_SEED)
        pick = rng.choice(len(y), SELECTION_ROWS, replace=False)
        X, y = X[pick], y[pick]
    candidates: list[tuple[str, Factory, Factory]] = [
        ("linear", LeastSquares, LeastSquares),
        # Smooth deterministic steps (ratios, sums of counts) are not linear; a quadratic fit
        # keeps them from looking changed when their inputs move to another range.
        ("polynomial", partial(LeastSquares, 2), partial(LeastSquares, 2)),
        (LOCAL, partial(NearestNeighbours, neighbours_for(len(y) // 2)), local_factory(n)),
    ]
    if len(y) < 4:
        return "linear", LeastSquares
    scored = [(name, f, _cv_mse(scorer, X, y, 2, SELECTION_SEED)) for name, scorer, f in candidates]
    best = min(s for _, _, s in scored)
    for name, factory, score in scored:
        if score <= best * 1.05 + 1e-12:
            return name, factory
    raise AssertionError("unreachable: the best score is within 5 % of itself")


def _assignment(quality: str) -> Any:
    from dowhy.gcm.auto import AssignmentQuality

    return AssignmentQuality.BETTER if quality == "better" else AssignmentQuality.GOOD


class Mechanism:
    """A node's mechanism fitted on one data set: an additive-noise regressor, a classifier
    for 0/1 nodes, or (roots) the empirical distribution.

    An additive-noise mechanism's training residuals are computed on first use only: the
    change tests fit thousands of mechanisms and never read them, and for a local model
    they cost a neighbour query over every training row."""

    def __init__(
        self, kind: str, factory: Factory | None, X: np.ndarray | None, y: np.ndarray
    ) -> None:
        self.kind = kind
        self.model: Any = None
        self.constant = float(y[0]) if len(y) else 0.0
        self.y = y
        self._X = X
        self._residuals: np.ndarray | None = None
        if kind == "root":
            return
        if factory is None or (kind == "binary" and len(np.unique(y)) < 2):
            self.kind = "constant"
            return
        self.model = factory()
        if self.model is None:
            self.kind = "constant"
            return
        assert X is not None
        self.model.fit(X, y.astype(str) if kind == "binary" else y)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (for a worker process) with its residuals but without its training
        inputs, which only the residuals needed."""
        state = dict(self.__dict__)
        state["_residuals"] = self.residuals
        state["_X"] = None
        return state

    @property
    def residuals(self) -> np.ndarray | None:
        """The training rows' residuals of an additive-noise mechanism (None otherwise)."""
        if self.kind != "anm":
            return None
        if self._residuals is None and self._X is not None:
            self._residuals = self.y - self.predict(self._X)
        return self._residuals

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The expected value (for a 0/1 node, the probability of 1) given parents ``X``."""
        if self.kind == "constant":
            return np.full(len(X), self.constant)
        if self.kind == "binary":
            return self.p_one(X)
        return np.asarray(self.model.predict(X), dtype=float).ravel()

    def p_one(self, X: np.ndarray) -> np.ndarray:
        """Probability that a 0/1 node is 1 given parents ``X``."""
        if self.kind == "constant":
            return np.full(len(X), self.constant)
        if hasattr(self.model, "predict_proba"):
            probs, labels = self.model.predict_proba(X), self.model.classes_
        else:  # a dowhy classifier
            probs, labels = self.model.predict_probabilities(X), self.model.classes
        classes = [float(c) for c in labels]
        return probs[:, classes.index(1.0)] if 1.0 in classes else np.zeros(len(X))


def evaluate(mech: Mechanism, X: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """A mechanism's output for parent values ``X`` and given noise (for a 0/1 node, the
    noise is the uniform draw compared with the probability of 1)."""
    if mech.kind == "binary":
        return (noise < mech.p_one(X)).astype(float)
    if mech.kind == "constant":
        return np.full(len(X), mech.constant)
    return mech.predict(X) + noise


def inside(X: np.ndarray, reference: np.ndarray, pad: float = 0.05) -> np.ndarray:
    """Rows of ``X`` within ``reference``'s per-column range (padded by 5 %)."""
    lo, hi = reference.min(axis=0), reference.max(axis=0)
    margin = pad * (hi - lo)
    return np.all((lo - margin <= X) & (hi + margin >= X), axis=1)


def columns(frame: pd.DataFrame, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """``frame``'s columns ``names`` as a float matrix (one column at a time: much cheaper
    than a pandas list selection, which the change tests would make thousands of times)."""
    return np.column_stack([frame[c].to_numpy(float) for c in names])


def fit(spec: NodeSpec, frame: pd.DataFrame) -> Mechanism:
    """``spec``'s mechanism fitted on ``frame``."""
    return Mechanism(
        spec.kind, spec.factory, columns(frame, spec.parents), frame[spec.name].to_numpy(float)
    )


def fit_changed(
    specs: dict[str, NodeSpec],
    moved: list[str],
    changed: set[str],
    old: pd.DataFrame,
    new: pd.DataFrame,
    fitted: dict[str, Mechanism] | None = None,
) -> tuple[dict[str, Mechanism], dict[str, Mechanism]]:
    """Baseline mechanisms of every moved non-root node and comparison mechanisms of the
    changed ones; nodes that nothing changed upstream of are not fitted at all.

    An unchanged node's mechanism is the same in both sets, so it is fitted on both sets
    pooled: a change upstream moves its inputs to where only the comparison set has data
    (a max that another port now wins), and a fit on the baseline alone would not know the
    mechanism there. Those fits come from ``fitted`` (once per call) when given; refitting
    them on every resample buys nothing."""
    fitted = fitted or {}
    pooled: pd.DataFrame | None = None
    old_mech: dict[str, Mechanism] = {}
    for n in moved:
        if not specs[n].parents:
            continue
        if n in changed:
            old_mech[n] = fit(specs[n], old)
        elif n in fitted:
            old_mech[n] = fitted[n]
        else:
            pooled = pd.concat([old, new], ignore_index=True) if pooled is None else pooled
            old_mech[n] = fit(specs[n], pooled)
    new_mech = {n: fit(specs[n], new) for n in moved if specs[n].parents and n in changed}
    return old_mech, new_mech
