"""``anomalies``: for one bad sample, which nodes explain its anomalous target value?

A structural causal model is fitted on the baseline (additive-noise mechanisms chosen per node
as for ``attribute``) and ``gcm.attribute_anomalies`` splits the sample's anomaly score among
the nodes whose noise made it unusual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from provcausal.analysis.attribution import prepare
from provcausal.analysis.selection import select_runs
from provcausal.analysis.targets import resolve_target
from provcausal.errors import AnalysisError, InvalidParameterError, NotFoundError
from provcausal.stores import Store, run_label

__all__ = ["anomalies", "find_sample", "default_baseline", "anomaly_verdict", "NORMAL_LABELS"]

#: Labels that name normal runs, in order of preference, for the default baseline.
NORMAL_LABELS = ("normal", "baseline", "good", "ok", "healthy", "reference")


def default_baseline(store: Store, workflow: str, run: str) -> tuple[list[str], str]:
    """Runs to learn normal behaviour from when none are named, and why those.

    Runs with a normal label (:data:`NORMAL_LABELS`); else runs whose label differs from the
    sample's own (those are not under suspicion); else every other run. Never the sample's run.
    """
    runs = [r for r in store.find_runs(workflow=workflow) if str(r["workflow_id"]) != run]
    labels = {run_label(r) for r in runs}
    for name in NORMAL_LABELS:
        if name in labels:
            chosen = [str(r["workflow_id"]) for r in runs if run_label(r) == name]
            return chosen, f"the runs labelled {name!r} (default)"
    own = next((run_label(r) for r in store.find_runs(run_ids=[run])), None)
    if own is not None and labels - {own, None}:
        chosen = [str(r["workflow_id"]) for r in runs if run_label(r) not in (own, None)]
        return chosen, f"the runs not labelled {own!r} like the sample (default)"
    return [str(r["workflow_id"]) for r in runs], "every other run (default: no labels to go by)"


def _baseline(store: Store, workflow: str, run: str, baseline: str | None) -> tuple[list[str], str]:
    if baseline is None:
        chosen, why = default_baseline(store, workflow, run)
    else:
        picked = [str(r["workflow_id"]) for r in select_runs(store, workflow, baseline)]
        chosen = [r for r in picked if r != run]
        why = f"{baseline}" + (" without the sample's own run" if len(chosen) < len(picked) else "")
    if not chosen:
        raise InvalidParameterError(
            "no runs other than the sample's own to learn the normal behaviour from: "
            "give a baseline",
            "baseline",
        )
    return chosen, why


def anomaly_verdict(table: pd.DataFrame, target: str) -> str:
    """One plain sentence: which upstream node made the sample unusual, and how the target's
    own share (what its inputs do not explain) compares."""
    own_rows = table[table["node"] == target]
    own = float(own_rows.iloc[0]["score"]) if len(own_rows) else 0.0
    upstream = table[(table["node"] != target) & (table["score"] > 0)]
    if upstream.empty:
        if own > 0:
            return (
                f"{target} itself: its output is unusual given its inputs (score {own:.3g}); "
                "no upstream node adds to it"
            )
        return f"no node stands out: this sample's {target} is not unusual for the baseline"
    top = upstream.iloc[0]
    runner = (
        f"next {upstream.iloc[1]['label']} ({upstream.iloc[1]['score']:.3g})"
        if len(upstream) > 1
        else "no other upstream node adds to it"
    )
    text = (
        f"{top['label']} contributes most to this sample's unusual {target} "
        f"(score {top['score']:.3g}; {runner})"
    )
    if own > top["score"]:
        text += (
            f"; {target}'s own share ({own:.3g}) is larger still: its output is also unusual "
            "given its inputs"
        )
    return text


def find_sample(store: Store, workflow: str, sample: str) -> tuple[str, str]:
    """(run id, sample) for a sample named as ``RUN/SAMPLE``, a run id, or a sample id."""
    runs = store.find_runs(workflow=workflow)
    ids = {str(r["workflow_id"]) for r in runs}
    if "/" in sample and sample.split("/", 1)[0] in ids:
        run_id, _, rest = sample.partition("/")
        return run_id, rest
    if sample in ids:
        return sample, sample
    for row in store.sample_rows([str(doc["workflow_id"]) for doc in runs]):
        if not row["captured"] and row["sample"] == sample:
            return row["workflow_id"], sample
    raise NotFoundError(f"no sample {sample!r} in workflow {workflow!r}")


def _model(
    sub: nx.DiGraph,
    old: pd.DataFrame,
    quality: str,
    seed: int,
    progress: Callable[[int, int], None] | None,
) -> Any:
    """An invertible SCM with a mechanism per node chosen as for ``attribute`` (unfitted)."""
    from dowhy import gcm

    from provcausal.analysis.mechanisms import choose_model

    model = gcm.InvertibleStructuralCausalModel(sub)
    steps = len(sub.nodes) + 1
    for step, node in enumerate(sub.nodes):
        if progress is not None:
            progress(step, steps)
        parents = sorted(sub.predecessors(node))
        if not parents:
            model.set_causal_mechanism(node, gcm.EmpiricalDistribution())
        else:
            name, factory = choose_model(
                old[parents].to_numpy(float),
                old[node].to_numpy(float),
                "fast" if quality == "fast" else quality,
                seed,
            )
            model.set_causal_mechanism(node, gcm.AdditiveNoiseModel(_prediction(name, factory)))
    return model


def _prediction(name: str, factory: Any) -> Any:
    """The chosen model as a ``dowhy.gcm`` prediction model (dowhy calls ``fit(X=, Y=)``
    and ``clone()``, which provcausal's own least squares and bare scikit-learn lack)."""
    from dowhy import gcm

    if name == "linear":
        return gcm.ml.create_linear_regressor()
    if name == "polynomial":
        return gcm.ml.create_polynom_regressor(degree=2)
    prediction = factory()
    if prediction is None or not hasattr(prediction, "predict"):
        return gcm.ml.create_linear_regressor()
    if isinstance(prediction, gcm.ml.PredictionModel):
        return prediction
    if hasattr(prediction, "get_params"):  # a scikit-learn estimator
        return gcm.ml.SklearnRegressionModel(prediction)
    from provcausal.analysis.dowhy_models import OwnModel

    return OwnModel(factory)


def anomalies(
    store: Store,
    workflow: str,
    sample: str,
    *,
    baseline: str | None = None,
    target: str | None = None,
    metric: str | None = None,
    quality: str = "fast",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Nodes ranked by their contribution to ``sample``'s anomalous ``target`` value.

    The baseline never holds the sample's own run, so one normal run can be compared with
    the other normal runs; without ``baseline`` see :func:`default_baseline`. ``attrs``
    carries the baseline used (``baseline``) and a ``verdict`` sentence.
    """
    from dowhy import gcm

    gcm.config.disable_progress_bars()
    run, local = find_sample(store, workflow, sample)
    chosen, why = _baseline(store, workflow, run, baseline)
    prep = prepare(store, workflow, ",".join(chosen), run, metric, min_comparison=1)
    key = f"{run}/{local}"
    if key not in prep.comparison.index:
        raise AnalysisError(f"sample {sample!r} has incomplete data for {prep.metric}")
    graph = prep.graph
    if target is None and len(prep.outputs) == 1 and prep.outputs[0] in graph:
        target = prep.outputs[0]  # the declared output (a Seldon pipeline's), as attribute's
    target = resolve_target(graph, target, prep.labels, workflow, prep.metric)
    keep = nx.ancestors(graph, target) | {target}
    sub = graph.subgraph(keep).copy()
    old = prep.baseline[list(sub.nodes)]
    model = _model(sub, old, quality, seed, progress)
    gcm.util.general.set_random_seed(seed)
    gcm.fit(model, old)
    row = prep.comparison.loc[[key], list(sub.nodes)]
    scores: dict[Any, np.ndarray] = gcm.attribute_anomalies(model, target, anomaly_samples=row)
    if progress is not None:
        progress(len(sub.nodes) + 1, len(sub.nodes) + 1)
    table = (
        pd.DataFrame(
            [
                {
                    "node": n,
                    "label": prep.labels.get(str(n), str(n)),
                    "score": float(v[0]),
                    "value": float(row.iloc[0][n]),
                    "baseline_median": float(old[n].median()),
                }
                for n, v in scores.items()
            ]
        )
        .sort_values(["score", "node"], ascending=[False, True])
        .reset_index(drop=True)
    )
    table.attrs.update(
        {
            "workflow": workflow,
            "sample": key,
            "target": target,
            "metric": prep.metric,
            "baseline_samples": len(old),
            "baseline_runs": len(chosen),
            "baseline": why,
            "verdict": anomaly_verdict(table, target),
        }
    )
    return table
