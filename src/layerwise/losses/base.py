"""The base class of losses: value, gradient, fused gradient, and the labels it consumes."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from .. import registry
from ..data import batch_shape
from ..exceptions import ShapeMismatchError
from ..registry import ConfigValue

__all__ = ["LossFunction"]


class LossFunction(ConfigValue):
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

    def value(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """The mean loss of a batch, as a Python float."""
        raise NotImplementedError

    def gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Gradient of :meth:`value` with respect to ``y_pred`` (into ``out`` when given)."""
        raise NotImplementedError

    def fused_gradient(
        self, y_true: np.ndarray, y_pred: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Gradient w.r.t. the input of the ``partner`` activation whose output is ``y_pred``."""
        raise NotImplementedError(f"{type(self).__name__} has no fused gradient.")

    def sample_values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """The loss of each sample, shape ``(n,)``: the mean of :meth:`value` over the sample's
        own elements, so that ``value`` is their mean. ``fit(sample_weight=w)`` minimizes
        ``sum(w * sample_values) / n`` (Keras' ``sum_over_batch_size``).

        This default calls :meth:`value` once per sample; the built-in losses compute all
        samples at once.
        """
        rows = range(len(y_pred))
        return np.array([self.value(y_true[i : i + 1], y_pred[i : i + 1]) for i in rows])

    def probabilities(self, y_pred: np.ndarray) -> np.ndarray:
        """The predictions as metrics see them (logits turned into probabilities)."""
        return y_pred

    def targets(self, y: np.ndarray, output_shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
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



registry.register_kind("loss", LossFunction)
