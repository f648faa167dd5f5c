"""Loss functions, their gradients, the fused output-activation + loss gradients, and ``Loss``.

Every loss value is a mean over the samples of a batch (mean squared error: over all elements),
so the reported loss does not grow with the batch size, and every gradient is the gradient of
that mean with respect to the predictions.

When a loss follows its *partner* activation (softmax for the categorical cross-entropies,
sigmoid for binary cross-entropy), the model skips the activation's Jacobian and uses
:meth:`LossFunction.fused_gradient`, the gradient with respect to the activation's input, which
is both cheaper and exact: ``(p - y) / n``. With ``from_logits=True`` a loss takes raw scores
(a linear last layer) and computes the same quantities with a stable log-sum-exp.
"""

from __future__ import annotations

from .base import LossFunction
from .crossentropy import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy
from .loss import Loss, get, get_loss
from .regression import Huber, MeanAbsoluteError, MeanSquaredError

__all__ = [
    "LossFunction",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "BinaryCrossentropy",
    "Loss",
    "get",
    "get_loss",
]
