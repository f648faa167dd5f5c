"""Streaming metrics, computed over whole epochs.

A metric accumulates counts or sums batch by batch (``update``) and reports at the end
(``result``), so precision and recall are ratios of epoch totals, never averages of per-batch
ratios. State is a few counters per class or output, never a copy of the predictions.

``compile`` binds each metric to the loss, which tells how labels are encoded (the "kind"):

* ``sparse`` (sparse_categorical_crossentropy): integer labels; the predicted class is the
  arg-max of the outputs;
* ``onehot`` (categorical_crossentropy, and any other loss with several outputs, as Keras'
  ``'accuracy'`` reads them): arg-max of the outputs against arg-max of the labels;
* ``binary`` (any other loss with one output): output ``> threshold`` against label ``> 0.5``;
* ``multilabel`` (binary_crossentropy with several outputs): each output on its own, as binary.

An unbound metric (used on its own) infers the kind at its first ``update`` from the shapes, as
Keras 3 does: one output is ``binary``, labels with fewer dimensions are ``sparse``, else
``onehot``.

``'accuracy'`` picks binary, sparse categorical or categorical accuracy from the kind.
Precision, recall and F1 take ``average`` (default: chosen from the kind), and agree with
scikit-learn's ``precision_score`` / ``recall_score`` / ``f1_score`` with ``zero_division=0``:

* ``'binary'``: the positive class only (the default for one sigmoid output);
* ``'micro'``: counts summed over classes or labels (the default for several sigmoid outputs);
* ``'macro'``: unweighted mean over classes (the default for softmax outputs). As in
  scikit-learn, the mean runs over the classes that occur in the labels or the predictions of
  the epoch (for multi-label outputs: over all labels); a ratio with a zero denominator is 0;
* ``'weighted'``: mean over classes weighted by their number of true samples.
"""

from __future__ import annotations

import math

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
    "clone",
]

_AVERAGES = (None, "binary", "micro", "macro", "weighted")


def _label_kind(loss, output_shape) -> str | None:
    """The label kind implied by the loss and the model's output shape (None: infer later)."""
    name = getattr(loss, "name", "")
    width = tuple(output_shape)[-1] if output_shape is not None and len(output_shape) else None
    if name == "sparse_categorical_crossentropy":
        return "sparse"
    if name == "categorical_crossentropy":
        return "onehot"
    if width is None:
        return None
    if width == 1:
        return "binary"
    return "multilabel" if name == "binary_crossentropy" else "onehot"


def _infer_kind(y_true, y_pred) -> str:
    """The label kind read from the shapes of one batch (for metrics used without ``bind``)."""
    if np.ndim(y_pred) < 2 or np.shape(y_pred)[-1] == 1:
        return "binary"
    if np.ndim(y_true) < np.ndim(y_pred) or np.shape(y_true)[-1] == 1:
        return "sparse"
    return "onehot"


def _class_labels(kind: str, y_true, y_pred) -> tuple[np.ndarray, np.ndarray, int]:
    """True and predicted class indices of a single-label batch, and the number of classes."""
    classes = y_pred.shape[-1]
    predicted = np.argmax(y_pred, axis=-1).reshape(-1)
    if kind == "sparse":
        true = np.asarray(y_true).reshape(-1).astype(np.intp, copy=False)
    else:
        true = np.argmax(y_true, axis=-1).reshape(-1)
    return true, predicted, classes


class Metric(Serializable):
    """Base class of streaming metrics: ``reset()``, ``update(y_true, y_pred)``, ``result()``.

    ``y_pred`` are probabilities for classifiers (the model converts logits first); ``y_true``
    are labels as the loss reads them. ``bind(loss, output_shape)`` is called by ``compile``.
    Subclasses keep running totals in ``reset`` / ``update`` and compute ``result`` from them.

    Args:
        name: the key of this metric in ``model.history`` and ``evaluate`` (defaults to the
            class's short name).
    """

    name = "metric"

    def __init__(self, name: str | None = None):
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"Argument 'name' must be a non-empty string; received {name!r}.")
            self.name = name
        self.kind: str | None = None
        self.reset()

    def bind(self, loss, output_shape) -> None:
        """Learn how labels are encoded from the loss (an object with a ``name``) and the model's
        output shape (without the batch axis)."""
        self.kind = _label_kind(loss, output_shape)

    def _kind_for(self, y_true, y_pred) -> str:
        if self.kind is None:
            self.kind = _infer_kind(y_true, y_pred)
        return self.kind

    def reset(self) -> None:
        """Forget everything accumulated (called at the start of each epoch)."""
        raise NotImplementedError

    def update(self, y_true, y_pred) -> None:
        """Add one batch to the running totals."""
        raise NotImplementedError

    def result(self) -> float:
        """The metric over everything added since the last ``reset`` (0.0 before any data)."""
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


registry.register_kind("metric", Metric)


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"Argument 'threshold' must be a number; received {threshold!r}.")
    if not math.isfinite(threshold):
        raise ValueError(f"Argument 'threshold' must be finite; received {threshold!r}.")
    return float(threshold)


# Hit counters shared by the accuracies: (correct, counted) for one batch.
def _binary_hits(y_true, y_pred, threshold: float) -> tuple[int, int]:
    y_true = np.reshape(y_true, np.shape(y_pred))
    return int(np.count_nonzero((y_pred > threshold) == (y_true > 0.5))), int(np.size(y_pred))


def _categorical_hits(y_true, y_pred) -> tuple[int, int]:
    return int(np.count_nonzero(np.argmax(y_pred, -1) == np.argmax(y_true, -1))), len(y_pred)


def _sparse_hits(y_true, y_pred) -> tuple[int, int]:
    labels = np.reshape(y_true, len(y_pred))
    return int(np.count_nonzero(np.argmax(y_pred, -1) == labels)), len(y_pred)


class _Ratio(Metric):
    """A metric that is ``hits / total`` over the epoch."""

    def reset(self):
        self.hits = 0
        self.total = 0

    def result(self):
        return self.hits / self.total if self.total else 0.0


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

    def update(self, y_true, y_pred):
        hits, total = _binary_hits(y_true, y_pred, self.threshold)
        self.hits += hits
        self.total += total

    def get_config(self):
        return {"threshold": self.threshold, **super().get_config()}


@register("categorical_accuracy")
class CategoricalAccuracy(_Ratio):
    """Share of samples whose arg-max output is the arg-max of the one-hot label."""

    name = "categorical_accuracy"

    def update(self, y_true, y_pred):
        hits, total = _categorical_hits(y_true, y_pred)
        self.hits += hits
        self.total += total


@register("sparse_categorical_accuracy")
class SparseCategoricalAccuracy(_Ratio):
    """Share of samples whose arg-max output equals the integer label."""

    name = "sparse_categorical_accuracy"

    def update(self, y_true, y_pred):
        hits, total = _sparse_hits(y_true, y_pred)
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

    def update(self, y_true, y_pred):
        kind = self._kind_for(y_true, y_pred)
        if kind in ("binary", "multilabel"):
            hits, total = _binary_hits(y_true, y_pred, 0.5)
        elif kind == "sparse":
            hits, total = _sparse_hits(y_true, y_pred)
        else:
            hits, total = _categorical_hits(y_true, y_pred)
        self.hits += hits
        self.total += total


class _ClassCounts(Metric):
    """Per-class true positives, predicted positives and actual positives over the epoch."""

    def __init__(self, threshold: float = 0.5, average: str | None = None, name: str | None = None):
        if average not in _AVERAGES:
            raise ValueError(
                f"Argument 'average' must be one of {_AVERAGES}; received {average!r}."
            )
        self.threshold = _check_threshold(threshold)
        self.average = average
        super().__init__(name)

    def bind(self, loss, output_shape):
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

    def reset(self):
        self.true_positives = None
        self.predicted = None
        self.actual = None

    def update(self, y_true, y_pred):
        kind = self._kind_for(y_true, y_pred)
        if kind == "binary":  # class 0 follows from class 1 and the sample count
            predicted = np.reshape(y_pred, -1) > self.threshold
            actual = np.reshape(y_true, -1) > 0.5
            n, hit = predicted.size, np.count_nonzero(predicted & actual)
            said_positive, are_positive = np.count_nonzero(predicted), np.count_nonzero(actual)
            hits = np.array([n - said_positive - are_positive + hit, hit])
            n_predicted = np.array([n - said_positive, said_positive])
            n_actual = np.array([n - are_positive, are_positive])
        elif kind == "multilabel":
            predicted = np.reshape(y_pred, (len(y_pred), -1)) > self.threshold
            actual = np.reshape(y_true, predicted.shape) > 0.5
            hits = (predicted & actual).sum(axis=0)
            n_predicted = predicted.sum(axis=0)
            n_actual = actual.sum(axis=0)
        else:
            true, predicted, classes = _class_labels(kind, y_true, y_pred)
            n_actual = np.bincount(true, minlength=classes)
            if len(n_actual) != classes:
                raise ValueError(
                    f"Argument 'y_true' holds class labels up to {len(n_actual) - 1}, but the "
                    f"predictions have only {classes} classes."
                )
            n_predicted = np.bincount(predicted, minlength=classes)
            hits = np.bincount(predicted[predicted == true], minlength=classes)
        if self.true_positives is None:
            self.true_positives, self.predicted, self.actual = hits, n_predicted, n_actual
        else:
            self.true_positives += hits
            self.predicted += n_predicted
            self.actual += n_actual

    def _ratio(self) -> tuple[np.ndarray, np.ndarray]:
        """Numerator and denominator of the per-class score."""
        raise NotImplementedError

    def result(self):
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

    def get_config(self):
        return {"threshold": self.threshold, "average": self.average, **super().get_config()}


@register("precision")
class Precision(_ClassCounts):
    """True positives / predicted positives, over the epoch.

    Args:
        threshold: outputs above it are predicted positive, for sigmoid outputs (softmax
            outputs predict their arg-max class).
        average: ``'binary'``, ``'micro'``, ``'macro'``, ``'weighted'`` or ``None`` (chosen from
            the labels; see the module docstring). Equals scikit-learn's ``precision_score`` with
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


class _MeanOf(Metric):
    """Mean of a per-element quantity over every output of the epoch."""

    def reset(self):
        self.sum = 0.0
        self.count = 0

    def result(self):
        return self.sum / self.count if self.count else 0.0


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
        if self.count == 0:
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


def get(identifier, argument: str = "metrics") -> Metric:
    """A metric from a name (``'accuracy'``, ``'f1'``, ...), an instance, a class or a config."""
    return registry.get("metric", identifier, argument=argument)


def get_list(identifiers, loss, output_shape) -> list[Metric]:
    """The metrics for ``compile``: built, bound to the loss and output shape, names unique.

    A metric given by a short name is reported under that name (``'acc'`` stays ``'acc'``, as in
    Keras).

    Raises:
        ValueError: an unknown name (the message lists the valid ones), or two metrics with the
            same name.
    """
    if identifiers is None:
        return []
    if isinstance(identifiers, (str, Metric, dict)):
        identifiers = [identifiers]
    aliases = set(registry.valid_names("metric"))
    result: list[Metric] = []
    for identifier in identifiers:
        metric = get(identifier)
        if isinstance(identifier, str) and identifier.strip().lower() in aliases:
            metric.name = identifier.strip().lower()
        metric.bind(loss, output_shape)
        result.append(metric)
    names = [m.name for m in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Argument 'metrics' names {duplicates} more than once.")
    return result


def clone(metric: Metric, loss, output_shape) -> Metric:
    """A fresh, bound copy of a metric with its own totals (validation keeps its own counts)."""
    copy = type(metric).from_config(metric.get_config())
    copy.bind(loss, output_shape)
    return copy
