"""Issue 18: a relation that becomes exact in one set only (a copy of a parent, a constant, a
new clip) is a mechanism change; the faulty step is flagged, not only ranked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from provcausal.analysis.change_test import ALPHA, predictive_test
from provcausal.analysis.engine import attribute_frames
from provcausal.analysis.exactness import exactness_test, exclusive_pvalue
from provcausal.analysis.mechanisms import NodeSpec
from tests import scipipe_split
from tests.helpers import run_cli

SPEC = NodeSpec("y", ("x",), "anm", "linear", None)


def _frames(
    old_y: Any, new_y: Any, rows: int = 20, seed: int = 0, new_x: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    x_old, x_new = rng.uniform(0, 10, rows), rng.uniform(0, 10, rows)
    if new_x is not None:
        x_new = new_x(x_new)
    return (
        pd.DataFrame({"x": x_old, "y": old_y(x_old, rng)}),
        pd.DataFrame({"x": x_new, "y": new_y(x_new, rng)}),
    )


def _independent(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 10, len(x))


def test_exclusive_pvalue_is_fishers_one_sided_exact_test():
    from scipy.stats import fisher_exact

    for hits, rows, other in [(20, 20, 20), (3, 20, 30), (1, 10, 10)]:
        expected = fisher_exact([[hits, rows - hits], [0, other]], alternative="greater").pvalue
        assert exclusive_pvalue(hits, rows, other) == pytest.approx(expected)
    assert exclusive_pvalue(0, 10, 10) == 1.0


def test_a_value_that_becomes_a_copy_of_its_parent_is_detected():
    old, new = _frames(_independent, lambda x, rng: x.copy())
    assert exactness_test(SPEC, old, new) < 1e-9
    # the smooth test and the exact one together, Bonferroni
    assert predictive_test(SPEC, old, new, 0) < ALPHA


def test_a_new_constant_or_clip_is_detected():
    noisy = lambda x, rng: x + rng.normal(0, 1, len(x))  # noqa: E731
    clipped = lambda x, rng: np.minimum(x, 6.0) + 0 * rng.normal(size=len(x))  # noqa: E731
    old, new = _frames(noisy, clipped, rows=40)
    assert exactness_test(SPEC, old, new) < 1e-4
    old, new = _frames(noisy, lambda x, rng: np.full(len(x), 4.2), rows=20)
    assert exactness_test(SPEC, old, new) < 1e-6


def test_a_relation_held_in_both_sets_or_in_neither_is_not_counted():
    copy = lambda x, rng: x.copy()  # noqa: E731
    assert exactness_test(SPEC, *_frames(copy, copy)) == 1.0
    noisy = lambda x, rng: x + rng.normal(0, 1, len(x))  # noqa: E731
    assert exactness_test(SPEC, *_frames(noisy, noisy)) == 1.0
    constant = lambda x, rng: np.full(len(x), 3.0)  # noqa: E731
    assert exactness_test(SPEC, *_frames(constant, constant)) == 1.0


def test_an_unchanged_clip_that_a_moved_input_now_reaches_is_not_counted():
    """min(x, 12) never clips the baseline (x < 10); the comparison's x moved to 5..15 and
    hits the clip. Those rows lie outside the baseline's parent range and do not count."""
    clip = lambda x, rng: np.minimum(x, 12.0)  # noqa: E731
    old, new = _frames(clip, clip, rows=40, new_x=lambda x: x + 5)
    assert exactness_test(SPEC, old, new) == 1.0


def test_ties_of_a_deterministic_step_whose_input_became_discrete_are_not_counted():
    """y = 2x exactly; the comparison's x is rounded upstream, so y ties there: rows with
    the same parents, a function of the parents, not a new relation."""
    double = lambda x, rng: 2 * x  # noqa: E731
    old, new = _frames(double, double, rows=40, new_x=np.round)
    assert exactness_test(SPEC, old, new) == 1.0


def test_rows_repeated_by_a_bootstrap_resample_are_counted_once():
    old, new = _frames(_independent, lambda x, rng: x.copy(), rows=20)
    resampled = new.iloc[np.r_[np.arange(20), np.arange(20)]]  # every row twice
    assert exactness_test(SPEC, old, resampled) == exactness_test(SPEC, old, new)
    noisy = lambda x, rng: x + rng.normal(0, 1, len(x))  # noqa: E731
    old, new = _frames(noisy, noisy)
    assert exactness_test(SPEC, old, new.iloc[np.r_[np.arange(20), np.arange(10)]]) == 1.0


def test_the_engine_flags_a_port_that_became_a_copy():
    g = nx.DiGraph([("data", "test"), ("test", "score")])
    rng = np.random.default_rng(3)

    def side(copy: bool) -> pd.DataFrame:
        data = rng.normal(50, 10, 20)
        test = data.copy() if copy else rng.normal(50, 10, 20)
        return pd.DataFrame({"data": data, "test": test, "score": test + rng.normal(0, 1, 20)})

    result = attribute_frames(g, side(False), side(True), "score", repeats=0, n_jobs=1)
    assert result.flagged == ["test"] and result.top() == "test"


# --- the SciPipe workflow with a 4-output split (tests/scipipe_split.py) ------------------


def _attribute_split(store: str, work: Path, fault: str | None, seed: int = 2000) -> Any:
    scipipe_split.write_runs(work / "normal", 20, 1000)
    scipipe_split.write_runs(work / "other", 20, seed, fault)
    for label in ("normal", "other"):
        run_cli(
            "import", "scipipe", str(work / label), "-w", "split", "--label", label, store=store
        ).ok()
    args = ["attribute", "-w", "split", "-b", "normal", "-c", "other", "--repeats", "0"]
    return run_cli(*args, "--json", store=store).ok().json()


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(scipipe_split.FAULTS))
def test_scipipe_split_faulty_process_ranks_first_and_is_flagged(
    fault: str, sqlite_uri: str, tmp_path: Path
) -> None:
    """4 of 4 faults; ``leak`` (split writes the training rows to the test files too) was
    ranked first but not flagged before the exactness test ("weak evidence")."""
    doc = _attribute_split(sqlite_uri, tmp_path, fault)
    top = doc["attributions"][0]
    process = scipipe_split.FAULTS[fault]
    assert top["node"].split(".")[0] == process, doc["attributions"][:3]
    assert top["changed"] and top["score"] > 0
    if fault == "leak":
        assert {"split.test_x", "split.test_y"} <= {
            a["node"] for a in doc["attributions"] if a["changed"]
        }


@pytest.mark.slow
def test_scipipe_split_normal_against_normal_flags_nothing(sqlite_uri: str, tmp_path: Path) -> None:
    doc = _attribute_split(sqlite_uri, tmp_path, None, seed=3000)
    assert not [a["node"] for a in doc["attributions"] if a["changed"]]


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["fanout", "switch", "sinks", "ports", "renamed"])
def test_normal_against_normal_of_every_example_shape_flags_nothing(
    shape: str, sqlite_uri: str, tmp_path: Path
) -> None:
    """Two normal sets of each example shape (different seeds): the exactness test adds no
    flag (3 seeds per shape checked by hand, 15 of 15 clean; one seed here)."""
    import shlex

    from provcausal.examples.shapes import write_example

    size = 400 if shape == "switch" else None
    first = write_example(shape, tmp_path / "a", seed=1000, size=size)
    second = write_example(shape, tmp_path / "b", seed=1005, size=size)
    commands = [first.commands[0], second.commands[0].replace("--label normal", "--label other")]
    for command in commands:
        run_cli(*shlex.split(command)[1:], store=sqlite_uri).ok()
    args = ["attribute", "-w", first.workflow, "-b", "normal", "-c", "other", "--repeats", "0"]
    doc = run_cli(*args, "--json", store=sqlite_uri).ok().json()
    assert not [a["node"] for a in doc["attributions"] if a["changed"]]


def test_row_ids_are_equal_exactly_for_equal_rows():
    from provcausal.analysis.exactness import _row_ids

    X = np.random.default_rng(0).integers(0, 4, (300, 3)).astype(float)
    ids, reference = _row_ids(X), np.unique(X, axis=0, return_inverse=True)[1].ravel()
    assert np.array_equal(ids[:, None] == ids[None, :], reference[:, None] == reference[None, :])


def test_a_discrete_step_whose_values_repeat_in_both_sets_is_not_counted():
    rng = np.random.default_rng(1)

    def side() -> pd.DataFrame:
        x = rng.integers(0, 50, 300).astype(float)
        return pd.DataFrame({"x": x, "y": x + rng.integers(0, 3, 300)})

    assert exactness_test(SPEC, side(), side()) == 1.0


def test_relations_found_once_on_the_data_as_given_count_again_on_a_resample():
    from provcausal.analysis.exactness import ExactRelations

    old, new = _frames(_independent, lambda x, rng: x.copy(), rows=20)
    cache = ExactRelations(old, new)
    assert cache.pvalue(SPEC, old, new) == exactness_test(SPEC, old, new) < 1e-9
    rows = np.random.default_rng(2).integers(0, 20, 20)
    resampled = new.iloc[rows]  # the index names the rows of the data as given
    # the parent range and the atoms are those of the data as given: close, not identical
    assert cache.pvalue(SPEC, old, resampled) < 1e-8 and exactness_test(SPEC, old, resampled) < 1e-8
    assert "y" in cache.found
    # frames whose index does not name rows of the data as given are tested afresh
    other = new.set_axis([f"r{i}" for i in range(20)])
    assert cache.pvalue(SPEC, old, other) == exactness_test(SPEC, old, other)
    shifted = new.assign(y=new["y"] + 1.0)  # same index, other values
    assert cache.pvalue(SPEC, old, shifted) == exactness_test(SPEC, old, shifted) == 1.0
