"""Attributing a shift of the target's distribution to the nodes whose mechanism changed.

The method of Paleyes et al. (EuroMLSys 2023): the dataflow graph is the causal graph; each
node gets a mechanism learnt from the data; the change of the target's distribution between a
baseline and a comparison set is split among nodes with Shapley values. This module composes
the parts, each in its own module:

- :mod:`~provcausal.analysis.mechanisms`: each node's model, chosen once per node, and fitting;
- :mod:`~provcausal.analysis.change_test`: which mechanisms changed (Holm-corrected);
- :mod:`~provcausal.analysis.shapley`: the coalition game over the changed mechanisms;
- :mod:`~provcausal.analysis.distance`: the distance between target distributions.

Only the target's ancestors are used, and only changed nodes play the Shapley game. The whole
procedure is repeated on bootstrap resamples of both sets, in parallel when that pays.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from provcausal.analysis.change_test import (
    LOCAL_MODELS,
    ChangeTest,
    NeighbourCache,
    detect_changes,
    predictive_test,
)
from provcausal.analysis.distance import Distance, binned_kl
from provcausal.analysis.exactness import ExactRelations
from provcausal.analysis.mechanisms import (
    Mechanism,
    NodeSpec,
    choose_model,
    columns,
    fit,
    fit_changed,
    is_binary,
)
from provcausal.analysis.shapley import Game, shapley_values
from provcausal.errors import AnalysisError

__all__ = ["EngineResult", "QUALITIES", "Replicate", "attribute_frames", "binned_kl"]

QUALITIES = ("fast", "good", "better")

#: The most nodes (the target and its ancestors) one attribution takes. The time grows
#: about linearly with the nodes (a 200-node chain of 50 runs per side 6.6 s, a 2,000-node
#: one 99 s on the loaded 2-core machine); beyond this bound a call would run for many
#: minutes, so it is refused with the size named.
MAX_NODES = 5000


@dataclass
class Replicate:
    """One pass of the procedure over one (resampled) pair of sets."""

    scores: dict[str, float]
    pvalues: dict[str, float]
    flagged: list[str]
    forced: bool
    #: The change tests' p-values before the Holm correction.
    raw: dict[str, float] = field(default_factory=dict)


@dataclass
class EngineResult:
    """Scores with bootstrap intervals, how often each node ranked first, and diagnostics."""

    table: pd.DataFrame
    graph: nx.DiGraph
    target: str
    pvalues: dict[str, float]
    flagged: list[str]
    forced: bool
    repeats: int
    models: dict[str, str] = field(default_factory=dict)
    #: Each node's score in every replicate (the data as given first, then the resamples).
    replicates: dict[str, list[float]] = field(default_factory=dict)

    def lead_interval(self) -> tuple[float, float] | None:
        """95 % interval of the top node's lead over the runner-up, paired per replicate."""
        if len(self.table) < 2 or self.repeats == 0:
            return None
        top, second = self.table.iloc[0]["node"], self.table.iloc[1]["node"]
        lead = np.array(self.replicates[top]) - np.array(self.replicates[second])
        return float(np.percentile(lead, 2.5)), float(np.percentile(lead, 97.5))

    def top(self) -> str | None:
        """The first-ranked node, or None for an empty table."""
        return None if self.table.empty else str(self.table.iloc[0]["node"])


@dataclass
class _Plan:
    """What stays fixed across the replicates of one call."""

    graph: nx.DiGraph
    order: list[str]
    specs: dict[str, NodeSpec]
    target: str
    num_samples: int
    change_test: ChangeTest
    distance: Distance
    repeats: int
    #: Unchanged nodes' mechanisms, fitted once on both sets pooled (see ``fit_changed``).
    fitted: dict[str, Mechanism]
    #: The test on resamples (default test: one fold draw, as the resample is a draw too).
    resample_test: ChangeTest
    #: The noise of each ``fitted`` additive-noise mechanism on every baseline row as given:
    #: the abduction of unchanged nodes is a look-up instead of a prediction per replicate.
    noise: dict[str, np.ndarray] = field(default_factory=dict)
    #: The nodes the resamples test again (None: all); see :data:`SCREEN_NODES`.
    retest: set[str] | None = None


_controller: tuple[int, Any] | None = None
#: True in a forked copy (:func:`_forked`), which keeps the one-thread limit its parent held
#: when it forked, for BLAS and OpenMP alike. There threadpoolctl is not called at all:
#: OpenBLAS starts its thread pool on any change of its thread count after a fork, and the
#: pool's threads, spinning while they wait for work, took the other copy's core (0.1 s of
#: each copy's first replicate on the README's GC ratio); and GNU OpenMP (the k-d tree's
#: queries) would hang in a copy that went back to more than one thread after its parent had
#: run a multi-threaded region.
_in_forked_copy = False


def _one_thread() -> Any:
    """A context manager that limits BLAS and OpenMP to one thread. The thread pools are
    looked up (a scan of the loaded shared libraries, 3-5 ms) only when modules were imported
    since the last look-up, not on every one of the ~30 blocks of a call."""
    global _controller
    if _in_forked_copy:
        return nullcontext()
    from threadpoolctl import ThreadpoolController  # installed with scikit-learn

    if _controller is None or _controller[0] != len(sys.modules):
        _controller = (len(sys.modules), ThreadpoolController())
    return _controller[1].limit(limits=1)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence sklearn/dowhy warnings (and dowhy's progress bars, if dowhy is in use) and use
    one BLAS thread, for this block only."""
    config = sys.modules.get("dowhy.gcm.config")
    shown = getattr(config, "show_progress_bars", None)
    if config is not None:
        setattr(config, "show_progress_bars", False)  # noqa: B010
    try:
        # One BLAS thread: the matrices are small, and on a busy machine multi-threaded BLAS
        # spends more time synchronising than computing.
        with warnings.catch_warnings(), _one_thread():
            warnings.simplefilter("ignore")
            yield
    finally:
        if config is not None:
            setattr(config, "show_progress_bars", shown)  # noqa: B010


def _resample(
    old: pd.DataFrame, new: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """A bootstrap resample of each set, and the baseline rows it drew."""
    rng = np.random.default_rng(seed + 7919)
    rows = rng.integers(0, len(old), len(old))
    # The index keeps the row numbers of the data as given (see ``NeighbourCache``).
    return old.iloc[rows], new.iloc[rng.integers(0, len(new), len(new))], rows


def _moved(graph: nx.DiGraph, order: list[str], players: list[str]) -> list[str]:
    """The players and everything downstream of them, in topological order."""
    moved = set(players)
    for node in players:
        moved |= nx.descendants(graph, node)
    return [n for n in order if n in moved]


def _replicate(
    plan: _Plan,
    old: pd.DataFrame,
    new: pd.DataFrame,
    seed: int,
    test: ChangeTest,
    rows: np.ndarray | None = None,
) -> Replicate:
    """Test every mechanism, fit what moved, and play the Shapley game among the changed.
    ``rows``: which rows of the baseline as given ``old`` holds (default: all, in order)."""
    rng = np.random.default_rng(seed)
    tested = plan.retest if rows is not None else None
    changes = detect_changes(plan.specs, plan.order, old, new, seed, test, tested)
    players = changes.players
    moved = _moved(plan.graph, plan.order, players)
    pick = rng.integers(0, len(old), plan.num_samples)
    base = old.iloc[pick].reset_index(drop=True)
    mechanisms = fit_changed(plan.specs, moved, set(players), old, new, plan.fitted)
    # The noise of a mechanism fitted once per call is known for every baseline row as given.
    taken = pick if rows is None else rows[pick]
    known = {
        n: plan.noise[n][taken]
        for n in moved
        if n in plan.noise and mechanisms[0].get(n) is plan.fitted[n]
    }
    game = Game.build(
        plan.specs, moved, players, base, mechanisms, new, plan.target, rng, plan.distance, known
    )
    values = shapley_values(game.value, players, seed)
    scores = dict.fromkeys(plan.order, 0.0)
    scores.update(values)
    return Replicate(scores, changes.adjusted, changes.changed, changes.forced, changes.raw)


def _run_replicate(
    plan: _Plan, old: pd.DataFrame, new: pd.DataFrame, seed: int, resample: bool
) -> Replicate:
    with _quiet():
        if resample:
            old, new, rows = _resample(old, new, seed)
            return _replicate(plan, old, new, seed, plan.resample_test, rows)
        return _replicate(plan, old, new, seed, plan.change_test)


def _specs(
    graph: nx.DiGraph,
    order: list[str],
    old: pd.DataFrame,
    new: pd.DataFrame,
    quality: str,
    seed: int,
) -> dict[str, NodeSpec]:
    """Each node's kind and model, chosen once on both sets pooled and held fixed for the
    change tests, the fits and every resample."""
    pooled = pd.concat([old, new], ignore_index=True)
    rows = max(len(old), len(new))
    specs: dict[str, NodeSpec] = {}
    for node in order:
        parents = tuple(sorted(graph.predecessors(node)))
        y = pooled[node].to_numpy(float)
        if not parents:
            specs[node] = NodeSpec(node, parents, "root", "empirical", None)
            continue
        kind = "binary" if is_binary(y) else "anm"
        X = columns(pooled, parents)
        with _quiet():
            name, factory = choose_model(X, y, quality, seed, rows)
            if kind == "anm" and name in LOCAL_MODELS:
                name, factory = _within_sets(name, factory, (old, new), node, parents, seed)
        specs[node] = NodeSpec(node, parents, kind, name, factory)
    return specs


#: The ``fast`` families from the simplest up.
_FAMILIES = ("linear", "polynomial")


def _within_sets(
    name: str,
    factory: Any,
    sets: tuple[pd.DataFrame, pd.DataFrame],
    node: str,
    parents: tuple[str, ...],
    seed: int,
) -> tuple[str, Any]:
    """A smooth model instead of the local model chosen on both sets pooled, when each set
    alone is fitted as well by it (the more complex of the two sets' choices).

    Pooled, a node whose mechanism changed is a mixture of two mechanisms, which no smooth
    model fits: dowhy's linear scenario (X3 = 0.5 X2 before, 3 X2 after) chose the local
    model (then a tree ensemble) for every changed node, which every replicate then refitted
    and predicted with (4.4 s a call instead of 0.3). The change test of a smooth model with
    the set as an interaction, and the local model's confirmation of its flags, hold for each
    set's own mechanism; a node that is not smooth within each set keeps the local model."""
    rows = max(len(s) for s in sets)
    chosen = []
    for frame in sets:
        if len(frame) < 4:
            return name, factory
        y = frame[node].to_numpy(float)
        chosen.append(choose_model(columns(frame, parents), y, "fast", seed, rows))
    if any(n not in _FAMILIES for n, _ in chosen):
        return name, factory
    return max(chosen, key=lambda c: _FAMILIES.index(c[0]))


def _engine_frame(frame: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """``frame``'s ``order`` columns in canonical row order, numbered 0..n-1, with
    plain (object) column labels: the change tests look columns up thousands of times, and
    pandas 3's default string labels are Arrow-backed, which made each look-up several
    times dearer (0.07 s of a 0.6 s call on the README's GC ratio)."""
    out = canonical(frame[order]).reset_index(drop=True)
    out.columns = pd.Index(order, dtype=object)
    return out


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s rows in a canonical order (by index, then by value), so that the answer
    does not depend on the order in which samples were read."""
    keys = [frame[c].to_numpy() for c in reversed(frame.columns)]
    order = np.lexsort([*keys, frame.index.astype(str).to_numpy()])
    return frame.iloc[order]


def _run_all(
    plan: _Plan,
    old: pd.DataFrame,
    new: pd.DataFrame,
    seeds: list[int],
    jobs: int,
    progress: Callable[[int, int], None] | None,
) -> Sequence[Replicate]:
    jobs = workers(jobs, len(seeds) - 1)
    fork = jobs > 1 and _can_fork()
    if fork and len(plan.order) < SCREEN_NODES:
        # Nothing depends on the data as given first here (see ``_retest``): it is one more
        # task for the copies.
        given = [(plan, old, new, seeds[0], False)]
        return _forked(given + [(plan, old, new, s, True) for s in seeds[1:]], jobs, progress)
    # The data as given first: on a large graph its p-values choose what the resamples test.
    first = _run_replicate(plan, old, new, seeds[0], False)
    if progress:
        progress(1, len(seeds))
    plan.retest = _retest(plan.order, first.raw)
    work = [(plan, old, new, s, True) for s in seeds[1:]]
    if fork:
        return [first, *_forked(work, jobs, progress, len(seeds), done=1)]
    if jobs > 1:
        from joblib import Parallel, delayed

        done: list[Replicate] = Parallel(n_jobs=jobs)(delayed(_run_replicate)(*w) for w in work)
        if progress:
            progress(len(seeds), len(seeds))
        return [first, *done]
    replicates = [first]
    for w in work:
        replicates.append(_run_replicate(*w))
        if progress:
            progress(len(replicates), len(seeds))
    return replicates


def _can_fork() -> bool:
    """Whether resamples may run in forked copies of this process: only where ``fork`` is
    the platform's own way (Linux; macOS and Windows spawn), and only while this process
    runs a single thread, as forking a multi-threaded process can deadlock the copy (a
    notebook kernel, a MongoDB client's monitors: those run the resamples in fresh
    processes or in turn)."""
    import multiprocessing
    import threading

    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )


#: The work of the replicates a forked copy runs (set just before forking, read there).
_FORKED_WORK: list[tuple[Any, ...]] = []


def _enter_forked_copy() -> None:
    global _in_forked_copy
    _in_forked_copy = True


def _forked_replicate(index: int) -> Replicate:
    return _run_replicate(*_FORKED_WORK[index])


def _forked(
    work: list[tuple[Any, ...]],
    jobs: int,
    progress: Callable[[int, int], None] | None,
    total: int | None = None,
    done: int = 0,
) -> list[Replicate]:
    """The replicates ``work`` in ``jobs`` forked copies of this process, in order. A copy
    starts in milliseconds with everything already loaded and fitted (a fresh worker process
    takes about a second to import pandas and to receive the pickled plan), so two cores
    share the replicates even of the README's small workflow. Each replicate has its own
    seed: the answer is the one computed in turn. ``done`` replicates were computed before
    (for the progress bar, out of ``total``)."""
    import multiprocessing

    global _FORKED_WORK
    _FORKED_WORK = work
    total = total or len(work)
    out: list[Replicate] = []
    try:
        # Forked under the one-thread limit, which the copies inherit and keep (see
        # ``_in_forked_copy``).
        fork = multiprocessing.get_context("fork")
        with _one_thread(), fork.Pool(jobs, initializer=_enter_forked_copy) as pool:
            for replicate in pool.imap(_forked_replicate, range(len(work))):
                out.append(replicate)
                if progress:
                    progress(done + len(out), total)
        return out
    finally:
        _FORKED_WORK = []


def workers(jobs: int, tasks: int) -> int:
    """Worker processes for ``tasks`` resamples: never more than the resamples, nor than the
    CPUs (``--jobs 64`` on 2 cores started 64 workers for 20 resamples: 5.6 GB)."""
    return max(1, min(jobs, tasks, os.cpu_count() or 1))


#: From this many nodes on, the resamples test again only the nodes whose change test on
#: the data as given is below :data:`SCREEN_P`; the others count as unchanged there. A node
#: at p >= 0.2 on the data as given is not flagged on a resample of it (Holm over hundreds
#: of nodes asks for p < 0.01 / nodes), and testing every node of a 2,000-node chain on
#: every resample took most of the time of a call.
SCREEN_NODES = 100
SCREEN_P = 0.2


def _retest(order: list[str], raw: dict[str, float]) -> set[str] | None:
    """The nodes the resamples test (None: all of them; see :data:`SCREEN_NODES`)."""
    if len(order) < SCREEN_NODES:
        return None
    # The likeliest candidates too, which play when nothing tests as changed.
    likeliest = sorted(order, key=lambda n: raw[n])[:3]
    return {n for n in order if raw[n] < SCREEN_P} | set(likeliest)


def _first(scores: dict[str, float], position: dict[str, int]) -> str:
    """The node of the highest score (the first in the order among equal scores)."""
    return max(scores, key=lambda k: (scores[k], -position[k]))


def _summary(
    order: list[str], replicates: Sequence[Replicate], labels: dict[str, str]
) -> pd.DataFrame:
    """One row per node: median score over all replicates, interval, top frequency."""
    first, boot = replicates[0], replicates[1:]
    position = {n: i for i, n in enumerate(order)}
    # Each resample's first node (the first in ``order`` among equal scores), found once per
    # resample: looking it up per node made the summary quadratic in the nodes.
    firsts = [_first(r.scores, position) for r in boot if max(r.scores.values()) > 0]
    rows = []
    for node in order:
        # Score and interval come from one pool (the data as given and its resamples), so
        # the score always lies inside its interval.
        pool = np.array([r.scores[node] for r in replicates])
        tops = [n for n in firsts if n == node]
        rows.append(
            {
                "node": node,
                "label": labels.get(node, node),
                "score": float(np.median(pool)),
                "ci_low": float(np.percentile(pool, 2.5)) if boot else math.nan,
                "ci_high": float(np.percentile(pool, 97.5)) if boot else math.nan,
                "top_frequency": len(tops) / len(boot) if boot else math.nan,
                "changed": node in first.flagged,
                "p_value": first.pvalues[node],
            }
        )
    return (
        pd.DataFrame(rows)
        .sort_values(["score", "top_frequency", "node"], ascending=[False, False, True])
        .reset_index(drop=True)
    )


def attribute_frames(
    graph: nx.DiGraph,
    old: pd.DataFrame,
    new: pd.DataFrame,
    target: str,
    *,
    quality: str = "fast",
    repeats: int = 20,
    seed: int = 0,
    n_jobs: int | None = None,
    num_samples: int | None = None,
    labels: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    change_test: ChangeTest | None = None,
    distance: Distance = binned_kl,
) -> EngineResult:
    """Attribute the change of ``target``'s distribution from ``old`` to ``new`` rows.

    ``graph``'s nodes are ``old``/``new`` columns, edges cause → effect. Returns one row per
    ancestor of ``target`` (and the target), sorted by score: the score on the data as given,
    its 95 % bootstrap interval and how often the node ranked first over ``repeats`` bootstrap
    resamples of both sets. ``change_test`` (default: the predictive test, with a residual
    test added for ``good``/``better``) and ``distance`` (default: binned KL) can be replaced.
    Deterministic for a given ``seed``.
    """
    if quality not in QUALITIES:
        raise ValueError(f"quality must be one of {QUALITIES}")
    keep = nx.ancestors(graph, target) | {target}
    if len(keep) > MAX_NODES:
        raise AnalysisError(
            f"the target {target!r} has {len(keep) - 1} upstream nodes; attribution is bounded "
            f"at {MAX_NODES} nodes (a 2,000-node chain takes about 100 s on 2 cores): choose a "
            "target nearer the change"
        )
    g = graph.subgraph(keep).copy()
    order = list(nx.lexicographical_topological_sort(g))
    old, new = _engine_frame(old, order), _engine_frame(new, order)
    cache, exact = NeighbourCache(old, new), ExactRelations(old, new)
    specs = _specs(g, order, old, new, quality, seed)
    size = num_samples or int(np.clip(4 * max(len(old), len(new)), 1000, 4000))
    pooled = pd.concat([old, new], ignore_index=True)
    with _quiet():
        # Unchanged nodes' mechanisms, on both sets pooled (see ``fit_changed``).
        fitted = {n: fit(specs[n], pooled) for n in order if specs[n].parents}
        noise = {
            n: old[n].to_numpy(float) - m.predict(columns(old, specs[n].parents))
            for n, m in fitted.items()
            if m.kind != "binary"
        }
    resample_test = change_test or _default_test(quality, 1, cache, exact)
    change_test = change_test or _default_test(quality, None, cache, exact)
    plan = _Plan(
        g, order, specs, target, size, change_test, distance, repeats, fitted, resample_test, noise
    )
    seeds = [seed * 1_000_003 + i for i in range(repeats + 1)]
    replicates = _run_all(plan, old, new, seeds, n_jobs or _auto_jobs(plan, old, new), progress)
    first = replicates[0]
    return EngineResult(
        _summary(order, replicates, labels or {}),
        g,
        target,
        first.pvalues,
        first.flagged,
        first.forced,
        repeats,
        {n: s.model for n, s in specs.items()},
        {n: [r.scores[n] for r in replicates] for n in order},
    )


#: Nodes × replicates × rows above which a second worker process pays for its start-up
#: (about 2 s on a busy 2-core machine: a fresh interpreter importing pandas) and for
#: pickling the plan and both sets for every replicate. Measured on the 2-core machine at
#: load 2-3 (December 2026): a 50-node chain, 2,000 rows per side (2.1 million), 1.7 s in
#: one process against 2.5 s with two warm workers; a 200-node DAG (8.4 million) 7.5 s
#: against 9-11 s. Forked copies (:func:`_can_fork`) start in milliseconds: they pay from
#: :data:`FORK_WORK` on.
PARALLEL_WORK = 20_000_000
#: The same bound for forked copies: the README's GC ratio at 30 runs per side (5,600) runs
#: in 0.1 s in turn, at 1,000 per side (190,000) 0.55 s in turn and about half in two copies.
FORK_WORK = 50_000


def _auto_jobs(plan: _Plan, old: pd.DataFrame, new: pd.DataFrame) -> int:
    """Worker processes: up to 2, and only for problems large enough to pay for them."""
    work = len(plan.order) * max(len(old), len(new)) * (1 + plan.repeats)
    bound = FORK_WORK if _can_fork() else PARALLEL_WORK
    return min(2, os.cpu_count() or 1) if work > bound else 1


def _default_test(
    quality: str,
    fold_repeats: int | None = None,
    neighbours: NeighbourCache | None = None,
    exact: ExactRelations | None = None,
) -> ChangeTest:
    """The predictive test; for ``good``/``better`` also on residual magnitudes."""
    return partial(
        predictive_test,
        variance=quality != "fast",
        fold_repeats=fold_repeats,
        neighbours=neighbours,
        exact=exact,
    )
