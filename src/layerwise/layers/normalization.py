"""``BatchNormalization``: normalize features with batch statistics while training and moving
averages at inference, then scale and shift by learned ``gamma`` and ``beta``."""

from __future__ import annotations

import math

import numpy as np

from .. import initializers
from ..registry import register
from .base import Layer

__all__ = ["BatchNormalization"]


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
        center, scale: learn ``beta`` / ``gamma`` (otherwise fixed at 0 / 1).
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

    def build(self, input_shape) -> None:
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

    def set_dtype(self, dtype) -> None:
        """Cast the weights, their gradients and the fixed gamma/beta to ``dtype``."""
        super().set_dtype(dtype)
        for attribute in ("gamma", "beta", "grad_gamma", "grad_beta"):
            value = getattr(self, attribute, None)
            if value is not None and value.dtype != self.dtype:
                setattr(self, attribute, value.astype(self.dtype))

    def forward(self, input_data):
        """Normalize with the batch's statistics while training (updating the moving ones),
        with the moving statistics otherwise; then scale by ``gamma`` and shift by ``beta``."""
        self.input = input_data
        x = input_data.reshape(-1, input_data.shape[-1])
        shape = x.shape
        # While training, every (rows, features) temporary lives in a reused buffer; the output
        # buffer holds the squared deviations until the output overwrites them.
        output = self._buffer("y", shape)
        # Remembered for backward, which must differentiate the statistics this pass used.
        self._batch_statistics = self.training
        if self.training:
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

    def get_config(self):
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
