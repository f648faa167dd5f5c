"""Merge layers: combine the outputs of several layers, called on a list as in Keras.

``Add()([a, b])``, ``Subtract()([a, b])``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``
need inputs of one shape; ``Concatenate(axis=-1)`` needs shapes that agree on every other axis.
Shapes are checked when the layer is called, and the error names the layers that disagree.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ShapeMismatchError
from ..registry import register
from .base import Layer

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"]


class _Merge(Layer):
    """Shared wiring and shape checks of the element-wise merge layers."""

    multiple_inputs = True
    _transient = ("inputs",)
    min_inputs = 2
    max_inputs: int | None = None

    def __call__(self, previous_layer: Layer | list[Layer]) -> Layer:
        """Attach after a list of layers; their output shapes are checked first."""
        parents = self._check_parents(previous_layer)
        count = len(parents)
        if count < self.min_inputs or (self.max_inputs is not None and count > self.max_inputs):
            exactly = self.max_inputs == self.min_inputs
            expected = (
                f"exactly {self.min_inputs}" if exactly else f"at least {self.min_inputs}"
            )
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} takes {expected} input layers; "
                f"received {count}."
            )
        if len({id(p) for p in parents}) != count:
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} received the same layer twice "
                f"({[p.name for p in parents]}); pass each input once."
            )
        self._check_shapes(parents)
        self.build([tuple(p.output_shape) for p in parents])
        self.inbound = parents
        return self

    def _check_shapes(self, parents) -> None:
        first = parents[0]
        for other in parents[1:]:
            if tuple(other.output_shape) != tuple(first.output_shape):
                raise ShapeMismatchError(
                    f"{type(self).__name__} layer {self.name!r} needs inputs of one shape, but "
                    f"{first.name!r} outputs {tuple(first.output_shape)} and {other.name!r} "
                    f"outputs {tuple(other.output_shape)}."
                )

    def build(self, input_shape: Any) -> None:
        """Inputs and output share one shape."""
        self.input_shape = [tuple(s) for s in input_shape]
        self.output_shape = tuple(input_shape[0])

    def get_config(self) -> dict[str, Any]:
        """``{'name': ...}``."""
        return {"name": self.name}


@register("add")
class Add(_Merge):
    """The element-wise sum of its inputs. Example: ``y = Add()([x, Dense(8)(x)])`` (residual)."""

    def forward(self, inputs: Any) -> np.ndarray:
        """``inputs[0] + inputs[1] + ...`` (a new array; the inputs are not changed)."""
        out = np.add(inputs[0], inputs[1], out=self._buffer("y", inputs[0].shape))
        for x in inputs[2:]:
            out += x
        self.output = out
        return out

    def _infer(self, inputs: Any, out: np.ndarray | None = None) -> np.ndarray:
        out = np.add(inputs[0], inputs[1], out=out)
        for x in inputs[2:]:
            out += x
        return out

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """Every input receives the output error (the graph copies it for all but one)."""
        if not input_gradient:
            return None
        return [output_error] * len(self.input_shape)


@register("subtract")
class Subtract(_Merge):
    """``inputs[0] - inputs[1]``, for exactly two inputs."""

    max_inputs = 2

    def forward(self, inputs: Any) -> np.ndarray:
        """The first input minus the second."""
        self.output = np.subtract(inputs[0], inputs[1], out=self._buffer("y", inputs[0].shape))
        return self.output

    def _infer(self, inputs: Any, out: np.ndarray | None = None) -> np.ndarray:
        return np.subtract(inputs[0], inputs[1], out=out)

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """``[g, -g]``."""
        if not input_gradient:
            return None
        return [output_error, np.negative(output_error)]


@register("multiply")
class Multiply(_Merge):
    """The element-wise product of its inputs."""

    def forward(self, inputs: Any) -> np.ndarray:
        """``inputs[0] * inputs[1] * ...``."""
        self.inputs = list(inputs)
        out = np.multiply(inputs[0], inputs[1], out=self._buffer("y", inputs[0].shape))
        for x in inputs[2:]:
            out *= x
        self.output = out
        return out

    def _infer(self, inputs: Any, out: np.ndarray | None = None) -> np.ndarray:
        out = np.multiply(inputs[0], inputs[1], out=out)
        for x in inputs[2:]:
            out *= x
        return out

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """Input ``i`` receives ``g`` times the product of the other inputs."""
        if not input_gradient:
            return None
        gradients = []
        for i in range(len(self.inputs)):
            gradient = output_error.copy()
            for j, x in enumerate(self.inputs):
                if j != i:
                    gradient *= x
            gradients.append(gradient)
        return gradients


@register("average")
class Average(_Merge):
    """The element-wise mean of its inputs."""

    def forward(self, inputs: Any) -> np.ndarray:
        """``(inputs[0] + ... + inputs[k-1]) / k``."""
        out = np.add(inputs[0], inputs[1], out=self._buffer("y", inputs[0].shape))
        for x in inputs[2:]:
            out += x
        out *= 1.0 / len(inputs)
        self.output = out
        return out

    def _infer(self, inputs: Any, out: np.ndarray | None = None) -> np.ndarray:
        out = np.add(inputs[0], inputs[1], out=out)
        for x in inputs[2:]:
            out += x
        out *= 1.0 / len(inputs)
        return out

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """Every input receives ``g / k``."""
        if not input_gradient:
            return None
        output_error *= 1.0 / len(self.input_shape)
        return [output_error] * len(self.input_shape)


class _Extremum(_Merge):
    """Maximum or minimum; the gradient of each element goes to the first input that holds the
    extreme value (as TensorFlow's pairwise ``maximum``/``minimum`` gradients, which Keras
    chains from the first input to the last)."""

    _pick = staticmethod(np.maximum)
    _better = staticmethod(np.greater)

    def forward(self, inputs: Any) -> np.ndarray:
        """The element-wise extreme of the inputs (which input held it is found in backward,
        from the inputs kept: inference does not pay for it)."""
        self.inputs = list(inputs)
        out = self._pick(inputs[0], inputs[1])
        for x in inputs[2:]:
            self._pick(out, x, out=out)
        self.output = out
        return out

    def _winner(self) -> np.ndarray:
        """For each element, the index of the first input that holds the extreme."""
        best = np.array(self.inputs[0], copy=True)
        winner = np.zeros(best.shape, dtype=np.intp)
        for i, x in enumerate(self.inputs[1:], start=1):
            winner[self._better(x, best)] = i
            self._pick(best, x, out=best)
        return winner

    def _infer(self, inputs: Any, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.array(inputs[0], copy=True)
        else:
            np.copyto(out, inputs[0])
        for x in inputs[1:]:
            self._pick(out, x, out=out)
        return out

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The output error of each element to the input that held the extreme."""
        if not input_gradient:
            return None
        winner = self._winner()
        return [np.where(winner == i, output_error, 0) for i in range(len(self.input_shape))]


@register("maximum")
class Maximum(_Extremum):
    """The element-wise maximum of its inputs (ties: the first input gets the gradient)."""


@register("minimum")
class Minimum(_Extremum):
    """The element-wise minimum of its inputs (ties: the first input gets the gradient)."""

    _pick = staticmethod(np.minimum)
    _better = staticmethod(np.less)


@register("concatenate")
class Concatenate(_Merge):
    """Join the inputs along ``axis`` (an axis of the batch array, default the last).

    Args:
        axis: the axis to join on; ``-1`` (default) or a positive axis ``>= 1`` (axis 0 is the
            batch).
        name: optional layer name.

    Example::

        merged = Concatenate()([Dense(8)(text), Dense(4)(tabular)])   # (n, 12)
    """

    def __init__(self, axis: int = -1, name: str | None = None) -> None:
        super().__init__(name)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"Argument 'axis' of Concatenate must be an int; received {axis!r}.")
        if axis == 0:
            raise ValueError(
                "Argument 'axis' of Concatenate must not be 0, the batch axis; received 0."
            )
        self.axis = int(axis)

    def _sample_axis(self, rank: int) -> int:
        """The axis within one sample (no batch axis), or a ValueError."""
        axis = self.axis - 1 if self.axis > 0 else self.axis + rank
        if not 0 <= axis < rank:
            raise ValueError(
                f"Argument 'axis' of Concatenate {self.name!r} is {self.axis}, outside inputs "
                f"with {rank} sample axes (batch arrays of {rank + 1} axes)."
            )
        return axis

    def _check_shapes(self, parents) -> None:
        first = parents[0]
        rank = len(first.output_shape)
        axis = self._sample_axis(rank)
        for other in parents[1:]:
            a, b = tuple(first.output_shape), tuple(other.output_shape)
            if len(b) != rank or a[:axis] + a[axis + 1 :] != b[:axis] + b[axis + 1 :]:
                raise ShapeMismatchError(
                    f"Concatenate layer {self.name!r} joins on axis {self.axis}, so its inputs "
                    f"must agree on every other axis, but {first.name!r} outputs {a} and "
                    f"{other.name!r} outputs {b}."
                )

    def build(self, input_shape: Any) -> None:
        """The output's join axis is the sum of the inputs'."""
        shapes = [tuple(s) for s in input_shape]
        axis = self._sample_axis(len(shapes[0]))
        self.input_shape = shapes
        self._axis = axis + 1
        self._sizes = [s[axis] for s in shapes]
        out = list(shapes[0])
        out[axis] = sum(self._sizes)
        self.output_shape = tuple(out)

    def forward(self, inputs: Any) -> np.ndarray:
        """The inputs joined along the axis (a new array)."""
        n = len(inputs[0])
        out = self._buffer("y", (n, *self.output_shape))
        self.output = np.concatenate(inputs, axis=self._axis, out=out)
        return self.output

    def _infer(self, inputs: Any, out: np.ndarray | None = None) -> np.ndarray:
        return np.concatenate(inputs, axis=self._axis, out=out)

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The output error cut back into the inputs' parts (views of one array)."""
        if not input_gradient:
            return None
        bounds = np.cumsum(self._sizes)[:-1]
        return np.split(output_error, bounds, axis=self._axis)

    def get_config(self) -> dict[str, Any]:
        """``{'axis': ..., 'name': ...}``."""
        return {"axis": self.axis, "name": self.name}
