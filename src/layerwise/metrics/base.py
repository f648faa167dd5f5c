"""The base class of metrics, and how labels are encoded (the "kind": see the package docstring)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import registry
from ..registry import Serializable

__all__ = ["Metric", "sample_weights_for"]


def _label_kind(loss, output_shape) -> str | None:
    """The label kind implied by the loss and the model's output shape (None: infer later)."""
    name = getattr(loss, "name", "")
    width = tuple(output_shape)[-1] if output_shape is not None and len(output_shape) else None
    if name == "sparse_categorical_crossentropy":
        return "sparse"
    if name == "categorical_crossentropy":
        return "onehot"
    if width is None:
        return None
    if width == 1:
        return "binary"
    return "multilabel" if name == "binary_crossentropy" else "onehot"


def _infer_kind(y_true, y_pred) -> str:
    """The label kind read from the shapes of one batch (for metrics used without ``bind``)."""
    if np.ndim(y_pred) < 2 or np.shape(y_pred)[-1] == 1:
        return "binary"
    if np.ndim(y_true) < np.ndim(y_pred) or np.shape(y_true)[-1] == 1:
        return "sparse"
    return "onehot"


def sample_weights_for(sample_weight: np.ndarray | None, shape: tuple[int, ...]) -> Any:
    """Per-sample weights ``(n,)`` broadcast to an array of ``shape`` (samples first), or 1."""
    if sample_weight is None:
        return 1
    weights = np.asarray(sample_weight, dtype=np.float64)
    return np.broadcast_to(weights.reshape(len(weights), *([1] * (len(shape) - 1))), shape)


class Metric(Serializable):
    """Base class of streaming metrics: ``reset()``, ``update(y_true, y_pred)``, ``result()``.

    ``y_pred`` are probabilities for classifiers (the model converts logits first); ``y_true``
    are labels as the loss reads them. ``bind(loss, output_shape)`` is called by ``compile``.
    Subclasses keep running totals in ``reset`` / ``update`` and compute ``result`` from them.

    Args:
        name: the key of this metric in ``model.history`` and ``evaluate`` (defaults to the
            class's short name).
    """

    name = "metric"

    def __init__(self, name: str | None = None):
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"Argument 'name' must be a non-empty string; received {name!r}.")
            self.name = name
        self.kind: str | None = None
        self.reset()

    def bind(self, loss: Any, output_shape: tuple[int, ...]) -> None:
        """Learn how labels are encoded from the loss (an object with a ``name``) and the model's
        output shape (without the batch axis)."""
        self.kind = _label_kind(loss, output_shape)

    def _kind_for(self, y_true, y_pred) -> str:
        if self.kind is None:
            self.kind = _infer_kind(y_true, y_pred)
        return self.kind

    def reset(self) -> None:
        """Forget everything accumulated (called at the start of each epoch)."""
        raise NotImplementedError

    def update(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> None:
        """Add one batch to the running totals; ``sample_weight`` (shape ``(n,)``) weighs each
        sample's contributions, as Keras' ``sample_weight`` does (a weighted mean, weighted
        counts)."""
        raise NotImplementedError

    def result(self) -> float:
        """The metric over everything added since the last ``reset`` (0.0 before any data)."""
        raise NotImplementedError

    def merge_state(self, other: Metric) -> None:
        """Add the running totals of ``other`` (the same metric, updated on other batches) to
        this one's, as if this one had seen those batches too. Distributed training merges the
        processes' metrics so; a metric of your own needs it only there."""
        raise NotImplementedError(
            f"Metric {type(self).__name__} has no merge_state(other), which distributed "
            "training needs to combine the processes' totals."
        )

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


registry.register_kind("metric", Metric)
