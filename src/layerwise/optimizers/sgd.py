"""Stochastic gradient descent, plain, with momentum or with Nesterov momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _blas
from ..registry import register
from .base import Optimizer, _check_number

__all__ = ["SGD"]


@register("sgd")
class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as PyTorch::

        v = momentum * v + g
        p = p - lr * v                      (or p - lr * (g + momentum * v) with nesterov)

    Args:
        learning_rate: positive number or schedule.
        momentum: in [0, 1); 0 is plain gradient descent (no state is kept).
        nesterov: use Nesterov momentum (needs ``momentum > 0``).
        clipping: ``clipnorm``, ``clipvalue`` or ``global_clipnorm``, by keyword: gradient
            clipping (see :class:`Optimizer`).
    """

    elementwise = True

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **clipping: Any):
        super().__init__(learning_rate, **clipping)
        self.momentum = _check_number(momentum, "momentum", 0.0, 1.0, closed=True)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise ValueError(f"Argument 'nesterov' must be True or False; received {nesterov!r}.")
        if nesterov and not self.momentum:
            raise ValueError("Argument 'nesterov=True' needs a positive 'momentum'.")
        self.nesterov = bool(nesterov)
        self.slot_names = ("velocity",) if self.momentum else ()

    def gradient_scale(self) -> float | None:
        """Without momentum (and clipping): the learning rate, so that ``fit`` can hand over
        ``lr * g``. Clipping must see the gradients themselves, so it turns this path off."""
        return None if self.momentum or self.clipping else self.current_learning_rate

    def apply(
        self, params: list[np.ndarray], grads: list[np.ndarray], prescaled: bool = False
    ) -> None:
        """One update; with ``prescaled`` the gradients already hold ``lr * g``: ``p -= g``."""
        if not prescaled or self.momentum:
            return super().apply(params, grads, prescaled)
        self.iterations += 1
        if self._flat is not None:
            np.subtract(self._flat[0], self._flat[1], out=self._flat[0])
            return
        for param, grad in zip(params, grads):
            np.subtract(param, grad, out=param)

    def update_parameter(
        self,
        param: np.ndarray,
        grad: np.ndarray,
        slots: dict[str, np.ndarray],
        scratch: np.ndarray,
        learning_rate: float,
    ) -> None:
        if not self.momentum:
            np.multiply(grad, learning_rate, out=scratch)
            param -= scratch
            return
        velocity = slots["velocity"]
        if not self.nesterov and _blas.vectors_ready(grad, param, velocity):
            # Large arrays: two BLAS passes (v = g + momentum v; p -= lr v) instead of four.
            _blas.blend(1.0, grad, self.momentum, velocity, scratch, direct=True)
            _blas.add_scaled(param, -learning_rate, velocity, scratch, direct=True)
            return
        velocity *= self.momentum
        velocity += grad
        if self.nesterov:
            np.multiply(velocity, self.momentum, out=scratch)
            scratch += grad
            scratch *= learning_rate
        else:
            np.multiply(velocity, learning_rate, out=scratch)
        param -= scratch

    def get_config(self) -> dict[str, Any]:
        return self._config(momentum=self.momentum, nesterov=self.nesterov)
