"""dowhy's own scenarios of ``distribution_change`` (py-why/dowhy,
tests/gcm/test_distribution_change.py) on provcausal's engine, every seed without retries
(dowhy's tests retry up to 5 times). The data and the checks are in
``benchmarks/dowhy_scenarios.py``, which also times dowhy on the same data."""

from __future__ import annotations

import time

import pytest

from benchmarks.dowhy_scenarios import (
    MECHANISM_EXPECTED,
    linear,
    linear_passes,
    mechanism_cases,
    nonlinear,
    nonlinear_passes,
    provcausal_call,
    provcausal_mechanism,
)


def test_linear_x3_over_x2_over_x0_and_exactly_x2_x3_flagged():
    old, new = linear(0)
    scores, flagged, _ = provcausal_call(old, new, 0)
    assert scores["X3"] > scores["X2"] > scores["X0"] and abs(scores["X0"]) <= 0.15
    assert "X1" not in scores  # not an ancestor of X3: not attributed
    assert flagged == {"X2", "X3"}
    assert linear_passes(scores, flagged)


def test_nonlinear_shift_of_x2_goes_to_x2_alone():
    old, new = nonlinear(0)
    scores, flagged, _ = provcausal_call(old, new, 0)
    assert flagged == {"X2"} and nonlinear_passes(scores, flagged)


def test_linear_scenario_is_as_fast_as_the_nonlinear_one():
    """Issue 19: 4.4 s a call against 0.28 s (the tree ensemble chosen on a mixture of two
    linear mechanisms, refitted on every resample). Now within a small factor."""
    provcausal_call(*linear(1), 1, repeats=2)  # warm up
    started = time.process_time()
    provcausal_call(*linear(1), 1, repeats=20)
    linear_cpu = time.process_time() - started
    started = time.process_time()
    provcausal_call(*nonlinear(1), 1, repeats=20)
    nonlinear_cpu = time.process_time() - started
    assert linear_cpu < 4 * nonlinear_cpu + 0.5


@pytest.mark.parametrize("case", sorted(MECHANISM_EXPECTED))
def test_mechanism_change_cases(case: str) -> None:
    old, new = mechanism_cases(0)[case]
    assert provcausal_mechanism(case, old, new, 0) == MECHANISM_EXPECTED[case][1]


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["linear", "nonlinear"])
def test_20_seeds_without_retries(scenario: str) -> None:
    """Every seed counts. The scores pass on all 20; the flags must be exactly the changed
    nodes on at least 19: the unchanged root X0 is tested by KS at a Holm level of 0.01, so
    it is flagged by chance at about that rate (linear seed 4: raw p = 0.0024)."""
    make, passes = {"linear": (linear, linear_passes), "nonlinear": (nonlinear, nonlinear_passes)}[
        scenario
    ]
    scored, flagged_right = 0, 0
    for seed in range(20):
        old, new = make(seed)
        scores, flagged, _ = provcausal_call(old, new, seed, repeats=20)
        scored += passes(scores, None)
        flagged_right += passes(scores, flagged)
    assert scored == 20 and flagged_right >= 19


@pytest.mark.slow
def test_mechanism_cases_over_20_seeds() -> None:
    wrong = [
        (case, seed)
        for seed in range(20)
        for case, (old, new) in mechanism_cases(seed).items()
        if provcausal_mechanism(case, old, new, seed) != MECHANISM_EXPECTED[case][1]
    ]
    assert not wrong
