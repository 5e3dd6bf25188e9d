"""dowhy's own scenarios of ``distribution_change`` as a peer suite (issue 18).

py-why/dowhy's tests/gcm/test_distribution_change.py describes these scenarios (re-expressed
here, not copied): the linear graph X0→X1, X0→X2→X3, 1,000 rows per side, whose X2 and X3
mechanisms change; a non-linear X2 shifted by 4; and the mechanism-change test on one edge
(changed slope, changed root, changed noise, and unchanged controls). dowhy's tests retry up
to 5 times (``flaky``); here every seed counts once, without retries.

provcausal's engine (``attribute_frames``) and dowhy's ``gcm.distribution_change`` get the
same frames; the pass rate and the seconds per call are printed side by side. dowhy is slow
(tens of seconds a call), so it runs on the first ``dowhy_seeds`` seeds only.

``python -m benchmarks --only dowhy [--trials N] [--baseline-trials M]``
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

GRAPH = nx.DiGraph([("X0", "X1"), ("X0", "X2"), ("X2", "X3")])
ROWS = 1000
#: dowhy's own tolerance for "X0 ≈ 0" in the linear case (its scores are KL-like, as ours).
ZERO = 0.15


def linear(seed: int, rows: int = ROWS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The linear case: X2's slope 0.5 → 2 and X3's 0.5 → 3; X0 and X1 unchanged."""
    rng = np.random.default_rng(seed)

    def side(slope2: float, slope3: float) -> pd.DataFrame:
        x0 = rng.uniform(-1, 1, rows)
        x1 = 2 * x0 + rng.normal(0, 0.1, rows)
        x2 = slope2 * x0 + rng.normal(0, 0.1, rows)
        x3 = slope3 * x2 + rng.normal(0, 0.1, rows)
        return pd.DataFrame({"X0": x0, "X1": x1, "X2": x2, "X3": x3})

    return side(0.5, 0.5), side(2.0, 3.0)


def nonlinear(seed: int, rows: int = ROWS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The non-linear case: X2 = exp(X0 / 2) + noise, shifted by 4 in the comparison."""
    rng = np.random.default_rng(seed)

    def side(shift: float) -> pd.DataFrame:
        x0 = rng.uniform(-1, 1, rows)
        x1 = 2 * x0 + rng.normal(0, 0.1, rows)
        x2 = shift + np.exp(0.5 * x0) + rng.normal(0, 0.1, rows)
        x3 = 0.5 * x2 + rng.normal(0, 0.1, rows)
        return pd.DataFrame({"X0": x0, "X1": x1, "X2": x2, "X3": x3})

    return side(0.0), side(4.0)


def linear_passes(scores: dict[str, float], flagged: set[str] | None) -> bool:
    """X3 > X2 > X0, X0 ≈ 0, X1 not attributed (and, where known, exactly X2 and X3 flagged)."""
    ok = scores["X3"] > scores["X2"] > scores.get("X0", 0.0) and abs(scores.get("X0", 0.0)) <= ZERO
    ok = ok and abs(scores.get("X1", 0.0)) == 0.0
    return ok and (flagged is None or flagged == {"X2", "X3"})


def nonlinear_passes(scores: dict[str, float], flagged: set[str] | None) -> bool:
    """X2 gets the shift; X0 and X3 ≈ 0; X1 not attributed (and only X2 flagged)."""
    rest = max(abs(scores.get(n, 0.0)) for n in ("X0", "X1", "X3"))
    ok = scores["X2"] > 0 and rest <= ZERO * scores["X2"]
    return ok and (flagged is None or flagged == {"X2"})


def mechanism_cases(seed: int, rows: int = 500) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """One edge X0 → X1 (or a root X0) per case, as dowhy's mechanism-change tests:
    ``slope`` (0.5 → 2), ``root`` (U(-1, 1) → U(-2, 2)), ``noise`` (sd 0.1 → 1) must be
    detected; ``same data`` (dowhy's control: a set against itself) and ``fresh draw`` (two
    independent draws of one mechanism, the stricter control) must not."""
    rng = np.random.default_rng(seed)

    def edge(slope: float, sd: float, width: float = 1.0) -> pd.DataFrame:
        x0 = rng.uniform(-width, width, rows)
        return pd.DataFrame({"X0": x0, "X1": slope * x0 + rng.normal(0, sd, rows)})

    base = edge(0.5, 0.1)
    noisy = edge(2.0, 0.1)
    return {
        "slope": (base, edge(2.0, 0.1)),
        "root": (base, edge(0.5, 0.1, width=2.0)),
        "noise": (noisy, edge(2.0, 1.0)),
        "same data": (base, base.copy()),
        "fresh draw": (base, edge(0.5, 0.1)),
    }


#: Which node each mechanism case tests, and whether it must be detected.
MECHANISM_EXPECTED = {
    "slope": ("X1", True),
    "root": ("X0", True),
    "noise": ("X1", True),
    "same data": ("X1", False),
    "fresh draw": ("X1", False),
}


def provcausal_mechanism(case: str, old: pd.DataFrame, new: pd.DataFrame, seed: int) -> bool:
    """Whether provcausal's change test (fast quality, residual test added as for ``good``)
    says the case's node changed at its level :data:`ALPHA`."""
    from provcausal.analysis.change_test import ALPHA, predictive_test
    from provcausal.analysis.mechanisms import NodeSpec, choose_model

    node, _ = MECHANISM_EXPECTED[case]
    if node == "X0":
        spec = NodeSpec("X0", (), "root", "empirical", None)
    else:
        pooled = pd.concat([old, new], ignore_index=True)
        name, factory = choose_model(
            pooled[["X0"]].to_numpy(float), pooled["X1"].to_numpy(float), "fast", seed
        )
        spec = NodeSpec("X1", ("X0",), "anm", name, factory)
    return predictive_test(spec, old, new, seed, variance=True) < ALPHA


def dowhy_mechanism(case: str, old: pd.DataFrame, new: pd.DataFrame) -> bool:
    """dowhy's ``mechanism_change_test`` at its tests' level 0.05."""
    from dowhy.gcm.distribution_change import mechanism_change_test

    node, _ = MECHANISM_EXPECTED[case]
    if node == "X0":
        p = mechanism_change_test(old["X0"].to_numpy(), new["X0"].to_numpy())
    else:
        p = mechanism_change_test(
            old["X1"].to_numpy(), new["X1"].to_numpy(), old["X0"].to_numpy(), new["X0"].to_numpy()
        )
    return bool(p <= 0.05)


def provcausal_call(
    old: pd.DataFrame, new: pd.DataFrame, seed: int, repeats: int = 0
) -> tuple[dict[str, float], set[str], float]:
    """Scores, flagged nodes and seconds of one ``attribute_frames`` call on target X3."""
    from provcausal.analysis.engine import attribute_frames

    started = time.perf_counter()
    result = attribute_frames(GRAPH, old, new, "X3", repeats=repeats, seed=seed, n_jobs=1)
    seconds = time.perf_counter() - started
    scores = dict(zip(result.table["node"], result.table["score"], strict=True))
    return scores, set(result.flagged), seconds


def dowhy_call(old: pd.DataFrame, new: pd.DataFrame, linear_models: bool) -> tuple[dict, float]:
    """dowhy's ``distribution_change`` as its tests call it (linear: the mechanisms assigned
    by hand; non-linear: auto-assigned, GOOD quality)."""
    from dowhy import gcm
    from dowhy.gcm.auto import AssignmentQuality
    from dowhy.gcm.shapley import ShapleyConfig

    gcm.config.disable_progress_bars()
    model = gcm.ProbabilisticCausalModel(GRAPH.copy())
    kwargs: dict[str, Any] = {"shapley_config": ShapleyConfig(n_jobs=1)}
    if linear_models:
        model.set_causal_mechanism("X0", gcm.EmpiricalDistribution())
        for node in ("X1", "X2", "X3"):
            model.set_causal_mechanism(
                node, gcm.AdditiveNoiseModel(gcm.ml.create_linear_regressor())
            )
    else:
        kwargs["auto_assignment_quality"] = AssignmentQuality.GOOD
    started = time.perf_counter()
    scores = gcm.distribution_change(model, old, new, "X3", **kwargs)
    return {k: float(v) for k, v in scores.items()}, time.perf_counter() - started


SCENARIOS: dict[str, tuple[Callable[..., Any], Callable[..., bool], bool]] = {
    "linear (X2, X3 changed)": (linear, linear_passes, True),
    "non-linear (X2 + 4)": (nonlinear, nonlinear_passes, False),
}


def run(seeds: int, dowhy_seeds: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every scenario on ``seeds`` seeds (provcausal) and the first ``dowhy_seeds`` (dowhy)."""
    import warnings

    rows: list[dict[str, Any]] = []
    for name, (make, passes, linear_models) in SCENARIOS.items():
        ours, ours_s, theirs, theirs_s = [], [], [], []
        for seed in range(seeds):
            old, new = make(seed)
            scores, flagged, seconds = provcausal_call(old, new, seed)
            ours.append(passes(scores, flagged))
            ours_s.append(seconds)
            log(f"dowhy-scenarios {name} seed {seed}: provcausal {ours[-1]} ({seconds:.2f} s)")
            if seed < dowhy_seeds:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    d_scores, d_seconds = dowhy_call(old, new, linear_models)
                theirs.append(passes(d_scores, None))
                theirs_s.append(d_seconds)
                log(f"dowhy-scenarios {name} seed {seed}: dowhy {theirs[-1]} ({d_seconds:.1f} s)")
        rows.append(_row(name, ours, ours_s, theirs, theirs_s))
    for case in MECHANISM_EXPECTED:
        ours, theirs = [], []
        expected = MECHANISM_EXPECTED[case][1]
        started = time.perf_counter()
        for seed in range(seeds):
            old, new = mechanism_cases(seed)[case]
            ours.append(provcausal_mechanism(case, old, new, seed) == expected)
        ours_s = [(time.perf_counter() - started) / seeds]
        started = time.perf_counter()
        for seed in range(seeds):
            old, new = mechanism_cases(seed)[case]
            theirs.append(dowhy_mechanism(case, old, new) == expected)
        theirs_s = [(time.perf_counter() - started) / seeds]
        rows.append(_row(f"mechanism: {case}", ours, ours_s, theirs, theirs_s))
        log(f"dowhy-scenarios mechanism {case}: provcausal {sum(ours)}/{seeds}")
    return rows


def _row(
    name: str, ours: list[bool], ours_s: list[float], theirs: list[bool], theirs_s: list[float]
) -> dict[str, Any]:
    return {
        "scenario": name,
        "provcausal_passed": sum(ours),
        "provcausal_seeds": len(ours),
        "provcausal_seconds": statistics.median(ours_s),
        "dowhy_passed": sum(theirs),
        "dowhy_seeds": len(theirs),
        "dowhy_seconds": statistics.median(theirs_s) if theirs_s else None,
    }


def render(rows: list[dict[str, Any]]) -> list[str]:
    """A markdown table: pass rate and median seconds per call, side by side."""
    lines = [
        "| scenario | provcausal passed | s/call | dowhy passed | s/call |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        theirs = f"{r['dowhy_passed']}/{r['dowhy_seeds']}" if r["dowhy_seeds"] else "not run"
        their_s = f"{r['dowhy_seconds']:.2f}" if r["dowhy_seconds"] is not None else "-"
        lines.append(
            f"| {r['scenario']} | {r['provcausal_passed']}/{r['provcausal_seeds']} | "
            f"{r['provcausal_seconds']:.2f} | {theirs} | {their_s} |"
        )
    return lines
