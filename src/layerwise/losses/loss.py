"""``Loss`` (a loss by name with ``forward``/``backward``), ``get_loss`` (a name's
``(loss, derivative)`` pair of functions) and ``get``: a loss from a name, an object or a config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import registry
from ..exceptions import ShapeMismatchError
from .base import LossFunction
from .crossentropy import SparseCategoricalCrossentropy

__all__ = ["get", "Loss", "get_loss"]


def get(identifier: Any, argument: str = "loss_fn", **options: Any) -> LossFunction:
    """A loss function from a name (with options such as ``from_logits``), a
    :class:`LossFunction` or :class:`Loss` instance, or a config dict.

    Raises:
        ValueError: an unknown name (the message lists the valid ones), a missing loss, or
            options the loss does not take.
    """
    if identifier is None:
        raise ValueError(
            f"Argument '{argument}' is required; valid names: "
            f"{', '.join(registry.valid_names('loss'))}."
        )
    if options and not isinstance(identifier, (str, type)):
        raise ValueError(
            f"Options {sorted(options)} can only be given with a loss name; argument "
            f"'{argument}' is already a loss: {identifier!r}."
        )
    if isinstance(identifier, Loss):
        return identifier.function
    try:
        return registry.get("loss", identifier, argument=argument, **options)
    except TypeError as error:
        if not options:
            raise
        raise ValueError(
            f"Options {sorted(options)} are not all options of the loss {identifier!r} given as "
            f"argument '{argument}': {error}"
        ) from error


class Loss:
    """A loss by name, with ``forward`` (the value) and ``backward`` (the gradient).

    ``loss(y_true, y_pred)`` and ``loss_derivative(y_true, y_pred)`` (also reached through
    ``forward`` and ``backward``) accept arrays or plain Python lists. Labels of shape ``(n,)``
    for predictions of shape ``(n, 1)`` are reshaped rather than broadcast.

    Args:
        loss_function: a name such as ``'mse'`` or ``'categorical_crossentropy'``, a
            :class:`LossFunction`, or a config dict.
        **options: options of that loss, e.g. ``from_logits=True`` or ``delta=2.0`` for Huber.

    Example::

        loss = Loss('categorical_crossentropy', from_logits=True)
        model.compile(loss_fn=loss, optimizer='adam')
        loss.forward([[0, 1]], [[2.0, 1.0]])    # -log(softmax([2, 1])[1])
    """

    def __init__(self, loss_function: Any = "mse", **options: Any) -> None:
        self.function = get(loss_function, argument="loss_function", **options)
        self.name = self.function.name
        self.loss = self._value
        self.loss_derivative = self._gradient

    @property
    def from_logits(self) -> bool:
        """True when the loss takes raw scores (logits) rather than probabilities."""
        return self.function.from_logits

    def _arrays(self, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
        """Arrays from lists: integer predictions become float64, labels are checked as
        ``fit`` checks them (shape, range: class ids in ``[0, k)``, binary labels in
        ``[0, 1]``), and labels of the predictions' size take their shape (never a silent
        broadcast)."""
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind not in "biuf":
            raise TypeError(f"Argument 'y_pred' must hold real numbers; received {y_pred.dtype}.")
        if not np.issubdtype(y_pred.dtype, np.floating):
            y_pred = y_pred.astype(np.float64)
        y_true = np.asarray(y_true)
        if y_true.dtype.kind not in "biuf":
            raise TypeError(f"Argument 'y_true' must hold real numbers; received {y_true.dtype}.")
        if y_pred.ndim == 0:
            raise ShapeMismatchError("Argument 'y_pred' must hold a batch, not one number.")
        if isinstance(self.function, SparseCategoricalCrossentropy):
            expected = y_pred.shape[:-1]
            if y_true.size != int(np.prod(expected)):
                raise ShapeMismatchError(
                    f"Argument 'y_true' holds {y_true.size} labels for predictions of shape "
                    f"{y_pred.shape}; {self.name!r} needs one integer label per row."
                )
            y_true = y_true.reshape(expected)
        elif y_true.shape != y_pred.shape:
            if y_true.size != y_pred.size:
                raise ShapeMismatchError(
                    f"Argument 'y_true' has shape {y_true.shape}, but 'y_pred' has shape "
                    f"{y_pred.shape}; {self.name!r} needs labels of the predictions' shape."
                )
            y_true = y_true.reshape(y_pred.shape)
        if y_pred.ndim >= 2 and y_pred.dtype.kind == "f":
            try:
                y_true = self.function.targets(y_true, y_pred.shape[1:], y_pred.dtype)
            except (ValueError, TypeError) as error:
                message = str(error).replace("Argument 'y'", "Argument 'y_true'", 1)
                raise type(error)(message) from None
        return y_true, y_pred

    def _value(self, y_true, y_pred) -> float:
        return self.function.value(*self._arrays(y_true, y_pred))

    def _gradient(self, y_true, y_pred) -> np.ndarray:
        return self.function.gradient(*self._arrays(y_true, y_pred))

    def forward(self, y_true: ArrayLike, y_pred: ArrayLike) -> float:
        """The mean loss of a batch."""
        return self.loss(y_true, y_pred)

    def backward(self, y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
        """The gradient of the mean loss with respect to ``y_pred`` (with ``from_logits=True``:
        with respect to the logits)."""
        return self.loss_derivative(y_true, y_pred)

    def get_config(self) -> dict:
        """``{"loss_function": <serialized loss>}``, rebuilt by :meth:`from_config`."""
        return {"loss_function": registry.serialize(self.function)}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        """The ``Loss`` described by :meth:`get_config`'s output."""
        return cls(config["loss_function"])

    def __eq__(self, other) -> bool:
        return isinstance(other, Loss) and self.function == other.function

    def __hash__(self) -> int:
        return hash(self.function)

    def __repr__(self):
        return f"Loss({self.function!r})"


def get_loss(name: str) -> tuple[Callable, Callable]:
    """The pair of functions ``(loss, derivative)`` for a loss name.

    ``loss(y_true, y_pred)`` is the batch's mean loss as a float and ``derivative(y_true,
    y_pred)`` its gradient with respect to ``y_pred``; both accept arrays or lists.
    """
    loss = Loss(name)
    return loss.forward, loss.backward
