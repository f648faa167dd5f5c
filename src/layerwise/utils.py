"""Keras' everyday data helpers, with Keras' names, defaults and results: ``to_categorical``
(class indices to one-hot rows) and ``pad_sequences`` (lists of token ids to one array, for
``Embedding(mask_zero=True)`` and the recurrent layers).

Example:
    >>> from layerwise.utils import pad_sequences, to_categorical
    >>> pad_sequences([[1, 2, 3], [4, 5], [6]])
    array([[1, 2, 3],
           [0, 4, 5],
           [0, 0, 6]], dtype=int32)
    >>> to_categorical([0, 2])
    array([[1., 0., 0.],
           [0., 0., 1.]])
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["pad_sequences", "to_categorical"]


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot rows (float64) for the class indices ``x``, as Keras' ``to_categorical``: shape
    ``x.shape + (num_classes,)``, a trailing axis of size 1 dropped first (labels ``(n, 1)``
    give ``(n, num_classes)``); ``num_classes`` defaults (None or 0, as Keras) to the largest
    index plus one. Booleans are 0 and 1, and strings of digits are read as numbers, as Keras
    reads them; unlike Keras, fractions and negative indices are refused rather than cut or
    wrapped round.

    Raises:
        ValueError: indices that are not whole numbers, negative, or not below
            ``num_classes``; a ``num_classes`` that is not a non-negative integer.
    """
    array = np.asarray(x)
    if array.dtype.kind in "US":
        try:
            array = array.astype(np.int64)
        except ValueError:
            raise ValueError(
                "Argument 'x' holds strings that are not whole numbers (class indices)."
            ) from None
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"Argument 'x' must hold class indices (integers); received dtype {array.dtype}."
        )
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError("Argument 'x' must hold whole numbers (class indices); it holds "
                             "fractions, NaN or infinity.")
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral)
        or num_classes < 0
    ):
        raise ValueError(
            f"Argument 'num_classes' must be a positive integer (or None or 0: the largest "
            f"index plus one); received {num_classes!r:.60}."
        )
    shape = array.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    indices = array.reshape(-1).astype(np.int64)
    if indices.size and indices.min() < 0:
        raise ValueError(f"Argument 'x' holds the negative index {int(indices.min())}.")
    classes = int(num_classes) if num_classes else int(indices.max(initial=-1)) + 1
    if indices.size and indices.max() >= classes:
        raise ValueError(
            f"Argument 'x' holds the index {int(indices.max())}, but num_classes={classes}: "
            f"indices must be below it."
        )
    categorical = np.zeros((indices.size, classes))
    categorical[np.arange(indices.size), indices] = 1.0
    return categorical.reshape(*shape, classes)


def pad_sequences(
    sequences: Any,
    maxlen: int | None = None,
    dtype: DTypeLike = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Sequences of different lengths as one array ``(n, maxlen, *item_shape)``, as Keras'
    ``pad_sequences``: shorter ones padded with ``value`` and longer ones cut, both at the start
    by default (``'pre'``: the last steps are kept, next to the output of a recurrent layer), or
    at the end with ``'post'``. ``maxlen`` defaults to the longest sequence; items may be numbers
    or arrays of one shape (taken from the first non-empty sequence).

    Raises:
        ValueError: ``sequences`` that is not a list of sequences, items of another shape, an
            unknown ``padding``/``truncating``, a ``maxlen`` that is not a positive integer.
    """
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError(
            "Argument 'sequences' must be a list of sequences (lists or arrays of ids); "
            f"received {type(sequences).__name__}."
        )
    for name, mode in (("padding", padding), ("truncating", truncating)):
        if mode not in ("pre", "post"):
            raise ValueError(f"Argument '{name}' must be 'pre' or 'post'; received {mode!r:.40}.")
    if maxlen is not None and (
        isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral) or maxlen < 1
    ):
        raise ValueError(f"Argument 'maxlen' must be a positive integer; received {maxlen!r:.40}.")
    lengths, item_shape = [], None
    for index, sequence in enumerate(sequences):
        if isinstance(sequence, (str, bytes)) or not hasattr(sequence, "__len__"):
            raise ValueError(
                f"Argument 'sequences': item {index} is not a sequence; received "
                f"{sequence!r:.60}."
            )
        lengths.append(len(sequence))
        if item_shape is None and len(sequence):
            item_shape = np.asarray(sequence).shape[1:]
    item_shape = item_shape or ()
    length = int(maxlen) if maxlen is not None else max(lengths, default=0)
    dtype = np.dtype(dtype)
    if isinstance(value, str) and dtype.kind not in "USO":
        raise ValueError(
            f"Argument 'value' is the string {value!r:.40}, but dtype is {dtype}; give a "
            "string dtype (or object) to pad with strings."
        )
    out = np.full((len(lengths), length, *item_shape), value, dtype=dtype)
    for index, sequence in enumerate(sequences):
        if not len(sequence) or not length:
            continue
        kept = sequence[-length:] if truncating == "pre" else sequence[:length]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != item_shape:
            raise ValueError(
                f"Argument 'sequences': item {index} holds elements of shape {kept.shape[1:]}, "
                f"but the first non-empty item's are {item_shape}."
            )
        if padding == "post":
            out[index, : len(kept)] = kept
        else:
            out[index, length - len(kept) :] = kept
    return out
