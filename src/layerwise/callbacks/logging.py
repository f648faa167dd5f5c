"""Callbacks that record or react to what happens: ``CSVLogger``, ``LambdaCallback``,
``TerminateOnNaN`` (Keras' names and meanings)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, TextIO

from .base import Callback, Logs

__all__ = ["CSVLogger", "LambdaCallback", "TerminateOnNaN"]


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file: ``epoch`` (from 0), then every logged
    name in sorted order, as Keras' ``CSVLogger`` does.

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: add rows to an existing file (resuming training) instead of overwriting it;
            the header is written only when the file is new or empty.

    Example::

        model.fit(x, y, epochs=5, validation_split=0.2, callbacks=[CSVLogger('training.csv')])
        # epoch,loss,val_loss
        # 0,0.6931,0.6802 ...
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)) or not os.fspath(filename):
            raise TypeError(
                f"Argument 'filename' of CSVLogger must be a file path; received {filename!r:.60}."
            )
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(
                f"Argument 'separator' must be one character; received {separator!r:.60}."
            )
        if not isinstance(append, bool):
            raise TypeError(f"Argument 'append' must be True or False; received {append!r:.60}.")
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self.keys: list[str] | None = None
        self._file: TextIO | None = None
        self._writer: Any = None
        self._validation_names: set[str] = set()

    def check_before_fit(self, log_names: set[str], validation: bool) -> None:
        """The file's folder must exist, so that fit fails before training rather than after
        the first epoch. The ``val_`` names are columns from the start, also when the first
        epoch is not validated (``validation_freq``): those rows hold ``NA``."""
        self._validation_names = {name for name in log_names if name.startswith("val_")}
        folder = os.path.dirname(os.path.abspath(self.filename))
        if not os.path.isdir(folder):
            raise ValueError(
                f"Argument 'filename' of CSVLogger, {self.filename!r:.200}: the folder "
                f"{folder!r:.200} does not exist."
            )

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._header = not (
            self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        )
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self.keys = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = dict(logs or {})
        if self._file is None:  # used outside fit's on_train_begin
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(set(logs) | self._validation_names)
            import csv  # on first use: 1.5 ms of every import otherwise

            self._writer = csv.DictWriter(
                self._file, fieldnames=["epoch", *self.keys], delimiter=self.separator
            )
            if self._header:
                self._writer.writeheader()
        row = {"epoch": epoch, **{key: logs.get(key, "NA") for key in self.keys}}
        self._writer.writerow(row)
        assert self._file is not None
        self._file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None


class LambdaCallback(Callback):
    """A callback from plain functions, for a quick hook without a class.

    Each argument, when given, replaces that hook; the functions take the hook's arguments:
    ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``,
    ``on_train_end(logs)``, ``on_train_batch_begin(batch, logs)``,
    ``on_train_batch_end(batch, logs)``. Any other hook (``on_test_end=``,
    ``on_predict_batch_end=``, ...) can be given by keyword too.

    Example::

        print_epochs = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs['loss']))
        model.fit(x, y, epochs=3, callbacks=[print_epochs])
    """

    def __init__(
        self,
        on_epoch_begin: Callable[..., Any] | None = None,
        on_epoch_end: Callable[..., Any] | None = None,
        on_train_begin: Callable[..., Any] | None = None,
        on_train_end: Callable[..., Any] | None = None,
        on_train_batch_begin: Callable[..., Any] | None = None,
        on_train_batch_end: Callable[..., Any] | None = None,
        **kwargs: Callable[..., Any],
    ) -> None:
        super().__init__()
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            **kwargs,
        }
        for name, function in hooks.items():
            if function is None:
                continue
            if not (name.startswith("on_") and callable(getattr(Callback, name, None))):
                raise TypeError(f"LambdaCallback got an unknown hook {name!r}.")
            if not callable(function):
                raise TypeError(f"Argument {name!r} must be callable; received {function!r}.")
            setattr(self, name, function)


class TerminateOnNaN(Callback):
    """Stop training, without an error, when a step's loss is NaN or infinite.

    Without it, ``fit`` raises :class:`~layerwise.exceptions.TrainingDivergedError` on such a
    loss; with it, ``fit`` prints ``Batch N: Invalid loss, terminating training`` (as Keras'
    ``TerminateOnNaN``) and returns. Either way the weights, layer state and optimizer state of
    the epoch's start are put back (of fit's start, if those predict NaN), so the model is
    never left holding NaN.

    Example::

        model.fit(x, y, epochs=100, callbacks=[TerminateOnNaN()])
    """

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
