"""Recurrent layers: ``SimpleRNN``, ``LSTM``, ``GRU`` (Keras' weight layouts) and
``Bidirectional``. The numerical work is in :mod:`layerwise.ops.recurrent`."""

from __future__ import annotations

import math

import numpy as np

from .. import initializers, registry, regularizers
from ..exceptions import ShapeMismatchError
from ..ops import recurrent as ops
from ..ops._sequence import cell_activation
from ..registry import register, serialize
from ..seeding import make_rng
from .base import Layer, check_positive_int

__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional"]


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

    def __init__(self, units: int, activation="tanh", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 seed: int | None = None, name: str | None = None) -> None:
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
    def build(self, input_shape) -> None:
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

    def forward(self, input_data, mask=None):
        """The output for ``(n, steps, features)``: ``(n, units)``, or ``(n, steps, units)``
        with ``return_sequences``. ``mask`` (``(n, steps)`` bool) skips padded steps."""
        self.input = input_data
        if self._workspace is None:
            self._workspace = ops.Workspace()
        drop_in, drop_rec = self._dropout_masks(len(input_data), input_data.shape[-1])
        output, self._cache = self._forward_op(
            input_data, self.kernel, self.recurrent_kernel, getattr(self, "bias", None),
            go_backwards=self.go_backwards, return_sequences=self.return_sequences, mask=mask,
            zero_output_for_mask=self.zero_output_for_mask, training=self.training,
            input_dropout_mask=drop_in, recurrent_dropout_mask=drop_rec,
            workspace=self._workspace, **self._options())
        self.output = output
        return output

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """Backpropagation through time of the last training ``forward``."""
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward needs a forward pass in training mode.")
        return self._backward_op(self._cache, output_error, self.grad_kernel,
                                 self.grad_recurrent_kernel, getattr(self, "grad_bias", None),
                                 input_gradient=input_gradient)

    def compute_mask(self, inputs, mask):
        """The input's mask passes on with ``return_sequences``; a last state has none."""
        return mask if self.return_sequences else None

    def random_generators(self) -> list[np.random.Generator]:
        """The dropout masks' generator (saved by checkpoints)."""
        return [self._dropout_rng]

    def get_config(self):
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
        use_bias, kernel_initializer ('glorot_uniform'), recurrent_initializer ('orthogonal'),
        bias_initializer ('zeros'), kernel/recurrent/bias_regularizer: as in Keras.
        unit_forget_bias: start the forget gate's bias at 1 (Keras' default).
        dropout, recurrent_dropout: fractions of the inputs and of the fed-back state dropped
            while training (one mask per sequence, shared by the steps and the gates).
        return_sequences: output every step ``(n, steps, units)`` (in processing order).
        go_backwards: read the sequence last step first.
        return_state, stateful: not supported (refused with a ValueError).
        seed, name: as for other layers.

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

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, **options) -> None:
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, **options)
        self.recurrent_activation = cell_activation(recurrent_activation, "recurrent_activation")
        self.unit_forget_bias = _flag(unit_forget_bias, "unit_forget_bias")

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        class _ForgetOne(initializers.Initializer):
            def sample(self, shape, rng):
                values = np.array(base.sample((4 * units,), rng), np.float64)
                values[units:2 * units] = 1.0
                return values

        return _ForgetOne()

    def _options(self) -> dict:
        return {"activation": self.activation, "recurrent_activation": self.recurrent_activation}

    def get_config(self):
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

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 reset_after: bool = True, **options) -> None:
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, **options)
        self.recurrent_activation = cell_activation(recurrent_activation, "recurrent_activation")
        self.reset_after = _flag(reset_after, "reset_after")

    def _bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _options(self) -> dict:
        return {"activation": self.activation, "recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}

    def get_config(self):
        """The constructor's arguments (Keras' names)."""
        config = super().get_config()
        config["recurrent_activation"] = serialize(self.recurrent_activation)
        config["reset_after"] = self.reset_after
        return config


_MERGE_MODES = ("concat", "sum", "mul", "ave")


@register("bidirectional")
class Bidirectional(Layer):
    """Run a recurrent layer forwards and a copy of it backwards, and merge the two outputs.

    Args:
        layer: a ``SimpleRNN``, ``LSTM`` or ``GRU`` (not yet wired); it is copied twice
            (``forward_<name>`` and ``backward_<name>``, the second with ``go_backwards``
            flipped), so both directions start from their own weights.
        merge_mode: ``'concat'`` (default), ``'sum'``, ``'mul'`` or ``'ave'``.
        backward_layer: optional layer to use for the backward direction instead.
        name: optional layer name.

    With ``return_sequences`` the backward direction's sequence is flipped back to the input's
    order before merging, and masked steps output zeros (Keras' behaviour). Weights:
    the forward layer's, then the backward layer's (``get_weights()`` as in Keras).

    Example::

        x = Embedding(5000, 32, mask_zero=True)(Input(shape=(40,), dtype='int32'))
        outputs = Dense(1, activation='sigmoid')(Bidirectional(LSTM(16))(x))
    """

    accepts_mask = True
    _transient = ("_forward_out", "_backward_out")

    def __init__(self, layer, merge_mode: str = "concat", backward_layer=None,
                 name: str | None = None) -> None:
        super().__init__(name)
        layer = registry.deserialize(layer, "layer") if isinstance(layer, dict) else layer
        if not isinstance(layer, _Recurrent):
            raise TypeError(f"Argument 'layer' of Bidirectional must be a SimpleRNN, LSTM or GRU; "
                            f"received {layer!r:.80}.")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Argument 'merge_mode' must be one of {list(_MERGE_MODES)}; "
                             f"received {merge_mode!r}.")
        self.merge_mode = merge_mode
        config = registry.serialize(layer)
        config["config"]["name"] = f"forward_{layer.name}"
        self.forward_layer = registry.deserialize(config, "layer")
        if backward_layer is None:
            config = registry.serialize(layer)
            config["config"]["name"] = f"backward_{layer.name}"
            config["config"]["go_backwards"] = not layer.go_backwards
            self.backward_layer = registry.deserialize(config, "layer")
        else:
            if isinstance(backward_layer, dict):
                backward_layer = registry.deserialize(backward_layer, "layer")
            if not isinstance(backward_layer, _Recurrent):
                raise TypeError("Argument 'backward_layer' must be a SimpleRNN, LSTM or GRU; "
                                f"received {backward_layer!r:.80}.")
            if backward_layer.go_backwards == self.forward_layer.go_backwards:
                raise ValueError("Argument 'backward_layer' must have the opposite go_backwards "
                                 "of 'layer'.")
            self.backward_layer = backward_layer
        if self.forward_layer.return_sequences != self.backward_layer.return_sequences:
            raise ValueError("The forward and backward layers must agree on return_sequences.")
        self.return_sequences = self.forward_layer.return_sequences
        for sub in self._directions():
            sub.zero_output_for_mask = self.return_sequences

    def _directions(self):
        return (self.forward_layer, self.backward_layer)

    def build(self, input_shape) -> None:
        """Build both directions and hold their weights as this layer's own."""
        self.input_shape = tuple(input_shape)
        for prefix, sub in zip(("forward", "backward"), self._directions()):
            sub.dtype = self.dtype
            sub.build(self.input_shape)
            for weight, trainable in sub._weights.items():
                setattr(self, f"{prefix}_{weight}", getattr(sub, weight))
                self._weights[f"{prefix}_{weight}"] = trainable
                if trainable:
                    setattr(self, f"grad_{prefix}_{weight}", getattr(sub, f"grad_{weight}"))
                if weight in sub._regularizers:
                    self._regularizers[f"{prefix}_{weight}"] = sub._regularizers[weight]
        shape = self.forward_layer.output_shape
        width = shape[-1] * (2 if self.merge_mode == "concat" else 1)
        self.output_shape = (*shape[:-1], width)

    def _sync(self) -> None:
        # The generic machinery (packing, dtype, loading) rebinds this layer's arrays: the
        # directions compute with whatever this layer holds now.
        for prefix, sub in zip(("forward", "backward"), self._directions()):
            sub.training, sub.dtype = self.training, self.dtype
            for weight, trainable in sub._weights.items():
                setattr(sub, weight, getattr(self, f"{prefix}_{weight}"))
                if trainable:
                    setattr(sub, f"grad_{weight}", getattr(self, f"grad_{prefix}_{weight}"))

    def forward(self, input_data, mask=None):
        """Both directions' outputs, merged."""
        self._sync()
        self.input = input_data
        y_f = self.forward_layer.forward(input_data, mask=mask)
        y_b = self.backward_layer.forward(input_data, mask=mask)
        if self.return_sequences:
            y_b = y_b[:, ::-1]
        self._forward_out, self._backward_out = y_f, y_b
        if self.merge_mode == "concat":
            out = np.concatenate([y_f, y_b], axis=-1)
        elif self.merge_mode == "sum":
            out = y_f + y_b
        elif self.merge_mode == "mul":
            out = y_f * y_b
        else:
            out = (y_f + y_b) * self.dtype.type(0.5)
        self.output = out
        return out

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """Split the error between the directions and add their input gradients."""
        self._sync()
        units = self._forward_out.shape[-1]
        if self.merge_mode == "concat":
            e_f, e_b = output_error[..., :units], output_error[..., units:]
        elif self.merge_mode == "sum":
            e_f, e_b = output_error, output_error
        elif self.merge_mode == "mul":
            e_f, e_b = output_error * self._backward_out, output_error * self._forward_out
        else:
            e_f = e_b = output_error * self.dtype.type(0.5)
        if self.return_sequences:
            e_b = e_b[:, ::-1]
        dx_f = self.forward_layer._backward(np.ascontiguousarray(e_f),
                                            input_gradient=input_gradient)
        dx_b = self.backward_layer._backward(np.ascontiguousarray(e_b),
                                             input_gradient=input_gradient)
        return None if not input_gradient else dx_f + dx_b

    def compute_mask(self, inputs, mask):
        """The input's mask with ``return_sequences``, else None."""
        return mask if self.return_sequences else None

    def random_generators(self) -> list[np.random.Generator]:
        """Both directions' dropout generators."""
        return [g for sub in self._directions() for g in sub.random_generators()]

    def get_config(self):
        """The wrapped layers' configs and the merge mode."""
        forward = registry.serialize(self.forward_layer)
        forward["config"]["name"] = forward["config"]["name"].removeprefix("forward_")
        return {"layer": forward, "merge_mode": self.merge_mode,
                "backward_layer": registry.serialize(self.backward_layer), "name": self.name}
