"""Callbacks that watch the epoch's logs: early stopping, learning-rate control, checkpoints.

The logs of an epoch are a dict with ``loss``, every metric, and their ``val_`` twins when there
is validation data.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from .._extensions import check_extension
from .base import Callback

__all__ = ["EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler", "ModelCheckpoint"]


def _integer(value, argument: str, minimum: int = 0) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"Argument '{argument}' must be an integer >= {minimum}; received {value!r:.60} of "
            f"type {type(value).__name__}."
        )
    if value < minimum:
        raise ValueError(
            f"Argument '{argument}' must be an integer >= {minimum}; received {value!r}."
        )
    return int(value)


def _real(value, argument: str, valid, expected: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(
            f"Argument '{argument}' must be {expected}; received {value!r:.60} of type "
            f"{type(value).__name__}."
        )
    if not (math.isfinite(value) and valid(value)):
        raise ValueError(f"Argument '{argument}' must be {expected}; received {value!r}.")
    return float(value)


def _flag(value, argument: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Argument '{argument}' must be True or False; received {value!r:.60}.")
    return bool(value)


class _Monitor(Callback):
    """Shared logic of callbacks that watch one logged quantity for improvement."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(
                f"Argument 'monitor' must be the name of a logged value, e.g. 'val_loss'; "
                f"received {monitor!r:.60}."
            )
        if not isinstance(mode, str) or mode not in ("auto", "min", "max"):
            raise ValueError(
                f"Argument 'mode' must be 'auto', 'min' or 'max'; received {mode!r:.60}."
            )
        min_delta = _real(min_delta, "min_delta", lambda d: d >= 0, "a number >= 0")
        self.monitor = monitor
        if mode == "auto":
            bigger_is_better = any(k in monitor for k in ("acc", "precision", "recall", "f1", "r2"))
            mode = "max" if bigger_is_better else "min"
        self.mode = mode
        self.min_delta = float(min_delta)

    def check_before_fit(self, log_names: set[str], validation: bool) -> None:
        """A ``val_`` quantity needs validation data; other names must be logged by fit."""
        if self.monitor.startswith("val_") and not validation:
            raise ValueError(
                f"Argument 'monitor' of {type(self).__name__} is {self.monitor!r}, but fit has "
                "no validation data: give validation_data or validation_split, or monitor "
                "'loss'."
            )
        if self.monitor not in log_names:
            raise ValueError(
                f"Argument 'monitor' of {type(self).__name__} is {self.monitor!r}, which fit "
                f"does not log; it logs {', '.join(sorted(log_names))}."
            )

    def _reset_best(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _value(self, logs) -> float | None:
        """The monitored value of this epoch; None for a ``val_`` quantity after an epoch that
        fit did not validate (``validation_freq``): the callback then waits for the next."""
        if (self.monitor.startswith("val_") and self.model is not None
                and getattr(self.model, "_epoch_validated", True) is False):
            return None
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
        self.patience = _integer(patience, "patience")
        self.restore_best_weights = _flag(restore_best_weights, "restore_best_weights")

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reset_best()
        self.wait = 0
        self.stopped_epoch = None
        self.best_epoch = None
        self.best_weights = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = self._value(logs)
        if value is None:  # not validated this epoch: patience counts validated epochs
            return
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
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
            optimizer.learning_rate = max(optimizer.learning_rate * self.factor, self.min_lr)
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
        allow_other_extension: accept a ``filepath`` ending in another format's extension
            (``.keras``, ``.h5``, ``.pt``, ``.pkl``, ...); the file is safetensors all the same.

    Raises:
        ValueError: ``filepath`` names another format and ``allow_other_extension`` is False.

    Example::

        checkpoint = ModelCheckpoint('ckpt.safetensors', monitor='val_loss', save_best_only=True)
        model.fit(x, y, epochs=10, validation_split=0.2, callbacks=[checkpoint])
        model.fit(x, y, epochs=20, resume_from='ckpt.safetensors')   # later, to go on
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        save_weights_only: bool = False,
        allow_other_extension: bool = False,
    ) -> None:
        super().__init__(monitor, mode, 0.0)
        if not isinstance(filepath, (str, os.PathLike)) or not os.fspath(filepath):
            raise TypeError(
                "Argument 'filepath' of ModelCheckpoint must be a file path (str or "
                f"os.PathLike); received {filepath!r:.60}."
            )
        self.filepath = os.fspath(filepath)
        check_extension(self.filepath, allow_other_extension, "filepath")
        self.allow_other_extension = allow_other_extension
        self.save_best_only = _flag(save_best_only, "save_best_only")
        self.save_weights_only = _flag(save_weights_only, "save_weights_only")
        self._reset_best()

    writes_checkpoints = True

    def check_before_fit(self, log_names: set[str], validation: bool) -> None:
        """The path template's fields must be logged names (or ``epoch``) and its folder must
        exist; ``monitor`` is checked only when it decides (``save_best_only``)."""
        if self.save_best_only:
            super().check_before_fit(log_names, validation)
        try:
            path = self.filepath.format(epoch=1, **{name: 0.0 for name in log_names})
        except (KeyError, IndexError) as error:
            raise ValueError(
                f"Argument 'filepath' of ModelCheckpoint, {self.filepath!r}, uses the field "
                f"{error}, which fit does not log; available: epoch, "
                f"{', '.join(sorted(log_names))}."
            ) from None
        except ValueError as error:
            raise ValueError(
                f"Argument 'filepath' of ModelCheckpoint, {self.filepath!r}, is not a valid "
                f"template: {error}."
            ) from None
        if "\x00" in path:
            raise ValueError("Argument 'filepath' of ModelCheckpoint holds a NUL character.")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(
                f"Argument 'filepath' of ModelCheckpoint, {self.filepath!r:.200}: the folder "
                f"{folder!r:.200} does not exist."
            )
        try:
            longest = os.pathconf(folder, "PC_NAME_MAX")
        except (OSError, ValueError, AttributeError):  # pragma: no cover - not POSIX
            longest = 255
        # Saves write a temporary ".<name>.<pid>.<random>.tmp" next to the file first.
        if len(os.path.basename(path).encode()) + 32 > longest:
            raise ValueError(
                f"Argument 'filepath' of ModelCheckpoint: the file name "
                f"{os.path.basename(path)!r:.80} is too long for this file system (at most "
                f"{longest - 32} bytes here)."
            )

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reset_best()

    state_keys = ("best",)

    def get_state(self) -> dict:
        """The best monitored value so far."""
        return {"best": self.best}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            value = self._value(logs)
            if value is None or not self._improved(value):  # None: not validated this epoch
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        allow = self.allow_other_extension
        if self.save_weights_only:
            self.model.save_weights(path, allow_other_extension=allow)
        else:
            self.model.save_checkpoint(path, epoch, logs, allow_other_extension=allow)
