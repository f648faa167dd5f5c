"""Optimizers with per-element adaptive steps: Adam, AdamW and RMSprop."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _blas
from ..registry import register
from .base import Optimizer, _check_number

__all__ = ["Adam", "AdamW", "RMSprop"]


@register("adam")
class Adam(Optimizer):
    """Adam (Kingma & Ba), with bias correction, as PyTorch (``epsilon`` is added after the
    bias correction of ``v``)::

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g^2
        p = p - lr / (1 - beta_1^t) * m / (sqrt(v) / sqrt(1 - beta_2^t) + epsilon)

    Args:
        learning_rate: positive number or schedule.
        beta_1: decay rate of the first moment estimate, in [0, 1).
        beta_2: decay rate of the second moment estimate, in [0, 1).
        epsilon: positive constant for numerical stability.
    """

    slot_names = ("m", "v")
    non_negative_slots = ("v",)
    elementwise = True

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **clipping: Any,
    ):
        super().__init__(learning_rate, **clipping)
        self.beta_1 = _check_number(beta_1, "beta_1", 0.0, 1.0, closed=True)
        self.beta_2 = _check_number(beta_2, "beta_2", 0.0, 1.0, closed=True)
        self.epsilon = _check_number(epsilon, "epsilon")

    def update_parameter(
        self,
        param: np.ndarray,
        grad: np.ndarray,
        slots: dict[str, np.ndarray],
        scratch: np.ndarray,
        learning_rate: float,
    ) -> None:
        m, v = slots["m"], slots["v"]
        t = self.iterations
        # Large arrays take BLAS's one-pass y = a x + b y (axpby) and y += a x (axpy): 7 passes
        # over the array instead of 12 (see layerwise._blas); the arithmetic is the same.
        fast = _blas.vectors_ready(grad, scratch, param, m, v)
        _blas.blend(1 - self.beta_1, grad, self.beta_1, m, scratch, fast)
        np.multiply(grad, grad, out=scratch)
        _blas.blend(1 - self.beta_2, scratch, self.beta_2, v, scratch, fast)
        # Multiplying the last line's numerator and denominator by sqrt(1 - beta_2^t) saves
        # one pass over the array: p -= step * m / (sqrt(v) + epsilon * sqrt(1 - beta_2^t)).
        root_correction_2 = math.sqrt(1 - self.beta_2**t)
        step = learning_rate * root_correction_2 / (1 - self.beta_1**t)
        np.sqrt(v, out=scratch)
        scratch += self.epsilon * root_correction_2
        np.divide(m, scratch, out=scratch)
        _blas.add_scaled(param, -step, scratch, scratch, fast)

    def get_config(self) -> dict[str, Any]:
        return self._config(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)


@register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch::

        p = p * (1 - lr * weight_decay)
        then the Adam update.

    Args:
        learning_rate: positive number or schedule (as :class:`Adam`).
        beta_1: as :class:`Adam`.
        beta_2: as :class:`Adam`.
        epsilon: as :class:`Adam`.
        weight_decay: non-negative decay coefficient (multiplied by the learning rate).
    """

    elementwise = True

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: Any = 0.004,
        **clipping: Any,
    ):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **clipping)
        self.weight_decay = _check_number(weight_decay, "weight_decay", closed=True)

    def update_parameter(
        self,
        param: np.ndarray,
        grad: np.ndarray,
        slots: dict[str, np.ndarray],
        scratch: np.ndarray,
        learning_rate: float,
    ) -> None:
        param *= 1 - learning_rate * self.weight_decay
        super().update_parameter(param, grad, slots, scratch, learning_rate)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_decay": self.weight_decay}


@register("rmsprop")
class RMSprop(Optimizer):
    """RMSprop (Hinton), without momentum or centering, as PyTorch::

        v = rho * v + (1 - rho) * g^2
        p = p - lr * g / (sqrt(v) + epsilon)

    Args:
        learning_rate: positive number or schedule.
        rho: decay rate of the mean square, in [0, 1).
        epsilon: positive constant for numerical stability.
    """

    slot_names = ("v",)
    non_negative_slots = ("v",)
    elementwise = True

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: Any = 0.9,
        epsilon: float = 1e-7,
        **clipping: Any,
    ):
        super().__init__(learning_rate, **clipping)
        self.rho = _check_number(rho, "rho", 0.0, 1.0, closed=True)
        self.epsilon = _check_number(epsilon, "epsilon")

    def update_parameter(
        self,
        param: np.ndarray,
        grad: np.ndarray,
        slots: dict[str, np.ndarray],
        scratch: np.ndarray,
        learning_rate: float,
    ) -> None:
        v = slots["v"]
        fast = _blas.vectors_ready(grad, scratch, param, v)  # as in Adam: 6 passes, not 9
        np.multiply(grad, grad, out=scratch)
        _blas.blend(1 - self.rho, scratch, self.rho, v, scratch, fast)
        np.sqrt(v, out=scratch)
        scratch += self.epsilon
        np.divide(grad, scratch, out=scratch)
        _blas.add_scaled(param, -learning_rate, scratch, scratch, fast)

    def get_config(self) -> dict[str, Any]:
        return self._config(rho=self.rho, epsilon=self.epsilon)
