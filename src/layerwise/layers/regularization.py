"""``Dropout``: inverted dropout, active only while training."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..registry import register
from ..seeding import make_rng
from .base import Layer

__all__ = ["Dropout"]


@register("dropout")
class Dropout(Layer):
    """Zero each input with probability ``rate`` while training and scale the rest by
    ``1 / (1 - rate)``, so the expected output equals the input; the identity in ``predict``.

    Args:
        rate: fraction of inputs to drop, in [0, 1).
        seed: seed of the masks (default: from :func:`layerwise.set_seed`).
        name: optional layer name.

    Shapes: output has the input's shape ``(n, ...)``.

    Example::

        hidden = Dropout(0.5)(Dense(128, activation='relu')(inputs))
    """

    def __init__(self, rate: float, seed: int | None = None, name: str | None = None) -> None:
        super().__init__(name)
        if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.number)):
            raise TypeError(
                f"Argument 'rate' of Dropout must be a number in [0, 1); received {rate!r} "
                f"of type {type(rate).__name__}."
            )
        if not (math.isfinite(rate) and 0 <= rate < 1):
            raise ValueError(f"Argument 'rate' of Dropout must be in [0, 1); received {rate!r}.")
        self.rate = float(rate)
        self.seed = seed
        self.rng = make_rng(seed)
        self.mask = None

    supports_masking = True
    _transient = ("mask",)

    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """``input_data`` times a fresh mask of 0 and ``1 / (1 - rate)`` while training;
        ``input_data`` itself otherwise."""
        self.input = input_data
        if not self.training or self.rate == 0:
            self.mask = None
            self.output = input_data
            return input_data
        # The mask lives in a reused buffer: uniform draws, then 0 or 1/(1-rate) in place.
        mask = self._buffer("mask", input_data.shape)
        self.rng.random(out=mask, dtype=mask.dtype)
        np.greater_equal(mask, self.rate, out=mask, casting="unsafe")
        mask *= 1.0 / (1.0 - self.rate)
        self.mask = mask
        self.output = np.multiply(input_data, mask, out=self._buffer("y", input_data.shape))
        return self.output

    def _infer(self, input_data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return input_data

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """See :meth:`Layer._backward`: the error times the forward pass's mask."""
        if not input_gradient:
            return None
        if self.mask is None:
            return output_error
        output_error *= self.mask
        return output_error

    def random_generators(self) -> list[np.random.Generator]:
        """The mask generator, saved by training checkpoints."""
        return [self.rng]

    def get_config(self) -> dict[str, Any]:
        """``{'rate': ..., 'seed': ..., 'name': ...}``."""
        return {"rate": self.rate, "seed": self.seed, "name": self.name}
