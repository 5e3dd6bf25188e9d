"""The verdict: one plain sentence that says which node explains the change, and how sure.

Strong only when the top node's mechanism tested as changed, it ranked first in at least
:data:`STRONG_TOP` of the resamples, and its lead over the runner-up, paired per replicate,
has a 95 % interval above zero. Otherwise the evidence is called weak and the candidates are
named.
"""

from __future__ import annotations

from provcausal.analysis.engine import EngineResult

__all__ = ["STRONG_TOP", "verdict"]

#: Share of resamples in which the top node must rank first for a strong verdict.
STRONG_TOP = 0.8


def _names(nodes: list[str], labels: dict[str, str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    names = [labels.get(n, n) for n in nodes]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def verdict(result: EngineResult, labels: dict[str, str]) -> str:
    """One sentence on the top node and the strength of the evidence for it."""
    table = result.table
    if table.empty or table.iloc[0]["score"] <= 0:
        return "no node accounts for a change of the target's distribution"
    top = table.iloc[0]
    name = labels.get(top["node"], top["node"])
    scored = [str(n) for n in table[table["score"] > 0]["node"]]
    runner = scored[1] if len(scored) > 1 else None
    candidates = _names(scored[:3], labels)
    if result.forced:
        return (
            f"weak evidence: no node's mechanism tested as changed; "
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
