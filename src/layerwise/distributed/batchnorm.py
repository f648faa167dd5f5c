"""Batch normalization over the global batch (``MPIStrategy(sync_batch_norm=True)``).

Each batch-norm layer then reduces, per training step, the sums it needs over every process:
in forward the column sums and row count (for the mean), then the squared deviations from that
mean (two passes, as one process computes them, so the result matches it to rounding); in
backward the sums of the error and of the error times the normalized input. A process without
samples in a step still takes part, with a batch of no rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CrossProcessMoments", "attach"]


class CrossProcessMoments:
    """The reductions a :class:`~layerwise.layers.BatchNormalization` makes across processes.

    Args:
        strategy: the :class:`~layerwise.distributed.MPIStrategy` whose processes share batches.
    """

    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy

    def moments(self, x: np.ndarray, out: np.ndarray) -> tuple:
        """Global mean, ``x - mean`` (into ``out``), biased variance and row count of the rows
        ``x`` (rows, features) of every process."""
        features = x.shape[1]
        sums = np.empty(features + 1, dtype=np.float64)
        np.sum(x, axis=0, dtype=np.float64, out=sums[:features])
        sums[features] = len(x)
        self.strategy.allreduce(sums)
        rows = sums[features]
        mean = (sums[:features] / rows).astype(x.dtype)
        centered = np.subtract(x, mean, out=out)
        squares = np.einsum("ij,ij->j", centered, centered, dtype=np.float64)
        self.strategy.allreduce(squares)
        return mean, centered, (squares / rows).astype(x.dtype), rows

    def sums(self, sum_error: np.ndarray, sum_error_normalized: np.ndarray) -> tuple:
        """The two per-feature sums of batch norm's backward, over every process."""
        features = len(sum_error)
        both = np.concatenate([sum_error, sum_error_normalized]).astype(np.float64)
        self.strategy.allreduce(both)
        dtype = sum_error.dtype
        return both[:features].astype(dtype), both[features:].astype(dtype)


def attach(model: Any, strategy: Any) -> list:
    """Give every batch-norm layer of ``model`` the cross-process reductions (or take them away
    when ``strategy`` does not synchronize); returns the layers synchronized."""
    moments = CrossProcessMoments(strategy) if strategy.sync_batch_norm else None
    layers = [layer for layer in model.layers if hasattr(type(layer), "cross_process")]
    for layer in layers:
        layer.cross_process = moments
    return layers if moments is not None else []
