"""``Callback``, the hooks ``fit``, ``evaluate`` and ``predict`` call, and ``CallbackList``.

The hooks have Keras 3's names and are called where Keras calls them:

- ``fit``: ``on_train_begin``; per epoch ``on_epoch_begin``, per step ``on_train_batch_begin``
  and ``on_train_batch_end``, then the validation pass (``on_test_begin``,
  ``on_test_batch_begin``/``end``, ``on_test_end``), then ``on_epoch_end``; ``on_train_end``.
- ``evaluate``: ``on_test_begin``, per batch ``on_test_batch_begin``/``end``, ``on_test_end``.
- ``predict``: ``on_predict_begin``, per batch ``on_predict_batch_begin``/``end``,
  ``on_predict_end``.

``on_batch_begin``/``on_batch_end`` are the older names of ``on_train_batch_begin``/``end`` (as in
Keras, the base class's ``on_train_batch_*`` call them), so callbacks written for either work.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["Callback", "CallbackList"]

Logs = dict[str, Any]


class Callback:
    """Base class of callbacks; override the hooks you need.

    ``self.model`` is the model being trained, evaluated or run; set
    ``self.model.stop_training = True`` to end ``fit`` after the current step's epoch.

    Example::

        class PrintLoss(Callback):
            def on_epoch_end(self, epoch, logs=None):
                print(epoch, logs['loss'])

        model.fit(x, y, epochs=3, callbacks=[PrintLoss()])
    """

    writes_checkpoints = False  # True: ends each epoch after the other callbacks
    state_keys: tuple[str, ...] = ()  # the keys of get_state(), checked when a file is read

    def __init__(self) -> None:
        self.model: Any = None

    def set_model(self, model: Any) -> None:
        """Called by ``fit``/``evaluate``/``predict`` with the model before any other hook."""
        self.model = model

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Called once before the first epoch."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Called once after the last epoch (also after early stopping)."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Called before each epoch (``epoch`` counts from 0)."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Called after each epoch with its logs (training and validation loss and metrics)."""

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Older name of :meth:`on_train_batch_begin`, still called through it."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Older name of :meth:`on_train_batch_end`, still called through it."""

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before each training step (``batch`` counts from 0 in each epoch).

        Per-batch hooks cost time, so they are called only on callbacks that override them.
        """
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each training step with ``{'loss': batch_loss}``."""
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        """Called when ``evaluate`` (or ``fit``'s validation pass) starts."""

    def on_test_end(self, logs: Logs | None = None) -> None:
        """Called when ``evaluate`` (or the validation pass) ends, with its results."""

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before each batch of ``evaluate`` or of the validation pass."""

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each batch of ``evaluate`` or of the validation pass."""

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        """Called when ``predict`` starts."""

    def on_predict_end(self, logs: Logs | None = None) -> None:
        """Called when ``predict`` ends."""

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before each batch of ``predict``."""

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each batch of ``predict`` with ``{'outputs': batch_outputs}``."""

    def check_before_fit(self, log_names: set[str], validation: bool) -> None:
        """Called by ``fit`` before anything changes: raise ``ValueError`` (naming the argument)
        if this callback cannot work with this fit (it monitors a value that will not be
        logged, say). ``log_names`` are the names ``fit`` will log; ``validation`` says whether
        there is validation data."""

    def get_state(self) -> dict:
        """What this callback needs to continue exactly after a resume (counters, best value:
        numbers, None, or lists of arrays), by the keys of ``state_keys``; checkpoints save it.
        Nothing by default."""
        return {}

    def set_state(self, state: dict) -> None:
        """Take back what :meth:`get_state` returned (after ``on_train_begin`` of a resumed
        fit); by default each key becomes the attribute of that name. Only ``state_keys``
        are accepted from files."""
        for key, value in state.items():
            if key not in self.state_keys:
                raise ValueError(f"{type(self).__name__} has no state {key!r:.40}.")
            setattr(self, key, value)


def _overrides(callback: Callback, *hooks: str) -> bool:
    return any(getattr(type(callback), hook) is not getattr(Callback, hook) for hook in hooks)


# Keras' batch size when none is given (evaluate, predict): used when a callback takes their batch
# hooks; otherwise layerwise's larger passes give the same values (up to rounding) faster.
KERAS_BATCH_SIZE = 32

_PER_BATCH = {
    "on_train_batch_begin": ("on_train_batch_begin", "on_batch_begin"),
    "on_train_batch_end": ("on_train_batch_end", "on_batch_end"),
    "on_test_batch_begin": ("on_test_batch_begin",),
    "on_test_batch_end": ("on_test_batch_end",),
    "on_predict_batch_begin": ("on_predict_batch_begin",),
    "on_predict_batch_end": ("on_predict_batch_end",),
}


class CallbackList:
    """Calls a hook on several callbacks; per-batch hooks only on those that override them
    (a hook set on the instance, as ``LambdaCallback`` does, counts as overridden).

    Args:
        callbacks: the callbacks, or None.
        model: given to each callback's ``set_model``.

    Example::

        callbacks = CallbackList([EarlyStopping()], model)
        callbacks.call('on_train_begin', {})
        if callbacks.wants('on_train_batch_end'):
            callbacks.call('on_train_batch_end', 0, {'loss': 0.5})
    """

    def __init__(self, callbacks: Iterable[Callback] | None, model: Any) -> None:
        if isinstance(callbacks, Callback) or (
            callbacks is not None and not isinstance(callbacks, (list, tuple))
        ):
            raise TypeError(
                "Argument 'callbacks' must be a list of layerwise.callbacks.Callback; received "
                f"{callbacks!r:.60} of type {type(callbacks).__name__} (write callbacks=[...])."
            )
        callbacks = list(callbacks or [])
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    "Argument 'callbacks' must be a list of layerwise.callbacks.Callback; "
                    f"received {callback!r} of type {type(callback).__name__}."
                )
            callback.set_model(model)
        self.callbacks = callbacks
        self._per_batch = {
            hook: [
                c for c in callbacks
                if _overrides(c, *names) or any(n in vars(c) for n in names)
            ]
            for hook, names in _PER_BATCH.items()
        }
        # Older names, kept for code that reads them.
        self.batch_begin = self._per_batch["on_train_batch_begin"]
        self.batch_end = self._per_batch["on_train_batch_end"]
        # Callbacks that write checkpoints end each epoch last, so that what they save holds
        # every other callback's state (and learning rate) after that epoch.
        self._epoch_end = [c for c in callbacks if not c.writes_checkpoints] + [
            c for c in callbacks if c.writes_checkpoints
        ]

    def check_before_fit(self, log_names: set[str], validation: bool) -> None:
        """Let each callback refuse this fit before anything changes (see
        :meth:`Callback.check_before_fit`)."""
        for callback in self.callbacks:
            callback.check_before_fit(log_names, validation)

    def wants(self, hook: str) -> bool:
        """Whether any callback needs the per-batch ``hook`` (skip building its logs if not)."""
        return bool(self._per_batch[hook])

    def wants_batches(self, mode: str) -> bool:
        """Whether a callback takes ``on_<mode>_batch_begin`` or ``_end`` (``mode`` is
        ``'test'`` or ``'predict'``): then the batches follow Keras' default size, so that the
        hooks are called as often as Keras calls them."""
        return self.wants(f"on_{mode}_batch_begin") or self.wants(f"on_{mode}_batch_end")

    def call(self, hook: str, *args: Any) -> None:
        """Call ``hook`` with ``args`` on every callback (that needs it, for per-batch hooks)."""
        if hook == "on_epoch_end":
            targets = self._epoch_end
        else:
            targets = self._per_batch.get(hook, self.callbacks)
        for callback in targets:
            getattr(callback, hook)(*args)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.callbacks)
