"""Did the target's distribution change at all? The test run before any attribution.

Attribution splits a change among nodes; when there is no change, any split is noise, so
``attribute`` first asks whether the target's two samples could come from one distribution.

The test is a two-sample **permutation test** of the Anderson-Darling statistic in the
version for data with ties (Scholz & Stephens 1987, ``A2akN``): its null distribution is the
one of every split of the pooled values into sets of the two sizes, so it holds exactly with
ties, with 0/1 data and with a handful of distinct values, where the asymptotic tables of the
KS or AD tests do not. Anderson-Darling weights the tails more than Kolmogorov-Smirnov or
Cramér-von Mises, so a change in a few large values (a slow branch) shows too.

- **Two distinct values** (0/1 data, flags, a yes/no branch): the split of one value is
  hypergeometric, so the p-value is computed exactly from that distribution, no resampling.
- **More values**: ``resamples`` random splits. To keep each split cheap (a few ms at
  1,000 vs 1,000), values are grouped into at most :data:`MAX_BINS` bins of the pooled
  sample's quantiles, never splitting a tie; a split is then a draw of the per-bin counts of
  the first set (multivariate hypergeometric). Any statistic computed the same way on every
  split gives a valid permutation test; the bins only cost some power against changes
  inside one bin (1/32 of the pooled mass).

The p-value is ``(1 + splits at least as extreme) / (1 + resamples)``, never 0. NaN values
are dropped before the test (a node that did not run has no value to compare); the sizes
reported are those left. Deterministic for a given ``seed``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["DEFAULT_RESAMPLES", "MAX_BINS", "Shift", "shift_test"]

#: Random splits of the pooled values for data with more than two distinct values.
DEFAULT_RESAMPLES = 999
#: Most bins the values are grouped into for the permutation test (ties never split).
MAX_BINS = 32

_PERMUTATION = "anderson-darling permutation"
_EXACT = "anderson-darling exact (hypergeometric)"


@dataclass(frozen=True)
class Shift:
    """Whether the target's distribution changed: the test's answer and what it rests on."""

    #: ``p_value < alpha``.
    detected: bool
    #: NaN when a set has no value left to test.
    p_value: float
    #: The Anderson-Darling statistic (ties version) on the data as given.
    statistic: float
    #: Which test: ``anderson-darling permutation`` or ``… exact (hypergeometric)``.
    test: str
    n_before: int
    n_after: int
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        """The ``"shift"`` object of ``attribute --json`` (NaN as null)."""
        doc = asdict(self)
        for key in ("p_value", "statistic"):
            if isinstance(doc[key], float) and math.isnan(doc[key]):
                doc[key] = None
        return doc


def _bins(pooled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pooled value's bin (consecutive distinct values, at most :data:`MAX_BINS` bins of
    about equal pooled count) and the pooled count of each bin."""
    values, codes, counts = np.unique(pooled, return_inverse=True, return_counts=True)
    if len(values) > MAX_BINS:
        below = np.cumsum(counts) - counts  # pooled values below each distinct value
        group = np.unique((below * MAX_BINS) // len(pooled), return_inverse=True)[1]
        codes = group[codes]
        counts = np.bincount(codes)
    return codes.ravel(), counts


def _statistic(first: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:
    """Two-sample ``A2akN`` for each row of ``first`` (counts of the first set per bin)."""
    total = int(counts.sum())
    m = total - n
    below = np.cumsum(counts)[:-1]  # B_j, pooled values up to bin j (last bin left out)
    inner = np.cumsum(first, axis=-1)[..., :-1]  # M_j, first-set values up to bin j
    terms = counts[:-1] * (total * inner - n * below) ** 2 / (below * (total - below))
    return np.asarray(terms.sum(axis=-1) * (1 / n + 1 / m) / total, dtype=float)


def shift_test(
    before: ArrayLike,
    after: ArrayLike,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    alpha: float = 0.05,
) -> Shift:
    """Test whether ``before`` and ``after`` come from one distribution (see the module).

    NaN values are dropped. With fewer than one value left in either set there is nothing to
    test: ``detected`` is False and the p-value NaN.
    """
    old = np.asarray(before, dtype=float).ravel()
    new = np.asarray(after, dtype=float).ravel()
    old, new = old[~np.isnan(old)], new[~np.isnan(new)]
    n, m = len(old), len(new)
    if n == 0 or m == 0:
        return Shift(False, math.nan, math.nan, "none (a set has no value)", n, m, alpha)
    codes, counts = _bins(np.concatenate([old, new]))
    if len(counts) < 2:  # one value everywhere: nothing moved
        return Shift(False, 1.0, 0.0, _EXACT, n, m, alpha)
    observed = float(_statistic(np.bincount(codes[:n], minlength=len(counts)), counts, n))
    tolerance = 1e-9 * max(observed, 1.0)
    if len(counts) == 2:
        from scipy.stats import hypergeom

        low, high = max(0, n - int(counts[1])), min(n, int(counts[0]))
        firsts = np.arange(low, high + 1)
        splits = np.stack([firsts, n - firsts], axis=1)
        extreme = _statistic(splits, counts, n) >= observed - tolerance
        total = int(counts.sum())
        p = float(hypergeom.pmf(firsts[extreme], total, int(counts[0]), n).sum())
        p, test = min(1.0, p), _EXACT
    else:
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_hypergeometric(counts, n, size=resamples, method="marginals")
        hits = int((_statistic(draws, counts, n) >= observed - tolerance).sum())
        p, test = (1 + hits) / (1 + resamples), _PERMUTATION
    return Shift(p < alpha, p, observed, test, n, m, alpha)
