"""What the monitoring callbacks share: argument checks and ``_Monitor``, the watching of one
logged quantity for improvement (``EarlyStopping``, ``ReduceLROnPlateau``, ``ModelCheckpoint``)."""

from __future__ import annotations

import math

import numpy as np

from .base import Callback


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


def _verbosity(value) -> int:
    if isinstance(value, (bool, np.bool_)) or value not in (0, 1):
        raise ValueError(f"Argument 'verbose' must be 0 (silent) or 1; received {value!r:.40}.")
    return int(value)


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
        return self._better(value, self.best)

    def _better(self, value: float, reference: float) -> bool:
        """Whether ``value`` improves on ``reference`` by more than ``min_delta``."""
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def _say(self, message: str) -> None:
        """Print ``message`` with ``verbose=1``, once: on rank 0 of a distributed run. Messages
        of ``on_epoch_end`` start with a line break, as Keras', so that they do not run into
        the progress bar's line."""
        dist = getattr(self.model, "_dist", None)
        if getattr(self, "verbose", 0) and (dist is None or dist.is_chief):
            print(message)

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
