"""Result types that show themselves in a notebook and behave as what they extend.

The verbs of :mod:`provcausal.api` return these: an :class:`AnomalyTable` and a
:class:`Listing` are pandas DataFrames, a :class:`LineageGraph` is a networkx DiGraph, so code
written for the plain types keeps working; what they add is ``_repr_html_`` (drawn by
:mod:`provcausal.analysis.display`) and a short ``repr``. Frames derived from them (a slice, a
sort) are plain DataFrames again.
"""

from __future__ import annotations

import networkx as nx
import pandas as pd

__all__ = ["AnomalyTable", "Listing", "LineageGraph", "CausalGraph"]


class AnomalyTable(pd.DataFrame):
    """``anomalies``' answer: one row per node, ``attrs`` holds the sample and the verdict."""

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    @property
    def verdict(self) -> str:
        """The one-sentence answer."""
        return str(self.attrs.get("verdict", ""))

    def to_frame(self) -> pd.DataFrame:
        """The scores as a plain DataFrame."""
        return pd.DataFrame(self)

    def _repr_html_(self) -> str:
        from provcausal.analysis.display import anomaly_html

        return anomaly_html(self)


class Listing(pd.DataFrame):
    """A listing (workflows, runs, tasks, nodes) with a caption saying what it lists."""

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    @classmethod
    def of(cls, frame: pd.DataFrame, what: str) -> Listing:
        """``frame`` as a listing of ``what`` (e.g. ``"runs of gcratio"``)."""
        listing = cls(frame)
        listing.attrs.update(frame.attrs)
        listing.attrs["caption"] = f"{len(frame)} {what}"
        return listing

    def _repr_html_(self) -> str | None:
        from provcausal.analysis.display import listing_html

        table = pd.DataFrame(self)._repr_html_()
        return listing_html(str(self.attrs.get("caption", "")), table or "")


class LineageGraph(nx.DiGraph):
    """``lineage``'s answer: tasks and entities, edges cause → effect (see
    :func:`provcausal.queries.lineage`); drawn in a notebook, listed by :meth:`to_frame`."""

    def to_frame(self) -> pd.DataFrame:
        """The tasks and entities reached, nearest first."""
        from provcausal.queries.lineage import lineage_table

        return lineage_table(self)

    def __repr__(self) -> str:
        return (
            f"<LineageGraph {self.graph.get('direction', '')} of {self.graph.get('root', '?')}: "
            f"{self.number_of_nodes()} nodes, {self.number_of_edges()} edges>"
        )

    def _repr_html_(self) -> str:
        from provcausal.analysis.display import lineage_html

        return lineage_html(self, self.to_frame()._repr_html_() or "")


class CausalGraph(nx.DiGraph):
    """``causal_graph``'s answer (edges cause → effect; ``graph["contracted"]`` and
    ``graph["cut"]`` say what was contracted and cut), drawn in a notebook with node names."""

    #: Node id → the name people know it by (Node-RED node names), where the source has one.
    labels: dict[str, str]

    def __init__(self, incoming: object = None, labels: dict[str, str] | None = None) -> None:
        super().__init__(incoming)
        self.labels = dict(labels or {})

    def __repr__(self) -> str:
        return f"<CausalGraph: {self.number_of_nodes()} nodes, {self.number_of_edges()} edges>"

    def _repr_html_(self) -> str:
        from provcausal.analysis.display import causal_graph_html

        return causal_graph_html(self, self.labels)
