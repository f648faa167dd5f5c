"""``BatchNormalization``: normalize features with batch statistics while training and moving
averages at inference, then scale and shift by learned ``gamma`` and ``beta``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import initializers
from ..registry import register
from .base import Layer

__all__ = ["BatchNormalization", "LayerNormalization"]


@register("batch_normalization", "batchnorm")
class BatchNormalization(Layer):
    """Batch normalization over the last axis (Keras' definition and defaults).

    Training: ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the batch's mean and
    (biased) variance, and ``moving = momentum * moving + (1 - momentum) * batch``. Inference: the
    same with the moving averages.

    Statistics are taken over every axis but the last, so an input ``(n, t, features)`` is
    normalized over ``n * t`` rows, as Keras does.

    Args:
        momentum: weight of the old moving average, in [0, 1) (0.99).
        epsilon: positive number added to the variance (1e-3).
        center: learn ``beta`` (otherwise fixed at 0).
        scale: learn ``gamma`` (otherwise fixed at 1).
        name: optional layer name.

    Shapes: input and output ``(n, ..., features)``; ``gamma``, ``beta``, ``moving_mean`` and
    ``moving_variance`` are ``(features,)``.

    Example::

        hidden = BatchNormalization()(Dense(64)(inputs))
        hidden = Activation('relu')(hidden)
    """

    def __init__(
        self,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.momentum = _number(momentum, "momentum", lambda m: 0 <= m < 1, "in [0, 1)")
        self.epsilon = _number(epsilon, "epsilon", lambda e: e > 0, "a positive number")
        for argument, value in (("center", center), ("scale", scale)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"Argument '{argument}' must be a bool; received {value!r}.")
        self.center, self.scale = bool(center), bool(scale)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    supports_masking = True
    _transient = ("normalized", "inverse_std", "cross_process")
    # Set by distributed training with sync_batch_norm=True: an object whose moments(x) and
    # sums(a, b) reduce over every process, so that statistics are the global batch's.
    cross_process = None

    def build(self, input_shape: Any) -> None:
        """Declare ``gamma`` (ones, if ``scale``), ``beta`` (zeros, if ``center``) and the
        moving statistics (0 and 1, not trained)."""
        super().build(tuple(input_shape))
        features = self.input_shape[-1]
        if self.scale:
            self.add_weight("gamma", (features,), "ones")
        else:  # fixed at 1; drawn through an initializer, so a loading file's budget counts it
            self.gamma = initializers.get("ones")((features,), self.dtype)
        if self.center:
            self.add_weight("beta", (features,), "zeros")
        else:
            self.beta = initializers.get("zeros")((features,), self.dtype)
        self.add_weight("moving_mean", (features,), "zeros", trainable=False)
        self.add_weight("moving_variance", (features,), "ones", trainable=False, non_negative=True)
        if not self.scale:
            self.grad_gamma = np.zeros(features, self.dtype)
        if not self.center:
            self.grad_beta = np.zeros(features, self.dtype)

    def set_dtype(self, dtype: DTypeLike) -> None:
        """Cast the weights, their gradients and the fixed gamma/beta to ``dtype``."""
        super().set_dtype(dtype)
        for attribute in ("gamma", "beta", "grad_gamma", "grad_beta"):
            value = getattr(self, attribute, None)
            if value is not None and value.dtype != self.dtype:
                setattr(self, attribute, value.astype(self.dtype))

    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """Normalize with the batch's statistics while training (updating the moving ones),
        with the moving statistics otherwise; then scale by ``gamma`` and shift by ``beta``."""
        self.input = input_data
        x = input_data.reshape(-1, input_data.shape[-1])
        shape = x.shape
        # While training, every (rows, features) temporary lives in a reused buffer; the output
        # buffer holds the squared deviations until the output overwrites them.
        output = self._buffer("y", shape)
        # Remembered for backward, which must differentiate the statistics this pass used. A
        # frozen layer normalizes with its moving statistics, also in training (Keras 3).
        self._batch_statistics = self.training and self.trainable
        if self._batch_statistics:
            if self.cross_process is None:
                mean = x.mean(axis=0)
                centered = np.subtract(x, mean, out=self._buffer("normalized", shape))
                variance = np.multiply(centered, centered, out=output).mean(axis=0)
                self._rows = len(x)
            else:  # the global batch's statistics (sync_batch_norm)
                mean, centered, variance, self._rows = self.cross_process.moments(
                    x, self._buffer("normalized", shape)
                )
            self.moving_mean *= self.momentum
            self.moving_mean += (1 - self.momentum) * mean
            self.moving_variance *= self.momentum
            self.moving_variance += (1 - self.momentum) * variance
        else:
            centered = np.subtract(x, self.moving_mean)
            variance = self.moving_variance
        self.inverse_std = 1 / np.sqrt(variance + self.epsilon)
        self.normalized = np.multiply(centered, self.inverse_std, out=centered)
        output = np.multiply(self.normalized, self.gamma, out=output)
        output += self.beta
        self.output = output.reshape(input_data.shape)
        return self.output

    def _infer(self, input_data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """:meth:`forward` with the moving statistics, in the same order of operations."""
        x = input_data.reshape(-1, input_data.shape[-1])
        rows = None if out is None else out.reshape(x.shape)
        output = np.subtract(x, self.moving_mean, out=rows)
        output *= 1 / np.sqrt(self.moving_variance + self.epsilon)
        output *= self.gamma
        output += self.beta
        return output.reshape(input_data.shape)

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """See :meth:`Layer._backward`. With batch statistics the input gradient is
        ``gamma * inv_std * (g - mean(g) - x_hat * mean(g * x_hat))``, means over the rows."""
        g = output_error.reshape(-1, output_error.shape[-1])
        product = np.multiply(g, self.normalized, out=self._buffer("product", g.shape))
        np.sum(product, axis=0, out=self.grad_gamma)
        np.sum(g, axis=0, out=self.grad_beta)
        if not input_gradient:
            return None
        if self._batch_statistics:
            # sum(g * gamma) = gamma * grad_beta and sum(g * gamma * x_hat) = gamma * grad_gamma,
            # so both corrections come from the parameter gradients already computed.
            n, sum_g, sum_gx = self._rows, self.grad_beta, self.grad_gamma
            if self.cross_process is not None:  # sums over the global batch
                sum_g, sum_gx = self.cross_process.sums(sum_g, sum_gx)
            g -= sum_g / n
            g -= np.multiply(self.normalized, sum_gx / n, out=product)
        # With the moving statistics (inference) they are constants: only the scale remains.
        g *= self.gamma * self.inverse_std
        return g.reshape(output_error.shape)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments: momentum, epsilon, center, scale and name."""
        return {
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "name": self.name,
        }


def _number(value, argument: str, valid, expected: str) -> float:
    """``value`` as a float if it is a real number for which ``valid`` holds, else an error."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(
            f"Argument '{argument}' must be {expected}; received {value!r} "
            f"of type {type(value).__name__}."
        )
    if not (math.isfinite(value) and valid(value)):
        raise ValueError(f"Argument '{argument}' must be {expected}; received {value!r}.")
    return float(value)


def _mean(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``np.mean(x, axis=axes, keepdims=True)`` for float32/float64 ``x``: its own two steps (a
    sum, a division by the count) without its Python wrapper, which costs more than the
    arithmetic for one sample. The same values."""
    if x.dtype not in (np.float32, np.float64) or x.size == 0:
        return np.mean(x, axis=axes, keepdims=True)
    total = np.add.reduce(x, axis=axes, keepdims=True)
    return np.divide(total, x.size // total.size, out=total)


@register("layer_normalization", "layernorm")
class LayerNormalization(Layer):
    """Normalize each sample over its last axis (or ``axis``), then scale and shift (Keras).

    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the mean and (biased) variance
    of each position over the normalized axes; the same in training and inference.

    Args:
        axis: axis or tuple of axes to normalize over (negative counts from the end; -1).
        epsilon: positive number added to the variance (1e-3).
        center: learn ``beta`` (otherwise fixed at 0).
        scale: learn ``gamma`` (otherwise fixed at 1).
        name: optional layer name.

    Shapes: input and output ``(n, ...)``; ``gamma`` and ``beta`` have the shape of the
    normalized axes.

    Example::

        x = LayerNormalization()(LSTM(32, return_sequences=True)(inputs))
    """

    supports_masking = True
    _transient = ("x_hat", "inv_std")

    def __init__(
        self,
        axis: Any = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
        if (isinstance(axis, bool) or not isinstance(axes, (tuple, list)) or not axes
                or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                           for a in axes)):
            raise TypeError(f"Argument 'axis' must be an integer or a tuple of integers; "
                            f"received {axis!r}.")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not (
                math.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"Argument 'epsilon' must be a positive number; received "
                             f"{epsilon!r}.")
        for flag, value in (("center", center), ("scale", scale)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"Argument '{flag}' must be True or False; received {value!r}.")
        self.axis = int(axes[0]) if isinstance(axis, (int, np.integer)) else tuple(axes)
        self._axes = tuple(int(a) for a in axes)
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.x_hat = self.inv_std = None

    def build(self, input_shape: Any) -> None:
        """``gamma``/``beta`` of the normalized axes' shape (axes of one sample)."""
        input_shape = tuple(input_shape)
        rank = len(input_shape) + 1
        axes = sorted({a % rank for a in self._axes})
        if 0 in axes or any(a >= rank for a in self._axes) or any(a < -rank + 1
                                                                  for a in self._axes):
            raise ValueError(f"Argument 'axis' of {self.name!r} must name axes of a sample "
                             f"{input_shape} (not the batch axis); received {self.axis!r}.")
        self._norm_axes = tuple(axes)
        # Keras' weight shape: the normalized axes' sizes; broadcast over the others.
        self._param_shape = tuple(input_shape[a - 1] for a in axes)
        self._broadcast = (1, *(input_shape[a - 1] if a in axes else 1 for a in range(1, rank)))
        self.input_shape = self.output_shape = input_shape
        if self.scale:
            self.add_weight("gamma", self._param_shape, "ones")
        if self.center:
            self.add_weight("beta", self._param_shape, "zeros")

    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """The normalized, scaled and shifted input."""
        self.input = input_data
        mean = _mean(input_data, self._norm_axes)
        centered = input_data - mean
        var = _mean(centered * centered, self._norm_axes)
        self.inv_std = 1.0 / np.sqrt(var + self.epsilon)
        self.x_hat = centered * self.inv_std
        out = self.x_hat * self.gamma.reshape(self._broadcast) if self.scale else self.x_hat.copy()
        if self.center:
            out += self.beta.reshape(self._broadcast)
        self.output = out
        return out

    def _infer(self, input_data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """:meth:`forward`'s operations, in place on one new array and keeping nothing."""
        centered = input_data - _mean(input_data, self._norm_axes)
        variance = _mean(centered * centered, self._norm_axes)
        centered *= 1.0 / np.sqrt(variance + self.epsilon)
        if self.scale:
            centered *= self.gamma.reshape(self._broadcast)
        if self.center:
            centered += self.beta.reshape(self._broadcast)
        return centered

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """Gradients of ``gamma``, ``beta`` and the input (the exact Jacobian product)."""
        batch_axes = tuple(a for a in range(output_error.ndim) if a not in self._norm_axes)
        if self.scale:
            self.grad_gamma[...] = np.sum(output_error * self.x_hat, axis=batch_axes,
                                          keepdims=True).reshape(self._param_shape)
        if self.center:
            self.grad_beta[...] = np.sum(output_error, axis=batch_axes,
                                         keepdims=True).reshape(self._param_shape)
        if not input_gradient:
            return None
        g = output_error * self.gamma.reshape(self._broadcast) if self.scale else output_error
        axes = self._norm_axes
        mean_g = np.mean(g, axis=axes, keepdims=True)
        mean_gx = np.mean(g * self.x_hat, axis=axes, keepdims=True)
        return (g - mean_g - self.x_hat * mean_gx) * self.inv_std

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments."""
        return {"axis": self.axis if isinstance(self.axis, int) else list(self.axis),
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "name": self.name}
