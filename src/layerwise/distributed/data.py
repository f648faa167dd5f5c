"""Each process's share of the data: arrays split by rank, generators taken as they are.

Arrays given to ``fit`` in full are cut into global batches of ``batch_size * N`` samples in one
shuffled order that every process draws alike (their shuffling generators were made equal by
the broadcast at the start of ``fit``); process ``r`` trains on the ``r``-th part of each global
batch. The global batches are exactly those that one process would train on with
``batch_size * N``, so N processes follow the single-process trajectory.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["ShardedBatches", "AgreedBatches", "rank_rows"]


def rank_rows(count: int, rank: int, size: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of ``count`` rows that ``rank`` of ``size`` takes: equal parts,
    the first ``count % size`` ranks one row more (a full batch splits into equal shares)."""
    base, extra = divmod(count, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


class ShardedBatches:
    """This process's part of every global batch of in-memory arrays.

    Args:
        batches: the :class:`~layerwise.data.ArrayBatches` of the whole data (its ``batch_size``
            is the per-process batch).
        strategy: the :class:`~layerwise.distributed.MPIStrategy`; its ``expected_count`` is set
            to the global batch's size before each batch is yielded.

    Yields ``(xs, ys)`` lists as ``ArrayBatches`` does; shuffled batches are gathered into
    reused buffers (overwritten by the next batch). A process whose part of the last, partial
    batch is empty gets arrays of 0 rows.
    """

    def __init__(self, batches: Any, strategy: Any) -> None:
        self.xs, self.ys, self.rng = batches.xs, batches.ys, batches.rng
        self.shuffle = batches.shuffle
        self.batch_size = batches.batch_size
        self.global_batch = batches.batch_size * strategy.size
        self.strategy = strategy
        self._buffers = None

    @property
    def samples(self) -> int:
        """How many samples (on every process together) a pass goes through."""
        return len(self.xs[0])

    def __len__(self) -> int:
        return math.ceil(self.samples / self.global_batch)

    def __iter__(self):
        n, size, strategy = self.samples, self.global_batch, self.strategy
        arrays, split = self.xs + self.ys, len(self.xs)
        order = self.rng.permutation(n) if self.shuffle else None
        if order is not None and self._buffers is None:
            rows = min(self.batch_size, n)
            self._buffers = [np.empty((rows, *a.shape[1:]), dtype=a.dtype) for a in arrays]
        try:
            for start in range(0, n, size):
                count = min(size, n - start)
                low, high = rank_rows(count, strategy.rank, strategy.size)
                low, high = start + low, start + high
                strategy.expected_count = count
                if order is None:
                    batch = [a[low:high] for a in arrays]
                else:
                    index = order[low:high]
                    m = len(index)
                    # mode="clip": valid indices by construction; "raise" gathers into a
                    # temporary.
                    batch = [
                        np.take(a, index, axis=0, out=buffer[:m], mode="clip")
                        for a, buffer in zip(arrays, self._buffers)
                    ]
                yield batch[:split], batch[split:]
        finally:  # train_on_batch after fit: the batch it is given is this process's share
            strategy.expected_count = None


class AgreedBatches:
    """Batches of a generator or list, taken as this process's share, with all processes
    agreeing before each step that it happens.

    Processes may hold different numbers of batches: the epoch lasts until every process has run
    out, and a process that has run out takes part in the remaining steps with no samples
    (``(None, None)``). An error while reading a batch on one process is raised on all of them.
    This costs one small allreduce per step, on top of the gradients'.
    """

    def __init__(self, batches: Any, strategy: Any) -> None:
        self.batches, self.strategy = batches, strategy

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        strategy, MPI = self.strategy, self.strategy.MPI
        iterator = iter(self.batches)
        flags = np.zeros(2, dtype=np.int64)  # processes with a batch, processes that failed
        while True:
            pair, error = None, None
            if iterator is not None:
                try:
                    pair = next(iterator)
                except StopIteration:
                    iterator = None
                except Exception as caught:  # noqa: BLE001 - raised on every process below
                    error = caught
            flags[0], flags[1] = pair is not None, error is not None
            strategy.comm.Allreduce(MPI.IN_PLACE, flags, op=MPI.SUM)
            if flags[1]:
                strategy.raise_together(error)
            if not flags[0]:
                return
            strategy.expected_count = None  # known only after the gradients' allreduce
            yield pair if pair is not None else (None, None)
