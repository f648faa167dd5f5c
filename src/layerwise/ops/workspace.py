"""Reusable temporaries: arrays kept between batches, grown to the largest batch seen."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["Workspace", "aligned_empty"]

ALIGNMENT = 64  # bytes: a cache line, and what AVX-512 loads like


def aligned_empty(shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
    """``np.empty(shape, dtype)`` whose first element starts on a 64-byte boundary (NumPy
    only promises 16): BLAS runs its products markedly faster on aligned rows."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(size * dtype.itemsize + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + size * dtype.itemsize].view(dtype).reshape(shape)


class Workspace:
    """Arrays by key, reused from one call to the next so that a training loop allocates its
    temporaries once. An array is kept at the largest leading size (batch) asked for and sliced
    for smaller ones; a slice of leading rows of a C-contiguous array stays contiguous.

    Example:
        >>> ws = Workspace()
        >>> a = ws.get("cols", (128, 9), np.float32)
        >>> b = ws.get("cols", (64, 9), np.float32)   # the same memory, first 64 rows
        >>> bool(np.shares_memory(a, b))
        True
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        # What the arrays currently hold, for callers that keep results between two calls
        # (e.g. max pooling's choices for its backward pass): key -> a description.
        self.holds: dict[str, object] = {}

    # Temporaries are not state: a copy starts empty. (``holds`` may keep views of the arrays,
    # which a deep copy would copy apart from the arrays they view.)
    def __deepcopy__(self, memo) -> Workspace:
        return Workspace()

    def __getstate__(self) -> dict:
        return {"_arrays": {}, "holds": {}}

    def get(
        self,
        key: str,
        shape: tuple[int, ...],
        dtype: DTypeLike,
        zeros: bool = False,
        prepare: Any = None,
    ) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` for ``key``; contents left from the last call.

        Args:
            key: the temporary's name, unique per caller.
            shape: the shape wanted; only the first axis may vary between calls.
            dtype: the dtype wanted.
            zeros: allocate new arrays zero-filled (for buffers whose untouched parts, such as
                padding borders, must stay zero: callers only ever write the rest).
            prepare: called with a newly allocated array, to set such constant parts.
        """
        dtype = np.dtype(dtype)
        array = self._arrays.get(key)
        if (
            array is None
            or array.dtype != dtype
            or array.shape[1:] != tuple(shape[1:])
            or array.shape[0] < shape[0]
        ):
            array = aligned_empty(shape, dtype)
            if zeros:
                array[...] = 0
            if prepare is not None:
                prepare(array)
            self._arrays[key] = array
        return array[: shape[0]]

    def has(self, key: str) -> bool:
        """Whether ``key`` holds an array."""
        return key in self._arrays

    def clear(self) -> None:
        """Forget every array (their memory is freed once nothing else refers to it)."""
        self._arrays.clear()
        self.holds.clear()

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return sum(a.nbytes for a in self._arrays.values())
