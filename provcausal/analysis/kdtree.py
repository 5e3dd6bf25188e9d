"""Nearest-neighbour look-ups for the local models: a k-d tree from ``pykdtree``.

Until December 2026 this was scipy's ``cKDTree``. Importing ``scipy.spatial`` (it brings
``scipy.sparse`` and ``scipy.linalg``) took 0.12 s of a 1.0 s ``provcausal attribute`` on the
README's 1,000 runs per side; pykdtree imports in under a millisecond and answers the engine's
queries 1.5-2.5 times faster, with the same neighbours up to the order of tied ones.

pykdtree queries in OpenMP parallel regions. A forked copy of a process that has run a
multi-threaded region of GNU OpenMP hangs in its own next one, unless the copy is limited
to one thread: the engine forks its copies under that limit (``engine._one_thread``), which
they keep, and runs every query of an attribution under it.
"""

from __future__ import annotations

import numpy as np
from pykdtree.kdtree import KDTree

__all__ = ["Tree"]


def _rows(values: np.ndarray) -> np.ndarray:
    """``values`` as a C-ordered float array of rows (one column for a flat array)."""
    values = np.asarray(values, dtype=float)
    return np.ascontiguousarray(values[:, None] if values.ndim == 1 else values)


class Tree:
    """A k-d tree of the rows of ``points`` (Euclidean distance)."""

    def __init__(self, points: np.ndarray) -> None:
        self.points = _rows(points)
        self._tree = KDTree(self.points) if len(self.points) else None

    def nearest(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Row numbers of each query row's ``k`` nearest points, nearest first: an array of
        ``len(queries)`` rows and ``k`` columns (``k`` at most the number of points)."""
        queries = _rows(queries)
        if k > len(self.points):
            raise ValueError(f"{k} neighbours asked of {len(self.points)} points")
        if k == 0 or self._tree is None:
            return np.zeros((len(queries), 0), dtype=np.intp)
        _, found = self._tree.query(queries, k=k)
        return np.asarray(found, dtype=np.intp).reshape(len(queries), k)

    def __getstate__(self) -> dict[str, np.ndarray]:
        # pykdtree's trees do not pickle; a copy rebuilds its tree (a millisecond).
        return {"points": self.points}

    def __setstate__(self, state: dict[str, np.ndarray]) -> None:
        self.__init__(state["points"])  # type: ignore[misc]
