"""provcausal's own models seen as ``dowhy.gcm`` prediction models.

A module of its own because it imports dowhy (seconds) at import time: only the anomaly
attribution, which hands mechanisms to dowhy, loads it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from dowhy import gcm

from provcausal.analysis.mechanisms import Factory


class OwnModel(gcm.ml.PredictionModel):
    """One of provcausal's models (``fit(X, y)``/``predict(X)``, e.g. the local model) with
    the interface dowhy calls: ``fit(X=, Y=)``, column-shaped predictions, ``clone()``."""

    def __init__(self, factory: Factory) -> None:
        self.factory = factory
        self.model: Any = factory()

    def fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        """Fit the wrapped model on ``X`` and ``Y`` (any shape dowhy passes)."""
        self.model.fit(np.asarray(X, float), np.asarray(Y, float).ravel())

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions as one column, as dowhy expects."""
        return np.asarray(self.model.predict(np.asarray(X, float)), float).reshape(-1, 1)

    def clone(self) -> OwnModel:
        """An unfitted copy."""
        return OwnModel(self.factory)
