"""``BackupAndRestore``: resume an interrupted ``fit`` automatically, as Keras' callback does."""

from __future__ import annotations

import os

from .base import Callback, Logs

__all__ = ["BackupAndRestore"]


class BackupAndRestore(Callback):
    """Back up the full training state after every epoch; when ``fit`` starts and a backup
    exists, it continues from it, ending bit-for-bit where an uninterrupted run would.

    The backup is a checkpoint (:meth:`layerwise.Model.save_checkpoint`, what
    ``fit(resume_from=...)`` reads) at ``backup_dir/backup.safetensors``, written atomically. When
    ``fit`` ends normally the backup is deleted (``delete_checkpoint=True``), so the next
    ``fit`` starts afresh; an interruption (a crash, a killed process, an exception) leaves it
    for the next run.

    Args:
        backup_dir: the folder of the backup (created if missing).
        delete_checkpoint: delete the backup when training ends normally.

    Example::

        backup = BackupAndRestore('run-1-backup')
        model.fit(x, y, epochs=50, callbacks=[backup])   # killed at epoch 20 ...
        model.fit(x, y, epochs=50, callbacks=[backup])   # ... goes on from epoch 21
    """

    writes_checkpoints = True  # ends each epoch last: the backup holds the others' states

    def __init__(self, backup_dir: str | os.PathLike, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)) or not os.fspath(backup_dir):
            raise TypeError(
                f"Argument 'backup_dir' must be a folder path; received {backup_dir!r:.60}."
            )
        if not isinstance(delete_checkpoint, bool):
            raise TypeError(
                "Argument 'delete_checkpoint' must be True or False; received "
                f"{delete_checkpoint!r:.60}."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = delete_checkpoint

    @property
    def path(self) -> str:
        """The backup file."""
        return os.path.join(self.backup_dir, "backup.safetensors")

    def exists(self) -> bool:
        """Whether a backup is there to resume from (``fit`` checks before its first epoch)."""
        return os.path.isfile(self.path)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        self.model.save_checkpoint(self.path, epoch, logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.delete_checkpoint and self.exists():
            os.remove(self.path)
