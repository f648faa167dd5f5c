"""``ModelCheckpoint``: the full training state (or the weights) saved after epochs, the best
ones only if asked, for ``fit(..., resume_from=path)``."""

from __future__ import annotations

import os

from .._extensions import check_extension
from ._monitor_base import _flag, _Monitor, _real, _verbosity

__all__ = ["ModelCheckpoint"]


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
        verbose: 1 prints each save (and, with ``save_best_only``, each epoch that did not
            improve), as Keras.
        initial_value_threshold: with ``save_best_only``, the value to beat before the first
            save (Keras' meaning), e.g. the best of an earlier run.

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
        verbose: int = 0,
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__(monitor, mode, 0.0)
        self.verbose = _verbosity(verbose)
        self.initial_value_threshold = (
            None if initial_value_threshold is None
            else _real(initial_value_threshold, "initial_value_threshold", lambda v: True,
                       "a finite number"))
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

    def _reset_best(self) -> None:
        super()._reset_best()
        if self.__dict__.get("initial_value_threshold") is not None:
            self.best = self.initial_value_threshold

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
            if value is None:  # not validated this epoch (the path may name val_ values)
                return
            path = self.filepath.format(epoch=epoch + 1, **logs)
            if not self._improved(value):
                self._say(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            self._say(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{value:.5f}, saving model to {path}")
            self.best = value
        else:
            path = self.filepath.format(epoch=epoch + 1, **logs)
            self._say(f"\nEpoch {epoch + 1}: saving model to {path}")
        allow = self.allow_other_extension
        if self.save_weights_only:
            self.model.save_weights(path, allow_other_extension=allow)
        else:
            self.model.save_checkpoint(path, epoch, logs, allow_other_extension=allow)
