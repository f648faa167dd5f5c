"""Callbacks that watch the epoch's logs: early stopping and learning-rate control
(``ModelCheckpoint`` is in :mod:`layerwise.callbacks.checkpointing`).

The logs of an epoch are a dict with ``loss``, every metric, and their ``val_`` twins when there
is validation data.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._monitor_base import _flag, _integer, _Monitor, _real, _verbosity
from .base import Callback
from .checkpointing import ModelCheckpoint  # noqa: F401 - its home before checkpointing.py

__all__ = ["EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler"]


class EarlyStopping(_Monitor):
    """Stop training when a monitored quantity stops improving.

    Args:
        monitor: logged quantity to watch (default ``'val_loss'``).
        patience: epochs without improvement before stopping.
        min_delta: smallest change that counts as an improvement.
        mode: ``'min'``, ``'max'`` or ``'auto'`` (max for accuracy-like names).
        restore_best_weights: at the end, put back the weights of the best epoch.
        verbose: 1 prints the epoch training stopped at and the restoring of weights.
        baseline: a value to beat: until one epoch does, improving on the earlier epochs does
            not reset the patience (Keras' meaning).
        start_from_epoch: epochs (from 0) to train before watching at all (warm-up).

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
        verbose: int = 0,
        baseline: float | None = None,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience = _integer(patience, "patience")
        self.restore_best_weights = _flag(restore_best_weights, "restore_best_weights")
        self.verbose = _verbosity(verbose)
        self.baseline = (None if baseline is None
                         else _real(baseline, "baseline", lambda b: True, "a finite number"))
        self.start_from_epoch = _integer(start_from_epoch, "start_from_epoch")

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reset_best()
        self.wait = 0
        self._stopped_here = False
        self.stopped_epoch = None
        self.best_epoch = None
        self.best_weights = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = self._value(logs)
        # None: not validated this epoch (patience counts validated epochs); and the warm-up.
        if value is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # the first watched epoch's weights, should no epoch improve (a NaN), as Keras
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._improved(value):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # The patience restarts only for a value that also beats the baseline (Keras).
            if self.baseline is None or self._better(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self._stopped_here = True
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        # Only a stop of this fit (stopped_epoch may come back with a resumed checkpoint).
        if getattr(self, "_stopped_here", False):
            self._say(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            self._say("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    state_keys = ("best", "wait", "best_epoch", "stopped_epoch", "best_weights")

    def get_state(self) -> dict:
        """The best value and epoch, the wait counter and the best weights (if kept)."""
        state = {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch,
                 "stopped_epoch": self.stopped_epoch}
        if self.best_weights is not None:
            state["best_weights"] = self.best_weights
        return state


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when a quantity stops improving.

    Args:
        monitor: quantity to watch (default ``'val_loss'``).
        factor: multiplier of the rate, in (0, 1).
        patience: epochs without improvement before reducing.
        min_lr: the rate is never reduced below this.
        cooldown: epochs to wait after a reduction before counting again.
        verbose: 1 prints each reduction.
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
        verbose: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        self.verbose = _verbosity(verbose)
        self.factor = _real(factor, "factor", lambda f: 0 < f < 1, "a number in (0, 1)")
        self.patience = _integer(patience, "patience")
        self.min_lr = _real(min_lr, "min_lr", lambda r: r >= 0, "a number >= 0")
        self.cooldown = _integer(cooldown, "cooldown")

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reset_best()
        self.wait = 0
        self.cooling = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = self._value(logs)
        optimizer = self.model.optimizer
        if logs is not None:
            logs["learning_rate"] = optimizer.current_learning_rate
        if value is None:  # not validated this epoch: neither patience nor cooldown moves
            return
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
            rate = max(optimizer.learning_rate * self.factor, self.min_lr)
            if rate < optimizer.learning_rate:
                self._say(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                          f"{rate}.")
            optimizer.learning_rate = rate
            self.cooling, self.wait = self.cooldown, 0

    state_keys = ("best", "wait", "cooling")

    def get_state(self) -> dict:
        """The best value and the wait and cooldown counters."""
        return {"best": self.best, "wait": self.wait, "cooling": self.cooling}


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch from ``schedule(epoch, current_rate)``."""

    def __init__(self, schedule: Callable[[int, float], float]) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"Argument 'schedule' must be callable; received {schedule!r}.")
        self.schedule = schedule

    def check_before_fit(self, log_names: set[str], validation: bool) -> None:
        """The schedule is tried once on the first epoch (without changing anything)."""
        self._rate(0)

    def _rate(self, epoch: int) -> float:
        try:
            rate = self.schedule(epoch, self.model.optimizer.current_learning_rate)
        except Exception as error:  # the user's function: say which argument failed
            raise TypeError(
                f"Argument 'schedule' of LearningRateScheduler failed for epoch {epoch} "
                f"called as schedule(epoch, learning_rate): {type(error).__name__}: {error}"
            ) from error
        if (
            isinstance(rate, (bool, np.bool_))
            or not isinstance(rate, (int, float, np.floating, np.integer))
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise ValueError(
                f"Argument 'schedule' of LearningRateScheduler returned {rate!r:.60} for epoch "
                f"{epoch}; it must return a positive number."
            )
        return float(rate)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.model.optimizer.learning_rate = self._rate(epoch)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.current_learning_rate
