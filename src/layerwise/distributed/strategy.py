"""``MPIStrategy``: the processes of an MPI job, and the collective calls that ``fit`` makes.

The training loop calls a handful of methods (see :mod:`layerwise.training`): :meth:`split`
the data, :meth:`setup` (broadcast from rank 0), the step of :mod:`.step` (one allreduce over
the packed gradients), :meth:`average_state` and :meth:`any` at the end of each epoch, and
:meth:`on_error` when something raised. Everything else in this file is how an error on one
process becomes an error on all of them, so that no process is left waiting in a collective.
"""

from __future__ import annotations

import os
import sys
import time
import weakref
from typing import Any

import numpy as np

from ..checkpoints import read_checkpoint
from ..exceptions import DistributedError, TrainingDivergedError
from ..metrics import Metric
from ..snapshot import Snapshot
from .batchnorm import attach
from .broadcast import broadcast_model
from .data import AgreedBatches, ShardedBatches, rank_rows
from .step import reduce_metrics as _reduce_metrics
from .step import train_step as _train_step

__all__ = ["MPIStrategy", "check_distribute"]

# A pause between printing an error and aborting, for the launcher to forward what was printed
# before it tears the job down.
_FORWARD_SECONDS = 0.5

# Set by launchers (MPICH/Hydra, Open MPI/PRRTE, Slurm): a process started by mpiexec.
_LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "SLURM_PROCID")


def _import_mpi():
    """``mpi4py.MPI``, or None for a single process started without mpiexec and without mpi4py."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        if any(name in os.environ for name in _LAUNCHER_VARIABLES):
            raise ImportError(
                "This process was started by mpiexec, but mpi4py is not installed: "
                'pip install "layerwise[mpi]" (or mpi4py alone, to use the system\'s MPI).'
            ) from error
        return None
    return MPI


class MPIStrategy:
    """Synchronous data-parallel training over the processes of an MPI communicator.

    Give it to ``compile(..., distribute=strategy)``; then, on every process of
    ``mpiexec -n N python train.py``:

    - ``fit`` starts from rank 0's weights, optimizer state and shuffling generator;
    - arrays given in full are split by rank from one shared shuffled order per epoch: each
      process trains on ``batch_size`` samples per step, the global batch is ``batch_size * N``;
      a generator (or list of batches) is taken as already this process's share;
    - every step averages the gradients over all samples of the global batch with one allreduce
      of the packed gradient array, before regularization and the optimizer;
    - losses, metrics, validation and ``evaluate`` are reduced over all processes; layer state
      (batch-norm moving averages) is averaged at the end of each epoch;
    - only rank 0 prints progress and writes files (``save``, ``ModelCheckpoint``);
    - a callback that stops training on any process stops all of them after that epoch;
    - an error on one process is raised on all of them (:class:`DistributedError` on the
      others) or, where they cannot agree, aborts the job with that error printed.

    ``fit``, ``evaluate`` and ``train_on_batch`` are then collective: every process calls them,
    in the same order (``predict`` is not: it runs on what each process gives it). With one
    process (no ``mpiexec``) nothing changes, so the same script runs unchanged.

    Args:
        comm: an ``mpi4py`` communicator (default ``MPI.COMM_WORLD``).
        sync_batch_norm: compute batch-norm statistics over the global batch (three small
            allreduces per batch-norm layer and step: two in forward, one in backward) instead
            of per process (the default, as Horovod does).

    Attributes:
        rank: this process's index, from 0.
        size: the number of processes.

    Example::

        strategy = MPIStrategy()
        model.compile(loss_fn='mse', optimizer='adam', distribute=strategy)
        model.fit(x, y, batch_size=32)      # global batch 32 * strategy.size
    """

    # Appended to the packed gradients and reduced with them: samples, loss sum, failed flag
    # (and, for several outputs, each output's loss sum).
    TAIL = 3

    def __init__(self, comm: Any = None, *, sync_batch_norm: bool = False) -> None:
        if not isinstance(sync_batch_norm, (bool, np.bool_)):
            raise TypeError(
                f"Argument 'sync_batch_norm' must be True or False; received {sync_batch_norm!r}."
            )
        self.MPI = _import_mpi()
        if self.MPI is None:
            if comm is not None:
                raise ImportError('Argument \'comm\' needs mpi4py: pip install "layerwise[mpi]".')
            self.comm, self.rank, self.size = None, 0, 1
        else:
            comm = self.MPI.COMM_WORLD if comm is None else comm
            if not isinstance(comm, self.MPI.Comm):
                raise TypeError(
                    f"Argument 'comm' must be an mpi4py communicator; received {comm!r:.80}."
                )
            self.comm, self.rank, self.size = comm, comm.Get_rank(), comm.Get_size()
        self.sync_batch_norm = bool(sync_batch_norm)
        self.expected_count = None  # samples of the current global batch, when known ahead
        self.last_count = 0  # samples of the last global batch, after its allreduce
        self._agreed: set[int] = set()  # ids of errors that every process raises together
        self.synchronized_layers: list = []  # batch-norm layers reducing over processes
        self._set_up = weakref.WeakSet()  # models that took rank 0's state (setup)
        self._same_everywhere = True
        if self.size > 1:
            _install_excepthook(self)

    @property
    def is_chief(self) -> bool:
        """True on rank 0, the process that prints and writes files."""
        return self.rank == 0

    def __repr__(self) -> str:
        return f"MPIStrategy(rank={self.rank}, size={self.size})"

    # ------------------------------------------------------------ collectives
    def allreduce(self, array: np.ndarray) -> np.ndarray:
        """Sum ``array`` (contiguous) over all processes, in place; returns it."""
        self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM)
        return array

    def any(self, flag: Any) -> bool:
        """True on every process if ``flag`` is true on any (e.g. ``stop_training``)."""
        return bool(self.comm.allreduce(bool(flag), op=self.MPI.LOR))

    def agree(self, error: BaseException | None) -> None:
        """Every process calls this; if ``error`` is set on any of them, all raise: the failing
        process its own error, the others a :class:`DistributedError` naming it."""
        if not self.comm.allreduce(error is not None, op=self.MPI.LOR):
            return
        self.raise_together(error)

    def raise_together(self, error: BaseException | None) -> None:
        """Called by every process once they know that one failed: raise on all of them."""
        messages = self.comm.allgather(
            None if error is None else f"{type(error).__name__}: {error}"
        )
        if error is not None:
            self._agreed.add(id(error))
            raise error
        rank = next(r for r, message in enumerate(messages) if message is not None)
        failure = DistributedError(
            f"Process {rank} of {self.size} failed, so this one (rank {self.rank}) stops too: "
            f"{messages[rank]}"
        )
        self._agreed.add(id(failure))
        raise failure

    def mark_agreed(self, error: BaseException) -> BaseException:
        """Record that every process raises ``error`` at the same point (deterministic)."""
        self._agreed.add(id(error))
        return error

    def on_error(self, error: BaseException) -> None:
        """``fit`` raised ``error``: fine if every process raises it; otherwise the others would
        wait forever in their next collective, so print it and abort the whole job."""
        if id(error) in self._agreed or isinstance(error, DistributedError):
            self._agreed.discard(id(error))
            return
        if isinstance(error, TrainingDivergedError) and self._same_everywhere:
            return  # found in weights and optimizer state that are equal on every process
        self.abort(error)

    def abort(self, error: BaseException) -> None:
        """Print ``error`` with its traceback and end every process of the job (exit code 1)."""
        import traceback  # only on this error path; 0.5 ms of every import otherwise

        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        sys.stderr.write(
            f"layerwise.distributed: rank {self.rank} of {self.size} raised an error that the "
            f"other processes cannot see; aborting the job.\n{text}"
        )
        sys.stderr.flush()
        time.sleep(_FORWARD_SECONDS)
        self.comm.Abort(1)

    # ------------------------------------------------------------ the hooks of fit
    def split(self, batches: Any) -> Any:
        """This process's share of ``fit``'s training batches (see :mod:`.data`)."""
        if hasattr(batches, "xs"):  # data.ArrayBatches: arrays given in full
            self._check_same_arrays(batches, "x_train")
            return ShardedBatches(batches, self)
        return AgreedBatches(batches, self)

    def _check_same_arrays(self, batches, argument: str) -> None:
        """Arrays split by rank must be the same on every process: compare their sample count
        and a fingerprint (sums over about a thousand rows) with rank 0's, on every process."""
        arrays = batches.xs + batches.ys
        every = max(1, batches.samples // 1000)
        fingerprint = [batches.samples] + [
            float(np.sum(a[::every], dtype=np.float64)) for a in arrays
        ]
        prints = self.comm.allgather(fingerprint)
        error = None
        if any(p != prints[0] for p in prints) and self.is_chief:
            ranks = [r for r, p in enumerate(prints) if p != prints[0]]
            error = ValueError(
                f"Argument '{argument}': the processes were given different arrays (process(es) "
                f"{ranks} differ from rank 0, samples {[p[0] for p in prints]}). Arrays are "
                "split by rank and must be the same on every process; give each process its "
                "own data as a list or generator of (x_batch, y_batch) batches instead."
            )
        self.agree(error)

    def tail_size(self, model: Any) -> int:
        """How many numbers ride with ``model``'s packed gradients in each step's allreduce."""
        losses = len(model.losses)
        return self.TAIL + (losses if losses > 1 else 0)

    def setup(self, model: Any) -> None:
        """Make every process start from rank 0's model (see :mod:`.broadcast`)."""
        broadcast_model(model, self)
        self.synchronized_layers = attach(model, self)
        # Layer state (moving averages) differs between processes during an epoch unless
        # batch norm is synchronized: then a check of it could fail on one process only.
        self._same_everywhere = self.sync_batch_norm or not any(
            layer.state() for layer in model.layers
        )
        self._set_up.add(model)

    def read_checkpoint(self, model: Any, path: Any, callbacks: Any = ()) -> Any:
        """``fit(resume_from=path)``: rank 0 reads and checks the checkpoint (refused on every
        process if that fails); returns the function that applies it, which every process
        calls: rank 0 restores, the others receive the epoch, history and callback states (and
        :meth:`setup` then broadcasts the weights and optimizer state)."""
        apply, error = None, None
        if self.is_chief:
            try:
                apply = read_checkpoint(model, path, callbacks)
            except Exception as caught:  # noqa: BLE001 - raised on every process below
                error = caught
        self.agree(error)

        def resume():
            return self.comm.bcast(apply() if self.is_chief else None, root=0)

        return resume

    def train_step(
        self, model: Any, x: Any, y: Any, epoch: int, step: int, batch_only: bool = False
    ) -> float:
        """One step with gradients averaged over processes (see :mod:`.step`). A model not
        yet set up (``train_on_batch`` before any ``fit``) first takes rank 0's state."""
        if model not in self._set_up:
            self.setup(model)
            model._epoch_start = Snapshot(model)  # what a divergence falls back on: rank 0's
        return _train_step(model, self, x, y, epoch, step, batch_only)

    def shard_evaluation(self, batches: Any) -> Any:
        """Evaluation batches of arrays given in full: this process's contiguous part of the
        rows (generators and lists of batches are taken as this process's share)."""
        if not hasattr(batches, "xs"):
            return batches
        self._check_same_arrays(batches, "validation or evaluation data")
        low, high = rank_rows(batches.samples, self.rank, self.size)
        return batches.subset(low, high, batches.batch_size, False)

    def reduce_evaluation(self, metric_lists: list, *sums: list) -> list:
        """Every process's evaluation: each list of ``sums`` (loss totals, sample counts, ...)
        summed element-wise over processes, and the metrics merged; returns the lists summed,
        in order (integers stay integers)."""
        flat = np.array([value for values in sums for value in values], dtype=np.float64)
        self.allreduce(flat)
        self.reduce_metrics([metric for group in metric_lists for metric in group])
        result, offset = [], 0
        for values in sums:
            part = flat[offset : offset + len(values)]
            result.append([int(round(v)) if isinstance(old, (int, np.integer)) else float(v)
                           for v, old in zip(part, values)])
            offset += len(values)
        return result

    def reduce_metrics(self, metrics: list) -> None:
        """Merge every process's metric totals into ``metrics`` (the same on every process)."""
        _reduce_metrics(metrics, self)

    def average_state(self, model: Any) -> None:
        """Average the layers' non-trainable state (batch-norm moving averages) over processes,
        so that every process holds the same model for validation and saving."""
        arrays = [a for layer in model.layers for a in layer.state().values()]
        if not arrays:
            return
        buffer = np.concatenate([a.reshape(-1) for a in arrays]).astype(np.float64)
        self.allreduce(buffer)
        buffer /= self.size
        offset = 0
        for array in arrays:
            array[...] = buffer[offset : offset + array.size].reshape(array.shape)
            offset += array.size


def check_distribute(distribute: Any, metrics: list) -> MPIStrategy | None:
    """``distribute`` of ``compile`` and ``fit``, checked: None, ``'mpi'`` (a new strategy) or
    an :class:`MPIStrategy`, with ``metrics`` that can merge their totals across processes."""
    if distribute is None:
        return None
    if isinstance(distribute, str) and distribute == "mpi":
        distribute = MPIStrategy()
    if not isinstance(distribute, MPIStrategy):
        raise TypeError(
            "Argument 'distribute' must be None, 'mpi' or a layerwise.distributed.MPIStrategy; "
            f"received {distribute!r:.80} of type {type(distribute).__name__}."
        )
    for metric in metrics:
        if type(metric).merge_state is Metric.merge_state:
            raise TypeError(
                f"Argument 'metrics': {type(metric).__name__} has no merge_state(other), which "
                "distributed training needs to combine the totals of the processes."
            )
    return distribute


def _install_excepthook(strategy: MPIStrategy) -> None:
    """An uncaught error on one process aborts the job (as ``python -m mpi4py`` does) instead of
    leaving the others in a collective until mpiexec is killed."""
    previous = sys.excepthook
    if getattr(previous, "_layerwise_abort", False):
        return

    def hook(kind, error, trace):
        previous(kind, error, trace)
        sys.stderr.flush()
        time.sleep(_FORWARD_SECONDS)
        if not isinstance(error, KeyboardInterrupt) and strategy.comm is not None:
            strategy.comm.Abort(1)

    hook._layerwise_abort = True
    sys.excepthook = hook
