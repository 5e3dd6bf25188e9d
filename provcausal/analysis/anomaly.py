"""``anomalies``: for one bad sample, which nodes explain its anomalous target value?

A structural causal model is fitted on the baseline (additive-noise mechanisms chosen per node
as for ``attribute``) and ``gcm.attribute_anomalies`` splits the sample's anomaly score among
the nodes whose noise made it unusual.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from provcausal.analysis.attribution import prepare
from provcausal.analysis.graph import sinks
from provcausal.errors import (
    AnalysisError,
    InvalidParameterError,
    NotFoundError,
    UnknownNodeError,
)
from provcausal.model import flowcept as fc
from provcausal.stores import Store

__all__ = ["anomalies", "find_sample"]


def find_sample(store: Store, workflow: str, sample: str) -> tuple[str, str]:
    """(run id, sample) for a sample named as ``RUN/SAMPLE``, a run id, or a sample id."""
    runs = store.find_runs(workflow=workflow)
    ids = {str(r["workflow_id"]) for r in runs}
    if "/" in sample and sample.split("/", 1)[0] in ids:
        run_id, _, rest = sample.partition("/")
        return run_id, rest
    if sample in ids:
        return sample, sample
    for doc in runs:
        for task in store.find_tasks([str(doc["workflow_id"])]):
            if not fc.is_captured(task) and fc.task_sample(task) == sample:
                return str(doc["workflow_id"]), sample
    raise NotFoundError(f"no sample {sample!r} in workflow {workflow!r}")


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
) -> pd.DataFrame:
    """Nodes ranked by their contribution to ``sample``'s anomalous ``target`` value."""
    from dowhy import gcm

    from provcausal.analysis.engine import choose_model

    gcm.config.disable_progress_bars()
    run, local = find_sample(store, workflow, sample)
    if baseline is None:
        others = [
            str(r["workflow_id"])
            for r in store.find_runs(workflow=workflow)
            if str(r["workflow_id"]) != run
        ]
        if not others:
            raise InvalidParameterError(
                "no other runs to learn the normal behaviour from: give a baseline", "baseline"
            )
        baseline = ",".join(others)
    prep = prepare(store, workflow, baseline, run, metric, min_comparison=1)
    key = f"{run}/{local}"
    if key not in prep.comparison.index:
        raise AnalysisError(f"sample {sample!r} has incomplete data for {prep.metric}")
    graph = prep.graph
    if target is None:
        ends = sinks(graph)
        if len(ends) != 1:
            raise InvalidParameterError(
                f"the workflow has {len(ends)} sinks: {', '.join(ends)}; choose one target",
                "target",
            )
        target = ends[0]
    elif target not in graph:
        raise UnknownNodeError(f"{target!r} is not a node of {workflow!r}")
    keep = nx.ancestors(graph, target) | {target}
    sub = graph.subgraph(keep).copy()
    old = prep.baseline[list(sub.nodes)]
    model = gcm.InvertibleStructuralCausalModel(sub)
    for node in sub.nodes:
        parents = sorted(sub.predecessors(node))
        if not parents:
            model.set_causal_mechanism(node, gcm.EmpiricalDistribution())
        else:
            _, factory = choose_model(
                old[parents].to_numpy(float),
                old[node].to_numpy(float),
                "fast" if quality == "fast" else quality,
                seed,
            )
            prediction = factory()
            if prediction is None or not hasattr(prediction, "predict"):
                prediction = gcm.ml.create_linear_regressor()
            model.set_causal_mechanism(node, gcm.AdditiveNoiseModel(prediction))
    gcm.util.general.set_random_seed(seed)
    gcm.fit(model, old)
    row = prep.comparison.loc[[key], list(sub.nodes)]
    scores: dict[Any, np.ndarray] = gcm.attribute_anomalies(model, target, anomaly_samples=row)
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
        }
    )
    return table
