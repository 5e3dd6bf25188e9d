"""provcausal's own KS and hypergeometric p-values against scipy.stats, which they stand in
for on the attribution's path (to spare its import)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from provcausal.analysis.ks import ks_2samp
from provcausal.analysis.shift import _hypergeometric


@pytest.mark.parametrize("kind", ["continuous", "rounded", "three values"])
def test_given_sets_of_many_sizes_then_the_ks_test_is_scipys(kind):
    rng = np.random.default_rng(7)
    for i in range(150):
        n = int(rng.integers(2, 40)) if i % 2 else int(rng.integers(40, 1500))
        m = n if i % 5 else n + int(rng.integers(1, 9))  # unequal sizes: scipy's own path
        a, b = rng.normal(size=n), rng.normal(rng.uniform(0, 0.6), size=m)
        if kind == "rounded":
            a, b = np.round(a), np.round(b)
        if kind == "three values":
            a, b = rng.integers(0, 3, n).astype(float), rng.integers(0, 3, m).astype(float)
        d, p = ks_2samp(a, b)
        theirs = stats.ks_2samp(a, b)
        assert d == pytest.approx(theirs.statistic, abs=1e-12)
        assert p == pytest.approx(theirs.pvalue, rel=1e-6, abs=1e-4)


def test_given_identical_sets_then_nothing_moved():
    assert ks_2samp(np.ones(30), np.ones(30)) == (0.0, 1.0)


def test_given_many_urns_then_the_hypergeometric_is_scipys():
    rng = np.random.default_rng(8)
    for _ in range(300):
        total = int(rng.integers(2, 5000))
        marked, drawn = int(rng.integers(0, total + 1)), int(rng.integers(0, total + 1))
        k = np.arange(max(0, drawn - (total - marked)), min(drawn, marked) + 1)
        ours = _hypergeometric(k, total, marked, drawn)
        np.testing.assert_allclose(ours, stats.hypergeom.pmf(k, total, marked, drawn), rtol=1e-8)
