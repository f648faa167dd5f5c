"""Classification metrics: accuracies, precision, recall and F1 over whole epochs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..registry import register
from .base import Metric, sample_weights_for

__all__ = [
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "Accuracy",
    "Precision",
    "Recall",
    "F1Score",
]

_AVERAGES = (None, "binary", "micro", "macro", "weighted")


def _class_labels(kind: str, y_true, y_pred) -> tuple[np.ndarray, np.ndarray, int]:
    """True and predicted class indices of a single-label batch, and the number of classes."""
    classes = y_pred.shape[-1]
    predicted = np.argmax(y_pred, axis=-1).reshape(-1)
    if kind == "sparse":
        true = np.asarray(y_true).reshape(-1).astype(np.intp, copy=False)
    else:
        true = np.argmax(y_true, axis=-1).reshape(-1)
    return true, predicted, classes


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"Argument 'threshold' must be a number; received {threshold!r}.")
    if not math.isfinite(threshold):
        raise ValueError(f"Argument 'threshold' must be finite; received {threshold!r}.")
    return float(threshold)


def _count(correct: np.ndarray, sample_weight) -> tuple[float, float]:
    """``(correct, counted)``: plain counts, or with ``sample_weight`` the weighted sums."""
    if sample_weight is None:
        return int(np.count_nonzero(correct)), int(correct.size)
    weights = sample_weights_for(sample_weight, correct.shape)
    return float(np.sum(weights, where=correct)), float(np.sum(weights))


# Hit counters shared by the accuracies: (correct, counted) for one batch.
def _binary_hits(y_true, y_pred, threshold: float, sample_weight=None) -> tuple[float, float]:
    y_true = np.reshape(y_true, np.shape(y_pred))
    return _count((y_pred > threshold) == (y_true > 0.5), sample_weight)


# Every position counts once: outputs (n, t, k) hold n * t predictions, as in Keras.
def _categorical_hits(y_true, y_pred, sample_weight=None) -> tuple[float, float]:
    predicted = np.argmax(y_pred, -1)
    return _count(predicted == np.argmax(y_true, -1), sample_weight)


def _sparse_hits(y_true, y_pred, sample_weight=None) -> tuple[float, float]:
    predicted = np.argmax(y_pred, -1)
    labels = np.reshape(y_true, predicted.shape)
    return _count(predicted == labels, sample_weight)


class _Ratio(Metric):
    """A metric that is ``hits / total`` over the epoch."""

    def reset(self) -> None:
        self.hits = 0
        self.total = 0

    def result(self) -> float:
        return self.hits / self.total if self.total else 0.0

    def merge_state(self, other: Metric) -> None:
        self.hits += other.hits
        self.total += other.total


@register("binary_accuracy")
class BinaryAccuracy(_Ratio):
    """Share of outputs on the same side of ``threshold`` as their 0/1 label (every output of
    every sample counts once, so for several sigmoid outputs it is the per-label accuracy).

    Args:
        threshold: outputs above it are predicted positive (labels above 0.5 are positive).
        name: history key (default ``'binary_accuracy'``).
    """

    name = "binary_accuracy"

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = _check_threshold(threshold)
        super().__init__(name)

    def update(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        hits, total = _binary_hits(y_true, y_pred, self.threshold, sample_weight)
        self.hits += hits
        self.total += total

    def get_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **super().get_config()}


@register("categorical_accuracy")
class CategoricalAccuracy(_Ratio):
    """Share of samples whose arg-max output is the arg-max of the one-hot label."""

    name = "categorical_accuracy"

    def update(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        hits, total = _categorical_hits(y_true, y_pred, sample_weight)
        self.hits += hits
        self.total += total


@register("sparse_categorical_accuracy")
class SparseCategoricalAccuracy(_Ratio):
    """Share of samples whose arg-max output equals the integer label."""

    name = "sparse_categorical_accuracy"

    def update(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        hits, total = _sparse_hits(y_true, y_pred, sample_weight)
        self.hits += hits
        self.total += total


@register("accuracy", "acc")
class Accuracy(_Ratio):
    """Accuracy of the kind the loss implies, as Keras' ``'accuracy'``: binary accuracy
    (threshold 0.5) for sigmoid outputs, sparse categorical accuracy for integer labels,
    categorical accuracy (arg-max) otherwise.

    Example::

        model.compile('sparse_categorical_crossentropy', metrics=['accuracy'])
    """

    name = "accuracy"

    def update(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        kind = self._kind_for(y_true, y_pred)
        if kind in ("binary", "multilabel"):
            hits, total = _binary_hits(y_true, y_pred, 0.5, sample_weight)
        elif kind == "sparse":
            hits, total = _sparse_hits(y_true, y_pred, sample_weight)
        else:
            hits, total = _categorical_hits(y_true, y_pred, sample_weight)
        self.hits += hits
        self.total += total


class _ClassCounts(Metric):
    """Per-class true positives, predicted positives and actual positives over the epoch."""

    def __init__(self, threshold: float = 0.5, average: str | None = None, name: str | None = None):
        if not (average is None or isinstance(average, str)) or average not in _AVERAGES:
            raise ValueError(
                f"Argument 'average' must be one of {_AVERAGES}; received {average!r}."
            )
        self.threshold = _check_threshold(threshold)
        self.average = average
        super().__init__(name)

    def bind(self, loss: Any, output_shape: tuple[int, ...]) -> None:
        super().bind(loss, output_shape)
        if self.kind is not None:
            self._resolved_average()

    def _resolved_average(self) -> str:
        if self.average is None:
            return {"binary": "binary", "multilabel": "micro"}.get(self.kind, "macro")
        if self.average == "binary" and self.kind != "binary":
            raise ValueError(
                f"Argument 'average' is 'binary', but the labels are {self.kind!r} (one sigmoid "
                "output is needed); use 'micro', 'macro' or 'weighted'."
            )
        return self.average

    def reset(self) -> None:
        self.true_positives = None
        self.predicted = None
        self.actual = None

    def update(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        kind = self._kind_for(y_true, y_pred)
        if kind == "binary":  # class 0 follows from class 1 and the sample count
            predicted = np.reshape(y_pred, (len(y_pred), -1)) > self.threshold
            actual = np.reshape(y_true, predicted.shape) > 0.5
            if sample_weight is None:
                n, hit = predicted.size, np.count_nonzero(predicted & actual)
                said_positive, are_positive = np.count_nonzero(predicted), np.count_nonzero(actual)
            else:
                weights = sample_weights_for(sample_weight, predicted.shape)
                n, hit = weights.sum(), np.sum(weights, where=predicted & actual)
                said_positive = np.sum(weights, where=predicted)
                are_positive = np.sum(weights, where=actual)
            hits = np.array([n - said_positive - are_positive + hit, hit])
            n_predicted = np.array([n - said_positive, said_positive])
            n_actual = np.array([n - are_positive, are_positive])
        elif kind == "multilabel":
            predicted = np.reshape(y_pred, (len(y_pred), -1)) > self.threshold
            actual = np.reshape(y_true, predicted.shape) > 0.5
            weights = sample_weights_for(sample_weight, predicted.shape)
            hits = ((predicted & actual) * weights).sum(axis=0)
            n_predicted = (predicted * weights).sum(axis=0)
            n_actual = (actual * weights).sum(axis=0)
        else:
            true, predicted, classes = _class_labels(kind, y_true, y_pred)
            weights = None
            if sample_weight is not None:  # one weight per position of each sample
                positions = len(true) // max(len(sample_weight), 1)
                weights = np.repeat(np.asarray(sample_weight, dtype=np.float64), positions)
            n_actual = np.bincount(true, weights, minlength=classes)
            if len(n_actual) != classes:
                raise ValueError(
                    f"Argument 'y_true' holds class labels up to {len(n_actual) - 1}, but the "
                    f"predictions have only {classes} classes."
                )
            n_predicted = np.bincount(predicted, weights, minlength=classes)
            hit = predicted == true
            hits = np.bincount(
                predicted[hit], None if weights is None else weights[hit], minlength=classes
            )
        if self.true_positives is None:
            self.true_positives, self.predicted, self.actual = hits, n_predicted, n_actual
        else:
            self.true_positives += hits
            self.predicted += n_predicted
            self.actual += n_actual

    def merge_state(self, other: Metric) -> None:
        if other.true_positives is None:
            return
        if self.kind is None:
            self.kind = other.kind
        if self.true_positives is None:
            self.true_positives = other.true_positives.copy()
            self.predicted, self.actual = other.predicted.copy(), other.actual.copy()
            return
        self.true_positives = self.true_positives + other.true_positives
        self.predicted = self.predicted + other.predicted
        self.actual = self.actual + other.actual

    def _ratio(self) -> tuple[np.ndarray, np.ndarray]:
        """Numerator and denominator of the per-class score."""
        raise NotImplementedError

    def result(self) -> float:
        if self.true_positives is None:
            return 0.0
        average = self._resolved_average()
        numerator, denominator = self._ratio()
        if average == "binary":
            numerator, denominator = numerator[1:], denominator[1:]
        if average in ("binary", "micro"):
            total = denominator.sum()
            return float(numerator.sum() / total) if total else 0.0
        scores = numerator / np.maximum(denominator, 1)  # zero_division=0
        if average == "weighted":
            support = self.actual.sum()
            return float(scores @ self.actual / support) if support else 0.0
        if self.kind == "multilabel":
            return float(scores.mean())
        present = (self.actual + self.predicted) > 0
        return float(scores[present].mean()) if present.any() else 0.0

    def get_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "average": self.average, **super().get_config()}


@register("precision")
class Precision(_ClassCounts):
    """True positives / predicted positives, over the epoch.

    Args:
        threshold: outputs above it are predicted positive, for sigmoid outputs (softmax
            outputs predict their arg-max class).
        average: ``'binary'``, ``'micro'``, ``'macro'``, ``'weighted'`` or ``None`` (chosen from
            the labels; see the package docstring). Equals scikit-learn's ``precision_score`` with
            the same ``average`` and ``zero_division=0``.
        name: history key (default ``'precision'``).
    """

    name = "precision"

    def _ratio(self):
        return self.true_positives, self.predicted


@register("recall")
class Recall(_ClassCounts):
    """True positives / actual positives, over the epoch.

    Arguments as :class:`Precision`; equals scikit-learn's ``recall_score`` with the same
    ``average`` and ``zero_division=0``.
    """

    name = "recall"

    def _ratio(self):
        return self.true_positives, self.actual


@register("f1", "f1_score")
class F1Score(_ClassCounts):
    """Harmonic mean of precision and recall, ``2 tp / (predicted + actual)`` per class, over
    the epoch (``'macro'`` averages the per-class F1, as scikit-learn does).

    Arguments as :class:`Precision`; equals scikit-learn's ``f1_score`` with the same ``average``
    and ``zero_division=0``.
    """

    name = "f1"

    def _ratio(self):
        return 2 * self.true_positives, self.predicted + self.actual
