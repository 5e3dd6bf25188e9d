"""Per-sample data: one row per sample, one column per node, for a chosen metric.

Samples: a SciPipe run, a Node-RED message (trace line), a Seldon request, a FlowCept run.
Metrics: ``value`` (the numeric value of the node's output), ``duration`` (the node's own
processing time), ``latency`` (from the start of the sample to the end of the node, so that
delays accumulate along the path, as an end-to-end timing target does). Loops keep the last
visit of each node per sample. Rows are in a canonical order (:func:`canonical_order`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from provcausal.analysis.graph import last_visits
from provcausal.errors import InvalidParameterError

__all__ = ["METRICS", "metric_frame", "default_metric", "canonical_order"]

METRICS = ("value", "duration", "latency")


def default_metric(tasks: pd.DataFrame) -> str:
    """``value`` when most observed nodes have values, else ``latency``."""
    observed = tasks[~tasks["unobserved"]]
    if observed.empty:
        return "latency"
    share = observed.groupby("node")["value"].apply(lambda v: v.notna().mean())
    return "value" if (share >= 0.5).mean() >= 0.5 else "latency"


def metric_frame(tasks: pd.DataFrame, metric: str, presence: Iterable[str] = ()) -> pd.DataFrame:
    """Samples × nodes of ``metric``. A node that did not run for a sample is NaN there (a
    gated node: :mod:`provcausal.analysis.routing` gives it a route variable). A
    ``presence`` variable (an out-port of a Seldon step that returns one of several flag
    tensors) is, for ``value``, 1 where its task emitted the output and 0 where the task
    ran without it."""
    if metric not in METRICS:
        raise InvalidParameterError(
            f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}", "metric"
        )
    columns = [
        "sample",
        "node",
        "visit",
        "start",
        "end",
        *([] if metric == "latency" else [metric]),
    ]
    observed = last_visits(tasks.loc[~tasks["unobserved"].to_numpy(dtype=bool), columns])
    if observed.empty:
        return pd.DataFrame()
    if metric == "latency":
        sample_start = tasks.groupby("sample")["start"].min()
        finished = observed["end"].fillna(observed["start"])
        values = finished - observed["sample"].map(sample_start)
    else:
        values = observed[metric]
        flags = observed["node"].isin(set(presence))
        if metric == "value" and flags.any():
            values = values.where(~flags, values.notna().astype("float64"))
    frame = (
        observed.assign(_v=values)
        .pivot(index="sample", columns="node", values="_v")
        .astype("float64")
    )
    frame.columns.name = None
    return frame.loc[canonical_order(tasks, frame.index)]


def canonical_order(tasks: pd.DataFrame, samples: Iterable[str]) -> list[str]:
    """Samples ordered by start time, then by their own id, then by run id: an order that
    depends on the content only, not on where the files lay or the order of the imports."""
    times = tasks["start"].fillna(tasks["end"])
    start = times.groupby(tasks["sample"]).min()
    samples = list(samples)
    when = start.reindex(samples).to_numpy(dtype="float64", na_value=np.nan)
    when = np.where(np.isnan(when), np.inf, when)
    # (start, own id, run id) of each sample: built as lists, sorted once (a lookup per
    # sample in the Series was most of the frame's cost at 20,000 samples)
    parts = [sample.partition("/") for sample in samples]
    keys = list(zip(when.tolist(), [p[2] for p in parts], [p[0] for p in parts], strict=True))
    return [samples[i] for i in sorted(range(len(samples)), key=keys.__getitem__)]
