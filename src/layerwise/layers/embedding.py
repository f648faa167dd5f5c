"""``Embedding`` (integer ids to vectors) and ``Masking`` (skip padded steps)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import initializers, regularizers
from ..exceptions import ShapeMismatchError
from ..ops import embedding as ops
from ..registry import register, serialize
from ..seeding import make_rng
from .base import Layer, check_positive_int

__all__ = ["Embedding", "Masking"]


@register("embedding")
class Embedding(Layer):
    """Turn integer ids into dense vectors: row ``id`` of the table ``embeddings``.

    Args:
        input_dim: size of the vocabulary (ids lie in ``[0, input_dim)``).
        output_dim: length of each vector.
        embeddings_initializer: initializer of the table (Keras' default: uniform on ±0.05).
        embeddings_regularizer: optional regularizer of the table.
        mask_zero: id 0 is padding: the layer's output mask is ``ids != 0`` (then id 0 must not
            be a real word; Keras' convention).
        seed: seed of the initializer's generator.
        name: optional layer name.

    Shapes: ids ``(n, steps)`` (integers, or floats holding whole numbers) give
    ``(n, steps, output_dim)``. ``get_weights()`` is ``[embeddings (input_dim, output_dim)]``.

    The gradient is a scatter-add of the output error into the rows of the ids seen (repeated
    ids add up). An id outside ``[0, input_dim)`` raises ``ValueError`` naming the layer, the id
    and ``input_dim`` before anything changes.

    Example::

        ids = Input(shape=(80,), dtype='int32')
        vectors = Embedding(10000, 64, mask_zero=True)(ids)
        encoded = LSTM(64)(vectors)
    """

    _transient = ("ids",)

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        mask_zero: bool = False,
        seed: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.output_dim = check_positive_int(output_dim, "output_dim")
        if not isinstance(mask_zero, (bool, np.bool_)):
            raise TypeError(f"Argument 'mask_zero' must be True or False; received {mask_zero!r}.")
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = initializers.get(embeddings_initializer,
                                                       "embeddings_initializer")
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer,
                                                       "embeddings_regularizer")
        self.seed = seed
        self._rng = make_rng(seed)
        self.ids = None

    def build(self, input_shape: Any) -> None:
        """Create the table; the output adds an axis of ``output_dim``."""
        self.input_shape = tuple(input_shape)
        self.output_shape = (*self.input_shape, self.output_dim)
        self.add_weight("embeddings", (self.input_dim, self.output_dim),
                        self.embeddings_initializer, regularizer=self.embeddings_regularizer)

    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """The rows of the ids (checked first); see the class docstring."""
        ids = ops.as_ids(input_data, self.input_dim, self.name)
        self.ids = ids
        self.input = input_data
        out = self._buffer("y", (*ids.shape, self.output_dim))
        self.output = ops.gather(self.embeddings, ids, out=out)
        return self.output

    def compute_mask(self, inputs: Any, mask: np.ndarray | None) -> np.ndarray | None:
        """``ids != 0`` with ``mask_zero``, else None."""
        if not self.mask_zero:
            return None
        return np.asarray(inputs) != 0

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """Scatter-add ``output_error`` into ``grad_embeddings``; ids have no gradient (None)."""
        ops.scatter_add(self.grad_embeddings, self.ids, output_error)
        return None

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments."""
        return {
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": serialize(self.embeddings_initializer),
            "embeddings_regularizer": serialize(self.embeddings_regularizer),
            "mask_zero": self.mask_zero,
            "seed": self.seed,
            "name": self.name,
        }


@register("masking")
class Masking(Layer):
    """Mark the steps whose features all equal ``mask_value`` as padding.

    The output is the input with those steps set to 0, and its mask (``(n, steps)``, True where
    a step is kept) tells recurrent layers to skip them and losses to leave them out (Keras'
    ``Masking``).

    Args:
        mask_value: the padding value.
        name: optional layer name.

    Shapes: ``(n, steps, features)`` in and out.

    Example::

        inputs = Input(shape=(20, 3))
        encoded = LSTM(8)(Masking(0.0)(inputs))
    """

    supports_masking = True
    _transient = ("keep",)

    def __init__(self, mask_value: float = 0.0, name: str | None = None) -> None:
        super().__init__(name)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.number)):
            raise TypeError(f"Argument 'mask_value' must be a number; received {mask_value!r}.")
        self.mask_value = float(mask_value)
        self.keep = None

    def build(self, input_shape: Any) -> None:
        """Any input with a step axis: ``(steps, ...)``."""
        if len(input_shape) < 2:
            raise ShapeMismatchError(
                f"Masking {self.name!r} needs inputs (steps, features); received samples of "
                f"shape {tuple(input_shape)}."
            )
        super().build(tuple(input_shape))

    def _keep(self, inputs) -> np.ndarray:
        axes = tuple(range(2, np.ndim(inputs)))
        return np.any(np.asarray(inputs) != self.mask_value, axis=axes)

    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """The input with masked steps zeroed."""
        self.input = input_data
        self.keep = keep = self._keep(input_data)
        shape = keep.shape + (1,) * (input_data.ndim - 2)
        self.output = np.multiply(input_data, keep.reshape(shape),
                                  out=self._buffer("y", input_data.shape))
        return self.output

    def compute_mask(self, inputs: Any, mask: np.ndarray | None) -> np.ndarray | None:
        """Steps with some feature different from ``mask_value`` (and the input's mask)."""
        keep = self._keep(inputs)
        return keep if mask is None else keep & mask

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The error of the kept steps."""
        if not input_gradient:
            return None
        output_error *= self.keep.reshape(self.keep.shape + (1,) * (output_error.ndim - 2))
        return output_error

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments."""
        return {"mask_value": self.mask_value, "name": self.name}
