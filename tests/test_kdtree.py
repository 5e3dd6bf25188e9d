"""The local models' k-d tree (``provcausal.analysis.kdtree``, pykdtree): the neighbours
scipy's cKDTree finds, and a model that pickles."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.spatial import cKDTree

from provcausal.analysis.kdtree import Tree
from provcausal.analysis.mechanisms import NearestNeighbours, TrendNeighbours


@pytest.mark.parametrize("dims", [1, 2, 3, 5])
def test_given_distinct_points_then_the_neighbours_are_cKDTrees(dims: int) -> None:
    rng = np.random.default_rng(dims)
    points, queries = rng.normal(size=(700, dims)), rng.normal(size=(900, dims))
    for k in (1, 4, 10, 40):
        expected = cKDTree(points).query(queries, k=k)[1].reshape(len(queries), k)
        np.testing.assert_array_equal(Tree(points).nearest(queries, k), expected)


def test_given_tied_points_then_the_distances_are_cKDTrees() -> None:
    # Counts: many points at one distance, where the order among them is the tree's own.
    rng = np.random.default_rng(3)
    points = rng.integers(0, 6, size=(500, 2)).astype(float)
    queries = rng.integers(0, 6, size=(300, 2)).astype(float)
    found = Tree(points).nearest(queries, 12)
    distances = np.linalg.norm(points[found] - queries[:, None, :], axis=2)
    np.testing.assert_allclose(distances, cKDTree(points).query(queries, k=12)[0])
    assert all(len(set(row)) == 12 for row in found)


def test_given_one_dimension_or_no_neighbours_then_shapes_hold() -> None:
    tree = Tree(np.arange(10.0))
    np.testing.assert_array_equal(tree.nearest(np.array([0.1, 8.8]), 2), [[0, 1], [9, 8]])
    assert tree.nearest(np.array([1.0]), 0).shape == (1, 0)
    assert Tree(np.empty((0, 2))).nearest(np.zeros((3, 2)), 0).shape == (3, 0)
    with pytest.raises(ValueError, match="11 neighbours asked of 10 points"):
        tree.nearest(np.array([1.0]), 11)


def test_given_a_fitted_local_model_that_predicted_then_it_pickles() -> None:
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 6, size=(400, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1] + rng.normal(0, 0.1, 400)
    for model in (NearestNeighbours(7).fit(X, y), TrendNeighbours(7).fit(X, y)):
        before = model.predict(X[:50])  # builds the tree, which pykdtree cannot pickle
        copy = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(copy.predict(X[:50]), before)
