"""Sample and class weights for ``fit`` and ``evaluate``, with Keras' meanings.

A weighted batch loss is ``sum(w_i * loss_i) / n`` over its ``n`` samples (Keras'
``sum_over_batch_size``; in PyTorch ``(loss_fn(reduction='none')(...) * w).mean()``), so weights
of 1 change nothing; its gradient is each sample's gradient times its weight. Metrics weigh each
sample's contributions: a weighted mean (accuracy, MAE) or weighted counts (precision, recall).
``class_weight`` is turned into one weight per sample from its label.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "check_sample_weights",
    "class_weights_to_sample_weights",
    "weighted_loss",
    "scale_rows",
]


def _as_weights(value: Any, n: int, argument: str) -> np.ndarray:
    try:
        weights = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"Argument '{argument}' must be an array of numbers; received {value!r:.80}."
        ) from None
    if weights.ndim == 2 and weights.shape[1] == 1:
        weights = weights[:, 0]
    if weights.shape != (n,):
        raise ValueError(
            f"Argument '{argument}' must hold one weight per sample, shape ({n},); received "
            f"shape {weights.shape}."
        )
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        raise ValueError(
            f"Argument '{argument}' must hold finite weights >= 0; received "
            f"{np.count_nonzero(bad)} others, such as {weights[bad][:3].tolist()}."
        )
    return weights


def check_sample_weights(
    sample_weight: Any, output_names: list[str], n: int, argument: str = "sample_weight"
) -> list[np.ndarray] | None:
    """One weight array ``(n,)`` per output, or None without weights.

    ``sample_weight`` is an array (every output), a list in the order of the outputs or a dict
    by output name (Keras' forms); weights must be finite and >= 0.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, dict):
        unknown = sorted(set(sample_weight) - set(output_names), key=str)
        if unknown:
            raise ValueError(
                f"Argument '{argument}' is a dict by output name, but the model's outputs are "
                f"{output_names}; unknown keys {unknown}."
            )
        return [
            _as_weights(sample_weight[name], n, f"{argument}[{name!r}]")
            if name in sample_weight
            else np.ones(n)
            for name in output_names
        ]
    if isinstance(sample_weight, (list, tuple)) and len(output_names) > 1:
        if len(sample_weight) != len(output_names):
            raise ValueError(
                f"Argument '{argument}' must hold one array per output ({len(output_names)}); "
                f"received {len(sample_weight)}."
            )
        return [_as_weights(w, n, f"{argument}[{k}]") for k, w in enumerate(sample_weight)]
    weights = _as_weights(sample_weight, n, argument)
    return [weights] * len(output_names)


def class_weights_to_sample_weights(class_weight: Any, y: np.ndarray) -> np.ndarray:
    """Each sample's weight from the class of its label, as Keras does: the arg-max of one-hot
    labels, the rounded value of integer or 0/1 labels; classes missing from ``class_weight``
    weigh 1.

    Example::

        class_weights_to_sample_weights({0: 1.0, 1: 5.0}, np.array([0, 1, 1]))  # [1., 5., 5.]
    """
    if not isinstance(class_weight, dict) or not class_weight:
        raise TypeError(
            "Argument 'class_weight' must be a dict {class index: weight}; received "
            f"{class_weight!r:.80}."
        )
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or key < 0:
            raise ValueError(
                f"Argument 'class_weight' has the key {key!r}; keys must be class indices >= 0."
            )
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
            math.isfinite(value) and value >= 0
        ):
            raise ValueError(
                f"Argument 'class_weight' gives class {key} the weight {value!r}; weights must "
                "be finite numbers >= 0."
            )
    y = np.asarray(y)
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] > 1 and not _looks_one_hot(y)):
        raise ValueError(
            "Argument 'class_weight' needs one class label per sample (integer labels, 0/1 "
            f"labels or one-hot rows); the targets have shape {y.shape}. Give 'sample_weight' "
            "instead."
        )
    if y.ndim > 1 and y.shape[-1] > 1:
        labels = np.argmax(y, axis=-1)
    else:
        labels = np.rint(y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y)
    labels = labels.reshape(len(y), -1)[:, 0].astype(np.int64)
    table = np.ones(max(int(labels.max(initial=0)), max(class_weight)) + 1)
    for key, value in class_weight.items():
        table[int(key)] = float(value)
    return table[labels]


def _looks_one_hot(y: np.ndarray) -> bool:
    """Rows that sum to 1 (one-hot or probability labels), as opposed to sequence labels."""
    return bool(np.allclose(y.sum(axis=1), 1.0))


def weighted_loss(loss: Any, y: np.ndarray, output: np.ndarray, weights: np.ndarray) -> float:
    """``sum(weights * loss.sample_values(y, output)) / n`` for a batch of ``n`` samples."""
    values = loss.sample_values(y, output)
    return float(np.dot(values, weights) / max(len(values), 1))


def scale_rows(error: np.ndarray, weights: np.ndarray) -> None:
    """Multiply each sample's row of ``error`` (shape ``(n, ...)``) by its weight, in place."""
    error *= weights.reshape(len(weights), *([1] * (error.ndim - 1))).astype(error.dtype)
