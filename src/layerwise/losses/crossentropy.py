"""The cross-entropies (categorical, sparse categorical, binary), with their fused gradients
and ``from_logits``, computed stably by log-sum-exp (see the package docstring)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import _constants
from ..activations import _sigmoid
from ..exceptions import ShapeMismatchError
from ..registry import register
from .base import LossFunction

__all__ = ["CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy"]


def _log_probability(p: np.ndarray) -> np.ndarray:
    """``log(p)`` with ``p`` clipped at the dtype's smallest normal number: finite and silent."""
    clipped = np.maximum(p, np.finfo(p.dtype).tiny)
    return np.log(clipped, out=clipped)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """``log(softmax(z))`` over the last axis, by log-sum-exp: finite for any finite ``z``."""
    shifted = z - np.max(z, axis=-1, keepdims=True)
    shifted -= np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    return shifted


def _softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the row maximum so that nothing overflows."""
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    e /= np.sum(e, axis=-1, keepdims=True)
    return e


def _samples(y_pred: np.ndarray) -> int:
    """Number of samples of a batch of class scores: every axis but the last counts samples,
    so a single sample given as a vector ``(k,)`` counts as one."""
    return max(y_pred.size // y_pred.shape[-1], 1) if y_pred.ndim and y_pred.shape[-1] else 1


def _position_mean(values: np.ndarray, samples: int) -> np.ndarray:
    """Per-position losses averaged over each sample's positions, shape ``(samples,)``."""
    return np.reshape(values, (samples, -1)).mean(axis=1)


def _store(result: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None:
        return result
    np.copyto(out, result)
    return out


class _CrossEntropy(LossFunction):
    """Shared by the cross-entropies: the ``from_logits`` option."""

    requires_probability = True

    def __init__(self, from_logits: bool = False):
        if not isinstance(from_logits, (bool, np.bool_)):
            raise ValueError(f"Argument 'from_logits' must be a bool; received {from_logits!r}.")
        self.from_logits = bool(from_logits)

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits}


@register("categorical_crossentropy", "categorical_cross_entropy", "cce")
class CategoricalCrossentropy(_CrossEntropy):
    """``mean over samples of -sum(y * log p)`` for one-hot (or probability) labels.

    Partner activation: softmax. ``from_logits=True``: ``y_pred`` are raw scores.
    """

    name = "categorical_crossentropy"
    partner = "softmax"

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        n = _samples(y_pred)
        log_p = _log_softmax(y_pred) if self.from_logits else _log_probability(y_pred)
        if log_p.shape == np.shape(y_true):  # the training loop's case: reuse log_p, no wrappers
            return float(-np.add.reduce(np.multiply(y_true, log_p, out=log_p), axis=None) / n)
        return float(-np.sum(y_true * log_p) / n)

    def gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        if self.from_logits:
            return self.fused_gradient(y_true, _softmax(y_pred), out)
        n = _samples(y_pred)
        p = np.maximum(y_pred, np.finfo(y_pred.dtype).tiny)
        return _store(-(y_true / p) / n, out)

    def fused_gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        # d/dz of -sum(y * log softmax(z)) is p * sum(y) - y, which is p - y for one-hot labels.
        n = _samples(y_pred)
        out = np.multiply(y_pred, _constants.row_sums(y_true), out=out)
        out -= y_true
        out *= 1.0 / n
        return out

    def sample_values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        log_p = _log_softmax(y_pred) if self.from_logits else _log_probability(y_pred)
        per_position = -np.sum(np.reshape(y_true, log_p.shape) * log_p, axis=-1)
        return _position_mean(per_position, len(y_pred))

    def probabilities(self, y_pred: np.ndarray) -> np.ndarray:
        return _softmax(y_pred) if self.from_logits else y_pred

    def targets(self, y: np.ndarray, output_shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
        if y.ndim == 1 and output_shape != (1,):
            raise ShapeMismatchError(
                f"Argument 'y' holds {len(y)} class labels, but 'categorical_crossentropy' needs "
                f"one-hot labels of shape (n, {output_shape[-1]}); one-hot encode them or use "
                "'sparse_categorical_crossentropy' for integer labels."
            )
        return super().targets(y, output_shape, dtype)


@register("sparse_categorical_crossentropy", "sparse_categorical_cross_entropy", "scce")
class SparseCategoricalCrossentropy(_CrossEntropy):
    """Categorical cross-entropy for integer labels ``0 .. k-1`` of shape ``(n,)`` or ``(n, 1)``."""

    name = "sparse_categorical_crossentropy"
    partner = "softmax"

    @staticmethod
    def _labels(y_true) -> np.ndarray:
        # (n, 1) labels must not broadcast against (n,) row indices into an (n, n) selection.
        return np.asarray(y_true).reshape(-1).astype(np.intp, copy=False)

    @staticmethod
    def _rows(matrix: np.ndarray) -> np.ndarray:
        """Scores as rows ``(positions, classes)``: outputs ``(n, t, k)`` have ``n * t``."""
        return matrix if matrix.ndim == 2 else matrix.reshape(-1, matrix.shape[-1])

    def _picked(self, y_true, matrix):
        rows = self._rows(matrix)
        return rows[np.arange(len(rows)), self._labels(y_true)]

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        n = max(_samples(y_pred), 1)
        if self.from_logits:
            return float(-np.sum(self._picked(y_true, _log_softmax(y_pred))) / n)
        return float(-np.sum(_log_probability(self._picked(y_true, y_pred))) / n)

    def sample_values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        if self.from_logits:
            picked = self._picked(y_true, _log_softmax(y_pred))
        else:
            picked = _log_probability(self._picked(y_true, y_pred))
        return _position_mean(-picked, len(y_pred))

    def gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        if self.from_logits:
            return self.fused_gradient(y_true, _softmax(y_pred), out)
        n = max(_samples(y_pred), 1)
        out = np.zeros_like(y_pred) if out is None else out
        out.fill(0)
        picked = np.maximum(self._picked(y_true, y_pred), np.finfo(y_pred.dtype).tiny)
        rows = self._rows(out)
        rows[np.arange(len(rows)), self._labels(y_true)] = -1.0 / (picked * n)
        return out

    def fused_gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        n = max(_samples(y_pred), 1)
        out = _store(y_pred, out) if out is not None else y_pred.copy()
        rows = self._rows(out)
        rows[np.arange(len(rows)), self._labels(y_true)] -= 1
        out *= 1.0 / n
        return out

    def probabilities(self, y_pred: np.ndarray) -> np.ndarray:
        return _softmax(y_pred) if self.from_logits else y_pred

    def targets(
        self, y: np.ndarray, output_shape: tuple[int, ...], dtype: DTypeLike
    ) -> np.ndarray:
        positions = tuple(output_shape[:-1])  # outputs (n, t, k) take labels (n, t)
        if y.ndim == len(positions) + 2 and y.shape[-1] == 1:
            y = y[..., 0]
        if y.shape[1:] != positions:
            expected = "(" + ", ".join(["n", *map(str, positions)]) + ")"
            raise ShapeMismatchError(
                f"Argument 'y' has shape {y.shape}, but 'sparse_categorical_crossentropy' needs "
                f"integer class labels of shape {expected} for outputs of shape "
                f"(n, {', '.join(map(str, output_shape))}); for one-hot labels use "
                "'categorical_crossentropy'."
            )
        classes = output_shape[-1]
        if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool) or (
            y.dtype.kind in "fc" and not np.isfinite(y).all()
        ):
            raise ValueError(
                "Argument 'y' must hold integer class labels for "
                f"'sparse_categorical_crossentropy'; received an array of dtype {y.dtype} "
                f"starting {y[:5]!r}."
            )
        labels = y.astype(np.intp)
        if not np.array_equal(labels, y) or (
            len(y) and (labels.min() < 0 or labels.max() >= classes)
        ):
            raise ValueError(
                f"Argument 'y' must hold integer class labels in [0, {classes - 1}] for "
                f"'sparse_categorical_crossentropy'; received values from {y.min()} to {y.max()}."
            )
        return labels


@register("binary_crossentropy", "binary_cross_entropy", "bce")
class BinaryCrossentropy(_CrossEntropy):
    """``-mean(y log p + (1 - y) log(1 - p))`` over all elements; labels in [0, 1].

    Partner activation: sigmoid. ``from_logits=True``: ``y_pred`` are raw scores.
    """

    name = "binary_crossentropy"
    partner = "sigmoid"

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        if not y_pred.size:
            return 0.0
        return float(np.mean(self._terms(y_true, y_pred)))

    def _terms(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        if self.from_logits:
            z = y_pred
            return np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
        log_p = _log_probability(y_pred)
        log_q = _log_probability(1 - y_pred)
        return -(y_true * log_p + (1 - y_true) * log_q)

    def sample_values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return _position_mean(self._terms(y_true, y_pred), len(y_pred))

    def gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        if self.from_logits:
            return self.fused_gradient(y_true, _sigmoid(y_pred), out)
        tiny = np.finfo(y_pred.dtype).tiny
        p = np.maximum(y_pred, tiny)
        q = np.maximum(1 - y_pred, tiny)
        return _store(((1 - y_true) / q - y_true / p) / max(y_pred.size, 1), out)

    def fused_gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        out = np.subtract(y_pred, y_true, out=out)
        out *= 1.0 / max(out.size, 1)
        return out

    def probabilities(self, y_pred: np.ndarray) -> np.ndarray:
        return _sigmoid(y_pred) if self.from_logits else y_pred

    def targets(self, y: np.ndarray, output_shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
        y = super().targets(y, output_shape, dtype)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                "Argument 'y' must hold labels in [0, 1] for 'binary_crossentropy'; received "
                f"values from {y.min()} to {y.max()}."
            )
        return y
