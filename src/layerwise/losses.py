"""Loss functions, their gradients, the fused output-activation + loss gradients, and ``Loss``.

Every loss value is a mean over the samples of a batch (mean squared error: over all elements),
so the reported loss does not grow with the batch size, and every gradient is the gradient of
that mean with respect to the predictions.

When a loss follows its *partner* activation (softmax for the categorical cross-entropies,
sigmoid for binary cross-entropy), the model skips the activation's Jacobian and uses
:meth:`LossFunction.fused_gradient`, the gradient with respect to the activation's input, which
is both cheaper and exact: ``(p - y) / n``. With ``from_logits=True`` a loss takes raw scores
(a linear last layer) and computes the same quantities with a stable log-sum-exp.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from . import registry
from .activations import _sigmoid
from .data import batch_shape
from .exceptions import ShapeMismatchError
from .registry import Serializable, register

__all__ = [
    "LossFunction",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "BinaryCrossentropy",
    "Loss",
    "get",
    "get_loss",
]


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


def _store(result: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None:
        return result
    np.copyto(out, result)
    return out


class LossFunction(Serializable):
    """Base class of losses.

    Subclasses implement ``value(y_true, y_pred) -> float`` and ``gradient(y_true, y_pred)``.
    Cross-entropies also set ``partner`` (the activation whose fused gradient they provide) and
    implement ``fused_gradient``. ``targets(y, output_shape)`` converts and checks labels once per
    ``fit``.
    """

    name = "loss"
    partner: str | None = None  # activation name with a fused gradient
    requires_probability = False  # True: the model output must be a probability
    from_logits = False

    def value(self, y_true, y_pred) -> float:
        """The mean loss of a batch, as a Python float."""
        raise NotImplementedError

    def gradient(self, y_true, y_pred, out=None) -> np.ndarray:
        """Gradient of :meth:`value` with respect to ``y_pred`` (into ``out`` when given)."""
        raise NotImplementedError

    def fused_gradient(self, y_true, y_pred, out=None) -> np.ndarray:
        """Gradient w.r.t. the input of the ``partner`` activation whose output is ``y_pred``."""
        raise NotImplementedError(f"{type(self).__name__} has no fused gradient.")

    def probabilities(self, y_pred: np.ndarray) -> np.ndarray:
        """The predictions as metrics see them (logits turned into probabilities)."""
        return y_pred

    def targets(self, y: np.ndarray, output_shape: tuple[int, ...], dtype) -> np.ndarray:
        """Labels as this loss consumes them, shape-checked against the model's output."""
        expected = (len(y), *output_shape)
        if y.ndim == 1 and output_shape == (1,):
            y = y.reshape(-1, 1)
        if y.shape != expected:
            raise ShapeMismatchError(
                f"Argument 'y' has shape {y.shape}, but the model's output has shape "
                f"{batch_shape(output_shape)} and the loss {self.name!r} needs labels of that "
                "shape."
            )
        return np.ascontiguousarray(y, dtype=dtype)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self.get_config().items()))))


registry.register_kind("loss", LossFunction)


@register("mse", "mean_squared_error")
class MeanSquaredError(LossFunction):
    """``mean((y_pred - y_true)^2)`` over all elements."""

    name = "mse"

    def value(self, y_true, y_pred):
        diff = np.subtract(y_pred, y_true)
        return float(np.mean(diff * diff)) if diff.size else 0.0

    def gradient(self, y_true, y_pred, out=None):
        out = np.subtract(y_pred, y_true, out=out)
        out *= 2.0 / max(out.size, 1)
        return out


@register("mae", "mean_absolute_error")
class MeanAbsoluteError(LossFunction):
    """``mean(|y_pred - y_true|)`` over all elements; the gradient at 0 is 0."""

    name = "mae"

    def value(self, y_true, y_pred):
        return float(np.mean(np.abs(np.subtract(y_pred, y_true)))) if np.size(y_pred) else 0.0

    def gradient(self, y_true, y_pred, out=None):
        out = np.sign(np.subtract(y_pred, y_true, out=out), out=out)
        out *= 1.0 / max(out.size, 1)
        return out


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

    def value(self, y_true, y_pred):
        error = np.abs(np.subtract(y_pred, y_true))
        quadratic = np.minimum(error, self.delta)
        linear = error - quadratic
        return (
            float(np.mean(0.5 * quadratic * quadratic + self.delta * linear)) if error.size else 0.0
        )

    def gradient(self, y_true, y_pred, out=None):
        out = np.subtract(y_pred, y_true, out=out)
        np.clip(out, -self.delta, self.delta, out=out)
        out *= 1.0 / max(out.size, 1)
        return out

    def get_config(self):
        return {"delta": self.delta}


class _CrossEntropy(LossFunction):
    """Shared by the cross-entropies: the ``from_logits`` option."""

    requires_probability = True

    def __init__(self, from_logits: bool = False):
        if not isinstance(from_logits, (bool, np.bool_)):
            raise ValueError(f"Argument 'from_logits' must be a bool; received {from_logits!r}.")
        self.from_logits = bool(from_logits)

    def get_config(self):
        return {"from_logits": self.from_logits}


@register("categorical_crossentropy", "categorical_cross_entropy", "cce")
class CategoricalCrossentropy(_CrossEntropy):
    """``mean over samples of -sum(y * log p)`` for one-hot (or probability) labels.

    Partner activation: softmax. ``from_logits=True``: ``y_pred`` are raw scores.
    """

    name = "categorical_crossentropy"
    partner = "softmax"

    def value(self, y_true, y_pred):
        n = _samples(y_pred)
        log_p = _log_softmax(y_pred) if self.from_logits else _log_probability(y_pred)
        if log_p.shape == np.shape(y_true):  # the training loop's case: reuse log_p, no wrappers
            return float(-np.add.reduce(np.multiply(y_true, log_p, out=log_p), axis=None) / n)
        return float(-np.sum(y_true * log_p) / n)

    def gradient(self, y_true, y_pred, out=None):
        if self.from_logits:
            return self.fused_gradient(y_true, _softmax(y_pred), out)
        n = _samples(y_pred)
        p = np.maximum(y_pred, np.finfo(y_pred.dtype).tiny)
        return _store(-(y_true / p) / n, out)

    def fused_gradient(self, y_true, y_pred, out=None):
        # d/dz of -sum(y * log softmax(z)) is p * sum(y) - y, which is p - y for one-hot labels.
        n = _samples(y_pred)
        out = np.multiply(y_pred, np.add.reduce(y_true, axis=-1, keepdims=True), out=out)
        out -= y_true
        out *= 1.0 / n
        return out

    def probabilities(self, y_pred):
        return _softmax(y_pred) if self.from_logits else y_pred

    def targets(self, y, output_shape, dtype):
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

    def _picked(self, y_true, matrix):
        return matrix[np.arange(len(matrix)), self._labels(y_true)]

    def value(self, y_true, y_pred):
        n = max(len(y_pred), 1)
        if self.from_logits:
            return float(-np.sum(self._picked(y_true, _log_softmax(y_pred))) / n)
        return float(-np.sum(_log_probability(self._picked(y_true, y_pred))) / n)

    def gradient(self, y_true, y_pred, out=None):
        if self.from_logits:
            return self.fused_gradient(y_true, _softmax(y_pred), out)
        n = max(len(y_pred), 1)
        out = np.zeros_like(y_pred) if out is None else out
        out.fill(0)
        picked = np.maximum(self._picked(y_true, y_pred), np.finfo(y_pred.dtype).tiny)
        out[np.arange(len(out)), self._labels(y_true)] = -1.0 / (picked * n)
        return out

    def fused_gradient(self, y_true, y_pred, out=None):
        n = max(len(y_pred), 1)
        out = _store(y_pred, out) if out is not None else y_pred.copy()
        out[np.arange(len(out)), self._labels(y_true)] -= 1
        out *= 1.0 / n
        return out

    def probabilities(self, y_pred):
        return _softmax(y_pred) if self.from_logits else y_pred

    def targets(self, y, output_shape, dtype):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ShapeMismatchError(
                f"Argument 'y' has shape {y.shape}, but 'sparse_categorical_crossentropy' needs "
                "integer class labels of shape (n,); for one-hot labels use "
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

    def value(self, y_true, y_pred):
        if not y_pred.size:
            return 0.0
        if self.from_logits:
            z = y_pred
            return float(np.mean(np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))))
        log_p = _log_probability(y_pred)
        log_q = _log_probability(1 - y_pred)
        return float(-np.mean(y_true * log_p + (1 - y_true) * log_q))

    def gradient(self, y_true, y_pred, out=None):
        if self.from_logits:
            return self.fused_gradient(y_true, _sigmoid(y_pred), out)
        tiny = np.finfo(y_pred.dtype).tiny
        p = np.maximum(y_pred, tiny)
        q = np.maximum(1 - y_pred, tiny)
        return _store(((1 - y_true) / q - y_true / p) / max(y_pred.size, 1), out)

    def fused_gradient(self, y_true, y_pred, out=None):
        out = np.subtract(y_pred, y_true, out=out)
        out *= 1.0 / max(out.size, 1)
        return out

    def probabilities(self, y_pred):
        return _sigmoid(y_pred) if self.from_logits else y_pred

    def targets(self, y, output_shape, dtype):
        y = super().targets(y, output_shape, dtype)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                "Argument 'y' must hold labels in [0, 1] for 'binary_crossentropy'; received "
                f"values from {y.min()} to {y.max()}."
            )
        return y


def get(identifier, argument: str = "loss_fn", **options) -> LossFunction:
    """A loss function from a name (with options such as ``from_logits``), a
    :class:`LossFunction` or :class:`Loss` instance, or a config dict.

    Raises:
        ValueError: an unknown name (the message lists the valid ones), a missing loss, or
            options the loss does not take.
    """
    if identifier is None:
        raise ValueError(
            f"Argument '{argument}' is required; valid names: "
            f"{', '.join(registry.valid_names('loss'))}."
        )
    if options and not isinstance(identifier, (str, type)):
        raise ValueError(
            f"Options {sorted(options)} can only be given with a loss name; argument "
            f"'{argument}' is already a loss: {identifier!r}."
        )
    if isinstance(identifier, Loss):
        return identifier.function
    try:
        return registry.get("loss", identifier, argument=argument, **options)
    except TypeError as error:
        if not options:
            raise
        raise ValueError(
            f"Options {sorted(options)} are not all options of the loss {identifier!r} given as "
            f"argument '{argument}': {error}"
        ) from error


class Loss:
    """The spec's ``Loss``: a loss by name, with ``forward`` (value) and ``backward`` (gradient).

    ``loss(y_true, y_pred)`` and ``loss_derivative(y_true, y_pred)`` (also reached through
    ``forward`` and ``backward``) accept arrays or plain Python lists. Labels of shape ``(n,)``
    for predictions of shape ``(n, 1)`` are reshaped rather than broadcast.

    Args:
        loss_function: a name such as ``'mse'`` or ``'categorical_crossentropy'``, a
            :class:`LossFunction`, or a config dict.
        **options: options of that loss, e.g. ``from_logits=True`` or ``delta=2.0`` for Huber.

    Example::

        loss = Loss('categorical_crossentropy', from_logits=True)
        model.compile(loss_fn=loss, optimizer='adam')
        loss.forward([[0, 1]], [[2.0, 1.0]])    # -log(softmax([2, 1])[1])
    """

    def __init__(self, loss_function="mse", **options):
        self.function = get(loss_function, argument="loss_function", **options)
        self.name = self.function.name
        self.loss = self._value
        self.loss_derivative = self._gradient

    @property
    def from_logits(self) -> bool:
        """True when the loss takes raw scores (logits) rather than probabilities."""
        return self.function.from_logits

    def _arrays(self, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
        """Arrays from lists: integer predictions become float64, labels keep their type, and
        labels of the predictions' size take their shape (never a silent broadcast)."""
        y_pred = np.asarray(y_pred)
        if not np.issubdtype(y_pred.dtype, np.floating):
            y_pred = y_pred.astype(np.float64)
        y_true = np.asarray(y_true)
        if isinstance(self.function, SparseCategoricalCrossentropy):
            expected = y_pred.shape[:-1]
            if y_true.size != int(np.prod(expected)):
                raise ShapeMismatchError(
                    f"Argument 'y_true' holds {y_true.size} labels for predictions of shape "
                    f"{y_pred.shape}; {self.name!r} needs one integer label per row."
                )
            return y_true.reshape(expected), y_pred
        if y_true.shape != y_pred.shape:
            if y_true.size != y_pred.size:
                raise ShapeMismatchError(
                    f"Argument 'y_true' has shape {y_true.shape}, but 'y_pred' has shape "
                    f"{y_pred.shape}; {self.name!r} needs labels of the predictions' shape."
                )
            y_true = y_true.reshape(y_pred.shape)
        return y_true, y_pred

    def _value(self, y_true, y_pred) -> float:
        return self.function.value(*self._arrays(y_true, y_pred))

    def _gradient(self, y_true, y_pred) -> np.ndarray:
        return self.function.gradient(*self._arrays(y_true, y_pred))

    def forward(self, y_true, y_pred) -> float:
        """The mean loss of a batch."""
        return self.loss(y_true, y_pred)

    def backward(self, y_true, y_pred) -> np.ndarray:
        """The gradient of the mean loss with respect to ``y_pred`` (with ``from_logits=True``:
        with respect to the logits)."""
        return self.loss_derivative(y_true, y_pred)

    def get_config(self) -> dict:
        """``{"loss_function": <serialized loss>}``, rebuilt by :meth:`from_config`."""
        return {"loss_function": registry.serialize(self.function)}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        """The ``Loss`` described by :meth:`get_config`'s output."""
        return cls(config["loss_function"])

    def __eq__(self, other) -> bool:
        return isinstance(other, Loss) and self.function == other.function

    def __hash__(self) -> int:
        return hash(self.function)

    def __repr__(self):
        return f"Loss({self.function!r})"


def get_loss(name) -> tuple[Callable, Callable]:
    """The spec's interface: ``(loss, derivative)`` for a loss name.

    ``loss(y_true, y_pred)`` is the batch's mean loss as a float and ``derivative(y_true,
    y_pred)`` its gradient with respect to ``y_pred``; both accept arrays or lists.
    """
    loss = Loss(name)
    return loss.forward, loss.backward
