"""The ``Layer`` base class: graph wiring, parameters, training flag and reusable buffers."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict

import numpy as np

from .. import registry
from ..exceptions import IncompatibleLayerError
from ..registry import Serializable

__all__ = ["Layer"]

_counters: defaultdict[str, itertools.count] = defaultdict(lambda: itertools.count(1))


def _snake_case(name: str) -> str:
    """``BatchNormalization`` -> ``batch_normalization`` (the prefix of automatic names)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def unique_name(prefix: str) -> str:
    """``prefix_1``, ``prefix_2``, ... (Keras-style automatic layer names)."""
    return f"{prefix}_{next(_counters[prefix])}"


def check_positive_int(value, argument: str) -> int:
    """``value`` as an int, or a ``ValueError``/``TypeError`` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"Argument '{argument}' must be a positive integer; received {value!r} "
            f"of type {type(value).__name__}."
        )
    if value <= 0:
        raise ValueError(f"Argument '{argument}' must be a positive integer; received {value!r}.")
    return int(value)


class Layer(Serializable):
    """Base class of layers (the spec's ``Layer``).

    A layer transforms its input in ``forward``, returns the gradient with respect to its input in
    ``backward(output_error)``, keeping the gradients of its own parameters, and applies them in
    ``update(learning_rate)``. Calling a layer on another, ``Dense(8)(previous)``, wires the graph
    and builds the layer for the previous layer's output shape.

    Attributes:
        name: unique name, used for parameter names such as ``dense_1/weights``.
        inbound: the layers this one was called on (several for merge layers).
        output_shape: the shape of one sample of the output (no batch axis), once built.
        training: True while ``fit`` runs; layers such as dropout behave differently then.
    """

    def __init__(self, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise TypeError(f"Argument 'name' must be a non-empty string; received {name!r}.")
        if name is not None and "/" in name:
            raise ValueError(f"Argument 'name' must not contain '/'; received {name!r}.")
        self.name = name or unique_name(_snake_case(type(self).__name__))
        self.input = None
        self.output = None
        self.inbound: list[Layer] = []
        self.input_shape: tuple[int, ...] | None = None
        self.output_shape: tuple[int, ...] | None = None
        self.training = False
        self.dtype = np.dtype(np.float32)
        self._buffers: dict[str, np.ndarray] = {}

    # ----------------------------------------------------------------- graph
    def __call__(self, previous_layer):
        """Attach this layer after ``previous_layer`` (or a list of layers) and build it.

        Returns this layer, so calls chain: ``outputs = Dense(1)(Dense(8)(inputs))``.
        """
        parents = self._check_parents(previous_layer)
        shapes = [p.output_shape for p in parents]
        self.build(shapes[0] if len(shapes) == 1 else shapes)
        self.inbound = parents
        return self

    def _check_parents(self, previous_layer) -> list[Layer]:
        """``previous_layer`` as a list of built layers; refuses non-layers and a second call."""
        parents = (
            list(previous_layer) if isinstance(previous_layer, (list, tuple)) else [previous_layer]
        )
        for parent in parents:
            if not isinstance(parent, Layer):
                raise TypeError(
                    f"Argument 'previous_layer' of {self.name} must be a Layer; received "
                    f"{parent!r} of type {type(parent).__name__}."
                )
            if parent.output_shape is None:
                raise IncompatibleLayerError(
                    f"Layer {parent.name!r} has no known output shape yet, so {self.name!r} cannot "
                    "be attached to it; start the model with Input(shape=...) or give the first "
                    "Dense an input_size."
                )
        if self.inbound:
            raise IncompatibleLayerError(
                f"Layer {self.name!r} is already attached to {[p.name for p in self.inbound]}; "
                "create a new layer instead of calling one twice."
            )
        return parents

    def build(self, input_shape) -> None:
        """Create parameters for ``input_shape`` (one sample); default: shape preserved."""
        self.input_shape = input_shape
        self.output_shape = input_shape

    # ------------------------------------------------------------- computing
    def forward(self, input_data):
        """The layer's output for a batch ``input_data`` of shape ``(n, *input_shape)``."""
        raise NotImplementedError

    def backward(self, output_error, learning_rate=None):
        """Store the parameters' gradients and return the gradient with respect to the input.

        ``output_error`` (the gradient of the loss with respect to this layer's last output) is
        copied first, so the caller's array is never changed. ``learning_rate`` is accepted for
        the spec's signature and ignored: updates happen in :meth:`update`.
        """
        return self._backward(np.array(output_error, dtype=self.dtype, copy=True))

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The training loop's backward: may overwrite ``output_error``; skips the input
        gradient when ``input_gradient`` is False (the first layer's is never used)."""
        raise NotImplementedError

    def _backward_descend(self, output_error, pre_activation=False, input_gradient=True):
        """:meth:`_backward`, then plain gradient descent with gradients that already carry the
        learning rate: ``p -= grad`` for every parameter. ``fit`` calls it instead of
        ``_backward`` with SGD without momentum; layers override it to fold the update into
        their products."""
        input_error = self._backward(output_error, pre_activation, input_gradient)
        gradients = self.gradients()
        for name, param in self.parameters().items():
            np.subtract(param, gradients[name], out=param)
        return input_error

    def update(self, learning_rate: float) -> None:
        """Plain gradient descent on this layer's parameters: ``p -= learning_rate * grad``."""
        gradients = self.gradients()
        for name, param in self.parameters().items():
            param -= learning_rate * gradients[name]

    # ------------------------------------------------------------ parameters
    def parameters(self) -> dict[str, np.ndarray]:
        """Trainable arrays by name (updated in place by optimizers)."""
        return {}

    def gradients(self) -> dict[str, np.ndarray]:
        """The gradient of each trainable array, same names, from the last ``backward``."""
        return {}

    def _adopt(self, parameters: dict[str, np.ndarray], gradients: dict[str, np.ndarray]):
        """Hold these arrays (same names and shapes, values already copied in) as the
        parameters and their gradients from now on: ``fit`` packs every layer's into one flat
        array each. Parameters are the attributes of their names, gradients ``grad_<name>``;
        layers that name them otherwise override this."""
        for name, array in parameters.items():
            setattr(self, name, array)
        for name, array in gradients.items():
            setattr(self, f"grad_{name}", array)

    def state(self) -> dict[str, np.ndarray]:
        """Non-trainable arrays that are saved with the model (e.g. moving averages)."""
        return {}

    @property
    def regularized(self) -> bool:
        """True when the layer adds a penalty to the loss."""
        return False

    def regularization_gradients(self) -> dict[str, np.ndarray]:
        """Gradients of :meth:`regularization_loss` by parameter name (new arrays). The model
        adds them to the gradients of the data loss after ``backward``; none by default."""
        return {}

    def regularization_loss(self) -> float:
        """Penalty added to the loss (weight regularizers); 0 by default."""
        return 0.0

    def set_dtype(self, dtype) -> None:
        """Cast parameters and state to ``dtype`` (``compile`` calls this)."""
        self.dtype = np.dtype(dtype)
        self._buffers.clear()

    def count_params(self) -> int:
        """Number of trainable scalars."""
        return int(sum(p.size for p in self.parameters().values()))

    def _buffer(self, key: str, shape: tuple[int, ...]):
        """A reusable array of ``shape`` while training, or ``None`` (NumPy allocates) otherwise.

        Buffers grow to the largest batch seen and are sliced for smaller ones; a slice of rows of
        a C-contiguous array is itself contiguous, so BLAS writes into it directly.
        """
        if not self.training:
            return None
        buffer = self._buffers.get(key)
        if buffer is None or buffer.shape[0] < shape[0] or buffer.shape[1:] != shape[1:]:
            buffer = self._buffers[key] = np.empty(shape, dtype=self.dtype)
        return buffer[: shape[0]]

    # --------------------------------------------------------------- config
    def get_config(self):
        """The constructor's arguments as JSON-friendly values (``from_config`` inverts it)."""
        return {"name": self.name}

    # What a forward or backward pass leaves behind for the next step; not part of the layer's
    # state, so pickling (scikit-learn's clone and joblib) leaves it out.
    _transient = ("input", "output", "pre_activation", "normalized", "inverse_std", "mask")

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in self._transient:
            if name in state:
                state[name] = None
        state["_buffers"] = {}
        return state

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} output_shape={self.output_shape}>"


registry.register_kind("layer", Layer)
