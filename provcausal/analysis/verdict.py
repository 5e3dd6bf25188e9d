"""The verdict: one plain sentence that says which node explains the change, and how sure.

First, whether there is a change at all: when the shift test
(:mod:`~provcausal.analysis.shift`) finds none, the verdict says so, with its evidence, and
names no node ("no shift: …; nothing to attribute"): any split of a change that is not there
is noise. Otherwise it is strong only when the top node's mechanism tested as changed, it
ranked first in at least :data:`STRONG_TOP` of the resamples, and its lead over the
runner-up, paired per replicate, has a 95 % interval above zero. Otherwise the evidence is
called weak and the candidates are named; a shift with no changed mechanism is weak evidence
too (the target moved, but no node's own behaviour tested as the reason).
"""

from __future__ import annotations

import math

from provcausal.analysis.engine import EngineResult
from provcausal.analysis.shift import Shift

__all__ = ["STRONG_TOP", "no_shift_verdict", "shift_text", "verdict"]

#: Share of resamples in which the top node must rank first for a strong verdict.
STRONG_TOP = 0.8


def _names(nodes: list[str], labels: dict[str, str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    names = [labels.get(n, n) for n in nodes]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _p(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.2g}"


def shift_text(shift: Shift, target: str) -> str:
    """The shift test's answer in one line: ``gcratio's distribution changed (p = 0.001, n =
    30 vs 30; anderson-darling permutation)``."""
    if math.isnan(shift.p_value):
        return (
            f"{target}'s distribution was not tested (n = {shift.n_before} vs "
            f"{shift.n_after}: a set has no value)"
        )
    word = "changed" if shift.detected else "did not change"
    return (
        f"{target}'s distribution {word} (p = {_p(shift.p_value)}, n = {shift.n_before} vs "
        f"{shift.n_after}; {shift.test}, alpha {shift.alpha:g})"
    )


def no_shift_verdict(shift: Shift, target: str) -> str:
    """The verdict when the shift test found no change: it says so and names no node."""
    if math.isnan(shift.p_value):
        return (
            f"no shift: {target}'s distribution could not be tested (n = {shift.n_before} vs "
            f"{shift.n_after}); nothing to attribute"
        )
    return (
        f"no shift: {target}'s distribution did not change (p = {_p(shift.p_value)}, "
        f"n = {shift.n_before} vs {shift.n_after}); nothing to attribute"
    )


def verdict(result: EngineResult, labels: dict[str, str], shift: Shift | None = None) -> str:
    """One sentence on the top node and the strength of the evidence for it. With ``shift``
    (the target's shift test) and no shift detected: "no shift", and no node named."""
    target = labels.get(result.target, result.target)
    if shift is not None and not shift.detected:
        return no_shift_verdict(shift, target)
    table = result.table
    if table.empty or table.iloc[0]["score"] <= 0:
        return "no node accounts for a change of the target's distribution"
    top = table.iloc[0]
    name = labels.get(top["node"], top["node"])
    scored = [str(n) for n in table[table["score"] > 0]["node"]]
    runner = scored[1] if len(scored) > 1 else None
    candidates = _names(scored[:3], labels)
    if result.forced:
        moved = (
            f"{target}'s distribution changed (p = {_p(shift.p_value)}), but "
            if shift is not None
            else ""
        )
        return (
            f"weak evidence: {moved}no node's mechanism tested as changed; "
            f"the likeliest candidates are {candidates}"
        )
    if not bool(top["changed"]):
        return (
            f"weak evidence: {name} ranks first, but its mechanism did not test as changed "
            f"on the data as given; candidates: {candidates}"
        )
    lead = result.lead_interval()
    if lead is None:
        return f"{name} ranks first; without resamples there is no measure of how sure that is"
    ranked = f"it ranked first in {top['top_frequency']:.0%} of {result.repeats} resamples"
    if top["top_frequency"] < STRONG_TOP:
        return (
            f"weak evidence: {name} may explain the change, but {ranked}; candidates: {candidates}"
        )
    if lead[0] <= 0:
        ahead = labels.get(runner, runner) if runner else "the other nodes"
        return (
            f"weak evidence: {name} may explain the change ({ranked}), "
            f"but not clearly ahead of {ahead}"
        )
    if runner is None:
        return f"{name} explains the change: {ranked}, and no other node explains any of it"
    return f"{name} explains the change: {ranked}, clearly ahead of {labels.get(runner, runner)}"
