"""Convolution layers: ``Conv1D`` and ``Conv2D``, channels-last, with Keras' arguments, defaults
and weight layouts (kernel ``(*kernel_size, in_channels, filters)``, bias ``(filters,)``), so
weights move to and from Keras unchanged. The arithmetic is in :mod:`layerwise.ops.conv`."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import activations, initializers, regularizers
from ..exceptions import ShapeMismatchError
from ..ops import Workspace, conv2d_backward, conv2d_forward, conv_geometry
from ..ops.conv import FEW_SAMPLE_VALUES, conv2d_forward_few
from ..registry import register, serialize
from ..seeding import make_rng
from .base import Layer, check_positive_int, unique_name

__all__ = [
    "Conv1D",
    "Conv2D",
    "keras_prefix",
    "normalize_tuple",
    "normalize_padding",
    "check_data_format",
    "check_sample_shape",
]


def keras_prefix(class_name: str) -> str:
    """Keras' snake case of a class name: ``Conv2D`` -> ``conv2d``, ``MaxPooling1D`` ->
    ``max_pooling1d`` (an underscore only before a capital followed by lower case)."""
    return re.sub(r"(?<=.)(?=[A-Z][a-z])", "_", class_name).lower()


def normalize_tuple(value: Any, rank: int, argument: str) -> tuple[int, ...]:
    """An int or a tuple/list of ``rank`` positive ints, as a tuple of ``rank`` ints."""
    if isinstance(value, (list, tuple)):
        if len(value) != rank:
            raise ValueError(
                f"Argument '{argument}' must be an integer or a tuple of {rank} integers; "
                f"received {value!r}."
            )
        return tuple(check_positive_int(v, argument) for v in value)
    return (check_positive_int(value, argument),) * rank


def normalize_padding(padding: Any, allowed: tuple[str, ...] = ("valid", "same")) -> str:
    """``'valid'`` or ``'same'`` (case-insensitive, as Keras), checked."""
    if not isinstance(padding, str) or padding.lower() not in allowed:
        raise ValueError(
            f"Argument 'padding' must be one of {list(allowed)}; received {padding!r}."
        )
    return padding.lower()


def check_data_format(data_format: Any) -> None:
    """Only channels-last (Keras' default) is supported; ``None`` means it."""
    if data_format not in (None, "channels_last"):
        raise ValueError(
            "Argument 'data_format' must be 'channels_last' (or None): layerwise works on "
            f"channels-last arrays (n, ..., channels); received {data_format!r}."
        )


def check_sample_shape(layer: Layer, input_shape: Any, rank: int, what: str) -> tuple[int, ...]:
    """``input_shape`` as a tuple of ``rank + 1`` axes (spatial axes and channels), or a
    ShapeMismatchError naming the layer."""
    shape = tuple(input_shape)
    if len(shape) != rank + 1:
        raise ShapeMismatchError(
            f"{type(layer).__name__} {layer.name!r} takes samples of shape {what}; received "
            f"samples of shape {shape} ({len(shape)} axes instead of {rank + 1})."
        )
    return shape


class _Conv(Layer):
    """N-D convolution (cross-correlation, as Keras), channels-last; see Conv1D/Conv2D."""

    rank = 2
    _transient = ("pre_activation", "columns", "_workspace", "_relu_applied_to", "_kernel_view")

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        dilation_rate: Any = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        name: str | None = None,
        seed: int | None = None,
        data_format: str | None = None,
    ) -> None:
        self.filters = check_positive_int(filters, "filters")
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = normalize_tuple(strides, self.rank, "strides")
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(  # Keras refuses the combination too
                "Arguments 'strides' > 1 and 'dilation_rate' > 1 cannot be combined; received "
                f"strides={strides!r} and dilation_rate={dilation_rate!r}."
            )
        # 'causal' as Keras: Conv1D only (pads the dilated kernel less one before).
        self.padding = normalize_padding(
            padding, ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        )
        check_data_format(data_format)
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"Argument 'use_bias' must be True or False; received {use_bias!r}.")
        self.use_bias = bool(use_bias)
        self.activation = activations.get(activation, argument="activation")
        # None means Keras' defaults (initializers.get(None) would be a random normal).
        self.kernel_initializer = initializers.get(
            "glorot_uniform" if kernel_initializer is None else kernel_initializer,
            "kernel_initializer",
        )
        self.bias_initializer = initializers.get(
            "zeros" if bias_initializer is None else bias_initializer, "bias_initializer"
        )
        self.kernel_regularizer = regularizers.get(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, "bias_regularizer")
        # Keras' automatic names: conv2d_1, max_pooling2d_1 (no underscore before the 2d).
        super().__init__(name or unique_name(keras_prefix(type(self).__name__)))
        self.seed = seed
        self._rng = make_rng(seed)
        self.kernel = self.bias = None
        self.geometry = None
        self.columns = self.pre_activation = None
        self._workspace = None
        # The error array that a MaxPooling consumer already multiplied by this layer's ReLU
        # derivative (see MaxPooling's _backward); None otherwise.
        self._relu_applied_to = None

    @property
    def output_activation(self) -> Any:
        """The layer's activation (fused with a matching loss by ``compile``)."""
        return self.activation

    def build(self, input_shape: Any) -> None:
        """Create ``kernel`` ``(*kernel_size, channels, filters)`` and ``bias`` ``(filters,)``
        for samples ``(*spatial, channels)``; refuses inputs the kernel does not fit."""
        shape = check_sample_shape(self, input_shape, self.rank, self._sample_shape_text)
        spatial, channels = shape[:-1], shape[-1]
        ones = (1,) * (2 - self.rank)  # Conv1D runs as a convolution of height 1
        try:
            self.geometry = conv_geometry(
                ones + spatial, channels, ones + self.kernel_size, ones + self.strides,
                ones + self.dilation_rate, self.padding,
            )
        except ValueError:
            effective = tuple((k - 1) * d + 1 for k, d in zip(self.kernel_size,
                                                              self.dilation_rate))
            raise ShapeMismatchError(
                f"{type(self).__name__} {self.name!r}: its kernel of size {self.kernel_size} "
                f"(dilated: {effective}) does not fit inputs of size {spatial} with "
                f"padding='valid'; use a smaller kernel, padding='same', or larger inputs."
            ) from None
        self.input_shape = shape
        self.output_shape = (*self.geometry.output_size[2 - self.rank :], self.filters)
        self.kernel = self.add_weight(
            "kernel", (*self.kernel_size, channels, self.filters), self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias", (self.filters,), self.bias_initializer, regularizer=self.bias_regularizer
            )

    def _as_2d(self, array: np.ndarray) -> np.ndarray:
        """A batch ``(n, *spatial, c)`` as ``(n, height, width, c)`` (height 1 for 1-D)."""
        return array if self.rank == 2 else array.reshape(len(array), 1, *array.shape[1:])

    def _kernel_2d(self, kernel: np.ndarray) -> np.ndarray:
        return kernel if self.rank == 2 else kernel.reshape(1, *kernel.shape)

    @property
    def _gathered_per_sample(self) -> int:
        """Values of the gathered matrix per sample (its rows times the patch)."""
        out_h, out_w = self.geometry.output_size
        return out_h * out_w * self.geometry.patch_size

    def _kernel_matrix(self) -> np.ndarray:
        """The kernel as ``(patch, filters)``, a view (remade only when the kernel array is
        replaced, e.g. by a dtype change or fit's packing: values changed in place show)."""
        held = getattr(self, "_kernel_view", None)
        if held is None or held[0] is not self.kernel:
            held = self._kernel_view = (self.kernel, self.kernel.reshape(-1, self.filters))
        return held[1]

    def forward(self, inputs: Any) -> np.ndarray:
        """``activation(convolution(inputs, kernel) + bias)``:
        ``(n, *spatial, channels) -> (n, *out_spatial, filters)``."""
        if inputs.dtype != self.kernel.dtype:  # direct use with other data; fit converts once
            inputs = inputs.astype(self.kernel.dtype)
        if self._workspace is None:
            self._workspace = Workspace()
        n = len(inputs)
        self.input = inputs
        if not self.training and n * self._gathered_per_sample <= FEW_SAMPLE_VALUES:
            # A few samples (one-sample predict): views made once, four NumPy calls.
            z = conv2d_forward_few(inputs, self._kernel_matrix(), self.bias, self.geometry,
                                   self._workspace, (n, *self.output_shape))
            self.columns = self.pre_activation = None
            self.output = self.activation.forward(z, out=z)
            return self.output
        out_size = self.geometry.output_size
        z, self.columns = conv2d_forward(
            self._as_2d(inputs), self._kernel_2d(self.kernel), self.bias, self.geometry,
            self._workspace, keep_columns=self.training,
            out=self._buffer("z", (n, *out_size, self.filters)) if self.training else None,
        )
        # Activations whose gradient needs only their output are applied in place.
        needs_input = self.activation.needs_input
        out = self._buffer("y", z.shape) if needs_input else z
        self.pre_activation = z if needs_input else None
        self.output = self.activation.forward(z, out=out).reshape(n, *self.output_shape)
        return self.output

    def _backward(self, output_error, pre_activation=False, input_gradient=True):
        """Fills ``grad_kernel`` and ``grad_bias``; returns the input gradient or None."""
        n = len(output_error)
        relu_applied = output_error is self._relu_applied_to
        self._relu_applied_to = None
        if not (pre_activation or relu_applied):
            output_error = self.activation.backward(
                self.pre_activation, self.output, output_error
            )
        if self.columns is None or len(self.columns) != n * np.prod(self.geometry.output_size):
            # The last forward pass ran in inference mode: gather the columns again.
            _, self.columns = conv2d_forward(
                self._as_2d(self.input), self._kernel_2d(self.kernel), self.bias,
                self.geometry, self._workspace,
            )
        gradient = conv2d_backward(
            self._as_2d(output_error.reshape(n, *self.output_shape)), self.columns,
            self._kernel_2d(self.kernel), self.geometry, self._workspace,
            self._kernel_2d(self.grad_kernel), self.grad_bias if self.use_bias else None,
            input_gradient=input_gradient,
        )
        return None if gradient is None else gradient.reshape(n, *self.input_shape)

    def set_dtype(self, dtype: DTypeLike) -> None:
        """Cast the weights and forget the workspace of the old dtype."""
        super().set_dtype(dtype)
        self._workspace = None
        self.columns = None

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (tuples as lists)."""
        return {
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "dilation_rate": list(self.dilation_rate),
            "activation": serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize(self.kernel_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "name": self.name,
            "seed": self.seed,
        }


@register("conv2d")
class Conv2D(_Conv):
    """2-D convolution over images ``(n, height, width, channels)`` (channels-last, as Keras).

    Args:
        filters: number of output channels.
        kernel_size: window size, an int or ``(kernel_h, kernel_w)``.
        strides: step of the window, an int or a pair (default 1).
        padding: ``'valid'`` (no padding) or ``'same'`` (output ``ceil(input / stride)``; the
            odd padded pixel goes to the bottom/right, as TensorFlow).
        dilation_rate: spacing of the kernel's taps, an int or a pair (not with strides > 1).
        activation: activation name or object (default: linear).
        use_bias: add a bias per filter (default True).
        kernel_initializer: default ``'glorot_uniform'``; fans count the receptive field, as
            Keras.
        bias_initializer: default ``'zeros'``.
        kernel_regularizer: optional penalty on the kernel, added to the loss.
        bias_regularizer: optional penalty on the bias, added to the loss.
        name: optional layer name.
        seed: seed of the initial weights (default: from :func:`layerwise.set_seed`).
        data_format: ``None`` or ``'channels_last'`` only.

    Shapes:
        input ``(n, height, width, channels)``, output ``(n, out_h, out_w, filters)``;
        ``kernel`` ``(kernel_h, kernel_w, channels, filters)``, ``bias`` ``(filters,)``.

    Example::

        inputs = Input(shape=(28, 28, 1))
        x = Conv2D(32, 3, activation='relu')(inputs)       # (None, 26, 26, 32)
        x = MaxPooling2D(2)(x)                             # (None, 13, 13, 32)
    """

    rank = 2
    _sample_shape_text = "(height, width, channels)"


@register("conv1d")
class Conv1D(_Conv):
    """1-D convolution over sequences ``(n, steps, channels)`` (channels-last, as Keras).

    Arguments as :class:`Conv2D`, with ints (or 1-tuples) for ``kernel_size``, ``strides`` and
    ``dilation_rate``; ``padding`` may also be ``'causal'`` (as Keras: ``(kernel_size - 1) *
    dilation_rate`` zeros before the sequence, so an output never sees later steps).

    Shapes:
        input ``(n, steps, channels)``, output ``(n, out_steps, filters)``; ``kernel``
        ``(kernel_size, channels, filters)``, ``bias`` ``(filters,)``.

    Example::

        inputs = Input(shape=(100, 8))
        x = Conv1D(16, 5, padding='same', activation='relu')(inputs)   # (None, 100, 16)
    """

    rank = 1
    _sample_shape_text = "(steps, channels)"
