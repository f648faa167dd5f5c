"""Streaming metrics, computed over whole epochs.

A metric accumulates counts or sums batch by batch (``update``) and reports at the end
(``result``), so precision and recall are ratios of epoch totals, not averages of per-batch ratios.
``compile`` binds each metric to the loss, which tells it how labels are encoded: one-hot
(categorical cross-entropy), integer (sparse), binary (sigmoid outputs) or plain values.

``'accuracy'`` chooses categorical, sparse or binary accuracy from the loss, as Keras does.
Precision, recall and F1 are binary (threshold 0.5) for one sigmoid output, micro-averaged over
labels for several sigmoid outputs, and macro-averaged over classes (arg-max) for softmax outputs.
"""

from __future__ import annotations

import numpy as np

from . import registry
from .registry import Serializable, register

__all__ = [
    "Metric",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "Precision",
    "Recall",
    "F1Score",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "R2Score",
    "get",
    "get_list",
]


def _label_kind(loss, output_shape) -> str:
    """How labels and outputs encode classes: 'sparse', 'onehot', 'binary' or 'values'."""
    name = getattr(loss, "name", "")
    if name == "sparse_categorical_crossentropy":
        return "sparse"
    if name == "categorical_crossentropy":
        return "onehot"
    if name == "binary_crossentropy" or tuple(output_shape)[-1:] == (1,):
        return "binary"
    return "values"


class Metric(Serializable):
    """Base class: ``reset()``, ``update(y_true, y_pred)``, ``result() -> float``.

    ``y_pred`` are probabilities for classifiers (the model converts logits first); ``y_true`` are
    labels as the loss reads them. ``bind(loss, output_shape)`` is called by ``compile``.
    """

    name = "metric"

    def __init__(self, name: str | None = None):
        if name is not None:
            self.name = name
        self.kind = "values"
        self.reset()

    def bind(self, loss, output_shape) -> None:
        self.kind = _label_kind(loss, output_shape)

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, y_true, y_pred) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


registry.register_kind("metric", Metric)


class _Ratio(Metric):
    """A metric that is ``hits / total`` over the epoch."""

    def reset(self):
        self.hits = 0
        self.total = 0

    def result(self):
        return float(self.hits / self.total) if self.total else 0.0


@register("binary_accuracy")
class BinaryAccuracy(_Ratio):
    """Share of outputs on the right side of ``threshold`` (labels 0/1)."""

    name = "binary_accuracy"

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = float(threshold)
        super().__init__(name)

    def update(self, y_true, y_pred):
        y_true = np.reshape(y_true, np.shape(y_pred))
        self.hits += int(np.count_nonzero((y_pred > self.threshold) == (y_true > 0.5)))
        self.total += y_pred.size

    def get_config(self):
        return {"threshold": self.threshold, **super().get_config()}


@register("categorical_accuracy")
class CategoricalAccuracy(_Ratio):
    """Share of samples whose arg-max output is the arg-max of the one-hot label."""

    name = "categorical_accuracy"

    def update(self, y_true, y_pred):
        self.hits += int(np.count_nonzero(np.argmax(y_pred, -1) == np.argmax(y_true, -1)))
        self.total += len(y_pred)


@register("sparse_categorical_accuracy")
class SparseCategoricalAccuracy(_Ratio):
    """Share of samples whose arg-max output equals the integer label."""

    name = "sparse_categorical_accuracy"

    def update(self, y_true, y_pred):
        labels = np.reshape(y_true, len(y_pred))
        self.hits += int(np.count_nonzero(np.argmax(y_pred, -1) == labels))
        self.total += len(y_pred)


@register("accuracy", "acc")
class Accuracy(_Ratio):
    """Accuracy of the kind the loss implies: categorical, sparse categorical or binary."""

    name = "accuracy"

    def bind(self, loss, output_shape):
        super().bind(loss, output_shape)
        chosen = {
            "sparse": SparseCategoricalAccuracy,
            "onehot": CategoricalAccuracy,
            "binary": BinaryAccuracy,
        }.get(self.kind, CategoricalAccuracy)
        self._update = chosen.update

    def update(self, y_true, y_pred):
        self._update(self, y_true, y_pred)


class _Confusion(Metric):
    """Precision, recall and F1 from a confusion matrix accumulated over the epoch."""

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = float(threshold)
        super().__init__(name)

    def reset(self):
        self.counts = None

    def _labels(self, y_true, y_pred) -> tuple[np.ndarray, np.ndarray, int]:
        if self.kind in ("binary", "values"):
            return (
                (np.reshape(y_true, -1) > 0.5).astype(np.intp),
                (np.reshape(y_pred, -1) > self.threshold).astype(np.intp),
                2,
            )
        classes = y_pred.shape[-1]
        predicted = np.argmax(y_pred, -1)
        true = np.reshape(y_true, -1) if self.kind == "sparse" else np.argmax(y_true, -1)
        return true.astype(np.intp), predicted, classes

    def update(self, y_true, y_pred):
        true, predicted, classes = self._labels(y_true, y_pred)
        counts = np.bincount(true * classes + predicted, minlength=classes * classes)
        counts = counts.reshape(classes, classes)  # rows: true class, columns: predicted
        self.counts = counts if self.counts is None else self.counts + counts

    def _per_class(self):
        """True positives, predicted positives and actual positives, per class."""
        counts = self.counts
        true_positive = np.diag(counts).astype(np.float64)
        return true_positive, counts.sum(axis=0), counts.sum(axis=1)

    def _average(self, numerator, denominator) -> float:
        if self.kind in ("binary", "values"):  # the positive class only
            return float(numerator[1] / denominator[1]) if denominator[1] else 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(denominator > 0, numerator / np.maximum(denominator, 1), 0.0)
        return float(np.mean(ratio))

    def get_config(self):
        return {"threshold": self.threshold, **super().get_config()}


@register("precision")
class Precision(_Confusion):
    """True positives / predicted positives (macro-averaged over classes for softmax outputs)."""

    name = "precision"

    def result(self):
        if self.counts is None:
            return 0.0
        true_positive, predicted, _ = self._per_class()
        return self._average(true_positive, predicted)


@register("recall")
class Recall(_Confusion):
    """True positives / actual positives (macro-averaged over classes for softmax outputs)."""

    name = "recall"

    def result(self):
        if self.counts is None:
            return 0.0
        true_positive, _, actual = self._per_class()
        return self._average(true_positive, actual)


@register("f1", "f1_score")
class F1Score(_Confusion):
    """Harmonic mean of precision and recall, ``2 tp / (predicted + actual)`` per class."""

    name = "f1"

    def result(self):
        if self.counts is None:
            return 0.0
        true_positive, predicted, actual = self._per_class()
        return self._average(2 * true_positive, predicted + actual)


class _MeanOf(Metric):
    def reset(self):
        self.sum = 0.0
        self.count = 0

    def result(self):
        return float(self.sum / self.count) if self.count else 0.0


@register("mae", "mean_absolute_error")
class MeanAbsoluteError(_MeanOf):
    """Mean of ``|y_pred - y_true|`` over all outputs of the epoch."""

    name = "mae"

    def update(self, y_true, y_pred):
        diff = np.subtract(y_pred, np.reshape(y_true, np.shape(y_pred)), dtype=np.float64)
        self.sum += float(np.sum(np.abs(diff)))
        self.count += diff.size


@register("mse", "mean_squared_error")
class MeanSquaredError(_MeanOf):
    """Mean of ``(y_pred - y_true)^2`` over all outputs of the epoch."""

    name = "mse"

    def update(self, y_true, y_pred):
        diff = np.subtract(y_pred, np.reshape(y_true, np.shape(y_pred)), dtype=np.float64)
        self.sum += float(np.sum(diff * diff))
        self.count += diff.size


@register("r2", "r2_score")
class R2Score(Metric):
    """Coefficient of determination over the epoch, averaged over outputs (scikit-learn's
    ``r2_score`` with ``multioutput='uniform_average'``)."""

    name = "r2"

    def reset(self):
        self.n = 0
        self.sums = None

    def update(self, y_true, y_pred):
        y_pred = np.reshape(y_pred, (len(y_pred), -1)).astype(np.float64)
        y_true = np.reshape(y_true, y_pred.shape).astype(np.float64)
        sums = np.stack([y_true.sum(0), (y_true * y_true).sum(0), ((y_true - y_pred) ** 2).sum(0)])
        self.sums = sums if self.sums is None else self.sums + sums
        self.n += len(y_true)

    def result(self):
        if not self.n:
            return 0.0
        total, squares, residual = self.sums
        variance = squares - total * total / self.n
        with np.errstate(invalid="ignore", divide="ignore"):
            scores = np.where(
                variance > 0,
                1 - residual / np.where(variance > 0, variance, 1),
                np.where(residual == 0, 1.0, 0.0),
            )
        return float(np.mean(scores))


def get(identifier, argument: str = "metrics") -> Metric:
    """A metric from a name, instance or config dict."""
    return registry.get("metric", identifier, argument=argument)


def get_list(identifiers, loss, output_shape) -> list[Metric]:
    """Metrics for ``compile``: built, bound to the loss, with unique names."""
    if identifiers is None:
        return []
    if isinstance(identifiers, (str, Metric, dict)):
        identifiers = [identifiers]
    result: list[Metric] = []
    for identifier in identifiers:
        metric = get(identifier)
        if isinstance(identifier, str):
            metric.name = identifier.strip().lower()
        metric.bind(loss, output_shape)
        result.append(metric)
    names = [m.name for m in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Argument 'metrics' names {duplicates} more than once.")
    return result


def clone(metric: Metric, loss, output_shape) -> Metric:
    """A fresh copy of a metric (validation keeps its own counts)."""
    copy = type(metric).from_config(metric.get_config())
    copy.bind(loss, output_shape)
    return copy
