"""Regression metrics: mean absolute error, mean squared error and R² over whole epochs."""

from __future__ import annotations

import numpy as np

from ..registry import register
from .base import Metric, sample_weights_for

__all__ = ["MeanAbsoluteError", "MeanSquaredError", "R2Score"]


class _MeanOf(Metric):
    """Mean of a per-element quantity over every output of the epoch."""

    def reset(self) -> None:
        self.sum = 0.0
        self.count = 0

    def result(self) -> float:
        return self.sum / self.count if self.count else 0.0

    def merge_state(self, other: Metric) -> None:
        self.sum += other.sum
        self.count += other.count

    def _add(self, terms: np.ndarray, sample_weight: np.ndarray | None) -> None:
        if sample_weight is None:
            self.sum += float(terms.sum())
            self.count += terms.size
            return
        weights = sample_weights_for(sample_weight, terms.shape)
        self.sum += float(np.sum(terms * weights))
        self.count += float(np.sum(weights))


@register("mae", "mean_absolute_error")
class MeanAbsoluteError(_MeanOf):
    """Mean of ``|y_pred - y_true|`` over all outputs of the epoch."""

    name = "mae"

    def update(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        diff = np.subtract(y_pred, np.reshape(y_true, np.shape(y_pred)), dtype=np.float64)
        self._add(np.abs(diff, out=diff), sample_weight)


@register("mse", "mean_squared_error")
class MeanSquaredError(_MeanOf):
    """Mean of ``(y_pred - y_true)^2`` over all outputs of the epoch."""

    name = "mse"

    def update(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        diff = np.subtract(y_pred, np.reshape(y_true, np.shape(y_pred)), dtype=np.float64)
        if sample_weight is None:  # the common case: one BLAS product, no temporary
            self.sum += float(np.vdot(diff, diff))
            self.count += diff.size
            return
        self._add(np.multiply(diff, diff, out=diff), sample_weight)


@register("r2", "r2_score")
class R2Score(Metric):
    """Coefficient of determination ``1 - SS_res / SS_tot`` per output over the epoch, averaged
    over outputs: scikit-learn's ``r2_score`` with ``multioutput='uniform_average'`` (an output
    whose labels are constant scores 1.0 if predicted exactly, else 0.0).

    The label variance is merged batch by batch (Chan et al.), which stays accurate when the
    labels' mean is large compared with their spread.
    """

    name = "r2"

    def reset(self) -> None:
        self.count = 0
        self.mean = None  # per output: mean of the labels,
        self.squares = None  # sum of squared deviations of the labels from it,
        self.residual = None  # and sum of squared errors

    def update(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        y_pred = np.reshape(y_pred, (len(y_pred), -1))
        y_true = np.reshape(y_true, y_pred.shape)
        if len(y_true) == 0:
            return
        # Weighted as scikit-learn's r2_score(sample_weight=): weighted mean and sums of squares;
        # the "count" merged below is then the total weight.
        weights = (
            np.ones((len(y_true), 1))
            if sample_weight is None
            else np.asarray(sample_weight, dtype=np.float64).reshape(-1, 1)
        )
        n = float(weights.sum())
        if n == 0:
            return
        mean = (weights * y_true).sum(axis=0, dtype=np.float64) / n
        centered = y_true - mean
        squares = (weights * centered * centered).sum(axis=0)
        error = np.subtract(y_true, y_pred, dtype=np.float64)
        residual = (weights * error * error).sum(axis=0)
        self._merge(n, mean, squares, residual)

    def merge_state(self, other: Metric) -> None:
        if other.count:
            self._merge(other.count, other.mean, other.squares, other.residual)

    def _merge(self, n, mean, squares, residual) -> None:
        """Merge the totals of ``n`` more rows (Chan et al.'s update of the variance)."""
        if self.count == 0:
            mean, squares, residual = mean.copy(), squares.copy(), residual.copy()
            self.mean, self.squares, self.residual = mean, squares, residual
        else:
            total = self.count + n
            delta = mean - self.mean
            self.mean += delta * (n / total)
            self.squares += squares + delta * delta * (self.count * n / total)
            self.residual += residual
        self.count += n

    def result(self) -> float:
        if not self.count:
            return 0.0
        constant = self.squares == 0
        scores = 1 - self.residual / np.where(constant, 1.0, self.squares)
        scores[constant] = np.where(self.residual[constant] == 0, 1.0, 0.0)
        return float(scores.mean())
