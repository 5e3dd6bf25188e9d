"""The shift test: exact under ties and for 0/1 data, deterministic, fast, NaN dropped."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest

from provcausal.analysis.shift import (
    MAX_BINS,
    Shift,
    _energy,
    _statistic,
    _upper_share,
    shift_test,
)


def exact_p(before: list[float], after: list[float]) -> float:
    """The p-value over every split of the pooled values (small sets only), by the same
    min-p combination of both statistics; the first split is the observed one."""
    pooled = np.array(before + after)
    values, codes = np.unique(pooled, return_inverse=True)
    counts = np.bincount(codes)
    n = len(before)
    splits = itertools.combinations(range(len(pooled)), n)
    firsts = np.array([np.bincount(codes[list(s)], minlength=len(values)) for s in splits])
    smaller = np.minimum(
        _upper_share(_statistic(firsts, counts, n)),
        _upper_share(_energy(firsts, counts, n, values)),
    )
    return float(np.mean(smaller <= smaller[0] * (1 + 1e-9)))


def test_binary_data_gets_the_exact_p_value_of_every_split() -> None:
    before = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    after = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    shift = shift_test(before, after)
    assert shift.test == "exact (hypergeometric)"
    assert shift.p_value == pytest.approx(exact_p(before, after), abs=1e-12)


def test_with_ties_the_permutation_p_value_is_that_of_every_split() -> None:
    before = [1.0, 2.0, 2.0, 3.0, 1.0, 2.0]
    after = [3.0, 3.0, 2.0, 4.0, 3.0, 2.0]
    shift = shift_test(before, after, resamples=4999)
    assert shift.test == "anderson-darling + energy permutation"
    assert shift.p_value == pytest.approx(exact_p(before, after), abs=0.015)


def test_no_change_is_not_detected_and_a_clear_change_is() -> None:
    rng = np.random.default_rng(1)
    same = shift_test(rng.normal(size=40), rng.normal(size=40))
    moved = shift_test(rng.normal(size=40), rng.normal(1.5, 1, size=40))
    assert not same.detected and same.p_value > 0.05
    assert moved.detected and moved.p_value == pytest.approx(1 / 1000)
    assert moved.statistic > same.statistic


def test_a_change_in_a_small_share_of_the_values_shows() -> None:
    """A slow branch: 15 % of the values get much larger (AD weighs the tails)."""
    rng = np.random.default_rng(2)
    before = rng.normal(10, 1, 300)
    after = rng.normal(10, 1, 300)
    after[:45] += 4
    assert shift_test(before, after).detected


@pytest.mark.parametrize(
    "draw",
    [
        lambda r, n: r.normal(size=n),
        lambda r, n: (r.random(n) < 0.2).astype(float),
        lambda r, n: r.integers(0, 4, n).astype(float),
        lambda r, n: np.round(r.exponential(size=n), 1),
    ],
    ids=["continuous", "binary", "four-values", "rounded"],
)
def test_false_alarms_stay_at_the_level(draw) -> None:
    alarms = 0
    for i in range(150):
        rng = np.random.default_rng(i)
        n = (8, 30, 120)[i % 3]
        alarms += shift_test(draw(rng, n), draw(rng, n + i % 5), seed=i).detected
    assert alarms / 150 <= 0.07


def test_deterministic_for_a_seed_and_symmetric_in_its_answer() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=50), rng.normal(0.3, 1, size=60)
    assert shift_test(a, b, seed=4) == shift_test(a, b, seed=4)
    assert shift_test(a, b).statistic == pytest.approx(shift_test(b, a).statistic)


def test_nan_is_dropped_and_an_empty_set_is_not_tested() -> None:
    shift = shift_test([1.0, math.nan, 2.0, 3.0], [2.0, 5.0, math.nan])
    assert (shift.n_before, shift.n_after) == (3, 2)
    empty = shift_test([1.0, 2.0], [math.nan])
    assert not empty.detected and math.isnan(empty.p_value)
    assert empty.to_dict()["p_value"] is None and empty.to_dict()["statistic"] is None
    same = shift_test([4.0] * 10, [4.0] * 12)
    assert not same.detected and same.p_value == 1.0


def test_to_dict_has_the_documented_keys() -> None:
    doc = shift_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]).to_dict()
    assert list(doc) == [
        "detected",
        "p_value",
        "statistic",
        "test",
        "n_before",
        "n_after",
        "alpha",
    ]
    assert isinstance(Shift(**doc), Shift)


def test_many_distinct_values_are_binned_and_stay_fast() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=1000), rng.normal(size=1000)
    shift_test(a, b)
    started = time.perf_counter()
    for seed in range(10):
        shift_test(a, b, seed=seed)
    per_call = (time.perf_counter() - started) / 10
    assert per_call < 0.05, per_call  # a few ms on an idle machine; room for a busy one
    assert MAX_BINS == 32
