"""Embedding lookups: ids checked against the table, rows gathered, gradients scattered back."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_ids", "gather", "scatter_add"]


def as_ids(ids: Any, input_dim: int, layer_name: str) -> np.ndarray:
    """``ids`` as an integer array, or a ``ValueError`` naming the layer, the first bad id and
    ``input_dim`` (ids must lie in ``[0, input_dim)``; floats must hold whole numbers)."""
    ids = np.asarray(ids)
    if ids.dtype.kind == "f":
        if not np.all(np.isfinite(ids)) or np.any(ids != np.floor(ids)):
            bad = ids[~np.isfinite(ids) | (ids != np.floor(ids))].flat[0]
            raise ValueError(f"Layer {layer_name!r} (Embedding) takes integer ids; received "
                             f"{bad!r}.")
        ids = ids.astype(np.int64)
    elif ids.dtype.kind not in "iub":
        raise TypeError(f"Layer {layer_name!r} (Embedding) takes integer ids; received an array "
                        f"of dtype {ids.dtype}.")
    if ids.size:
        low, high = ids.min(), ids.max()
        if low < 0 or high >= input_dim:
            bad = low if low < 0 else high
            raise ValueError(
                f"Layer {layer_name!r} (Embedding) received id {int(bad)}, outside [0, "
                f"input_dim) = [0, {input_dim}); every id must be smaller than input_dim."
            )
    return ids


def gather(table: np.ndarray, ids: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``table[ids]`` of shape ``(*ids.shape, table.shape[1])``, written into ``out`` if given."""
    if out is None:
        return np.take(table, ids, axis=0)
    return np.take(table, ids, axis=0, out=out)


def scatter_add(grad_table: np.ndarray, ids: np.ndarray, rows: np.ndarray) -> None:
    """``grad_table[ids[k]] += rows[k]`` for every position (repeated ids add up): the
    embedding gradient, without a dense one-hot product. ``grad_table`` is zeroed first."""
    width = grad_table.shape[1]
    grad_table.fill(0.0)
    # ufunc.at on a flat array with flat indices is NumPy's fast path: 3x faster than on rows
    # (int32 indices when they fit: half the index traffic).
    index = np.int32 if grad_table.size < 2**31 else np.int64
    flat = np.multiply(ids.reshape(-1, 1), width, dtype=index)
    flat = np.add(flat, np.arange(width, dtype=index), out=np.empty((flat.shape[0], width), index))
    np.add.at(grad_table.reshape(-1), flat.reshape(-1), rows.reshape(-1))
