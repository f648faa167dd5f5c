"""Regression losses: mean squared error, mean absolute error and Huber."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..registry import register
from .base import LossFunction

__all__ = ["MeanSquaredError", "MeanAbsoluteError", "Huber"]


def _per_sample(terms: np.ndarray) -> np.ndarray:
    """The mean of element-wise loss terms over each sample's elements, shape ``(n,)``."""
    return terms.reshape(len(terms), -1).mean(axis=1) if terms.ndim > 1 else terms.copy()


@register("mse", "mean_squared_error")
class MeanSquaredError(LossFunction):
    """``mean((y_pred - y_true)^2)`` over all elements."""

    name = "mse"

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        diff = np.subtract(y_pred, y_true)
        return float(np.mean(diff * diff)) if diff.size else 0.0

    def gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        out = np.subtract(y_pred, y_true, out=out)
        out *= 2.0 / max(out.size, 1)
        return out

    def sample_values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        diff = np.subtract(y_pred, y_true)
        return _per_sample(diff * diff)


@register("mae", "mean_absolute_error")
class MeanAbsoluteError(LossFunction):
    """``mean(|y_pred - y_true|)`` over all elements; the gradient at 0 is 0."""

    name = "mae"

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(np.mean(np.abs(np.subtract(y_pred, y_true)))) if np.size(y_pred) else 0.0

    def gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        out = np.sign(np.subtract(y_pred, y_true, out=out), out=out)
        out *= 1.0 / max(out.size, 1)
        return out

    def sample_values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return _per_sample(np.abs(np.subtract(y_pred, y_true)))


@register("huber")
class Huber(LossFunction):
    """Quadratic for errors up to ``delta``, linear beyond (PyTorch's ``HuberLoss``)."""

    name = "huber"

    def __init__(self, delta: float = 1.0):
        if (
            isinstance(delta, bool)
            or not isinstance(delta, (int, float, np.integer, np.floating))
            or not (delta > 0 and math.isfinite(delta))
        ):
            raise ValueError(f"Argument 'delta' must be a positive number; received {delta!r}.")
        self.delta = float(delta)

    def _terms(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        error = np.abs(np.subtract(y_pred, y_true))
        quadratic = np.minimum(error, self.delta)
        linear = error - quadratic
        return 0.5 * quadratic * quadratic + self.delta * linear

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        terms = self._terms(y_true, y_pred)
        return float(np.mean(terms)) if terms.size else 0.0

    def sample_values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return _per_sample(self._terms(y_true, y_pred))

    def gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        out = np.subtract(y_pred, y_true, out=out)
        np.clip(out, -self.delta, self.delta, out=out)
        out *= 1.0 / max(out.size, 1)
        return out

    def get_config(self) -> dict[str, Any]:
        return {"delta": self.delta}
