"""The core layers: ``Input`` and ``Dense`` (``Activation`` is in :mod:`.activation`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import _blas, _constants, activations, initializers, regularizers
from ..exceptions import ShapeMismatchError
from ..ops.affine import NonFiniteProduct, affine
from ..registry import register, serialize
from ..seeding import make_rng
from .activation import Activation  # noqa: F401 - pickles made before the move name it here
from .base import Layer, check_positive_int

__all__ = ["Input", "Dense"]


@register("input")
class Input(Layer):
    """The first layer of a model: passes its input on unchanged.

    Args:
        shape: the shape of one sample, without the batch axis, e.g. ``(784,)`` or ``(28, 28)``.
        name: optional layer name.
        dtype: ``None`` (the model's floating dtype: data is converted to it) or an integer
            dtype such as ``'int32'``: the input is fed as integers, never cast to float
            (token ids for an ``Embedding``); data holding non-integers is refused.
    """

    def __init__(
        self, shape: tuple[int, ...], name: str | None = None, dtype: DTypeLike = None
    ) -> None:
        super().__init__(name)
        self.validate_init(shape)
        self.shape = tuple(int(s) for s in shape)
        self.input_shape = self.output_shape = self.shape
        if dtype is not None:
            try:
                resolved = np.dtype(dtype)
            except TypeError:
                raise TypeError(f"Argument 'dtype' of Input must be a NumPy dtype name such as "
                                f"'int32' or 'float32'; received {dtype!r}.") from None
            if resolved.kind not in "iuf":
                raise ValueError(f"Argument 'dtype' of Input must be an integer or floating "
                                 f"dtype; received {dtype!r}.")
            dtype = None if resolved.kind == "f" else resolved
        self.input_dtype = dtype

    @staticmethod
    def validate_init(shape: tuple[int, ...]) -> None:
        """The shape must be a tuple (or list) of positive integers."""
        if not isinstance(shape, (tuple, list)):
            hint = f" (for one dimension write shape=({shape},))" if isinstance(shape, int) else ""
            raise TypeError(
                f"Argument 'shape' of Input must be a tuple of positive integers{hint}; "
                f"received {shape!r} of type {type(shape).__name__}."
            )
        if len(shape) == 0:
            raise ValueError("Argument 'shape' of Input must not be empty; received ().")
        for dim in shape:
            if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0:
                raise ValueError(
                    "Argument 'shape' of Input must hold only positive integers; "
                    f"received {shape!r}."
                )

    def __call__(self, previous_layer: Layer | list[Layer]) -> Layer:
        """Refused: an ``Input`` has no previous layer."""
        raise TypeError("An Input layer starts a model and cannot be called on another layer.")

    def forward(self, inputs: Any) -> np.ndarray:
        """Return ``inputs`` unchanged (the model has already checked their shape)."""
        self.input = self.output = inputs
        return inputs

    def _infer(self, inputs: Any, out: np.ndarray | None = None) -> Any:
        return inputs

    def backward(self, output_error: np.ndarray, learning_rate: float | None = None) -> np.ndarray:
        """Returns the output error unchanged."""
        return output_error

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        return output_error

    def get_config(self) -> dict[str, Any]:
        """``{'shape': [...], 'name': ...}`` (and ``'dtype'`` for an integer input)."""
        config = {"shape": list(self.shape), "name": self.name}
        if getattr(self, "input_dtype", None) is not None:
            config["dtype"] = self.input_dtype.name
        return config


@register("dense")
class Dense(Layer):
    """Fully connected layer on the last axis: ``output = activation(input @ weights + bias)``.

    As in Keras and PyTorch, an input ``(n, ..., features)`` gives ``(n, ..., output_size)``: the
    same weights act on every position. Put a :class:`~layerwise.layers.Flatten` before a
    ``Dense`` to mix all of a sample's values instead (``Input((8, 8))`` -> ``Flatten()`` ->
    ``Dense(10)``).

    Args:
        output_size: number of output units (Keras' ``units`` is accepted as a keyword).
        activation: activation name or object (default: linear).
        weights_initializer: initializer of ``weights`` (default ``'random_normal'``); also
            spelled ``weight_initializer``, and Keras' ``kernel_initializer``.
        bias_initializer: initializer of ``bias`` (default ``'zeros'``).
        name: optional layer name.
        input_size: number of input features, for a ``Dense`` that starts a model without an
            ``Input`` layer.
        use_bias: add the bias (default True); without it the layer has ``weights`` only.
        kernel_regularizer: ``'l1'``, ``'l2'``, ``'l1_l2'`` or a regularizer object for
            ``weights``; its penalty is added to the loss.
        bias_regularizer: the same for ``bias``.
        seed: seed of this layer's initial weights (default: from :func:`layerwise.set_seed`).

    Shapes:
        input ``(n, ..., input_size)``, output ``(n, ..., output_size)``; ``weights`` is
        ``(input_size, output_size)`` and ``bias`` is ``(output_size,)``.

    Example::

        inputs = Input(shape=(2,))
        hidden = Dense(16, activation='relu', weights_initializer='he_normal')(inputs)
        outputs = Dense(1, activation='sigmoid')(hidden)

        layer = Dense(3, activation='tanh', input_size=4)  # a layer used on its own
        y = layer.forward(np.ones((5, 4), np.float32))      # y.shape == (5, 3)

    Raises:
        TypeError, ValueError: ``output_size`` or ``input_size`` not a positive integer, ``name``
            not a non-empty string, an unknown activation, initializer or regularizer name (the
            message lists the valid ones), or the weights' initializer given twice.
    """

    supports_masking = True
    _transient = ("pre_activation", "_input_2d")

    def __init__(
        self,
        output_size: int | None = None,
        activation: Any = None,
        weights_initializer: Any = None,
        bias_initializer: Any = "zeros",
        name: str | None = None,
        input_size: int | None = None,
        *,
        units: int | None = None,
        use_bias: bool = True,
        weight_initializer: Any = None,
        kernel_initializer: Any = None,
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        seed: int | None = None,
    ) -> None:
        if units is not None:
            if output_size is not None and output_size != units:
                raise ValueError(
                    "Give the number of units once: 'output_size' and 'units' are the same "
                    f"argument; received {output_size!r} and {units!r}."
                )
            output_size = units
        self.validate_init(output_size, name, input_size)
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"Argument 'use_bias' must be True or False; received {use_bias!r}.")
        super().__init__(name)
        spellings = (weights_initializer, weight_initializer, kernel_initializer)
        given = [i for i in spellings if i is not None]
        if len(given) > 1:
            raise ValueError(
                "Give the weights' initializer once: 'weights_initializer', 'weight_initializer' "
                f"and 'kernel_initializer' are the same argument; received {given!r}."
            )
        self.output_size = int(output_size)
        self.use_bias = bool(use_bias)
        self.activation = activations.get(activation, argument="activation")
        self.weights_initializer = initializers.get(
            given[0] if given else None, argument="weights_initializer"
        )
        self.bias_initializer = initializers.get(bias_initializer, argument="bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, "bias_regularizer")
        self.seed = seed
        self._rng = make_rng(seed)
        self.weights = self.bias = None
        self.input_size = None
        self._created_with_input_size = input_size is not None
        if input_size is not None:
            self.build((int(input_size),))

    @property
    def units(self) -> int:
        """Keras' name of ``output_size``."""
        return self.output_size

    @property
    def output_activation(self) -> Any:
        """The layer's activation (fused with a matching loss by ``compile``)."""
        return self.activation

    @staticmethod
    def validate_init(output_size: Any, name: Any, input_size: Any = None) -> None:
        """``output_size`` (and ``input_size`` if given) positive integers, ``name`` a string."""
        if output_size is None:
            raise TypeError("Argument 'output_size' of Dense is required (a positive integer).")
        check_positive_int(output_size, "output_size")
        if input_size is not None:
            check_positive_int(input_size, "input_size")
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"Argument 'name' must be a string; received {name!r} "
                f"of type {type(name).__name__}."
            )

    def __call__(self, previous_layer: Layer | list[Layer]) -> Layer:
        """Attach after ``previous_layer`` and create the weights for its last axis."""
        self._check_parents(previous_layer)
        if self.weights is None:
            return super().__call__(previous_layer)
        # Built from input_size at creation: the weights already exist, so keep them.
        shape = tuple(previous_layer.output_shape)
        if shape[-1] != self.input_size:
            raise ShapeMismatchError(
                f"Dense {self.name!r} was created with input_size={self.input_size}, but "
                f"{previous_layer.name!r} outputs samples of shape {shape} (last axis "
                f"{shape[-1]}); Dense acts on the last axis."
            )
        self.input_shape = shape
        self.output_shape = (*shape[:-1], self.output_size)
        self.inbound = [previous_layer]
        return self

    def build(self, input_shape: Any) -> None:
        """Create ``weights`` ``(input_shape[-1], output_size)`` and ``bias``."""
        self.input_shape = tuple(input_shape)
        self.input_size = int(self.input_shape[-1])
        self.output_shape = (*self.input_shape[:-1], self.output_size)
        try:
            self.weights = self.add_weight(
                "weights",
                (self.input_size, self.output_size),
                self.weights_initializer,
                regularizer=self.kernel_regularizer,
            )
        except ValueError as error:
            raise ValueError(
                f"{error} (Arguments 'output_size'={self.output_size} and 'input_size' or the "
                f"input's last axis, {self.input_size}.)"
            ) from None
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                (self.output_size,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
            )

    def create_weights(self) -> None:
        """Create fresh ``weights`` and ``bias`` for the current input size."""
        self.build(self.input_shape or (self.input_size,))

    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """``activation(input @ weights + bias)`` over the last axis of ``input_data``."""
        x = input_data if input_data.ndim == 2 else input_data.reshape(-1, input_data.shape[-1])
        if x.dtype != self.weights.dtype:  # direct use with other data; fit converts once
            x = x.astype(self.weights.dtype)
        n = len(x)
        self.input = input_data
        self._input_2d = x
        # np.dot rather than np.matmul on these 2-D arrays: the same BLAS call with less
        # dispatch overhead, which counts at small batch sizes.
        z = np.dot(x, self.weights, out=self._buffer("z", (n, self.output_size)))
        if self.use_bias:
            z += self.bias
        # Activations whose gradient needs only their output are applied in place.
        out = self._buffer("y", (n, self.output_size)) if self.activation.needs_input else z
        self.pre_activation = z
        self.output = self.activation.forward(z, out=out)
        if input_data.ndim == 2:
            return self.output
        return self.output.reshape(*input_data.shape[:-1], self.output_size)

    def _infer(
        self, input_data: np.ndarray, out: np.ndarray | None = None, check_product: bool = False
    ) -> np.ndarray:
        """:meth:`forward`'s output with nothing kept: the bias folded into the product, and
        the activation applied in place (no backward needs the value before it). With
        ``check_product``, a product holding NaN or infinity raises ``NonFiniteProduct``: a
        row of the input that holds one makes its whole row of the product non-finite
        (NaN or infinity times any number is), so a finite product proves the input finite."""
        if (out is None and not check_product and input_data.ndim == 2
                and input_data.dtype == self.weights.dtype
                and len(input_data) * self.output_size < _blas.MIN_SIZE):
            # One sample: affine's small-product way (the same operations), without the calls.
            z = np.dot(input_data, self.weights)
            if self.use_bias:
                np.add(z, self.bias, out=z)
            return self.activation.forward(z, out=z)
        x = input_data if input_data.ndim == 2 else input_data.reshape(-1, input_data.shape[-1])
        if x.dtype != self.weights.dtype:
            x = x.astype(self.weights.dtype)
        rows = None if out is None else out.reshape(len(x), self.output_size)
        bias = self.bias if self.use_bias else None
        if not check_product:
            z = affine(x, self.weights, bias, out=rows)
        else:
            # Quietly: a finite product raised no warning, and the caller runs a non-finite one
            # again without the check (warning then), unless the input itself was at fault.
            with np.errstate(over="ignore", invalid="ignore"):
                z = affine(x, self.weights, bias, out=rows)
                if not np.isfinite(np.add.reduce(z, axis=None)):
                    raise NonFiniteProduct(self.name)
        z = self.activation.forward(z, out=z)
        if input_data.ndim == 2:
            return z
        return z.reshape(*input_data.shape[:-1], self.output_size)

    def _delta(self, output_error, pre_activation):
        """The gradient of ``input @ weights + bias`` as rows ``(m, output_size)``:
        ``output_error`` itself with ``pre_activation`` (a fused loss already gave it), else
        through the activation."""
        if output_error.ndim != 2:
            output_error = output_error.reshape(-1, self.output_size)
        if pre_activation:
            return output_error
        return self.activation.backward(self.pre_activation, self.output, output_error)

    def _input_error(self, delta):
        """The gradient with respect to the input, ``delta @ weights.T``, in the input's shape."""
        input_error = np.dot(
            delta, self.weights.T, out=self._buffer("dx", (len(delta), self.input_size))
        )
        return input_error.reshape(self.input.shape)

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """See :meth:`Layer._backward`; with ``pre_activation`` the activation's backward is
        skipped because ``output_error`` is already the gradient of ``input @ weights + bias``."""
        delta = self._delta(output_error, pre_activation)
        # The reduction first, so that the two matrix products run back to back: with several
        # BLAS threads, every element-wise step between products costs a hand-over.
        if self.use_bias:
            _constants.column_sums(delta, out=self.grad_bias)
        np.dot(self._input_2d.T, delta, out=self.grad_weights)
        return self._input_error(delta) if input_gradient else None

    def _backward_descend(self, output_error, pre_activation=False, input_gradient=True):
        """See :meth:`Layer._backward_descend`: ``weights -= input.T @ delta`` runs as one BLAS
        call that adds the product into ``weights`` (:mod:`layerwise._blas`), so ``grad_weights``
        does not hold the weight gradient afterwards; ``grad_bias`` does hold the bias's."""
        delta = self._delta(output_error, pre_activation)
        if self.use_bias:
            _constants.column_sums(delta, out=self.grad_bias)
        # The input error first: it needs the weights from before this step.
        input_error = self._input_error(delta) if input_gradient else None
        _blas.subtract_transposed_product(self.weights, self._input_2d, delta, self.grad_weights)
        if self.use_bias:
            np.subtract(self.bias, self.grad_bias, out=self.bias)
        return input_error

    def backward(self, output_error: np.ndarray, learning_rate: float | None = None) -> np.ndarray:
        """Store the gradients of ``weights`` and ``bias`` and return the input error."""
        return super().backward(output_error)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments; ``input_size`` only for a Dense that starts a model."""
        config = {
            "output_size": self.output_size,
            "activation": serialize(self.activation),
            "weights_initializer": serialize(self.weights_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "name": self.name,
            "seed": self.seed,
        }
        if not self.use_bias:
            config["use_bias"] = False
        if not self.inbound and self.input_size is not None:
            config["input_size"] = self.input_size
        return config
