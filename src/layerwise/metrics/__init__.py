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

from typing import Any

from .. import registry
from .base import Metric
from .classification import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    F1Score,
    Precision,
    Recall,
    SparseCategoricalAccuracy,
)
from .regression import MeanAbsoluteError, MeanSquaredError, R2Score

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


def get(identifier: Any, argument: str = "metrics") -> Metric:
    """A metric from a name (``'accuracy'``, ``'f1'``, ...), an instance, a class or a config."""
    return registry.get("metric", identifier, argument=argument)


def get_list(identifiers: Any, loss: Any, output_shape: tuple[int, ...]) -> list[Metric]:
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


def clone(metric: Metric, loss: Any, output_shape: tuple[int, ...]) -> Metric:
    """A fresh, bound copy of a metric with its own totals (validation keeps its own counts)."""
    copy = type(metric).from_config(metric.get_config())
    copy.bind(loss, output_shape)
    return copy
