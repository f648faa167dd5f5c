"""The ``Layer`` base class: wiring, declared weights, the training flag and reusable buffers.

A layer is ``build`` (declare weights with :meth:`Layer.add_weight`), ``forward``, ``_backward``
and ``get_config``. Everything generic (parameters and gradients by name, dtype casting,
packing, pickling, regularization, saving order) is derived from the declarations here.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections import defaultdict
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import initializers, registry, regularizers
from ..exceptions import IncompatibleLayerError
from ..registry import Serializable
from ..seeding import make_rng
from ._weight_lists import LayerWeights

__all__ = ["Layer", "check_positive_int", "unique_name"]

_counters: defaultdict[str, itertools.count] = defaultdict(lambda: itertools.count(1))


def _snake_case(name: str) -> str:
    """``BatchNormalization`` -> ``batch_normalization`` (the prefix of automatic names)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def unique_name(prefix: str) -> str:
    """``prefix_1``, ``prefix_2``, ... (Keras-style automatic layer names)."""
    return f"{prefix}_{next(_counters[prefix])}"


def check_positive_int(value: Any, argument: str) -> int:
    """``value`` as an int, or a ``ValueError``/``TypeError`` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"Argument '{argument}' must be a positive integer; received {value!r} "
            f"of type {type(value).__name__}."
        )
    if value <= 0:
        raise ValueError(f"Argument '{argument}' must be a positive integer; received {value!r}.")
    return int(value)


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 2**62


def _check_fits_in_memory(layer, name: str, shape: tuple[int, ...]) -> None:
    """A weight (and its gradient) larger than the machine's memory is refused with a
    ValueError that names the layer, rather than a MemoryError or the kernel's OOM killer."""
    size = math.prod(shape)
    needed = 2 * size * layer.dtype.itemsize
    if needed > _physical_memory():
        raise ValueError(
            f"Layer {layer.name!r}: the weight {name!r} of shape {shape} ({size:,} values, "
            f"{needed / 2**30:,.1f} GiB with its gradient) does not fit in this machine's "
            "memory; check the layer's size arguments."
        )


class Layer(LayerWeights, Serializable):
    """Base class of layers.

    A layer transforms its input in ``forward``, returns the gradient with respect to its input in
    ``backward(output_error)``, keeping the gradients of its own parameters, and applies them in
    ``update(learning_rate)``. Calling a layer on another, ``Dense(8)(previous)``, wires the graph
    and builds the layer for the previous layer's output shape.

    Subclasses implement ``build`` (declaring weights with :meth:`add_weight`), ``forward``,
    ``_backward`` and ``get_config``, and declare capabilities as class attributes:
    ``multiple_inputs`` (called on a list of layers), ``supports_masking`` (passes a mask
    through), ``accepts_mask`` (``forward`` takes ``mask=``) and ``_transient`` (attributes a
    pass leaves behind, dropped by pickling).

    Attributes:
        name: unique name, used for parameter names such as ``dense_1/weights``.
        inbound: the layers this one was called on (several for merge layers).
        output_shape: the shape of one sample of the output (no batch axis), once built.
        training: True while ``fit`` runs; layers such as dropout behave differently then.
    """

    multiple_inputs = False
    supports_masking = False
    accepts_mask = False
    _transient: tuple[str, ...] = ("input", "output")

    def __init__(self, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise TypeError(f"Argument 'name' must be a non-empty string; received {name!r}.")
        if name is not None and "/" in name:
            raise ValueError(f"Argument 'name' must not contain '/'; received {name!r}.")
        self.name = name or unique_name(_snake_case(type(self).__name__))
        self.input = None
        self.output = None
        self.inbound: list[Layer] = []
        self.input_shape = None
        self.output_shape: tuple[int, ...] | None = None
        self.training = False
        self.dtype = np.dtype(np.float32)
        self._buffers: dict[str, np.ndarray] = {}
        # Declared weights: name -> trainable, and the regularizer of each that has one.
        self._weights: dict[str, bool] = {}
        self._regularizers: dict[str, object] = {}

    # ----------------------------------------------------------------- graph
    def __call__(self, previous_layer: Layer | list[Layer]) -> Layer:
        """Attach this layer after ``previous_layer`` (a list of layers for merge layers) and
        build it. Returns this layer, so calls chain: ``outputs = Dense(1)(Dense(8)(inputs))``.
        """
        parents = self._check_parents(previous_layer)
        shapes = [tuple(p.output_shape) for p in parents]
        self.build(shapes if self.multiple_inputs else shapes[0])
        self.inbound = parents
        return self

    def _check_parents(self, previous_layer) -> list[Layer]:
        """``previous_layer`` as a list of built layers; refuses non-layers, a list for a layer
        with one input, and a second call (shared layers are not supported)."""
        is_list = isinstance(previous_layer, (list, tuple))
        if is_list and not self.multiple_inputs:
            raise TypeError(
                f"Layer {self.name!r} ({type(self).__name__}) takes one input layer; received a "
                f"{type(previous_layer).__name__} of {len(previous_layer)}. Merge them first, "
                "e.g. Concatenate()([a, b]) or Add()([a, b])."
            )
        if self.multiple_inputs and not is_list:
            raise TypeError(
                f"Layer {self.name!r} ({type(self).__name__}) merges several inputs: call it on "
                f"a list of layers, e.g. {type(self).__name__}()([a, b]); received "
                f"{type(previous_layer).__name__}."
            )
        parents = list(previous_layer) if is_list else [previous_layer]
        for parent in parents:
            if not isinstance(parent, Layer):
                raise TypeError(
                    f"Argument 'previous_layer' of {self.name} must be a Layer; received "
                    f"{parent!r:.80} of type {type(parent).__name__}."
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
                "calling one layer on two inputs (shared weights) is not supported: create a new "
                "layer instead."
            )
        return parents

    def build(self, input_shape: Any) -> None:
        """Create weights for ``input_shape`` (one sample; a list for merge layers) and set
        ``output_shape``; the default keeps the shape and has no weights."""
        self.input_shape = input_shape
        self.output_shape = input_shape

    # --------------------------------------------------------------- weights
    def add_weight(
        self,
        name: str,
        shape: tuple[int, ...],
        initializer: Any = "zeros",
        *,
        trainable: bool = True,
        regularizer: Any = None,
        non_negative: bool = False,
    ) -> np.ndarray:
        """Declare a weight: create ``self.<name>`` of ``shape`` in the layer's dtype, drawn
        by ``initializer`` from the layer's generator, and, if ``trainable``, its gradient
        ``self.grad_<name>`` (zeros). Returns the array.

        Declared weights are what :meth:`parameters` (trainable) and :meth:`state` (the rest)
        list, in declaration order, and what saving, packing, dtype casting and regularization
        act on. ``non_negative`` weights (a variance) refuse negative values from files and
        ``set_weights``.
        """
        init = initializers.get(initializer, argument=f"{name}_initializer")
        shape = tuple(int(s) for s in shape)
        if initializers._allocation_budget is None:  # loading a file has a stricter budget
            _check_fits_in_memory(self, name, shape)
        rng = getattr(self, "_rng", None)
        if rng is None:
            rng = self._rng = make_rng(getattr(self, "seed", None))
        array = init(shape, self.dtype, rng)
        setattr(self, name, array)
        self._weights[name] = bool(trainable)
        if non_negative:
            self._non_negative = {*getattr(self, "_non_negative", ()), name}
        if trainable:
            setattr(self, f"grad_{name}", np.zeros_like(array))
        reg = regularizers.get(regularizer, f"{name}_regularizer")
        if reg is not None:
            self._regularizers[name] = reg
        else:
            self._regularizers.pop(name, None)
        return array

    def check_weight(self, name: str, value: np.ndarray) -> str | None:
        """Why ``value`` cannot be the weight ``name`` (a problem to report), or None."""
        if name in getattr(self, "_non_negative", ()) and (value < 0).any():
            return "holds negative values, but it is a variance"
        return None

    def parameters(self) -> dict[str, np.ndarray]:
        """Trainable arrays by name, in declaration order (updated in place by optimizers)."""
        return {name: getattr(self, name) for name, trainable in self._weights.items() if trainable}

    def gradients(self) -> dict[str, np.ndarray]:
        """The gradient of each trainable array, same names, from the last ``backward``."""
        return {
            name: getattr(self, f"grad_{name}")
            for name, trainable in self._weights.items()
            if trainable
        }

    def state(self) -> dict[str, np.ndarray]:
        """Non-trainable declared arrays (e.g. moving averages), saved with the model."""
        return {
            name: getattr(self, name) for name, trainable in self._weights.items() if not trainable
        }

    def _adopt(self, parameters: dict[str, np.ndarray], gradients: dict[str, np.ndarray]):
        """Hold these arrays (same names and shapes, values already copied in) as the
        parameters and their gradients from now on: ``fit`` packs every layer's into one flat
        array each."""
        for name, array in parameters.items():
            setattr(self, name, array)
        for name, array in gradients.items():
            setattr(self, f"grad_{name}", array)

    @property
    def regularized(self) -> bool:
        """True when the layer adds a penalty to the loss."""
        return bool(self._regularizers)

    def regularization_gradients(self) -> dict[str, np.ndarray]:
        """Gradients of :meth:`regularization_loss` by parameter name (new arrays)."""
        return {name: reg.gradient(getattr(self, name)) for name, reg in self._regularizers.items()}

    def regularization_loss(self) -> float:
        """Penalty added to the loss by the weights' regularizers; 0 without any."""
        return float(sum(reg(getattr(self, name)) for name, reg in self._regularizers.items()))

    def set_dtype(self, dtype: DTypeLike) -> None:
        """Cast the declared weights (and their gradients) to ``dtype``; compile calls this."""
        self.dtype = np.dtype(dtype)
        self._buffers.clear()
        for name, trainable in self._weights.items():
            array = getattr(self, name)
            if array.dtype != self.dtype:
                setattr(self, name, array.astype(self.dtype))
                if trainable:
                    setattr(self, f"grad_{name}", np.zeros(array.shape, self.dtype))

    def update(self, learning_rate: float) -> None:
        """Plain gradient descent on this layer's parameters: ``p -= learning_rate * grad``."""
        gradients = self.gradients()
        for name, param in self.parameters().items():
            param -= learning_rate * gradients[name]

    # ------------------------------------------------------------ capabilities
    @property
    def output_activation(self) -> Any:
        """The activation this layer applies last (an ``ActivationFunction``), or None. A
        fused loss hands such a layer the gradient before that activation."""
        return None

    def random_generators(self) -> list[np.random.Generator]:
        """The random generators a training checkpoint must save (dropout masks); none here."""
        return []

    def compute_mask(self, inputs: Any, mask: np.ndarray | None) -> np.ndarray | None:
        """The mask of this layer's output: the input's with ``supports_masking``, else None."""
        return mask if self.supports_masking else None

    # ------------------------------------------------------------- computing
    def forward(self, input_data: np.ndarray) -> np.ndarray:
        """The layer's output for a batch ``input_data`` of shape ``(n, *input_shape)``.
        Never writes into ``input_data``."""
        raise NotImplementedError

    def _infer(self, inputs: Any, out: np.ndarray | None = None) -> Any:
        """The output in inference mode, as :meth:`forward` gives it with ``training`` False,
        but writing nothing to the layer (nor to ``inputs``), so that several threads can run
        it at once on different rows. ``out``, when given, is an array of the output's shape
        and the layer's dtype that the layer may write its output into and return (reused
        from pass to pass, which spares a fresh array's page faults); layers whose output is
        a view of their input ignore it. A model made only of layers that define ``_infer``
        runs large ``predict`` calls on several threads (:mod:`layerwise.inference`)."""
        raise NotImplementedError

    def backward(self, output_error: np.ndarray, learning_rate: float | None = None) -> np.ndarray:
        """Store the parameters' gradients and return the gradient with respect to the input.

        ``output_error`` (the gradient of the loss with respect to this layer's last output) is
        copied first, so the caller's array is never changed. ``learning_rate`` is accepted for
        compatibility and ignored: updates happen in :meth:`update`.
        """
        return self._backward(np.array(output_error, dtype=self.dtype, copy=True))

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """The training loop's backward: owns (may overwrite) ``output_error``, fills every
        ``grad_<name>`` in place, returns the input gradient (a list for merge layers), or None
        when ``input_gradient`` is False."""
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
    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments as JSON-friendly values (``from_config`` inverts it)."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Build a layer from ``get_config``'s dict; a ``"trainable": False`` entry (saved for
        a frozen layer) freezes it."""
        config = dict(config)
        trainable = config.pop("trainable", True)
        layer = cls(**config)
        layer.trainable = trainable
        return layer

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for cls in type(self).__mro__:
            for name in cls.__dict__.get("_transient", ()):
                if name in state:
                    state[name] = None
        state["_buffers"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("_weights", {})
        state.setdefault("_regularizers", {})
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} output_shape={self.output_shape}>"


registry.register_kind("layer", Layer)
