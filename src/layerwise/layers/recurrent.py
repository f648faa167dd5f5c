"""Recurrent layers: ``SimpleRNN``, ``LSTM``, ``GRU`` with Keras' weight layouts
(``Bidirectional`` is in :mod:`layerwise.layers.bidirectional`). The numerical work is in
:mod:`layerwise.ops.recurrent`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import initializers, regularizers
from ..exceptions import ShapeMismatchError
from ..ops import recurrent as ops
from ..ops._sequence import cell_activation
from ..registry import register, serialize
from ..seeding import make_rng
from .base import Layer, check_positive_int

__all__ = ["SimpleRNN", "LSTM", "GRU"]


def _flag(value, argument: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Argument '{argument}' must be True or False; received {value!r}.")
    return bool(value)


def _rate(value, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"Argument '{argument}' must be a number in [0, 1); received {value!r}.")
    if not (math.isfinite(value) and 0 <= value < 1):
        raise ValueError(f"Argument '{argument}' must be in [0, 1); received {value!r}.")
    return float(value)


class _Recurrent(Layer):
    """What the three recurrent layers share: arguments, weights, masks, dropout, config.

    Subclasses set ``gates`` (k: the kernels are ``(features, k * units)``) and the kernel
    functions ``_forward_op``/``_backward_op``.
    """

    accepts_mask = True
    gates = 1
    _transient = ("_cache", "_workspace")

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        seed: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.units = check_positive_int(units, "units")
        self.activation = cell_activation(activation, "activation")
        self.use_bias = _flag(use_bias, "use_bias")
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = initializers.get(recurrent_initializer,
                                                      "recurrent_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer, "kernel_regularizer")
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer,
                                                      "recurrent_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, "bias_regularizer")
        self.dropout = _rate(dropout, "dropout")
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout")
        self.return_sequences = _flag(return_sequences, "return_sequences")
        self.go_backwards = _flag(go_backwards, "go_backwards")
        if _flag(return_state, "return_state"):
            raise ValueError(
                f"Argument 'return_state' of {type(self).__name__} is not supported (layers "
                "have one output here); received True. Use return_sequences=True to get every "
                "step's state h."
            )
        if _flag(stateful, "stateful"):
            raise ValueError(f"Argument 'stateful' of {type(self).__name__} is not supported; "
                             "received True.")
        _flag(unroll, "unroll")  # accepted for Keras' signature: the loop is the same either way
        self.zero_output_for_mask = False  # Bidirectional sets it (Keras)
        self.seed = seed
        self._rng = make_rng(seed)
        self._dropout_rng = make_rng(None if seed is None else seed + 1)
        self._cache = None
        self._workspace = None

    # ----------------------------------------------------------------- shape
    def build(self, input_shape: Any) -> None:
        """Weights for inputs ``(steps, features)``."""
        input_shape = tuple(input_shape)
        if len(input_shape) != 2:
            raise ShapeMismatchError(
                f"{type(self).__name__} {self.name!r} needs inputs (steps, features) per sample; "
                f"received samples of shape {input_shape}."
            )
        self.input_shape = input_shape
        steps, features = input_shape
        k = self.gates * self.units
        self.output_shape = (steps, self.units) if self.return_sequences else (self.units,)
        self.add_weight("kernel", (features, k), self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        self.add_weight("recurrent_kernel", (self.units, k), self.recurrent_initializer,
                        regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self.add_weight("bias", self._bias_shape(), self._bias_initializer(),
                            regularizer=self.bias_regularizer)

    def _bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    # -------------------------------------------------------------- compute
    def _options(self) -> dict:
        return {"activation": self.activation}

    def _dropout_masks(self, n: int, features: int):
        if not self.training:
            return None, None
        masks = []
        for rate, width in ((self.dropout, features), (self.recurrent_dropout, self.units)):
            if rate == 0:
                masks.append(None)
                continue
            keep = self._dropout_rng.random((n, width)) >= rate
            masks.append(keep.astype(self.dtype) / self.dtype.type(1.0 - rate))
        return masks

    def forward(self, input_data: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """The output for ``(n, steps, features)``: ``(n, units)``, or ``(n, steps, units)``
        with ``return_sequences``. ``mask`` (``(n, steps)`` bool) skips padded steps."""
        self.input = input_data
        if self._workspace is None:
            self._workspace = ops.Workspace()
        drop_in, drop_rec = self._dropout_masks(len(input_data), input_data.shape[-1])
        output, self._cache = self._forward_op(
            input_data, self.kernel, self.recurrent_kernel, getattr(self, "bias", None),
            go_backwards=self.go_backwards, return_sequences=self.return_sequences, mask=mask,
            zero_output_for_mask=self.zero_output_for_mask, training=True,
            input_dropout_mask=drop_in, recurrent_dropout_mask=drop_rec,
            workspace=self._workspace, **self._options())
        # The cache is kept in inference too (Model.forward then Model.backward, outside fit);
        # costs nothing, as the derivative factors are formed in backward. Outside training the
        # output is a copy: the workspace is overwritten by the next call.
        self.output = output if self.training else output.copy()
        return self.output

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """Backpropagation through time of the last training ``forward``."""
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward needs a forward pass first.")
        return self._backward_op(self._cache, output_error, self.grad_kernel,
                                 self.grad_recurrent_kernel, getattr(self, "grad_bias", None),
                                 input_gradient=input_gradient)

    def compute_mask(self, inputs: Any, mask: np.ndarray | None) -> np.ndarray | None:
        """The input's mask passes on with ``return_sequences``; a last state has none."""
        return mask if self.return_sequences else None

    def random_generators(self) -> list[np.random.Generator]:
        """The dropout masks' generator (saved by checkpoints)."""
        return [self._dropout_rng]

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (Keras' names)."""
        return {
            "units": self.units,
            "activation": serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize(self.kernel_initializer),
            "recurrent_initializer": serialize(self.recurrent_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "recurrent_regularizer": serialize(self.recurrent_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "return_sequences": self.return_sequences,
            "go_backwards": self.go_backwards,
            "seed": self.seed,
            "name": self.name,
        }


@register("simple_rnn")
class SimpleRNN(_Recurrent):
    """Fully connected recurrence ``h = activation(x W + h_prev U + b)`` (Keras' SimpleRNN).

    Args: as :class:`LSTM` (without ``recurrent_activation`` and ``unit_forget_bias``).

    Shapes: ``(n, steps, features)`` -> ``(n, units)`` or ``(n, steps, units)``; weights
    ``[kernel (features, units), recurrent_kernel (units, units), bias (units,)]``.

    Example::

        outputs = Dense(1)(SimpleRNN(16)(Input(shape=(10, 3))))
    """

    gates = 1
    _forward_op = staticmethod(ops.simple_rnn_forward)
    _backward_op = staticmethod(ops.simple_rnn_backward)


@register("lstm")
class LSTM(_Recurrent):
    """Long short-term memory over ``(n, steps, features)``, with Keras' layout and defaults.

    Args:
        units: size of the state.
        activation: of the candidate and the output (``tanh``).
        recurrent_activation: of the gates (``sigmoid``).
        use_bias: add the bias (Keras' default).
        kernel_initializer: of the input kernel (``'glorot_uniform'``).
        recurrent_initializer: of the recurrent kernel (``'orthogonal'``).
        bias_initializer: of the bias (``'zeros'``).
        unit_forget_bias: start the forget gate's bias at 1 (Keras' default).
        options: as in Keras, by keyword: ``kernel_regularizer``,
            ``recurrent_regularizer``, ``bias_regularizer``; ``dropout`` and
            ``recurrent_dropout``, fractions of the inputs and of the fed-back state dropped
            while training (one mask per sequence, shared by the steps and the gates);
            ``return_sequences``, every step ``(n, steps, units)`` (in processing order);
            ``go_backwards``, the sequence last step first; ``seed`` and ``name``.
            ``return_state`` and ``stateful`` are not supported (refused with a ValueError).

    Weights (``get_weights()``): ``[kernel (features, 4u), recurrent_kernel (u, 4u), bias
    (4u,)]`` with the gates in Keras' order ``i, f, c, o``: they move to and from Keras as they
    are. A mask (from ``Embedding(mask_zero=True)`` or ``Masking``) makes masked steps keep the
    state and the output of the step before.

    Example::

        ids = Input(shape=(80,), dtype='int32')
        x = Embedding(10000, 64)(ids)
        outputs = Dense(1, activation='sigmoid')(LSTM(64)(x))
    """

    gates = 4
    _forward_op = staticmethod(ops.lstm_forward)
    _backward_op = staticmethod(ops.lstm_backward)

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, **options: Any) -> None:
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, **options)
        self.recurrent_activation = cell_activation(recurrent_activation, "recurrent_activation")
        self.unit_forget_bias = _flag(unit_forget_bias, "unit_forget_bias")

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        class _ForgetOne(initializers.Initializer):
            def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
                values = np.array(base.sample((4 * units,), rng), np.float64)
                values[units:2 * units] = 1.0
                return values

        return _ForgetOne()

    def _options(self) -> dict:
        return {"activation": self.activation, "recurrent_activation": self.recurrent_activation}

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (Keras' names)."""
        config = super().get_config()
        config["recurrent_activation"] = serialize(self.recurrent_activation)
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


@register("gru")
class GRU(_Recurrent):
    """Gated recurrent unit over ``(n, steps, features)``, with Keras' layout and defaults.

    Args: as :class:`LSTM` (no ``unit_forget_bias``), plus ``reset_after``: apply the reset gate
    after the recurrent product (Keras' default and PyTorch's convention); the bias is then
    ``(2, 3u)`` (input bias, recurrent bias), else ``(3u,)``.

    Weights: ``[kernel (features, 3u), recurrent_kernel (u, 3u), bias]``, gates in Keras'
    order ``z, r, h``.

    Example::

        outputs = Dense(1)(GRU(32, reset_after=False)(Input(shape=(10, 3))))
    """

    gates = 3
    _forward_op = staticmethod(ops.gru_forward)
    _backward_op = staticmethod(ops.gru_backward)

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 reset_after: bool = True, **options: Any) -> None:
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, **options)
        self.recurrent_activation = cell_activation(recurrent_activation, "recurrent_activation")
        self.reset_after = _flag(reset_after, "reset_after")

    def _bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _options(self) -> dict:
        return {"activation": self.activation, "recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (Keras' names)."""
        config = super().get_config()
        config["recurrent_activation"] = serialize(self.recurrent_activation)
        config["reset_after"] = self.reset_after
        return config
