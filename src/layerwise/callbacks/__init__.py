"""Callbacks: hooks into ``fit``, ``evaluate`` and ``predict``, and the built-in ones.

A callback sees the model (``self.model``) and the logs of each epoch: a dict with ``loss``,
every metric, and their ``val_`` twins when there is validation data. Set
``self.model.stop_training = True`` to end training after the current epoch.

Divergence needs no callback: a loss that becomes NaN or infinite stops ``fit`` with a
:class:`~layerwise.exceptions.TrainingDivergedError` (or, with :class:`TerminateOnNaN`, ends it
quietly).

Example::

    from layerwise.callbacks import CSVLogger, EarlyStopping

    model.fit(x, y, epochs=100, validation_split=0.2,
              callbacks=[EarlyStopping(patience=5), CSVLogger('log.csv')])
"""

from .backup import BackupAndRestore
from .base import Callback, CallbackList
from .checkpointing import ModelCheckpoint
from .logging import CSVLogger, LambdaCallback, TerminateOnNaN
from .monitors import EarlyStopping, LearningRateScheduler, ReduceLROnPlateau

__all__ = [
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "CSVLogger",
    "LambdaCallback",
    "TerminateOnNaN",
    "BackupAndRestore",
]
