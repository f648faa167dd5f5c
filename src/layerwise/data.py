"""Turning user data into arrays once per ``fit``, and cutting it into batches.

Everything here runs before the first weight changes: conversion to the model's dtype, shape
checks against the model, and the NaN/infinity check. The batch loop itself only gathers rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .exceptions import ShapeMismatchError

__all__ = [
    "as_numeric_array",
    "as_features",
    "check_finite",
    "ArrayBatches",
    "PairBatches",
    "batch_shape",
]

# Rows checked per chunk by check_finite, so the check never allocates a mask of the whole data.
_FINITE_CHUNK_ELEMENTS = 1 << 20


def batch_shape(shape: tuple[int, ...]) -> str:
    """``(n, 28, 28)``: a sample shape with the batch axis, for messages."""
    return "(" + ", ".join(["n", *map(str, shape)]) + ")"


def as_numeric_array(x: Any, argument: str) -> np.ndarray:
    """``x`` as a NumPy array of numbers, or a ``TypeError`` naming the argument."""
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(
            f"Argument '{argument}' must be an array of numbers (a NumPy array or nested lists); "
            f"received {x!r:.80} of type {type(x).__name__}."
        )
    try:
        array = np.asarray(x)
    except ValueError as error:  # ragged nested lists
        raise ValueError(
            f"Argument '{argument}' could not be read as an array (are its rows of different "
            f"lengths?): {error}"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Argument '{argument}' must hold numbers; received an array of dtype {array.dtype}."
        )
    return array


def check_finite(array: np.ndarray, argument: str, first_sample: int = 0) -> None:
    """Raise a ``ValueError`` naming the first sample that holds NaN or infinity; the rows of
    ``array`` are samples ``first_sample``, ``first_sample + 1``, ... of the argument."""
    if array.dtype.kind not in "fc" or array.size == 0:
        return
    if array.size <= 4096:  # small (one sample, a batch): one call, no context manager
        if np.isfinite(array).all():
            return
    else:
        # Large arrays in one read-only pass, 4x faster than isfinite: a finite sum means every
        # element is finite (NaN and infinity propagate through it). A sum that overflows falls
        # through to the exact search below, which also finds the sample to name.
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.add.reduce(array, axis=None)
        if np.isfinite(total):
            return
    rows = max(1, _FINITE_CHUNK_ELEMENTS // max(1, array[0].size))
    for start in range(0, len(array), rows):
        chunk = array[start : start + rows]
        finite = np.isfinite(chunk)
        if not finite.all():
            bad = first_sample + start + int(
                np.argmin(finite.reshape(len(chunk), -1).all(axis=1))
            )
            raise ValueError(
                f"Argument '{argument}' holds NaN or infinite values (first in sample {bad}); "
                "clean or impute the data before training."
            )


def as_features(
    x: Any,
    input_shape: tuple[int, ...],
    dtype: DTypeLike,
    argument: str = "x",
    check_values: bool = True,
) -> np.ndarray:
    """Samples ``(n, *input_shape)`` in ``dtype``, C-contiguous, checked for shape and NaN.

    A 1-D array is accepted for a model with a single input feature. With ``check_values``
    False, floating samples are not checked for NaN here: the caller checks them with
    :func:`check_finite` (predict does it pass by pass, where the rows are in cache).
    """
    array = as_numeric_array(x, argument)
    if array.ndim == 1 and input_shape == (1,):
        array = array.reshape(-1, 1)
    if array.shape[1:] != tuple(input_shape):
        hint = ""
        if array.shape == tuple(input_shape):
            hint = " (a single sample needs a batch axis: pass x[None])"
        raise ShapeMismatchError(
            f"Argument '{argument}' has shape {array.shape}, but the model expects samples of "
            f"shape {tuple(input_shape)}, i.e. an array of shape {batch_shape(input_shape)}{hint}."
        )
    if np.dtype(dtype).kind in "iu":  # an integer Input: ids stay integers, never rounded
        if array.dtype.kind == "f":
            check_finite(array, argument)
            if np.any(array != np.round(array)):
                raise ValueError(f"Argument '{argument}' feeds an integer input but holds "
                                 "numbers that are not whole.")
        elif array.dtype.kind not in "iub":
            raise TypeError(f"Argument '{argument}' feeds an integer input; received dtype "
                            f"{array.dtype}.")
        return np.ascontiguousarray(array, dtype=dtype)
    array = np.ascontiguousarray(array, dtype=dtype)
    if check_values:
        check_finite(array, argument)
    return array


class ArrayBatches:
    """Mini-batches of in-memory arrays, in a new random order each pass when ``shuffle``.

    ``xs`` and ``ys`` are lists of arrays with the same number of samples (one per model input
    and output); each batch is a pair of such lists. Shuffled batches are gathered with
    ``np.take(..., out=)`` into reusable buffers, so a pass allocates nothing per batch and never
    copies the whole data set. The last, partial batch is included. The yielded arrays are
    overwritten by the next batch.
    """

    def __init__(
        self,
        xs: list[np.ndarray],
        ys: list[np.ndarray],
        batch_size: int,
        shuffle: bool,
        rng: np.random.Generator,
    ):
        self.xs, self.ys = list(xs), list(ys)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.rng = rng
        self._buffers = None

    @property
    def samples(self) -> int:
        """How many samples a pass yields."""
        return len(self.xs[0])

    def __len__(self) -> int:
        return math.ceil(self.samples / self.batch_size)

    def subset(self, start: int, stop: int, batch_size: int, shuffle: bool) -> ArrayBatches:
        """Batches of the samples ``start:stop`` (views, no copy)."""
        return ArrayBatches(
            [x[start:stop] for x in self.xs], [y[start:stop] for y in self.ys], batch_size,
            shuffle, self.rng,
        )

    def __iter__(self) -> Iterator[tuple[list, list]]:
        n, size = self.samples, self.batch_size
        arrays = self.xs + self.ys
        split = len(self.xs)
        if not self.shuffle:
            for start in range(0, n, size):
                batch = [a[start : start + size] for a in arrays]
                yield batch[:split], batch[split:]
            return
        order = self.rng.permutation(n)
        if self._buffers is None:
            rows = min(size, n)
            self._buffers = [np.empty((rows, *a.shape[1:]), dtype=a.dtype) for a in arrays]
        # mode="clip": the indices are valid by construction, and the default mode="raise"
        # makes np.take gather into a temporary and copy it (ten times slower at batch 128).
        for start in range(0, n, size):
            index = order[start : start + size]
            m = len(index)
            batch = [
                np.take(a, index, axis=0, out=buffer[:m], mode="clip")
                for a, buffer in zip(arrays, self._buffers)
            ]
            yield batch[:split], batch[split:]


class PairBatches:
    """Batches from an iterable of ``(x_batch, y_batch)`` pairs, converted and checked one by one.

    A re-iterable (a list, or an object whose ``__iter__`` starts a new pass) is read afresh each
    epoch; a one-shot iterator (a generator) needs ``steps_per_epoch`` and is read on across epochs.
    """

    def __init__(
        self,
        source: Iterable,
        steps_per_epoch: int | None,
        convert: Any,
        argument: str,
        steps_argument: str = "steps_per_epoch",
    ) -> None:
        try:
            self.one_shot = iter(source) is source
        except TypeError:
            raise TypeError(
                f"Argument '{argument}' must be arrays or an iterable of (x_batch, y_batch) "
                f"pairs; received {type(source).__name__}."
            ) from None
        if self.one_shot and steps_per_epoch is None:
            raise ValueError(
                f"Argument '{argument}' is a generator (a one-shot iterator), so "
                f"'{steps_argument}' is required to know where a pass ends."
            )
        self.source = source
        self.steps = steps_per_epoch
        self.convert = convert
        self.argument = argument
        if not self.one_shot and steps_per_epoch is None:
            try:
                self.steps = len(source)
            except TypeError:
                self.steps = None

    def __len__(self) -> int:
        return self.steps or 0

    def __iter__(self):
        iterator = self.source if self.one_shot else iter(self.source)
        count = 0
        while self.steps is None or count < self.steps:
            try:
                pair = next(iterator)
            except StopIteration:
                if self.one_shot:
                    raise ValueError(
                        f"The generator given as '{self.argument}' ran out after {count} batches "
                        f"of an epoch of steps_per_epoch={self.steps}."
                    ) from None
                return
            if not (isinstance(pair, (tuple, list)) and len(pair) in (2, 3)):
                raise TypeError(
                    f"Each item of '{self.argument}' must be an (x_batch, y_batch) pair or an "
                    f"(x_batch, y_batch, sample_weight) triple; received {type(pair).__name__}."
                )
            count += 1
            yield self.convert(*pair)
