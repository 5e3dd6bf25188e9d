"""Did a node's value become exact in one set only: a copy of a parent, a constant, a clip?

A smooth predictive test compares how well the parents predict a node with and without the
set; a relation that becomes exact (a port that now copies its upstream value, a step that
now writes a constant, a new clip at a bound) is a mechanism change it can miss, above all
with few runs. This test looks for such relations directly:

- *copy of parent j*: the rows where the value equals parent ``j``'s value exactly;
- *atom*: the rows whose value is one that several rows of one set share although their
  parents differ (a constant or a bound the step writes whatever its input).

A relation counts only when it holds in some rows of one set and in **none** of the other
set's rows: "appears only in one set". Its rows are compared between the sets with an exact
(hypergeometric, one-sided Fisher) test, Bonferroni-corrected over the relations examined.
Only rows whose parents lie inside the other set's parent range take part, so a relation
that an unchanged step shows only because its input moved (a max that another input now
wins, a clip the input now reaches) is not counted; and rows repeated by a bootstrap
resample are counted once.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from provcausal.analysis.mechanisms import NodeSpec, columns

__all__ = ["ExactRelations", "exactness_test", "exclusive_pvalue"]

#: Values closer than this (relative) count as equal: values read from text files are
#: copied digit for digit, so a copy is exact up to float rounding.
RELATIVE_TOLERANCE = 1e-12


def exclusive_pvalue(hits: int, rows: int, other_rows: int) -> float:
    """One-sided exact p-value of ``hits`` of ``rows`` rows of one set holding a relation
    that none of the ``other_rows`` rows of the other set holds (Fisher's exact test on the
    2 × 2 table: the chance that all ``hits`` rows fall in this set, given the margins)."""
    if hits <= 0:
        return 1.0
    total = rows + other_rows
    return math.exp(_log_choose(rows, hits) - _log_choose(total, hits))


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.abs(a - b) <= RELATIVE_TOLERANCE * scale


def _distinct(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """``frame``'s columns ``names`` without the repeats of a bootstrap resample (rows with
    a repeated index), as a float matrix."""
    values = columns(frame, names)
    return values[~frame.index.duplicated()] if frame.index.has_duplicates else values


def _within(X: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rows of ``X`` inside ``reference``'s per-column range (unpadded)."""
    if not len(reference):
        return np.zeros(len(X), dtype=bool)
    lo, hi = np.nanmin(reference, axis=0), np.nanmax(reference, axis=0)
    return np.all((lo <= X) & (hi >= X), axis=1)


def _atoms(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Values of ``y`` that at least two rows share while their parents ``X`` differ: what a
    step writes regardless of its input. (A value shared by rows with equal parents is a
    function of the parents, not a new relation.) Counted by distinct (value, parents)
    pairs, in a few sorts whatever the number of distinct values."""
    values, value_ids = np.unique(y, return_inverse=True)
    if len(values) == len(y):  # no value repeats (most continuous steps)
        return np.array([], dtype=float)
    parents = _row_ids(X)
    width = int(parents.max()) + 1
    pairs = np.unique(value_ids.ravel().astype(np.int64) * width + parents)
    distinct_parents = np.bincount(pairs // width, minlength=len(values))
    return values[distinct_parents >= 2].astype(float)


def _row_ids(X: np.ndarray) -> np.ndarray:
    """An id per row of ``X``, equal for equal rows (column by column: much cheaper than
    ``np.unique(X, axis=0)``)."""
    ids = np.zeros(len(X), dtype=np.int64)
    for column in X.T:
        levels, codes = np.unique(column, return_inverse=True)
        ids = np.unique(ids * len(levels) + codes.ravel(), return_inverse=True)[1].ravel()
    return ids


def _relations(
    y: tuple[np.ndarray, np.ndarray], X: tuple[np.ndarray, np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For every relation examined, which rows of each set hold it."""
    out = [(_equal(y[0], X[0][:, j]), _equal(y[1], X[1][:, j])) for j in range(X[0].shape[1])]
    for side in (0, 1):
        atoms = _atoms(y[side], X[side])
        if len(atoms):
            out.append((np.isin(y[0], atoms), np.isin(y[1], atoms)))
    return out


Relations = list[tuple[np.ndarray, np.ndarray]]


def _found(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, Relations]:
    """Which rows of each set (``[parents..., value]`` matrices) take part (inside the other
    set's parent range, every value present), and for every relation examined which rows of
    each set hold it (False for rows that do not take part)."""
    X_old, X_new, y_old, y_new = first[:, :-1], second[:, :-1], first[:, -1], second[:, -1]
    keep_old = _within(X_old, X_new) & np.isfinite(y_old) & np.all(np.isfinite(X_old), axis=1)
    keep_new = _within(X_new, X_old) & np.isfinite(y_new) & np.all(np.isfinite(X_new), axis=1)
    if min(int(keep_old.sum()), int(keep_new.sum())) < 2:
        return keep_old, keep_new, []
    kept = _relations((y_old[keep_old], y_new[keep_new]), (X_old[keep_old], X_new[keep_new]))
    relations = []
    for held_old, held_new in kept:
        full_old, full_new = np.zeros(len(y_old), bool), np.zeros(len(y_new), bool)
        full_old[keep_old], full_new[keep_new] = held_old, held_new
        relations.append((full_old, full_new))
    return keep_old, keep_new, relations


def _combined(keep_old: np.ndarray, keep_new: np.ndarray, relations: Relations) -> float:
    """The smallest exclusive p-value over ``relations``, Bonferroni-corrected."""
    rows_old, rows_new = int(keep_old.sum()), int(keep_new.sum())
    if not relations or min(rows_old, rows_new) < 2:
        return 1.0
    best = 1.0
    for held_old, held_new in relations:
        hits_old, hits_new = int(held_old.sum()), int(held_new.sum())
        if hits_old == 0:
            best = min(best, exclusive_pvalue(hits_new, rows_new, rows_old))
        elif hits_new == 0:
            best = min(best, exclusive_pvalue(hits_old, rows_old, rows_new))
    return min(1.0, best * len(relations))


def exactness_test(spec: NodeSpec, old: pd.DataFrame, new: pd.DataFrame) -> float:
    """p-value of "a relation holds exactly in some rows of one set and in none of the
    other's" for ``spec``'s value (1.0 when no such relation exists, for roots and for 0/1
    nodes, whose values are all ties). Bonferroni-corrected over the relations examined."""
    if not spec.parents or spec.kind == "binary":
        return 1.0
    names = [*spec.parents, spec.name]
    return _combined(*_found(_distinct(old, names), _distinct(new, names)))


def _given_rows(frame: pd.DataFrame, size: int) -> np.ndarray | None:
    """The rows of the data as given (``size`` rows, indexed 0..size-1) that ``frame``
    holds, as its index names them, or None when its index does not name such rows."""
    rows = frame.index.to_numpy()
    if rows.dtype.kind not in "iu":
        return None
    if len(rows) and not (rows.min() >= 0 and rows.max() < size):
        return None
    return rows


class ExactRelations:
    """The relations of each node found once on the data as given (``old`` and ``new``,
    indexed 0..n-1) and counted again over the distinct rows of each resample, which name
    in their index the rows they hold: the test on a resample is a few counts instead of a
    search. Frames that are not rows of the data as given are tested afresh."""

    def __init__(self, old: pd.DataFrame, new: pd.DataFrame) -> None:
        self.old, self.new = old, new
        self.found: dict[str, tuple[np.ndarray, np.ndarray, Relations]] = {}

    def pvalue(self, spec: NodeSpec, old: pd.DataFrame, new: pd.DataFrame) -> float:
        """:func:`exactness_test` of ``spec`` on ``old`` and ``new``."""
        if not spec.parents or spec.kind == "binary":
            return 1.0
        first, second = _given_rows(old, len(self.old)), _given_rows(new, len(self.new))
        if first is None or second is None or not self._same(spec.name, old, new, first, second):
            return exactness_test(spec, old, new)
        if spec.name not in self.found:
            names = [*spec.parents, spec.name]
            self.found[spec.name] = _found(columns(self.old, names), columns(self.new, names))
        keep_old, keep_new, relations = self.found[spec.name]
        first, second = np.unique(first), np.unique(second)
        return _combined(
            keep_old[first], keep_new[second], [(a[first], b[second]) for a, b in relations]
        )

    def _same(
        self, node: str, old: pd.DataFrame, new: pd.DataFrame, first: np.ndarray, second: np.ndarray
    ) -> bool:
        """Whether the frames' values of ``node`` are those of the rows they name."""
        return np.array_equal(
            self.old[node].to_numpy(float)[first], old[node].to_numpy(float), equal_nan=True
        ) and np.array_equal(
            self.new[node].to_numpy(float)[second], new[node].to_numpy(float), equal_nan=True
        )
