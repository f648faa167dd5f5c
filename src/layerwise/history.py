"""``History``: the per-epoch logs of ``fit`` (``model.history``), as Keras' ``History``."""

from __future__ import annotations

from typing import Any

__all__ = ["History"]


class History(dict):
    """Per-epoch values of ``fit``: ``history['loss']``, ``history['val_accuracy']``, ...

    A dict of lists; ``history.history`` is the same dict (Keras' spelling), and ``epoch`` lists
    the epoch numbers (from 0).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epoch: list[int] = []
        # The epochs (from 0) each value was logged at, where that is known (fit records it):
        # with validation_freq the val_ lists are shorter than the training ones.
        self.logged_epochs: dict[str, list[int]] = {}

    @property
    def history(self) -> dict:
        """This dict itself, for Keras' spelling ``model.history.history['loss']``."""
        return self
