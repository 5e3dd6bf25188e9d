"""The special functions of the tests (``provcausal.analysis.special``) against
``scipy.special``, whose import they save the command."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gammaln, stdtr

from provcausal.analysis.special import log_gamma, student_t_cdf


def _cases() -> list[tuple[float, float]]:
    grid = [
        (df, t)
        for df in (1, 2, 3, 4.5, 9, 10, 29, 30, 99, 100, 999, 1000, 4999, 20_000)
        for t in (
            -1e3,
            -80,
            -40,
            -12,
            -5,
            -3,
            -2,
            -1,
            -0.5,
            -1e-3,
            -1e-9,
            0,
            1e-9,
            1e-3,
            0.5,
            1,
            2,
            3,
            5,
            12,
            40,
            80,
            1e3,
        )  # fmt: skip
    ]
    rng = np.random.default_rng(20261205)
    scale = rng.choice([0.1, 1.0, 5.0, 20.0], 2000)
    drawn = zip(rng.integers(1, 5000, 2000), rng.normal(size=2000) * scale, strict=True)
    return grid + [(float(df), float(t)) for df, t in drawn]


def test_given_many_degrees_and_statistics_then_student_t_equals_scipy() -> None:
    for df, t in _cases():
        expected = float(stdtr(df, t))
        assert student_t_cdf(df, t) == pytest.approx(expected, rel=1e-9, abs=1e-300), (df, t)


def test_given_a_far_tail_then_the_probability_keeps_its_digits() -> None:
    # The one-sided p-values of the local test: far tails must not round to 0 or 1 early.
    assert student_t_cdf(40, -30) == pytest.approx(float(stdtr(40, -30)), rel=1e-9)
    assert 0 < student_t_cdf(40, -30) < 1e-25
    assert student_t_cdf(10, 1e-12) == pytest.approx(0.5, rel=1e-12)


def test_given_edges_then_student_t_is_defined_as_scipy() -> None:
    assert student_t_cdf(5, math.inf) == 1.0
    assert student_t_cdf(5, -math.inf) == 0.0
    assert math.isnan(student_t_cdf(5, math.nan))
    assert math.isnan(student_t_cdf(0, 1.0))


def test_given_arrays_and_scalars_then_log_gamma_equals_scipy() -> None:
    x = np.random.default_rng(7).uniform(0.01, 1e6, 3000)
    np.testing.assert_allclose(log_gamma(x), gammaln(x), rtol=1e-14, atol=1e-14)
    grid = np.arange(1.0, 13.0).reshape(3, 4)
    assert log_gamma(grid).shape == (3, 4)
    np.testing.assert_allclose(log_gamma(grid), gammaln(grid), rtol=1e-15, atol=1e-15)
    assert float(log_gamma(5.0)) == pytest.approx(math.log(24))
