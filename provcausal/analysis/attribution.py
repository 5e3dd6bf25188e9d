"""``attribute``: which node accounts for the shift of a workflow's output distribution?

Runs are selected from the store (labels, run ids or a time range), the causal graph is
derived from their lineage, per-sample data is queried for each node, and the engine
(:mod:`provcausal.analysis.engine`) attributes the change between the two sets.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from provcausal.analysis.engine import EngineResult, attribute_frames
from provcausal.analysis.graph import contract_nodes, graph_from_tasks
from provcausal.analysis.routing import add_routing
from provcausal.analysis.samples import default_metric, metric_frame
from provcausal.analysis.selection import select_run_ids
from provcausal.analysis.shift import Shift, shift_test
from provcausal.analysis.targets import choose_targets
from provcausal.analysis.tasks import load_task_table
from provcausal.analysis.verdict import verdict
from provcausal.errors import AnalysisError, InvalidParameterError
from provcausal.model import flowcept as fc
from provcausal.stores import Store

__all__ = ["Attribution", "attribute", "prepare", "Prepared", "DEFAULT_REPEATS", "SHIFT_ALPHA"]

DEFAULT_REPEATS = {"fast": 20, "good": 20, "better": 30}
MIN_SAMPLES = 5
#: Level of the shift test before an attribution. Stricter than the usual 5 %: a shift sends
#: an operator to a node, and at 5 % one comparison in twenty where nothing changed would
#: (measured on real records: docs/attribution.md, "The shift test"). The level of the KS
#: test that picks the changed sinks (``targets.SINK_ALPHA``) is the same.
SHIFT_ALPHA = 0.01


@dataclass
class Prepared:
    """What an analysis of one workflow works on: graph, frames, and what was done to them."""

    workflow: str
    metric: str
    graph: nx.DiGraph
    baseline: pd.DataFrame
    comparison: pd.DataFrame
    labels: dict[str, str]
    notes: list[str] = field(default_factory=list)
    #: Nodes the runs declare as the workflow's output (a Seldon pipeline's outputs).
    outputs: list[str] = field(default_factory=list)


@dataclass
class Attribution:
    """The answer: nodes ranked by how much of the target's distribution change they explain."""

    workflow: str
    target: str
    metric: str
    quality: str
    seed: int
    baseline_samples: int
    comparison_samples: int
    table: pd.DataFrame
    graph: nx.DiGraph
    verdict: str
    notes: list[str]
    seconds: float
    #: With several changed sinks: the attributions of the other sinks.
    also: list[Attribution] = field(default_factory=list)
    #: What was asked (selections) and the per-sample data the answer rests on: the report
    #: page and the CLI's medians use them.
    baseline_selection: str = ""
    comparison_selection: str = ""
    baseline_data: pd.DataFrame | None = None
    comparison_data: pd.DataFrame | None = None
    #: Node id → the name people know it by, for every node of the workflow (contracted too).
    node_labels: dict[str, str] = field(default_factory=dict)
    #: Whether the target's distribution changed at all (the shift test of
    #: :mod:`provcausal.analysis.shift` on its values in both sets); None when not tested.
    shift: Shift | None = None

    @property
    def scores_are_noise(self) -> bool:
        """True when the shift test found no change: the scores split nothing real."""
        return self.shift is not None and not self.shift.detected

    def medians(self) -> pd.DataFrame:
        """Each node's baseline and comparison median (NaN where it has no data)."""
        rows = []
        for node in self.table["node"]:
            row = {"node": node}
            for name, data in (
                ("baseline", self.baseline_data),
                ("comparison", self.comparison_data),
            ):
                has = data is not None and node in data.columns
                row[f"{name}_median"] = (
                    float(data[node].median()) if data is not None and has else float("nan")
                )
            rows.append(row)
        return pd.DataFrame(rows, columns=["node", "baseline_median", "comparison_median"])

    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``provcausal attribute --json`` prints."""

        def num(x: Any) -> float | None:
            return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)

        medians = self.medians().set_index("node").to_dict(orient="index")

        return {
            "workflow": self.workflow,
            "target": self.target,
            "metric": self.metric,
            "quality": self.quality,
            "seed": self.seed,
            "baseline": {"samples": self.baseline_samples, "selection": self.baseline_selection},
            "comparison": {
                "samples": self.comparison_samples,
                "selection": self.comparison_selection,
            },
            "attributions": [
                {
                    "node": r.node,
                    "label": r.label,
                    "score": num(r.score),
                    "ci_low": num(r.ci_low),
                    "ci_high": num(r.ci_high),
                    "top_frequency": num(r.top_frequency),
                    "changed": bool(r.changed),
                    "p_value": num(r.p_value),
                    "baseline_median": num(medians.get(r.node, {}).get("baseline_median")),
                    "comparison_median": num(medians.get(r.node, {}).get("comparison_median")),
                }
                for r in self.table.itertuples(index=False)
            ],
            "verdict": self.verdict,
            "shift": self.shift.to_dict() if self.shift is not None else None,
            "scores_are_noise": self.scores_are_noise,
            "graph": {
                "nodes": sorted(self.graph.nodes),
                "edges": [[a, b] for a, b in sorted(self.graph.edges)],
            },
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
            **({"also": [a.to_dict() for a in self.also]} if self.also else {}),
        }

    # -- notebook display (provcausal.analysis.display); keep these last in the class --------

    def __repr__(self) -> str:
        from provcausal.analysis.display import attribution_repr

        return attribution_repr(self)

    def _repr_html_(self) -> str:
        from provcausal.analysis.display import attribution_html

        return attribution_html(self)

    def to_frame(self) -> pd.DataFrame:
        """The scores with each node's medians before and after, one row per node."""
        from provcausal.analysis.display import attribution_frame

        return attribution_frame(self)

    def plot(self, ax: Any = None) -> Any:
        """The scores and their intervals as a bar chart; returns the matplotlib axes."""
        from provcausal.analysis.display import attribution_axes

        return attribution_axes(self, ax)

    def report(self, path: str | Path, command: str | None = None) -> Path:
        """Write the self-contained report page to ``path``; returns the path."""
        from provcausal.analysis.display import attribution_report

        return attribution_report(self, path, command)


#: What the analysis reads of each selected run's document (:meth:`Store.run_metadata`).
_RUN_KEYS = (fc.NODE_LABELS, fc.OUTPUT_NODES, fc.PRESENCE_NODES)


def _labels(runs: list[dict[str, Any]]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for run in runs:
        labels.update(fc.node_labels(run))
    return labels


def _outputs(runs: list[dict[str, Any]]) -> list[str]:
    return sorted({n for r in runs for n in fc.output_nodes(r)})


def _gated(runs: list[dict[str, Any]]) -> set[str]:
    """Presence variables (1 emitted, 0 not); gated steps stay NaN for routing."""
    return {n for r in runs for n in fc.presence_nodes(r)}


_FORMED = {
    "iterations": "split into FlowceptLoop iterations (each with its child tasks)",
    "components": "split into the connected components of their task lineage",
    "iteration-windows": "split into FlowceptLoop iterations by start time (no lineage)",
    "run": "taken whole (one sample each)",
}


def _formed_notes(tasks: pd.DataFrame) -> list[str]:
    """How the samples of runs FlowCept captured were formed (see provcausal.captured)."""
    formed = tasks.attrs.get("samples_formed") or {}
    return [
        f"samples: {n} FlowCept-captured run(s) {_FORMED.get(how, how)}"
        for how, n in sorted(formed.items())
    ]


def _check_edges(graph: nx.DiGraph, workflow: str) -> None:
    """Refuse to name a cause when the lineage links no two nodes."""
    if graph.number_of_edges() == 0:
        raise AnalysisError(
            f"the lineage of {workflow!r} links none of its {graph.number_of_nodes()} nodes "
            "(no dependencies, no used value matching a generated one), so there is no "
            "causal graph and no node can be named as the cause"
        )


def _with_causes(
    graph: nx.DiGraph, workflow: str, targets: list[str], notes: list[str]
) -> list[str]:
    """The targets that have an upstream node: a target alone would be named its own cause."""
    kept = [t for t in targets if nx.ancestors(graph, t)]
    alone = [t for t in targets if t not in kept]
    if not kept:
        raise AnalysisError(
            f"{', '.join(map(repr, alone))} has no upstream node in the lineage of "
            f"{workflow!r}: nothing but the target itself could be named; choose a --target "
            "downstream of other nodes"
        )
    if alone:
        notes.append(f"not analysed (no upstream node): {', '.join(alone)}")
    return kept


def prepare(
    store: Store,
    workflow: str,
    baseline: str,
    comparison: str,
    metric: str | None = None,
    min_comparison: int = MIN_SAMPLES,
) -> Prepared:
    """Select both sets of runs, derive the graph, and build clean sample frames.

    Nothing is dropped silently: every contracted node, gated node, cut edge and dropped
    sample is reported in ``notes`` with its count and reason.
    """
    index = store.run_index(workflow)  # read once for both selections
    base_ids = select_run_ids(store, workflow, baseline, index)
    comp_ids = select_run_ids(store, workflow, comparison, index)
    overlap = set(base_ids) & set(comp_ids)
    if overlap:
        raise InvalidParameterError(
            f"the baseline and comparison share {len(overlap)} run(s): "
            f"{', '.join(sorted(overlap)[:3])}",
            "baseline",
            "comparison",
        )
    runs = store.run_metadata([*base_ids, *comp_ids], _RUN_KEYS)
    tasks = load_task_table(store, [r["workflow_id"] for r in runs])
    if tasks.empty:
        raise AnalysisError(f"the selected runs of {workflow!r} have no tasks")
    metric = metric or default_metric(tasks)
    graph = graph_from_tasks(tasks)
    notes = [f"contracted {n} ({why})" for n, why in sorted(graph.graph["contracted"].items())]
    notes += [
        f"cut edge {c['from']} -> {c['to']} ({c['why']}, {c['samples']} samples)"
        for c in graph.graph["cut"]
    ]
    notes += _formed_notes(tasks)
    frame = metric_frame(tasks, metric, _gated(runs))
    base_set = set(base_ids)
    is_base = frame.index.map(lambda s: s.split("/", 1)[0] in base_set)
    old, new = frame[is_base], frame[~is_base]
    for node, why in _without_data(graph, old, new, metric):
        graph = contract_nodes(graph, [node], why)
        notes.append(f"contracted {node} ({why})")
    columns = [n for n in graph.nodes if n in frame.columns]
    labels = _labels(runs)
    routing = add_routing(graph, old[columns], new[columns], labels)
    graph, old, new = routing.graph, routing.baseline, routing.comparison
    labels.update(routing.labels)
    notes += routing.notes
    old, new = (
        _complete(old, "baseline", MIN_SAMPLES, notes),
        _complete(new, "comparison", min_comparison, notes),
    )
    return Prepared(workflow, metric, graph, old, new, labels, notes, _outputs(runs))


def _without_data(
    graph: nx.DiGraph, old: pd.DataFrame, new: pd.DataFrame, metric: str
) -> list[tuple[str, str]]:
    """Nodes to contract, with the reason: no data for ``metric`` in either set, or the same
    constant everywhere. Nodes that only some samples reach are kept (they are gated)."""
    drop = []
    for node in sorted(graph.nodes):
        if node not in old.columns:
            drop.append((node, f"no {metric} data"))
            continue
        a, b = old[node].dropna(), new[node].dropna()
        if a.empty and b.empty:
            drop.append((node, f"no {metric} data in the selected samples"))
        elif (
            not old[node].isna().any()
            and not new[node].isna().any()
            and a.nunique() <= 1
            and b.nunique() <= 1
            and set(a) == set(b)
        ):
            drop.append((node, "constant"))
    return drop


def _complete(part: pd.DataFrame, name: str, least: int, notes: list[str]) -> pd.DataFrame:
    """``part`` without incomplete rows (reported in ``notes``); an error, with the counts,
    when fewer than ``least`` rows are left."""
    incomplete = part.isna().any(axis=1)
    if incomplete.any():
        where = part.columns[part.isna().any()].tolist()
        notes.append(
            f"dropped {int(incomplete.sum())} of {len(part)} {name} sample(s) missing "
            f"{', '.join(map(str, where[:5]))}"
        )
    kept = part[~incomplete]
    if len(kept) < least:
        raise AnalysisError(
            f"only {len(kept)} complete {name} sample(s) of {len(part)} selected"
            + (f" ({int(incomplete.sum())} incomplete)" if incomplete.any() else "")
            + f"; at least {least} are needed"
        )
    return kept


def _unseen_changes(
    engine: EngineResult, shift: Shift, target: str, labels: dict[str, str]
) -> list[str]:
    """With no shift: the nodes whose own mechanism did test as changed (a change that did
    not reach the target, or too little to show), so that it is not lost."""
    changed = [labels.get(n, n) for n in engine.flagged if n != target]
    if shift.detected or engine.forced or not changed:
        return []
    name = labels.get(target, target)
    return [
        f"no shift of {name}, but the mechanism of {', '.join(changed)} tested as changed: "
        f"its change did not move {name} detectably; name it as the target to analyse it"
    ]


def attribute(
    store: Store,
    workflow: str,
    baseline: str,
    comparison: str,
    *,
    target: str | None = None,
    metric: str | None = None,
    quality: str = "fast",
    repeats: int | None = None,
    seed: int = 0,
    n_jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    shift_alpha: float = SHIFT_ALPHA,
) -> Attribution:
    """Attribute the change of ``target``'s distribution between two sets of runs.

    ``baseline``/``comparison``: a label, comma-separated labels or run ids, or ``T1..T2``.
    ``target`` defaults to the workflow's declared output (a Seldon pipeline's outputs), else
    its single sink; with several sinks, each sink whose distribution changed is analysed:
    the result is the one that changed most, the others are in ``also``. Deterministic for a
    given ``seed``.

    Each target's values are first put to the shift test (``shift``, at level
    ``shift_alpha``): when its distribution did not change, the verdict says so and names no
    node, and the scores are noise (``scores_are_noise``).
    """
    started = time.perf_counter()
    prep = prepare(store, workflow, baseline, comparison, metric)
    _check_edges(prep.graph, workflow)
    targets, target_notes = choose_targets(prep, target)
    targets = _with_causes(prep.graph, workflow, targets, target_notes)
    results = []
    for name in targets:
        engine = attribute_frames(
            prep.graph,
            prep.baseline,
            prep.comparison,
            name,
            quality=quality,
            repeats=DEFAULT_REPEATS[quality] if repeats is None else repeats,
            seed=seed,
            n_jobs=n_jobs,
            labels=prep.labels,
            progress=progress,
        )
        notes = [*prep.notes, *target_notes]
        shift = shift_test(prep.baseline[name], prep.comparison[name], seed=seed, alpha=shift_alpha)
        if engine.forced and shift.detected:
            notes.append(
                "no mechanism changed significantly: the three likeliest nodes were "
                "compared, read the ranking as weak evidence"
            )
        notes += _unseen_changes(engine, shift, name, prep.labels)
        results.append(
            Attribution(
                workflow=workflow,
                target=name,
                metric=prep.metric,
                quality=quality,
                seed=seed,
                baseline_samples=len(prep.baseline),
                comparison_samples=len(prep.comparison),
                table=engine.table,
                graph=engine.graph,
                verdict=verdict(engine, prep.labels, shift),
                notes=notes,
                seconds=time.perf_counter() - started,
                baseline_selection=baseline,
                comparison_selection=comparison,
                baseline_data=prep.baseline,
                comparison_data=prep.comparison,
                node_labels=dict(prep.labels),
                shift=shift,
            )
        )
    first = results[0]
    first.also = results[1:]
    first.seconds = time.perf_counter() - started
    return first
