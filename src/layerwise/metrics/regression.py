"""Regression metrics: mean absolute error, mean squared error and R² over whole epochs."""

from __future__ import annotations

import numpy as np

from ..registry import register
from .base import Metric


class _MeanOf(Metric):
    """Mean of a per-element quantity over every output of the epoch."""

    def reset(self):
        self.sum = 0.0
        self.count = 0

    def result(self):
        return self.sum / self.count if self.count else 0.0

    def merge_state(self, other):
        self.sum += other.sum
        self.count += other.count


@register("mae", "mean_absolute_error")
class MeanAbsoluteError(_MeanOf):
    """Mean of ``|y_pred - y_true|`` over all outputs of the epoch."""

    name = "mae"

    def update(self, y_true, y_pred):
        diff = np.subtract(y_pred, np.reshape(y_true, np.shape(y_pred)), dtype=np.float64)
        self.sum += float(np.abs(diff, out=diff).sum())
        self.count += diff.size


@register("mse", "mean_squared_error")
class MeanSquaredError(_MeanOf):
    """Mean of ``(y_pred - y_true)^2`` over all outputs of the epoch."""

    name = "mse"

    def update(self, y_true, y_pred):
        diff = np.subtract(y_pred, np.reshape(y_true, np.shape(y_pred)), dtype=np.float64)
        self.sum += float(np.vdot(diff, diff))
        self.count += diff.size


@register("r2", "r2_score")
class R2Score(Metric):
    """Coefficient of determination ``1 - SS_res / SS_tot`` per output over the epoch, averaged
    over outputs: scikit-learn's ``r2_score`` with ``multioutput='uniform_average'`` (an output
    whose labels are constant scores 1.0 if predicted exactly, else 0.0).

    The label variance is merged batch by batch (Chan et al.), which stays accurate when the
    labels' mean is large compared with their spread.
    """

    name = "r2"

    def reset(self):
        self.count = 0
        self.mean = None  # per output: mean of the labels,
        self.squares = None  # sum of squared deviations of the labels from it,
        self.residual = None  # and sum of squared errors

    def update(self, y_true, y_pred):
        y_pred = np.reshape(y_pred, (len(y_pred), -1))
        y_true = np.reshape(y_true, y_pred.shape)
        n = len(y_true)
        if n == 0:
            return
        mean = y_true.sum(axis=0, dtype=np.float64) / n
        centered = y_true - mean
        squares = (centered * centered).sum(axis=0)
        error = np.subtract(y_true, y_pred, dtype=np.float64)
        residual = (error * error).sum(axis=0)
        self._add(n, mean, squares, residual)

    def merge_state(self, other):
        if other.count:
            self._add(other.count, other.mean, other.squares, other.residual)

    def _add(self, n, mean, squares, residual) -> None:
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

    def result(self):
        if not self.count:
            return 0.0
        constant = self.squares == 0
        scores = 1 - self.residual / np.where(constant, 1.0, self.squares)
        scores[constant] = np.where(self.residual[constant] == 0, 1.0, 0.0)
        return float(scores.mean())
