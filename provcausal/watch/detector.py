"""The sequential test of ``provcausal watch``: has the target's distribution left the reference?

At every new sample, the recent window (the last ``window`` samples) is compared with the fixed
reference by a Kolmogorov-Smirnov-type distance between their empirical distribution functions,
read at the reference's order statistics (all of them up to :data:`GRID` points, else ``GRID``
evenly spaced ones). Each look alone would need no calibration, but a test repeated at every
sample would raise false alarms at the per-look level times the number of looks. So the
threshold is calibrated by simulation for the whole stream, not per look: it is the
``1 - alpha`` quantile of the **largest** distance seen over ``horizon`` looks at normal data
(:func:`calibrate`). With the defaults, the probability of one or more false alarms in 10,000
normal samples is at most 0.1.

The statistic depends only on the ranks of the window's samples among the reference's (ties
broken at random, by a hash of the sample's id, so that the same data give the same answer),
so under "no shift" it has the same law for any continuous distribution, and one simulation
on uniform numbers calibrates every target. Memory is the reference plus the window.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from provcausal.model.ids import stable_hash

__all__ = [
    "GRID",
    "HORIZON",
    "FALSE_ALARM",
    "TEST_NAME",
    "Sample",
    "Detector",
    "Look",
    "calibrate",
    "ks_distance",
]

#: Most reference positions the distance is read at.
GRID = 64
#: Looks over which the false-alarm probability is bounded, and the bound.
HORIZON = 10_000
FALSE_ALARM = 0.1
#: Fewest recent samples an attribution after an alert compares with the reference.
MIN_TAIL = 10
#: Simulated normal streams per calibration.
STREAMS = 200
TEST_NAME = (
    "sliding-window two-sample Kolmogorov-Smirnov distance to a fixed reference; threshold "
    "calibrated by simulation so that P(any false alarm in {horizon} normal samples) <= {alpha}"
)


@dataclass(frozen=True)
class Sample:
    """One observation of the target: its sample id (``RUN/SAMPLE``), run id and value."""

    sample: str
    run: str
    value: float


def _grid(size: int) -> np.ndarray:
    """The reference ranks (1..size) the distance is read at."""
    if size <= GRID:
        return np.arange(1, size + 1)
    return np.unique(np.linspace(1, size, GRID).round().astype(int))


def _tie_fraction(sample: str) -> float:
    """A uniform number in [0, 1) fixed by the sample's id: breaks ties among equal values."""
    return int(stable_hash("tie", sample, length=12), 16) / 16**12


def ranks(reference_sorted: np.ndarray, samples: Sequence[Sample]) -> np.ndarray:
    """How many reference values lie below each sample (ties shared out at random)."""
    values = np.array([s.value for s in samples], dtype="float64")
    low = np.searchsorted(reference_sorted, values, "left")
    high = np.searchsorted(reference_sorted, values, "right")
    spread = np.array([_tie_fraction(s.sample) for s in samples])
    return low + np.floor(spread * (high - low + 1)).astype(int)


def ks_distance(window_ranks: np.ndarray, size: int) -> float:
    """The largest gap between the reference's and the window's distribution functions, read
    at the reference's order statistics on the grid."""
    grid = _grid(size)
    below = np.searchsorted(np.sort(window_ranks), grid, "right") / len(window_ranks)
    return float(np.max(np.abs(grid / size - below)))


@functools.lru_cache(maxsize=32)
def calibrate(
    size: int,
    window: int,
    horizon: int = HORIZON,
    alpha: float = FALSE_ALARM,
    streams: int = STREAMS,
    seed: int = 0,
) -> float:
    """The threshold the distance must exceed: the ``1 - alpha`` quantile of the largest
    distance over ``horizon`` looks at normal data, a reference of ``size`` and a sliding
    window of ``window`` samples (simulated ``streams`` times; deterministic for ``seed``)."""
    rng = np.random.default_rng(seed)
    grid = _grid(size)
    expected = (grid / size * window).astype(np.float32)  # reference CDF x window, per point
    length = horizon + window - 1
    maxima = np.empty(streams)
    for s in range(streams):
        reference = np.sort(rng.random(size))
        # which grid column each sample first counts in (its rank <= grid[column])
        column = np.searchsorted(grid, np.searchsorted(reference, rng.random(length)), "left")
        counts = np.zeros((length + 1, len(grid) + 1), dtype=np.int16)
        counts[np.arange(1, length + 1), column] = 1
        np.cumsum(counts, axis=0, out=counts)  # samples so far, per column
        inside = counts[window:] - counts[:-window]  # per sliding window
        np.cumsum(inside, axis=1, out=inside)  # window samples with rank <= grid[k]
        gaps = inside[:, :-1].astype(np.float32) - expected
        maxima[s] = max(float(gaps.max()), float(-gaps.min())) / window
    return float(np.quantile(maxima, 1 - alpha))


@dataclass
class Look:
    """What one look at the window found."""

    statistic: float
    threshold: float
    shifted: bool
    samples_seen: int


@dataclass
class Detector:
    """Reference, recent window and the test. States: ``collecting`` (the reference is not
    complete yet), ``armed`` (testing), ``alerted`` (a shift was reported; collecting
    ``rearm`` post-alert samples as the new reference, then armed again)."""

    window: int
    reference_size: int
    rearm: int
    horizon: int = HORIZON
    alpha: float = FALSE_ALARM
    state: str = "collecting"
    reference: list[Sample] = field(default_factory=list)
    recent: deque[Sample] = field(default_factory=deque)
    pending: list[Sample] = field(default_factory=list)
    threshold: float | None = None
    seen: int = 0
    alerts: int = 0
    _sorted: np.ndarray | None = None
    #: ranks of the recent samples among the reference's (fixed until the reference changes)
    _ranks: deque[int] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.recent = deque(self.recent, maxlen=self.window)
        self._ranks = deque(maxlen=self.window)

    # -- reference ----------------------------------------------------------------------
    def set_reference(self, samples: Iterable[Sample]) -> None:
        """Take ``samples`` as the reference (the newest ``reference_size`` of them) and arm."""
        self.reference = list(samples)[-self.reference_size :]
        self._sorted = np.sort([s.value for s in self.reference])
        self.threshold = calibrate(len(self.reference), self.window, self.horizon, self.alpha)
        self.recent.clear()
        self._ranks.clear()
        self.pending = []
        self.state = "armed"

    @property
    def test(self) -> str:
        return TEST_NAME.format(horizon=self.horizon, alpha=self.alpha)

    # -- looking ------------------------------------------------------------------------
    def add(self, sample: Sample) -> tuple[str | None, Look | None]:
        """Take one new sample. Returns an event name (``reference``, ``shift``,
        ``rearmed``) when this sample caused one, and the look (when a test ran)."""
        self.seen += 1
        if self.state == "collecting":
            self.pending.append(sample)
            if len(self.pending) >= self.reference_size:
                self.set_reference(self.pending)
                return "reference", None
            return None, None
        self.recent.append(sample)
        assert self._sorted is not None
        self._ranks.append(int(ranks(self._sorted, [sample])[0]))
        if self.state == "alerted":
            self.pending.append(sample)
            if len(self.pending) >= self.rearm:
                self.set_reference(self.pending)
                return "rearmed", None
            return None, None
        if len(self.recent) < self.window:
            return None, None
        look = self.look()
        if look.shifted:
            self.state = "alerted"
            self.alerts += 1
            self.pending = []
            return "shift", look
        return None, look

    def look(self) -> Look:
        assert self._sorted is not None and self.threshold is not None
        stat = ks_distance(np.fromiter(self._ranks, dtype=int), len(self._sorted))
        return Look(stat, self.threshold, stat > self.threshold, self.seen)

    def change_point(self, least: int = MIN_TAIL) -> int:
        """Where in the recent window the shift most likely began: the start of the tail
        (at least ``least`` samples) that lies farthest from the reference, distances weighted
        by the square root of the tail's length so that a longer tail wins a tie."""
        assert self._sorted is not None
        rank = np.fromiter(self._ranks, dtype=int)
        if len(rank) == 0:
            return 0
        best, where = -1.0, 0
        for start in range(0, max(1, len(rank) - least + 1)):
            tail = rank[start:]
            score = ks_distance(tail, len(self._sorted)) * len(tail) ** 0.5
            if score > best:
                best, where = score, start
        return where

    # -- checkpoint ---------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """Everything needed to resume (JSON-able; bounded by the windows)."""

        def rows(samples: Iterable[Sample]) -> list[list[Any]]:
            return [[s.sample, s.run, s.value] for s in samples]

        return {
            "window": self.window,
            "reference_size": self.reference_size,
            "rearm": self.rearm,
            "horizon": self.horizon,
            "alpha": self.alpha,
            "state": self.state,
            "reference": rows(self.reference),
            "recent": rows(self.recent),
            "pending": rows(self.pending),
            "seen": self.seen,
            "alerts": self.alerts,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Detector:
        def samples(rows: list[list[Any]]) -> list[Sample]:
            return [Sample(str(a), str(b), float(c)) for a, b, c in rows]

        det = cls(
            window=int(state["window"]),
            reference_size=int(state["reference_size"]),
            rearm=int(state["rearm"]),
            horizon=int(state["horizon"]),
            alpha=float(state["alpha"]),
        )
        reference = samples(state["reference"])
        if reference:
            det.set_reference(reference)
        det.state = str(state["state"])
        recent = samples(state["recent"])
        det.recent.extend(recent)
        if det._sorted is not None and recent:
            det._ranks.extend(int(r) for r in ranks(det._sorted, recent))
        det.pending = samples(state["pending"])
        det.seen = int(state["seen"])
        det.alerts = int(state["alerts"])
        return det
