"""Layers that move values without arithmetic on them, with Keras' names and arguments:
``RepeatVector``, ``Permute``, ``ZeroPadding1D``/``2D``, ``Cropping1D``/``2D`` and
``UpSampling1D``/``2D`` (nearest neighbour). Channels last, as every layerwise array; each
backward is the exact transpose (a sum for repeats, a slice for padding, zeros for crops)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ShapeMismatchError
from ..registry import register
from .base import Layer, check_positive_int, unique_name
from .convolutional import check_data_format, check_sample_shape, keras_prefix, normalize_tuple

__all__ = [
    "RepeatVector",
    "Permute",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "Cropping1D",
    "Cropping2D",
    "UpSampling1D",
    "UpSampling2D",
]


def _keras_name(layer: Layer, name: str | None) -> str:
    return name or unique_name(keras_prefix(type(layer).__name__))


@register("repeat_vector")
class RepeatVector(Layer):
    """Repeat each sample ``n`` times along a new second axis: ``(batch, features)`` ->
    ``(batch, n, features)`` (Keras' ``RepeatVector``, e.g. to feed an encoding to every step
    of a decoder).

    Example::

        steps = RepeatVector(10)(Dense(32)(inputs))     # (n, 32) -> (n, 10, 32)
    """

    def __init__(self, n: int, name: str | None = None) -> None:
        self.n = check_positive_int(n, "n")
        super().__init__(_keras_name(self, name))

    def build(self, input_shape: Any) -> None:
        """Samples ``(features,)`` become ``(n, features)``."""
        shape = tuple(input_shape)
        if len(shape) != 1:
            raise ShapeMismatchError(
                f"RepeatVector {self.name!r} takes samples of shape (features,); received "
                f"{shape}. Flatten them first."
            )
        self.input_shape, self.output_shape = shape, (self.n, shape[0])

    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """Each sample repeated (a new array)."""
        self.output = self._infer(input_data)
        return self.output

    def _infer(self, input_data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.repeat(input_data[:, None, :], self.n, axis=1)

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The sum of the error over the repeats."""
        return output_error.sum(axis=1) if input_gradient else None

    def get_config(self) -> dict[str, Any]:
        """``{'n': ..., 'name': ...}``."""
        return {"n": self.n, "name": self.name}


@register("permute")
class Permute(Layer):
    """Reorder the axes of each sample (Keras' ``Permute``): ``dims`` is a permutation of
    ``1, ..., rank`` (the batch axis is 0 and stays), e.g. ``Permute((2, 1))`` swaps the two
    axes of ``(steps, features)`` samples."""

    def __init__(self, dims: tuple[int, ...], name: str | None = None) -> None:
        if not isinstance(dims, (tuple, list)) or not dims or sorted(dims) != list(
            range(1, len(dims) + 1)
        ) or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in dims):
            raise ValueError(
                "Argument 'dims' of Permute must be a permutation of 1, ..., rank (the sample "
                f"axes; 0 is the batch axis); received {dims!r:.60}."
            )
        self.dims = tuple(int(d) for d in dims)
        self._inverse = tuple(int(i) + 1 for i in np.argsort(self.dims))
        super().__init__(_keras_name(self, name))

    def build(self, input_shape: Any) -> None:
        """The sample axes reordered."""
        shape = tuple(input_shape)
        if len(shape) != len(self.dims):
            raise ShapeMismatchError(
                f"Permute {self.name!r} has dims {self.dims} for samples of {len(self.dims)} "
                f"axes; received samples of shape {shape}."
            )
        self.input_shape = shape
        self.output_shape = tuple(shape[d - 1] for d in self.dims)

    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """The permuted input (a C-contiguous copy, as the following layers expect)."""
        self.output = self._infer(input_data)
        return self.output

    def _infer(self, input_data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.ascontiguousarray(input_data.transpose(0, *self.dims))

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The error with the axes put back."""
        if not input_gradient:
            return None
        return np.ascontiguousarray(output_error.transpose(0, *self._inverse))

    def get_config(self) -> dict[str, Any]:
        """``{'dims': [...], 'name': ...}``."""
        return {"dims": list(self.dims), "name": self.name}


def _pairs(value: Any, rank: int, argument: str, allow_zero: bool = True) -> tuple:
    """Keras' padding/cropping forms: an int (every side), ``rank`` ints (both sides of each
    axis) or ``rank`` pairs ``(before, after)``; as ``rank`` pairs of non-negative ints."""
    def amount(v: Any) -> int:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(
                f"Argument '{argument}' must hold non-negative integers; received {value!r:.60}."
            )
        return int(v)

    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return ((amount(value),) * 2,) * rank
    if rank == 1 and isinstance(value, (tuple, list)) and len(value) == 2 and all(
        not isinstance(v, (tuple, list)) for v in value
    ):
        return ((amount(value[0]), amount(value[1])),)
    if isinstance(value, (tuple, list)) and len(value) == rank:
        pairs = []
        for item in value:
            if isinstance(item, (tuple, list)):
                if len(item) != 2:
                    raise ValueError(f"Argument '{argument}' must hold pairs (before, after); "
                                     f"received {value!r:.60}.")
                pairs.append((amount(item[0]), amount(item[1])))
            else:
                pairs.append((amount(item),) * 2)
        return tuple(pairs)
    raise ValueError(
        f"Argument '{argument}' must be an integer, {rank} integers or {rank} pairs (before, "
        f"after); received {value!r:.60}."
    )


class _Spatial(Layer):
    """A layer on channels-last samples of ``rank`` spatial axes."""

    rank = 2
    _what = {1: "(steps, channels)", 2: "(height, width, channels)"}

    def _check(self, input_shape: Any) -> tuple[int, ...]:
        shape = check_sample_shape(self, input_shape, self.rank, self._what[self.rank])
        self.input_shape = shape
        return shape

    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """See the class docstring."""
        self.output = self._infer(input_data)
        return self.output


class _ZeroPadding(_Spatial):
    def __init__(self, padding: Any, name: str | None, data_format: str | None) -> None:
        check_data_format(data_format)
        self.padding = _pairs(padding, self.rank, "padding")
        super().__init__(_keras_name(self, name))

    def build(self, input_shape: Any) -> None:
        """Each spatial axis longer by its two paddings."""
        shape = self._check(input_shape)
        self.output_shape = (*(s + a + b for s, (a, b) in zip(shape, self.padding)), shape[-1])

    def _infer(self, input_data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.pad(input_data, ((0, 0), *self.padding, (0, 0)))

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The error inside the padding."""
        if not input_gradient:
            return None
        inside = tuple(slice(a, a + s) for s, (a, _) in zip(self.input_shape, self.padding))
        return np.ascontiguousarray(output_error[(slice(None), *inside)])

    def get_config(self) -> dict[str, Any]:
        """``{'padding': [[before, after], ...], 'name': ...}``."""
        return {"padding": [list(pair) for pair in self.padding], "name": self.name}


@register("zero_padding1d")
class ZeroPadding1D(_ZeroPadding):
    """Zeros before and after the steps: ``padding`` an int (both ends) or ``(before, after)``
    (Keras' ``ZeroPadding1D``); ``(n, steps, c)`` -> ``(n, before + steps + after, c)``."""

    rank = 1

    def __init__(self, padding: Any = 1, name: str | None = None) -> None:
        super().__init__(padding, name, None)


@register("zero_padding2d")
class ZeroPadding2D(_ZeroPadding):
    """Rows and columns of zeros around each image (Keras' ``ZeroPadding2D``): ``padding`` an
    int, ``(rows, columns)`` on both sides, or ``((top, bottom), (left, right))``."""

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None,
                 name: str | None = None) -> None:
        super().__init__(padding, name, data_format)


class _Cropping(_Spatial):
    def __init__(self, cropping: Any, name: str | None, data_format: str | None) -> None:
        check_data_format(data_format)
        self.cropping = _pairs(cropping, self.rank, "cropping")
        super().__init__(_keras_name(self, name))

    def build(self, input_shape: Any) -> None:
        """Each spatial axis shorter by its two crops, which must leave something."""
        shape = self._check(input_shape)
        if any(a + b >= s for s, (a, b) in zip(shape, self.cropping)):
            raise ShapeMismatchError(
                f"{type(self).__name__} {self.name!r}: cropping {self.cropping} leaves nothing "
                f"of samples of shape {shape}."
            )
        self.output_shape = (*(s - a - b for s, (a, b) in zip(shape, self.cropping)), shape[-1])

    def _infer(self, input_data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        kept = tuple(slice(a, s - b) for s, (a, b) in zip(self.input_shape, self.cropping))
        return np.ascontiguousarray(input_data[(slice(None), *kept)])

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The error where the values were kept, zeros where they were cropped."""
        if not input_gradient:
            return None
        return np.pad(output_error, ((0, 0), *self.cropping, (0, 0)))

    def get_config(self) -> dict[str, Any]:
        """``{'cropping': [[before, after], ...], 'name': ...}``."""
        return {"cropping": [list(pair) for pair in self.cropping], "name": self.name}


@register("cropping1d")
class Cropping1D(_Cropping):
    """Drop steps at both ends: ``cropping`` an int or ``(before, after)`` (Keras'
    ``Cropping1D``)."""

    rank = 1

    def __init__(self, cropping: Any = (1, 1), name: str | None = None) -> None:
        super().__init__(cropping, name, None)


@register("cropping2d")
class Cropping2D(_Cropping):
    """Drop rows and columns at the borders (Keras' ``Cropping2D``): ``cropping`` an int,
    ``(rows, columns)`` on both sides, or ``((top, bottom), (left, right))``."""

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None,
                 name: str | None = None) -> None:
        super().__init__(cropping, name, data_format)


class _UpSampling(_Spatial):
    def build(self, input_shape: Any) -> None:
        """Each spatial axis ``size`` times longer."""
        shape = self._check(input_shape)
        self.output_shape = (*(s * k for s, k in zip(shape, self.size)), shape[-1])

    def _infer(self, input_data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        for axis, k in enumerate(self.size, start=1):
            if k > 1:
                input_data = np.repeat(input_data, k, axis=axis)
        return input_data if any(k > 1 for k in self.size) else input_data.copy()

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The sum of the error over each value's copies."""
        if not input_gradient:
            return None
        n, channels = len(output_error), output_error.shape[-1]
        blocks = [axis for s, k in zip(self.input_shape, self.size) for axis in (s, k)]
        summed = output_error.reshape(n, *blocks, channels)
        return summed.sum(axis=tuple(range(2, 2 + 2 * self.rank, 2)))


@register("up_sampling1d")
class UpSampling1D(_UpSampling):
    """Repeat each step ``size`` times (Keras' ``UpSampling1D``):
    ``(n, steps, c)`` -> ``(n, size * steps, c)``."""

    rank = 1

    def __init__(self, size: int = 2, name: str | None = None) -> None:
        self.size = (check_positive_int(size, "size"),)
        super().__init__(_keras_name(self, name))

    def get_config(self) -> dict[str, Any]:
        """``{'size': ..., 'name': ...}``."""
        return {"size": self.size[0], "name": self.name}


@register("up_sampling2d")
class UpSampling2D(_UpSampling):
    """Repeat each row and column (Keras' ``UpSampling2D`` with ``interpolation='nearest'``):
    ``size`` an int or ``(rows, columns)``; ``(n, h, w, c)`` -> ``(n, rows * h, columns * w,
    c)``. Bilinear interpolation is not offered (refused by name)."""

    def __init__(self, size: Any = (2, 2), data_format: str | None = None,
                 interpolation: str = "nearest", name: str | None = None) -> None:
        check_data_format(data_format)
        if interpolation != "nearest":
            raise ValueError(
                "Argument 'interpolation' of UpSampling2D must be 'nearest' (each value "
                f"repeated; bilinear is not offered); received {interpolation!r:.40}."
            )
        self.size = normalize_tuple(size, 2, "size")
        super().__init__(_keras_name(self, name))

    def get_config(self) -> dict[str, Any]:
        """``{'size': [rows, columns], 'name': ...}``."""
        return {"size": list(self.size), "name": self.name}
