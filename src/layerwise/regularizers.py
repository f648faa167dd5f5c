"""Weight penalties added to the loss: ``l1``, ``l2`` and ``l1_l2`` (Keras' definitions).

``L2(l2)`` adds ``l2 * sum(w^2)`` (no factor 1/2, as Keras), ``L1(l1)`` adds ``l1 * sum(|w|)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import registry
from .registry import ConfigValue, register

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get"]


def _factor(value, argument: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not (math.isfinite(value) and value >= 0)
    ):
        raise ValueError(
            f"Argument '{argument}' must be a non-negative number; received {value!r}."
        )
    return float(value)


class Regularizer(ConfigValue):
    """Base class: ``regularizer(w)`` is the penalty, ``gradient(w)`` its gradient.

    Example::

        penalty = layerwise.regularizers.get('l2')        # L2(l2=0.01)
        dense = Dense(64, kernel_regularizer=penalty)
    """

    def __call__(self, weights: np.ndarray) -> float:
        """The penalty for ``weights``, as a Python float."""
        raise NotImplementedError

    def gradient(self, weights: np.ndarray) -> np.ndarray:
        """Gradient of the penalty with respect to ``weights`` (same shape and dtype)."""
        raise NotImplementedError



registry.register_kind("regularizer", Regularizer)


@register("l1_l2")
class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w^2)``; the gradient of ``|w|`` at 0 is taken as 0.

    Args:
        l1: the factor of the absolute values (0.01).
        l2: the factor of the squares (0.01).
    """

    def __init__(self, l1: float = 0.01, l2: float = 0.01):
        self.l1 = _factor(l1, "l1")
        self.l2 = _factor(l2, "l2")

    def __call__(self, weights: np.ndarray) -> float:
        penalty = 0.0
        if self.l1:
            penalty += self.l1 * float(np.sum(np.abs(weights)))
        if self.l2:
            penalty += self.l2 * float(np.sum(np.square(weights)))
        return penalty

    def gradient(self, weights: np.ndarray) -> np.ndarray:
        grad = np.zeros_like(weights)
        if self.l1:
            grad += self.l1 * np.sign(weights)
        if self.l2:
            grad += (2 * self.l2) * weights
        return grad

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


@register("l1")
class L1(L1L2):
    """``l1 * sum(|w|)``."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1, l2=0.0)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


@register("l2")
class L2(L1L2):
    """``l2 * sum(w^2)``."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l1=0.0, l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


def get(identifier: Any, argument: str = "regularizer") -> Regularizer | None:
    """A regularizer from a name, instance or config; ``None`` means no penalty."""
    if identifier is None:
        return None
    return registry.get("regularizer", identifier, argument=argument)
