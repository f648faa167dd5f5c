"""Training: ``fit`` and its epochs (mixed into :class:`~layerwise.Model`; the step and
``train_on_batch`` are in :mod:`layerwise.stepping`, ``evaluate`` in :mod:`layerwise.evaluation`).

``fit`` checks and converts everything first (arguments, data shapes and dtypes, NaN), so a
refused call changes nothing. The batch loop then only gathers rows, runs the layers, and lets the
optimizer update parameters in place.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from . import packing
from .callbacks import BackupAndRestore, CallbackList, TerminateOnNaN
from .checkpoints import read_checkpoint
from .data import ArrayBatches
from .distributed import check_distribute
from .exceptions import TrainingDivergedError
from .history import History
from .layers.base import check_positive_int
from .optimizers import check_learning_rate
from .progress import make_reporter
from .snapshot import Snapshot, non_finite
from .stepping import Stepper

__all__ = ["History", "Trainer"]  # History lives in layerwise.history; pickles name it here



def _check_verbose(verbose, print_loss) -> int | str:
    if not isinstance(print_loss, (bool, np.bool_)):
        raise TypeError(f"Argument 'print_loss' must be True or False; received {print_loss!r}.")
    if verbose is None:
        return "auto" if print_loss else 0
    if not isinstance(verbose, (int, str)) or isinstance(verbose, bool) or verbose not in (
        0, 1, 2, "auto"
    ):
        raise ValueError(
            f"Argument 'verbose' must be 0, 1, 2 or 'auto'; received {verbose!r:.60}."
        )
    return verbose


class Trainer(Stepper):
    """The training half of ``Model``; see :class:`layerwise.Model` for the graph half."""

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        x_train: Any,
        y_train: Any = None,
        epochs: int = 1,
        learning_rate: Any = None,
        print_loss: bool = True,
        batch_size: int = 32,
        shuffle: bool = True,
        *,
        validation_data: Any = None,
        validation_split: float = 0.0,
        callbacks: Any = None,
        verbose: int | str | None = None,
        steps_per_epoch: int | None = None,
        resume_from: str | os.PathLike | None = None,
        validation_steps: int | None = None,
        sample_weight: Any = None,
        class_weight: dict[int, float] | None = None,
        initial_epoch: int = 0,
        distribute: Any = None,
        validation_batch_size: int | None = None,
        validation_freq: int | list[int] = 1,
    ) -> float:
        """Train the model; return the final epoch's mean training loss.

        Args:
            x_train: samples ``(n, *input_shape)`` (array or nested lists), or, with
                ``y_train=None``, an iterable of ``(x_batch, y_batch)`` pairs (or
                ``(x_batch, y_batch, sample_weight)`` triples): a list or an object whose
                ``__iter__`` starts a new pass each epoch, or a generator (then give
                ``steps_per_epoch``).
            y_train: labels ``(n, *output_shape)``; 1-D for a single output; integer labels for
                ``sparse_categorical_crossentropy``.
            epochs: number of passes over the data.
            learning_rate: if given, the optimizer's rate from now on (number or schedule);
                otherwise the optimizer's own (0.01 for the default SGD).
            print_loss: print progress (``verbose='auto'``); False is silent.
            batch_size: samples per update; the last, smaller batch is trained on too.
                ``batch_size=1`` is per-sample (stochastic) gradient descent.
            shuffle: draw a new sample order each epoch.
            validation_data: ``(x_val, y_val)``, evaluated after each epoch (``val_`` logs).
            validation_split: fraction of the data (taken from the end, before shuffling) held
                out for validation instead.
            callbacks: list of :class:`~layerwise.callbacks.Callback`.
            verbose: 0 silent, 1 progress bar, 2 a line per epoch, 'auto' (overrides print_loss).
            steps_per_epoch: batches per epoch when ``x_train`` is a generator.
            validation_steps: batches of each validation pass when ``validation_data`` is a
                generator (a re-iterable is read to its end each time).
            resume_from: path of a checkpoint written by
                :class:`~layerwise.callbacks.ModelCheckpoint`: weights, optimizer state, history
                and random generators are restored and training continues after its epoch up to
                ``epochs`` in total, ending bit-for-bit where an uninterrupted run would.
            sample_weight: one weight per sample ``(n,)`` (a list or dict by output name for
                several outputs): each batch's loss is ``sum(w * loss_per_sample) / n`` and
                metrics are weighted (Keras' meaning). Split with ``validation_split`` too.
            class_weight: ``{class index: weight}``, turned into each sample's weight from its
                label (one output only; not together with ``sample_weight``).
            initial_epoch: the epoch (from 0) to start at, as Keras: training runs epochs
                ``initial_epoch`` to ``epochs - 1`` and callbacks see those numbers.
            validation_batch_size: rows per validation pass over arrays (Keras' name); by
                default ``batch_size`` when a callback takes ``on_test_batch_*`` (Keras'
                default, so that they are called as often), else 1024 or fewer. The values
                logged are the same for any size, up to rounding (about 1e-16 relative in
                float64, 1e-7 in float32).
            validation_freq: validate after every ``k``-th epoch, or after the epochs of a list
                (numbered from 1), as Keras; epochs without validation log no ``val_`` values,
                and callbacks that monitor one wait for the next epoch that has it.
            distribute: as ``compile``'s (a :class:`~layerwise.distributed.MPIStrategy` or
                ``'mpi'``); given here, it stays the model's from this call on.

        Returns:
            The mean training loss of the last epoch, a Python float.

        Raises:
            TrainingDivergedError: the loss became NaN or infinite (weights of the last finite
                step are kept).
        """
        self._require_compiled("fit")
        self._graph.check_trainable()
        strategy = None if distribute is None else check_distribute(distribute, self.metrics)
        epochs = check_positive_int(epochs, "epochs")
        if steps_per_epoch is not None:
            steps_per_epoch = check_positive_int(steps_per_epoch, "steps_per_epoch")
        if validation_steps is not None:
            validation_steps = check_positive_int(validation_steps, "validation_steps")
            if validation_data is None:
                raise ValueError(
                    "Argument 'validation_steps' is for generators given as 'validation_data'; "
                    "received no validation_data."
                )
        batch_size = check_positive_int(batch_size, "batch_size")
        rate = None if learning_rate is None else check_learning_rate(learning_rate)
        verbose = _check_verbose(verbose, print_loss)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"Argument 'shuffle' must be True or False; received {shuffle!r}.")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)):
            raise TypeError(
                f"Argument 'initial_epoch' must be an integer; received {initial_epoch!r}."
            )
        if not 0 <= initial_epoch < epochs:
            raise ValueError(
                f"Argument 'initial_epoch' must be in [0, epochs) = [0, {epochs}); received "
                f"{initial_epoch}."
            )
        if initial_epoch and resume_from is not None:
            raise ValueError(
                "Give 'initial_epoch' or 'resume_from', not both: a checkpoint knows its epoch."
            )
        train, arrays = self._batches(
            x_train, y_train, batch_size, shuffle, steps_per_epoch, "x_train", "y_train"
        )
        self._attach_weights(arrays, sample_weight, class_weight, "sample_weight")
        validation_freq = self._check_validation_freq(validation_freq)
        callback_list = CallbackList(callbacks, self)
        validation = self._validation_batches(
            train, arrays, validation_data, validation_split, batch_size, shuffle,
            validation_steps, validation_batch_size,
            # the on_test_batch_* hooks see Keras' validation batches: batch_size rows
            hook_rows=batch_size if callback_list.wants_batches("test") else None,
        )
        if isinstance(validation, tuple):
            train, validation = validation
        callback_list.check_before_fit(self._log_names(validation is not None),
                                       validation is not None)
        backup = next((c for c in callback_list if isinstance(c, BackupAndRestore)), None)
        if resume_from is None and backup is not None and backup.exists():
            resume_from = backup.path  # an interrupted run with BackupAndRestore goes on
        dist = self._dist  # a distribute= strategy of several processes, or None
        if strategy is not None:
            dist = strategy if strategy.size > 1 else None
        if dist is not None:  # each process trains on its share of every global batch
            train = dist.split(train)
        resume = None
        if resume_from is not None and dist is not None:  # rank 0 reads, then broadcasts
            resume = dist.read_checkpoint(self, resume_from, callback_list.callbacks)
        elif resume_from is not None:  # checks the whole checkpoint before changing anything
            resume = read_checkpoint(self, resume_from, callback_list.callbacks)

        # Everything is checked: from here on, weights change.
        start, history, callback_states = resume() if resume else (int(initial_epoch), {}, None)
        if rate is not None:
            self.optimizer.learning_rate = rate
        if strategy is not None:
            self._use_distribute(strategy)
        self._prepare_training()
        if dist is not None:
            dist.setup(self)
        self._fit_start = Snapshot(self)
        self._training_arrays = arrays if isinstance(arrays, ArrayBatches) else None
        self.history = History(history)
        # A resumed run continues the checkpoint's history; initial_epoch starts a new one there.
        self.history.epoch = list(range(start)) if resume_from is not None else []
        self.stop_training = False
        if dist is not None and not dist.is_chief:
            verbose = 0  # only rank 0 prints
        reporter = make_reporter(
            verbose, epochs, len(train) or None, running_metrics=self._running_metric_logs
        )
        self._inside_fit = True
        self._fit_callbacks = callback_list.callbacks
        try:
            callback_list.call("on_train_begin", {})
            for callback, state in zip(callback_list.callbacks, callback_states or []):
                if state is not None:
                    callback.set_state(state)
            for epoch in range(start, epochs):
                self._set_training(True)
                callback_list.call("on_epoch_begin", epoch, {})
                logs = self._train_epoch(train, epoch, callback_list, reporter)
                self._set_training(False)
                if dist is not None:
                    dist.average_state(self)
                self._epoch_validated = (validation is not None and not self._terminated
                                         and self._validates(epoch, validation_freq))
                if self._epoch_validated:
                    for key, value in self._evaluate_batches(validation, callback_list).items():
                        logs[f"val_{key}"] = value
                callback_list.call("on_epoch_end", epoch, logs)
                self.history.epoch.append(epoch)
                for key, value in logs.items():
                    self.history.setdefault(key, []).append(value)
                    self.history.logged_epochs.setdefault(key, []).append(epoch)
                reporter.epoch_end(epoch, logs)
                if dist is not None:  # a callback that stops one process stops all of them
                    self.stop_training = dist.any(self.stop_training)
                if self.stop_training:
                    break
            callback_list.call("on_train_end", {})
        except BaseException as error:
            if dist is not None:  # raised on every process together, or the job is aborted
                dist.on_error(error)
            raise
        finally:
            self._inside_fit = False
            self._epoch_validated = True
            self._fit_callbacks = []
            self._set_training(False)
            reporter.close()
        return float(self.history["loss"][-1])

    def _prepare_training(self) -> None:
        self._graph.find_gradient_paths()  # layers frozen or thawed since compile
        flat = self._pack_parameters()
        self._params = self._parameter_arrays()
        self._grads = self._gradient_arrays()
        self.optimizer.build(self._parameter_names(), self._params, flat=flat)
        # A frozen layer's penalty is not part of the loss (Keras counts trainable weights').
        self._regularized = [layer for layer in self.layers
                             if layer.regularized and layer.trainable]
        self._error_buffers = None

    def _use_distribute(self, strategy) -> None:
        """Train with ``strategy`` (or alone, for None) from now on."""
        self.distribute = strategy
        for layer in self.layers:  # fit attaches them again if the strategy synchronizes them
            if getattr(layer, "cross_process", None) is not None:
                layer.cross_process = None
        # Several processes: fit, evaluate and saving take the distributed paths.
        self._dist = strategy if strategy is not None and strategy.size > 1 else None

    def _pack_parameters(self):
        """Pack the layers' parameters and gradients (see :mod:`layerwise.packing`); returns
        ``(flat_params, flat_grads)`` or None."""
        tail = 0 if self._dist is None else self._dist.tail_size(self)  # reduced with the grads
        trainable = [layer for layer in self.layers if layer.trainable]
        self._packed = packing.pack(trainable, getattr(self, "_packed", None), tail)
        return None if self._packed is None else self._packed.flat

    # ------------------------------------------------------------ the loop
    def _train_epoch(self, batches, epoch, callback_list, reporter) -> dict:
        for metric in self.metrics:
            metric.reset()
        # What divergence falls back on: every parameter, layer state and optimizer slot.
        self._epoch_start = Snapshot(self)
        several = len(self.losses) > 1
        total, count = 0.0, 0
        output_totals = [0.0] * len(self.losses)
        dist = self._dist
        reporter.epoch_begin(epoch)
        begin = callback_list.wants("on_train_batch_begin")
        end = callback_list.wants("on_train_batch_end")
        self._terminated = False
        # Overflow while diverging is reported once, by TrainingDivergedError, not as warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            for step, (xs, ys) in enumerate(batches):
                if begin:
                    callback_list.call("on_train_batch_begin", step, {})
                try:
                    loss = self._train_step(xs, ys, epoch, step)
                except TrainingDivergedError:
                    if not any(isinstance(c, TerminateOnNaN) for c in callback_list):
                        raise
                    # TerminateOnNaN: the weights of the last finite step are kept; the epoch
                    # ends here and logs the non-finite loss, as in Keras.
                    callback_list.call("on_train_batch_end", step, {"loss": math.nan})
                    self._terminated = self.stop_training = True
                    total, count = math.nan, max(count, 1)
                    break
                n = len(xs[0]) if dist is None else dist.last_count  # the global batch's
                total += loss * n
                count += n
                if several:
                    for k, value in enumerate(self._output_losses):
                        output_totals[k] += value * n
                reporter.batch_end(step, total / count)
                if end:
                    callback_list.call("on_train_batch_end", step, {"loss": loss})
        if count == 0:
            raise ValueError("The training data yielded no batches in this epoch.")
        bad = non_finite(self)
        if bad:  # the loss was finite, but an update (the last, say) wrote NaN or infinity
            self._diverged(f"finite, but the updates wrote NaN or infinity into {bad[:3]}",
                           epoch, step)
        logs = {"loss": total / count}
        if several:
            for name, value in zip(self.output_names, output_totals):
                logs[f"{name}_loss"] = value / count
        if dist is not None:
            dist.reduce_metrics(self.metrics)
        self._add_metric_logs(logs, self._output_metrics)
        return logs

    def _running_metric_logs(self) -> dict[str, float]:
        """The metrics' values over the epoch so far (for the progress bar)."""
        logs: dict[str, float] = {}
        self._add_metric_logs(logs, self._output_metrics)
        return logs

    def _log_names(self, validation: bool) -> set[str]:
        """The names ``fit`` logs each epoch (callbacks may add more, e.g. learning_rate)."""
        names = {"loss", *(name for group in self._metric_names for name in group)}
        if len(self.losses) > 1:
            names |= {f"{name}_loss" for name in self.output_names}
        if validation:
            names |= {f"val_{name}" for name in names}
        return names | {"learning_rate"}
