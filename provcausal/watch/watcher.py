"""``provcausal watch``: follow a workflow's runs as they arrive, tell when the target's
distribution has left the reference, and say which node explains it.

The loop: read the runs not seen before (:mod:`provcausal.watch.follower`), take the target's
value in each of their samples (:mod:`provcausal.watch.samples`), feed them to the sequential
test (:mod:`provcausal.watch.detector`); on a shift, attribute it exactly as ``attribute``
does (:func:`provcausal.analysis.attribute`, reference against the recent samples since the
estimated change point), keep the alert, and checkpoint. Events go to the ``emit`` callback as
dicts, status lines to ``status``; the library prints nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import shlex
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from provcausal.analysis.attribution import attribute
from provcausal.analysis.selection import select_runs
from provcausal.errors import (
    AnalysisError,
    BadInputError,
    InvalidParameterError,
    StoreFileError,
    StoreUnreachableError,
)
from provcausal.model.ids import stable_hash
from provcausal.stores import Store
from provcausal.watch.checkpoint import StateKeeper, checkpoint_key, state_keeper
from provcausal.watch.detector import Detector, Look, Sample
from provcausal.watch.follower import Follower
from provcausal.watch.samples import Target, choose_target, target_samples

__all__ = ["WatchOptions", "Watcher", "MAX_REFERENCE", "BACKOFF_MAX"]

#: Most samples a reference named with ``--reference`` keeps (its newest ones).
MAX_REFERENCE = 5000
#: Longest wait between two attempts to reach a store that went away (seconds).
BACKOFF_MAX = 60.0
#: Runs whose samples are read and tested at once.
CHUNK_RUNS = 200

Emit = Callable[[dict[str, Any]], None]


@dataclass
class WatchOptions:
    """What to watch and how (the ``provcausal watch`` options)."""

    workflow: str
    target: str | None = None
    metric: str | None = None
    reference: str | None = None
    window: int = 50
    poll: float = 2.0
    report_dir: str | None = None
    once: bool = False
    rearm: int | None = None
    settle: float = 2.0
    quality: str = "fast"
    seed: int = 0

    def key_options(self) -> dict[str, Any]:
        """The options a checkpoint belongs to (others may change between restarts)."""
        return {
            "workflow": self.workflow,
            "target": self.target,
            "metric": self.metric,
            "reference": self.reference,
            "window": self.window,
        }


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _file_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] or "workflow"


def _runs_of(samples: Iterable[Sample]) -> list[str]:
    return list(dict.fromkeys(s.run for s in samples))


class Watcher:
    """One watch of one workflow on one store. :meth:`run` returns the number of alerts
    raised (``once``: after evaluating what is stored; else only when interrupted)."""

    def __init__(
        self,
        open_store: Callable[[], Store],
        options: WatchOptions,
        emit: Emit,
        status: Callable[[str], None],
        *,
        state_dir: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if options.window < 10:
            raise InvalidParameterError("the window must hold at least 10 samples", "window")
        self.open_store = open_store
        self.options = options
        self.emit = emit
        self.status = status
        self.state_dir = state_dir
        self.sleep = sleep
        self.store: Store | None = None
        self.keeper: StateKeeper | None = None
        self.key = ""
        self.target: Target | None = None
        self.follower = Follower(options.workflow, settle=options.settle)
        self.detector = Detector(
            window=options.window,
            reference_size=options.window,
            rearm=options.rearm or options.window,
        )
        self.skip_runs: set[str] = set()  # the runs of a --reference (not tested)
        self.raised = 0
        self._down_since: float | None = None
        self._warmed = False

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> int:
        store = self._connect()
        self._start(store)
        while True:
            # a poll that fails half-way is undone, so that the runs it read are read again
            before = json.dumps([self.follower.to_state(), self.detector.to_state()])
            try:
                self._step(self._connect())
            except StoreUnreachableError as exc:
                if self.options.once or isinstance(exc, StoreFileError):
                    raise
                follower, detector = json.loads(before)
                self.follower = Follower.from_state(self.options.workflow, follower,
                                                    self.options.settle)  # fmt: skip
                self.detector = Detector.from_state(detector)
                self._went_away(exc)
                continue
            if self.options.once:
                return self.raised
            self.sleep(self.options.poll)

    def close(self) -> None:
        """Save the checkpoint (best effort) and release the store."""
        if self.store is not None:
            with contextlib.suppress(Exception):  # the store may be gone: the last save stands
                self._save()
            self.store.close()
            self.store = None

    def _connect(self) -> Store:
        """The store, opened again after it went away, retried with back-off."""
        delay = 1.0
        while self.store is None:
            try:
                self.store = self.open_store()
            except StoreUnreachableError as exc:
                if self.options.once or isinstance(exc, StoreFileError):
                    raise  # nothing to wait for: a file that is not a usable store
                self._went_away(exc, delay)
                delay = min(delay * 2, BACKOFF_MAX)
        return self.store

    def _went_away(self, exc: StoreUnreachableError, delay: float | None = None) -> None:
        """Say once that the store is unreachable; wait before the next attempt."""
        if self._down_since is None:
            self._down_since = time.monotonic()
            self._backoff = 1.0
            self.emit({"event": "unreachable", "workflow": self.options.workflow,
                       "error": str(exc), "at": _now()})  # fmt: skip
            self.status(f"store unreachable: {exc}; retrying with back-off")
        wait = delay if delay is not None else self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)
        self.sleep(wait)

    def _recovered(self) -> None:
        if self._down_since is None:
            return
        seconds = round(time.monotonic() - self._down_since, 1)
        self._down_since = None
        self.emit({"event": "recovered", "workflow": self.options.workflow,
                   "after_seconds": seconds, "at": _now()})  # fmt: skip
        self.status(f"store reachable again after {seconds:g} s")

    # -- starting ------------------------------------------------------------------------
    def _start(self, store: Store) -> None:
        opts = self.options
        self.keeper = state_keeper(store, self.state_dir)
        self.key = checkpoint_key(store.uri, opts.key_options())
        saved = self.keeper.get(self.key)
        if saved is not None:
            self.follower = Follower.from_state(opts.workflow, saved["follower"], opts.settle)
            self.detector = Detector.from_state(saved["detector"])
            if opts.rearm:
                self.detector.rearm = opts.rearm
            target = saved.get("target")
            self.target = Target(**target) if target else None
            self.skip_runs = set(saved.get("skip_runs") or [])
        elif opts.reference:
            self._named_reference(store)  # a bad selection fails before anything is printed
        self.emit(
            {
                "event": "started",
                "workflow": opts.workflow,
                "store": store.uri,
                "target": self.target.label if self.target else opts.target,
                "metric": self.target.metric if self.target else opts.metric,
                "window": opts.window,
                "reference": opts.reference or f"the first {opts.window} samples",
                "resumed": saved is not None,
                "state": self.detector.state,
                "at": _now(),
            }
        )
        self.status(
            f"watching {opts.workflow!r} in {store.uri}"
            + (f" (resumed: {self.detector.seen} samples seen)" if saved else "")
        )
        if saved is None and opts.reference:
            self._reference_event("reference")
            self._save()
        elif saved is not None and self.detector.reference:
            self._warmed = True
            self._warm_up()

    def _named_reference(self, store: Store) -> None:
        """``--reference SEL``: its runs' samples are the reference; they are not tested."""
        opts = self.options
        runs = select_runs(store, opts.workflow, opts.reference or "")
        self.target = choose_target(store, opts.workflow, runs, opts.target, opts.metric)
        samples = target_samples(store, runs, self.target)
        if len(samples) < 10:
            raise AnalysisError(
                f"the reference {opts.reference!r} has {len(samples)} sample(s) with a "
                f"{self.target.metric} for {self.target.label!r}; at least 10 are needed"
            )
        self.skip_runs = {str(r["workflow_id"]) for r in runs}
        self.detector.reference_size = min(len(samples), MAX_REFERENCE)
        self.detector.set_reference(samples)

    # -- one poll ------------------------------------------------------------------------
    def _step(self, store: Store) -> None:
        runs = self.follower.poll(store)
        self._recovered()
        runs = [r for r in runs if str(r["workflow_id"]) not in self.skip_runs]
        if not runs:
            return
        store.refresh()  # FlowCept's LMDB: find the tasks written since the last read
        for i in range(0, len(runs), CHUNK_RUNS):
            chunk = runs[i : i + CHUNK_RUNS]
            if self.target is None:
                opts = self.options
                self.target = choose_target(store, opts.workflow, chunk, opts.target, opts.metric)
            for sample in target_samples(store, chunk, self.target):
                self._take(store, sample)
        self._save()
        self.status(
            f"{len(runs)} new run(s); {self.detector.seen} samples seen, {self.detector.state}"
        )

    def _take(self, store: Store, sample: Sample) -> None:
        event, look = self.detector.add(sample)
        if event == "reference":
            self._reference_event("reference")
        elif event == "rearmed":
            self._reference_event("rearmed")
        elif event == "shift" and look is not None:
            self._alert(store, sample, look)

    def _warm_up(self) -> None:
        """Run one small attribution on the reference now, so that the first alert does not
        wait for the engine's libraries and worker processes to start (about 5 s on a busy
        2-core machine); never with ``once``. It runs in this thread on this store: a second
        SQLite store opened in the same process would read the file outside SQLite, which
        drops the process's POSIX locks on it (and another process may then remove the
        write-ahead log this one still uses)."""
        if self.options.once or self.target is None or self.store is None:
            return
        runs = _runs_of(self.detector.reference)
        half = len(runs) // 2
        if half < 5:
            return
        target, opts = self.target, self.options
        first, second = ",".join(runs[:half]), ",".join(runs[half:])
        started = time.monotonic()
        with contextlib.suppress(Exception):
            attribute(self.store, opts.workflow, first, second, target=target.node,
                      metric=target.metric, repeats=2, seed=opts.seed)  # fmt: skip
        self.status(f"ready: the attribution engine started in {time.monotonic() - started:.1f} s")

    def _reference_event(self, name: str) -> None:
        det, target = self.detector, self.target
        assert target is not None
        runs = _runs_of(det.reference)
        self.emit(
            {
                "event": name,
                "workflow": self.options.workflow,
                "target": target.label,
                "metric": target.metric,
                "samples": len(det.reference),
                "runs": len(runs),
                "first_run": runs[0],
                "last_run": runs[-1],
                "threshold": det.threshold,
                "test": det.test,
                "at": _now(),
            }
        )
        self.status(
            f"{'re-armed: ' if name == 'rearmed' else ''}reference ready: {len(det.reference)} "
            f"samples of {target.label!r} ({target.metric}); threshold {det.threshold:.3f}"
        )
        if not self._warmed:
            self._warmed = True
            self._warm_up()

    # -- an alert ------------------------------------------------------------------------
    def _alert(self, store: Store, sample: Sample, look: Look) -> None:
        opts, det, target = self.options, self.detector, self.target
        assert target is not None and self.keeper is not None
        recent = list(det.recent)
        tail = recent[det.change_point() :]
        recent_runs = _runs_of(tail)
        reference_runs = [r for r in _runs_of(det.reference) if r not in set(recent_runs)]
        alert_id = stable_hash(self.key, sample.sample, det.alerts, length=16)
        reference_text = opts.reference or "the first samples seen"
        shift = {
            "detected": True,
            "statistic": round(look.statistic, 4),
            "threshold": round(look.threshold, 4),
            "test": det.test,
            "window": det.window,
            "reference_samples": len(det.reference),
            "since_sample": tail[0].sample,
            "samples_since": len(tail),
        }
        event: dict[str, Any] = {
            "event": "shift",
            "id": alert_id,
            "workflow": opts.workflow,
            "target": target.label,
            "detected_at": _now(),
            "sample": sample.sample,
            "run": sample.run,
        }
        body: dict[str, Any]
        written: list[str] = []
        try:
            result = attribute(
                store,
                opts.workflow,
                ",".join(reference_runs),
                ",".join(recent_runs),
                target=target.node,
                metric=target.metric,
                quality=opts.quality,
                seed=opts.seed,
            )
        except (AnalysisError, InvalidParameterError) as exc:
            body = {"attributions": [], "verdict": f"no attribution: {exc}"}
        else:
            result.baseline_selection = f"reference ({reference_text}): {len(reference_runs)} runs"
            result.comparison_selection = f"recent: {len(recent_runs)} runs since {tail[0].run}"
            if opts.report_dir:
                written.append(self._report(result, reference_runs, recent_runs, alert_id))
            body = result.to_dict()
        theirs = body.pop("shift", None)
        if theirs is not None:
            shift["analysis"] = theirs  # the attribution's own test of the change
        event.update(body)
        event.update(
            {
                "target": target.label,
                "reference": {
                    "selection": reference_text,
                    "samples": len(det.reference),
                    "runs": len(reference_runs),
                    "first_run": reference_runs[0] if reference_runs else None,
                    "last_run": reference_runs[-1] if reference_runs else None,
                },
                "recent": {
                    "samples": len(tail),
                    "runs": len(recent_runs),
                    "first_run": recent_runs[0],
                    "last_run": recent_runs[-1],
                    "since_sample": tail[0].sample,
                },
                "shift": shift,
                "written": written,
            }
        )
        self.keeper.add_alert(event)
        self._save()
        self.raised += 1
        self.emit(event)

    def _report(
        self, result: Any, reference_runs: list[str], recent_runs: list[str], alert_id: str
    ) -> str:
        from provcausal.analysis.report import write_report

        opts = self.options
        folder = Path(opts.report_dir or ".")
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path = folder / f"{_file_part(opts.workflow)}-{stamp}-{alert_id[:8]}.html"
        command = shlex.join(
            [
                "provcausal",
                "--store",
                self.store.uri if self.store else "",
                "report",
                "--workflow",
                opts.workflow,
                "--baseline",
                ",".join(reference_runs),
                "--comparison",
                ",".join(recent_runs),
                "--target",
                result.target,
                "--metric",
                result.metric,
                "-o",
                str(path),
            ]
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_report(result, path, command)
        except OSError as exc:
            raise BadInputError(f"cannot write the report: {exc.strerror}", str(path)) from None
        return str(path)

    # -- checkpoint ----------------------------------------------------------------------
    def _save(self) -> None:
        if self.keeper is None:
            return
        self.keeper.put(
            self.key,
            {
                "version": 1,
                "options": self.options.key_options(),
                "target": asdict(self.target) if self.target else None,
                "follower": self.follower.to_state(),
                "detector": self.detector.to_state(),
                "skip_runs": sorted(self.skip_runs),
                "saved_at": _now(),
            },
        )
