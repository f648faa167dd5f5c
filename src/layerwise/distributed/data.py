"""Each process's share of the data: arrays split by rank, generators taken as they are.

Arrays given to ``fit`` in full are cut into global batches of ``batch_size * N`` samples in one
shuffled order that every process draws alike (their shuffling generators were made equal by
the broadcast at the start of ``fit``); process ``r`` trains on the ``r``-th part of each global
batch. The global batches are exactly those that one process would train on with
``batch_size * N``, so N processes follow the single-process trajectory.
"""

from __future__ import annotations

import math

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

    Shuffled batches are gathered into two reused buffers (overwritten by the next batch), as
    in ``ArrayBatches``; a process whose part of the last, partial batch is empty gets 0 rows.
    """

    def __init__(self, batches, strategy) -> None:
        self.x, self.y, self.rng = batches.x, batches.y, batches.rng
        self.shuffle = batches.shuffle
        self.batch_size = batches.batch_size
        self.global_batch = batches.batch_size * strategy.size
        self.strategy = strategy
        self._x_buffer = self._y_buffer = None

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.global_batch)

    def __iter__(self):
        n, size, strategy = len(self.x), self.global_batch, self.strategy
        order = self.rng.permutation(n) if self.shuffle else None
        if order is not None and self._x_buffer is None:
            rows = min(self.batch_size, n)
            self._x_buffer = np.empty((rows, *self.x.shape[1:]), dtype=self.x.dtype)
            self._y_buffer = np.empty((rows, *self.y.shape[1:]), dtype=self.y.dtype)
        for start in range(0, n, size):
            count = min(size, n - start)
            low, high = rank_rows(count, strategy.rank, strategy.size)
            low, high = start + low, start + high
            strategy.expected_count = count
            if order is None:
                yield self.x[low:high], self.y[low:high]
                continue
            index = order[low:high]
            m = len(index)
            # mode="clip": valid indices by construction; "raise" would gather into a temporary.
            xb = np.take(self.x, index, axis=0, out=self._x_buffer[:m], mode="clip")
            yb = np.take(self.y, index, axis=0, out=self._y_buffer[:m], mode="clip")
            yield xb, yb


class AgreedBatches:
    """Batches of a generator or list, taken as this process's share, with all processes
    agreeing before each step that it happens.

    Processes may hold different numbers of batches: the epoch lasts until every process has run
    out, and a process that has run out takes part in the remaining steps with no samples
    (``(None, None)``). An error while reading a batch on one process is raised on all of them.
    This costs one small allreduce per step, on top of the gradients'.
    """

    def __init__(self, batches, strategy) -> None:
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
