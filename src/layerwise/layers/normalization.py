"""``BatchNormalization``: normalize features with batch statistics while training and moving
averages at inference, then scale and shift by learned ``gamma`` and ``beta``."""

from __future__ import annotations

import math

import numpy as np

from ..registry import register
from .base import Layer

__all__ = ["BatchNormalization"]


@register("batch_normalization", "batchnorm")
class BatchNormalization(Layer):
    """Batch normalization over the last axis (Keras' definition and defaults).

    Training: ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the batch's mean and
    (biased) variance, and ``moving = momentum * moving + (1 - momentum) * batch``. Inference: the
    same with the moving averages.

    Args:
        momentum: weight of the old moving average (0.99).
        epsilon: added to the variance (1e-3).
        center, scale: learn ``beta`` / ``gamma`` (otherwise fixed at 0 / 1).
        name: optional layer name.

    Shapes: input and output ``(n, ..., features)``.
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
        if not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
            raise ValueError(f"Argument 'momentum' must be in [0, 1); received {momentum!r}.")
        if not isinstance(epsilon, (int, float)) or not (math.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"Argument 'epsilon' must be a positive number; received {epsilon!r}.")
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)

    def build(self, input_shape) -> None:
        super().build(tuple(input_shape))
        features = self.input_shape[-1]
        self.gamma = np.ones(features, self.dtype)
        self.beta = np.zeros(features, self.dtype)
        self.moving_mean = np.zeros(features, self.dtype)
        self.moving_variance = np.ones(features, self.dtype)
        self.grad_gamma = np.zeros_like(self.gamma)
        self.grad_beta = np.zeros_like(self.beta)

    def set_dtype(self, dtype) -> None:
        super().set_dtype(dtype)
        for attribute in (
            "gamma",
            "beta",
            "moving_mean",
            "moving_variance",
            "grad_gamma",
            "grad_beta",
        ):
            setattr(self, attribute, getattr(self, attribute).astype(self.dtype))

    def parameters(self):
        params = {}
        if self.scale:
            params["gamma"] = self.gamma
        if self.center:
            params["beta"] = self.beta
        return params

    def gradients(self):
        grads = {}
        if self.scale:
            grads["gamma"] = self.grad_gamma
        if self.center:
            grads["beta"] = self.grad_beta
        return grads

    def state(self):
        return {"moving_mean": self.moving_mean, "moving_variance": self.moving_variance}

    def forward(self, input_data):
        self.input = input_data
        x = input_data.reshape(-1, input_data.shape[-1])
        if self.training:
            mean = x.mean(axis=0)
            centered = x - mean
            variance = np.mean(centered * centered, axis=0)
            self.moving_mean *= self.momentum
            self.moving_mean += (1 - self.momentum) * mean
            self.moving_variance *= self.momentum
            self.moving_variance += (1 - self.momentum) * variance
        else:
            centered = x - self.moving_mean
            variance = self.moving_variance
        self.inverse_std = (1.0 / np.sqrt(variance + self.epsilon)).astype(self.dtype)
        self.normalized = centered * self.inverse_std
        output = self.normalized * self.gamma + self.beta
        self.output = output.reshape(input_data.shape)
        return self.output

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        g = output_error.reshape(-1, output_error.shape[-1])
        np.sum(g * self.normalized, axis=0, out=self.grad_gamma)
        np.sum(g, axis=0, out=self.grad_beta)
        if not input_gradient:
            return None
        g_normalized = g * self.gamma
        if not self.training:  # the moving statistics are constants
            return (g_normalized * self.inverse_std).reshape(output_error.shape)
        n = len(g)
        # d/dx of (x - mean) / std with batch statistics:
        # (1/n) * inv_std * (n * g' - sum(g') - x_hat * sum(g' * x_hat))
        input_error = n * g_normalized
        input_error -= g_normalized.sum(axis=0)
        input_error -= self.normalized * np.sum(g_normalized * self.normalized, axis=0)
        input_error *= self.inverse_std / n
        return input_error.reshape(output_error.shape)

    def update(self, learning_rate):
        if self.scale:
            self.gamma -= learning_rate * self.grad_gamma
        if self.center:
            self.beta -= learning_rate * self.grad_beta

    def get_config(self):
        return {
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "name": self.name,
        }
