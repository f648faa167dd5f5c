"""Callbacks: hooks into ``fit``, and the built-in ones (early stopping, learning-rate control).

A callback sees the model (``self.model``) and the logs of each epoch: a dict with ``loss``,
every metric, and their ``val_`` twins when there is validation data. Set
``self.model.stop_training = True`` to end training after the current epoch.

Divergence needs no callback: a loss that becomes NaN or infinite stops ``fit`` with a
:class:`~layerwise.exceptions.TrainingDivergedError`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "Callback",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "LearningRateScheduler",
    "ModelCheckpoint",
]


class Callback:
    """Base class of callbacks; override the hooks you need."""

    def __init__(self) -> None:
        self.model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called once before the first epoch."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """Called once after the last epoch (also after early stopping)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called before each epoch (``epoch`` counts from 0)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called after each epoch with its logs (training and validation loss and metrics)."""

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each training step (only if overridden: it costs time)."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each training step with ``{'loss': batch_loss}``."""


def _overrides(callback: Callback, hook: str) -> bool:
    return getattr(type(callback), hook) is not getattr(Callback, hook)


class CallbackList:
    """Dispatches hooks to several callbacks; per-batch hooks only to those that define them."""

    def __init__(self, callbacks, model) -> None:
        callbacks = list(callbacks or [])
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    "Argument 'callbacks' must be a list of layerwise.callbacks.Callback; "
                    f"received {callback!r} of type {type(callback).__name__}."
                )
            callback.set_model(model)
        self.callbacks = callbacks
        self.batch_begin = [c for c in callbacks if _overrides(c, "on_batch_begin")]
        self.batch_end = [c for c in callbacks if _overrides(c, "on_batch_end")]

    def call(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)


class _Monitor(Callback):
    """Shared logic of callbacks that watch one logged quantity for improvement."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"Argument 'mode' must be 'auto', 'min' or 'max'; received {mode!r}.")
        if not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise ValueError(f"Argument 'min_delta' must be >= 0; received {min_delta!r}.")
        self.monitor = monitor
        if mode == "auto":
            bigger_is_better = any(k in monitor for k in ("acc", "precision", "recall", "f1", "r2"))
            mode = "max" if bigger_is_better else "min"
        self.mode = mode
        self.min_delta = float(min_delta)

    def _reset_best(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _value(self, logs) -> float:
        if not logs or self.monitor not in logs:
            available = ", ".join(sorted(logs or {}))
            hint = (
                " (val_ quantities need validation_data or validation_split)"
                if (self.monitor.startswith("val_"))
                else ""
            )
            raise ValueError(
                f"{type(self).__name__} monitors {self.monitor!r}, which is not logged{hint}; "
                f"available: {available}."
            )
        return float(logs[self.monitor])


class EarlyStopping(_Monitor):
    """Stop training when a monitored quantity stops improving.

    Args:
        monitor: logged quantity to watch (default ``'val_loss'``).
        patience: epochs without improvement before stopping.
        min_delta: smallest change that counts as an improvement.
        mode: ``'min'``, ``'max'`` or ``'auto'`` (max for accuracy-like names).
        restore_best_weights: at the end, put back the weights of the best epoch.

    Attributes:
        stopped_epoch: the epoch (from 0) after which training stopped, or None.
        best_epoch: the epoch with the best value.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"Argument 'patience' must be an integer >= 0; received {patience!r}.")
        self.patience = patience
        self.restore_best_weights = bool(restore_best_weights)

    def on_train_begin(self, logs=None):
        self._reset_best()
        self.wait = 0
        self.stopped_epoch = None
        self.best_epoch = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = self._value(logs)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when a quantity stops improving.

    Args:
        monitor: quantity to watch (default ``'val_loss'``).
        factor: multiplier of the rate, in (0, 1).
        patience: epochs without improvement before reducing.
        min_lr: the rate is never reduced below this.
        cooldown: epochs to wait after a reduction before counting again.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        mode: str = "auto",
        min_lr: float = 0.0,
        cooldown: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        if not 0 < factor < 1:
            raise ValueError(f"Argument 'factor' must be in (0, 1); received {factor!r}.")
        self.factor, self.patience, self.min_lr, self.cooldown = factor, patience, min_lr, cooldown

    def on_train_begin(self, logs=None):
        self._reset_best()
        self.wait = 0
        self.cooling = 0

    def on_epoch_end(self, epoch, logs=None):
        value = self._value(logs)
        optimizer = self.model.optimizer
        if logs is not None:
            logs["learning_rate"] = optimizer.current_learning_rate
        if self.cooling > 0:
            self.cooling -= 1
            self.wait = 0
        if self._improved(value):
            self.best, self.wait = value, 0
            return
        if self.cooling > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            if not isinstance(optimizer.learning_rate, float):
                raise TypeError("ReduceLROnPlateau needs a constant learning rate, not a schedule.")
            optimizer.learning_rate = max(optimizer.learning_rate * self.factor, self.min_lr)
            self.cooling, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch from ``schedule(epoch, current_rate)``."""

    def __init__(self, schedule) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"Argument 'schedule' must be callable; received {schedule!r}.")
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        rate = self.schedule(epoch, optimizer.current_learning_rate)
        if not isinstance(rate, (int, float, np.floating)) or not math.isfinite(rate) or rate <= 0:
            raise ValueError(
                f"The schedule of LearningRateScheduler returned {rate!r} for epoch {epoch}; "
                "it must return a positive number."
            )
        optimizer.learning_rate = float(rate)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.current_learning_rate


class ModelCheckpoint(_Monitor):
    """Save the full training state after epochs, for ``fit(..., resume_from=path)``.

    Each save writes one ``.safetensors`` model file (atomically: a crash mid-save leaves the
    previous file intact) holding the weights, the optimizer and its state, and the training
    state: epoch, history and random-generator states.

    Args:
        filepath: where to save; may contain ``{epoch}`` and logged names, e.g.
            ``'ckpt-{epoch:03d}-{val_loss:.3f}.safetensors'`` (epochs counted from 1).
        monitor: quantity that decides what is best (default ``'val_loss'``).
        save_best_only: save only when ``monitor`` improves.
        mode: ``'min'``, ``'max'`` or ``'auto'``.
        save_weights_only: write only the weights (``model.load_weights`` reads them).
    """

    def __init__(
        self,
        filepath,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        save_weights_only: bool = False,
    ) -> None:
        super().__init__(monitor, mode, 0.0)
        self.filepath = str(filepath)
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self._reset_best()

    def on_train_begin(self, logs=None):
        self._reset_best()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self._value(logs)
            if not self._improved(value):
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save_checkpoint(path, epoch, logs)
