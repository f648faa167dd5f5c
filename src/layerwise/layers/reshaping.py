"""Shape layers: ``Flatten`` and ``Reshape``. Each sample's values keep their order (C order),
so these layers only relabel axes and never copy contiguous data."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..exceptions import ShapeMismatchError
from ..registry import register
from .base import Layer

__all__ = ["Flatten", "Reshape"]


class _Relabel(Layer):
    """A layer whose output is its input with other sample axes."""

    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """``input_data`` with samples of ``output_shape`` (a view when possible)."""
        self.output = input_data.reshape(len(input_data), *self.output_shape)
        return self.output

    def _infer(self, input_data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return input_data.reshape(len(input_data), *self.output_shape)

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The output error with samples of ``input_shape``."""
        if not input_gradient:
            return None
        return output_error.reshape(len(output_error), *self.input_shape)


@register("flatten")
class Flatten(_Relabel):
    """Flatten each sample to one axis: ``(n, 8, 8)`` -> ``(n, 64)``.

    Example::

        x = Flatten()(Input(shape=(8, 8)))
        outputs = Dense(10, activation='softmax')(x)
    """

    def build(self, input_shape: Any) -> None:
        """One output axis of the input sample's size."""
        self.input_shape = tuple(input_shape)
        self.output_shape = (math.prod(self.input_shape),)


@register("reshape")
class Reshape(_Relabel):
    """Give each sample the shape ``target_shape`` (no batch axis; one entry may be ``-1``,
    inferred from the size).

    Args:
        target_shape: tuple of positive integers, at most one ``-1``.
        name: optional layer name.

    Example::

        x = Reshape((4, 16))(Dense(64)(inputs))     # (n, 64) -> (n, 4, 16)
    """

    def __init__(self, target_shape: tuple[int, ...], name: str | None = None) -> None:
        super().__init__(name)
        if not isinstance(target_shape, (tuple, list)) or not target_shape:
            raise TypeError(
                "Argument 'target_shape' of Reshape must be a non-empty tuple of integers; "
                f"received {target_shape!r}."
            )
        for dim in target_shape:
            if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
                raise TypeError(
                    "Argument 'target_shape' of Reshape must hold integers; "
                    f"received {target_shape!r}."
                )
            if dim <= 0 and dim != -1:
                raise ValueError(
                    "Argument 'target_shape' of Reshape must hold positive integers and at "
                    f"most one -1; received {target_shape!r}."
                )
        if list(target_shape).count(-1) > 1:
            raise ValueError(
                f"Argument 'target_shape' of Reshape may hold one -1; received {target_shape!r}."
            )
        self.target_shape = tuple(int(d) for d in target_shape)

    def build(self, input_shape: Any) -> None:
        """The target shape, with its ``-1`` inferred; the sizes must agree."""
        self.input_shape = tuple(input_shape)
        size = math.prod(self.input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ShapeMismatchError(
                    f"Reshape {self.name!r} cannot give samples of {self.input_shape} ({size} "
                    f"values) the shape {self.target_shape}: {size} is not a multiple of {known}."
                )
            shape = tuple(size // known if d == -1 else d for d in self.target_shape)
        else:
            shape = self.target_shape
            if known != size:
                raise ShapeMismatchError(
                    f"Reshape {self.name!r} cannot give samples of {self.input_shape} ({size} "
                    f"values) the shape {shape} ({known} values)."
                )
        self.output_shape = shape

    def get_config(self) -> dict[str, Any]:
        """``{'target_shape': [...], 'name': ...}``."""
        return {"target_shape": list(self.target_shape), "name": self.name}
