"""Optimizers: SGD (with momentum and Nesterov), Adam, AdamW and RMSprop.

The update rules are PyTorch's (``torch/optim``), written one equation per line so they can be
checked against the papers. Every update happens in place on the parameter arrays; per-parameter
state (``slots``) and one scratch array per parameter are allocated once, in :meth:`build`, so a
training step allocates nothing. State is kept by parameter name (``dense_1/weights``) so that it
can be saved and restored.

Example::

    optimizer = Adam(learning_rate=ExponentialDecay(0.01, decay_steps=100, decay_rate=0.5))
    model.compile(loss_fn='mse', optimizer=optimizer)
"""

from __future__ import annotations

from typing import Any

from .. import registry
from .adaptive import Adam, AdamW, RMSprop
from .base import Optimizer, check_learning_rate
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "get", "check_learning_rate"]


def get(identifier: Any, argument: str = "optimizer") -> Optimizer:
    """An optimizer from a name (``'sgd'``, ``'adam'``, ``'adamw'``, ``'rmsprop'``, with default
    settings), an instance (returned as is), a class or a config dict; ``None`` gives ``SGD()``.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    if identifier is None:
        return SGD()
    return registry.get("optimizer", identifier, argument=argument)
